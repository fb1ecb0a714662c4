"""The Population sheet: how the rows a scan read became machines, and which machines could be judged and why not.

It reconciles summary.json's `population` for a reviewer who samples the population: rows read -> machines ->
judged + unknown (no, failed or stale assessment), overall, per platform, per VM power state and per Arc
connection state.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from openpyxl.workbook import Workbook

from auditor.reports.interface import ReportContext
from auditor.reports.xlsx.groups import records
from auditor.reports.xlsx.sheet import Column, Table, write_table
from auditor.reports.xlsx.style import Styles

POPULATION = "Population"
_GROUPS = (
    ("by_platform", "Platform"),
    ("by_power_state", "Power state (Azure VMs)"),
    ("by_connection_state", "Connection state (Arc)"),
)


def reconciliation(population: Mapping[str, Any]) -> str:
    """The reconciliation in one sentence: rows read -> machines -> judged + unknown by reason."""
    reasons = population.get("unknown_reasons") or {}
    folded = int(population.get("rows_folded") or 0)
    return (
        f"{population.get('resource_rows', 0):,} machine rows read (VM and Arc resources joined to their latest "
        f"assessment) -> {population.get('machines', 0):,} machines"
        + (f" ({folded:,} rows named a machine already counted)" if folded else "")
        + f" -> {population.get('judged', 0):,} judged + {population.get('unknown', 0):,} unknown "
        f"({reasons.get('none', 0):,} never assessed, {reasons.get('failed', 0):,} with a failed assessment, "
        f"{reasons.get('stale', 0):,} with a stale one)."
    )


def write_population(workbook: Workbook, context: ReportContext, suffix: str) -> Table:
    """Machines judged and unknown (with the reason) overall and per platform, power state and connection state."""
    population = context.summary.get("population") or {}
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

    def line(group: str, row: Mapping[str, Any]) -> list[Any]:
        reasons = row.get("unknown_reasons") or {}
        return [
            group,
            row.get("key", "all machines"),
            row.get("machines"),
            row.get("judged"),
            row.get("unknown"),
            reasons.get("none"),
            reasons.get("failed"),
            reasons.get("stale"),
        ]

    def rows(_ws: Any) -> Iterator[list[Any]]:
        yield line("Overall", population)
        for key, group in _GROUPS:
            for row in records(population.get(key)):
                yield line(group, row)

    total = 1 + sum(len(records(population.get(key))) for key, _ in _GROUPS)
    return write_table(
        workbook,
        POPULATION,
        columns,
        rows,
        total=total,
        caption=f"{reconciliation(population)}{suffix}",
    )
