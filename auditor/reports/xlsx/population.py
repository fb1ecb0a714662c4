"""The Population sheet: how the rows a scan read became machines, and which machines could be judged and why not.

It reconciles summary.json's `population` for a reviewer who samples the population: rows read -> machines ->
judged + unknown (no, failed or stale assessment), overall, per platform, per VM power state and per Arc
connection state.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from openpyxl.workbook import Workbook

from auditor.compliance.summary import Population, PopulationGroup
from auditor.reports.interface import ReportContext
from auditor.reports.xlsx.sheet import Column, Table, write_table
from auditor.reports.xlsx.style import Styles

POPULATION = "Population"


def reconciliation(population: Population) -> str:
    """The reconciliation in one sentence: rows read -> machines -> judged + unknown by reason."""
    reasons, folded = population.unknown_reasons, population.rows_folded
    return (
        f"{population.resource_rows:,} machine rows read (VM and Arc resources joined to their latest "
        f"assessment) -> {population.machines:,} machines"
        + (f" ({folded:,} rows named a machine already counted)" if folded else "")
        + f" -> {population.judged:,} judged + {population.unknown:,} unknown "
        f"({reasons.none:,} never assessed, {reasons.failed:,} with a failed assessment, "
        f"{reasons.stale:,} with a stale one)."
    )


def write_population(workbook: Workbook, context: ReportContext, suffix: str) -> Table:
    """Machines judged and unknown (with the reason) overall and per platform, power state and connection state."""
    population = context.summary.population
    columns = [
        Column("Group", 24, Styles.WRAP),
        Column("Value", 16),
        Column("Machines", 11, Styles.COUNT),
        Column("Judged", 11, Styles.COUNT),
        Column("Unknown", 11, Styles.COUNT),
        Column("Never assessed", 12, Styles.COUNT),
        Column("Assessment failed", 12, Styles.COUNT),
        Column("Assessment stale", 12, Styles.COUNT),
    ]
    groups: list[tuple[str, tuple[PopulationGroup, ...]]] = [
        ("Platform", population.by_platform),
        ("Power state (Azure VMs)", population.by_power_state),
        ("Connection state (Arc)", population.by_connection_state),
    ]

    def rows(_ws: Any) -> Iterator[list[Any]]:
        reasons = population.unknown_reasons
        yield [
            "Overall",
            "all machines",
            population.machines,
            population.judged,
            population.unknown,
            reasons.none,
            reasons.failed,
            reasons.stale,
        ]
        for label, members in groups:
            for row in members:
                why = row.unknown_reasons
                yield [label, row.key, row.machines, row.judged, row.unknown, why.none, why.failed, why.stale]

    return write_table(
        workbook,
        POPULATION,
        columns,
        rows,
        total=1 + sum(len(members) for _, members in groups),
        caption=f"{reconciliation(population)}{suffix}",
    )
