"""The record sheets: Coverage, Policy, Policy mismatches, Breaches and Queries."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import fields
from typing import Any

from openpyxl.workbook import Workbook

from auditor.compliance.metrics import rate
from auditor.jsonvalue import JsonValue
from auditor.reports.interface import ReportContext
from auditor.reports.json import plain_object
from auditor.reports.xlsx.fleet import PortalLinks, evidence_of, links_note
from auditor.reports.xlsx.sheet import Column, Table, fit, flag_against, flag_text, write_table
from auditor.reports.xlsx.style import BAD, GOOD, Styles, safe, styled, unit_style

COVERAGE = "Coverage"
POLICY = "Policy"
POLICY_MISMATCHES = "Policy mismatches"
BREACHES = "Breaches"
QUERIES = "Queries"

BREACH, PASS, NOT_MEASURED = "BREACH", "Pass", "Not measured"


def coverage_rows(context: ReportContext) -> list[list[Any]]:
    """Section, measure, machines, rate and target for each coverage figure the summary holds."""
    summary, limits = context.summary, context.evaluation.config.thresholds
    coverage = summary.coverage
    total = summary.machines
    assessed = coverage.periodic_assessment_enabled
    rows: list[list[Any]] = [
        [
            "Assessment",
            "Periodic assessment enabled",
            assessed.machines,
            assessed.rate,
            limits.min_periodic_assessment_coverage,
        ]
    ]
    for spec in fields(summary.assessment):
        count = getattr(summary.assessment, spec.name)
        rows.append(["Assessment", f"Latest assessment {spec.name}", count, rate(count, total), None])
    scheduled = coverage.scheduled
    rows.append(
        [
            "Scheduling",
            "Covered by a maintenance schedule",
            scheduled.machines,
            scheduled.rate,
            limits.min_schedule_coverage,
        ]
    )
    rows.append(["Scheduling", "Covered by more than one schedule", scheduled.multiple_schedules, None, None])
    for mode in coverage.patch_mode:
        rows.append(["Patch orchestration", mode.key, mode.machines, rate(mode.machines, total), None])
    hotpatch = coverage.hotpatch
    rows.append(["Hotpatch", "Eligible (Windows Server Azure Edition VMs)", hotpatch.eligible, None, None])
    for key, count in (("enabled", hotpatch.enabled), ("disabled", hotpatch.disabled)):
        rows.append(
            ["Hotpatch", f"{key.capitalize()} (share of eligible)", count, rate(count, hotpatch.eligible), None]
        )
    return rows


def write_coverage(workbook: Workbook, context: ReportContext, suffix: str) -> Table:
    """Assessment, scheduling, patch orchestration and hotpatch coverage, with targets where configured."""
    columns = [
        Column("Area", 20),
        Column("Measure", 46),
        Column("Machines", 11, Styles.COUNT),
        Column("Rate", 10, Styles.RATE),
        Column("Target", 10, Styles.RATE),
    ]
    rows = coverage_rows(context)
    table = write_table(
        workbook,
        COVERAGE,
        fit(columns, rows),
        rows,
        total=len(rows),
        caption=f"How the fleet is set up for patching; rates are shares of all machines.{suffix}",
        empty="This scan's summary has no coverage figures.",
    )
    flag_against(table, "Rate", "Target")
    return table


def _header(key: str) -> str:
    return key.replace("_", " ").capitalize()


def plain(value: JsonValue) -> str | int | float | bool | None:
    """A summary value for one cell: scalars as they are, lists and objects described in words."""
    if isinstance(value, list | dict):
        return describe(value) or None
    return value


def describe(value: JsonValue) -> str:
    """Nested lists and objects as `key: a, b; key: c`, leaving out what is empty."""
    if isinstance(value, dict):
        parts = ((key, describe(item)) for key, item in value.items())
        return "; ".join(f"{key.replace('_', ' ')}: {text}" for key, text in parts if text)
    if isinstance(value, list):
        return ", ".join(text for text in (describe(item) for item in value) if text)
    return "" if value is None else str(value)


def record_columns(rows: Sequence[Mapping[str, JsonValue]], known: Mapping[str, Column]) -> list[tuple[str, Column]]:
    """Columns for summary records: the known keys first, in order, then any key added since (by its name)."""
    keys = [key for key in known if not rows or any(key in row for row in rows)]
    for row in rows:
        keys += [key for key in row if key not in keys and key not in known]
    return [(key, known.get(key) or Column(_header(key), 24)) for key in keys]


POLICY_KNOWN = {
    "assignment": Column("Assignment", 30),
    "kinds": Column("Checks", 24),
    "machines": Column("Machines", 11, Styles.COUNT),
    "compliant": Column("Compliant", 11, Styles.COUNT),
    "non_compliant": Column("Non-compliant", 11, Styles.COUNT),
    "exempt": Column("Exempt", 10, Styles.COUNT),
    "other": Column("Other states", 10, Styles.COUNT),
    "assignment_id": Column("Assignment ID", 80),
}
MISMATCH_KNOWN = {
    "name": Column("Machine", 26),
    "assignment": Column("Assignment", 30),
    "policy": Column("Policy definition", 36),
    "kind": Column("Check", 20),
    "policy_state": Column("Policy says", 12),
    "observed": Column("The facts say", 48),
    "machine_id": Column("Resource ID (opens the Azure portal)", 70),
}


def write_policy(workbook: Workbook, context: ReportContext, suffix: str) -> Table | None:
    """Policy: machines per assignment by their worst policy state."""
    policy = context.summary.policy
    assignments = [plain_object(row) for row in policy.assignments]
    keyed = record_columns(assignments, POLICY_KNOWN)
    rows = [[plain(row.get(key)) for key, _ in keyed] for row in assignments]
    told = (
        f" {policy.mismatches:,} machines are Compliant by policy while their facts disagree; see {POLICY_MISMATCHES}."
    )
    return write_table(
        workbook,
        POLICY,
        fit([c for _, c in keyed], rows),
        rows,
        total=len(rows),
        caption=f"Azure Policy's verdicts per assignment; a machine counts once, by its worst state.{told}{suffix}",
        empty="No policy assignment covers the machines in scope.",
    )


def write_policy_mismatches(workbook: Workbook, context: ReportContext, suffix: str) -> Table | None:
    """Machines that policy calls Compliant while the facts show otherwise."""
    items = [plain_object(row) for row in context.summary.policy_mismatches]
    keyed = record_columns(items, MISMATCH_KNOWN)
    ids = {v.machine.machine_id: v.machine.resource_id for v in context.evaluation.verdicts}
    link = PortalLinks(context)

    def rows(ws: Any) -> Iterator[list[Any]]:
        for item in items:
            row = []
            for key, _ in keyed:
                value = plain(item.get(key))
                if key == "machine_id" and isinstance(value, str) and value:
                    row.append(link(ws, ids.get(value, value)))
                else:
                    row.append(safe(ws, value))
            yield row

    table = write_table(
        workbook,
        POLICY_MISMATCHES,
        [c for _, c in keyed],
        rows,
        total=len(items),
        prepared=True,
        caption=f"Machines Azure Policy calls Compliant for a check the facts contradict."
        f"{links_note(len(items))}{suffix}",
        evidence=evidence_of(context, "policy_states"),
        empty="Policy and the facts agree on every machine.",
    )
    if any(key == "policy_state" for key, _ in keyed):
        flag_text(table, "Policy says", "Compliant", BAD)
    return table


def write_breaches(workbook: Workbook, context: ReportContext, suffix: str) -> Table:
    """Every configured threshold, its requirement in words, the observed figure and whether it was breached."""
    wrap = Styles.WRAP  # every text cell top-aligned, level with the first line of a wrapped requirement
    columns = [
        Column("Result", 12, wrap),
        Column("Severity", 10, wrap),
        Column("Requirement", 60, wrap),
        Column("Observed", 14),
        Column("Limit", 14),
        Column("Rule", 30, wrap),
        Column("Dimension", 14, wrap),
        Column("Key", 18, wrap),
        Column("Queries", 26, wrap),
    ]

    def number(ws: Any, value: float | None, unit: str) -> Any:
        return styled(ws, value, unit_style(unit))

    checks = context.evaluation.threshold_checks

    def rows(ws: Any) -> Iterator[list[Any]]:
        # Observed and limit are styled per row in their threshold's unit (%, machines, days), so they come as cells.
        for threshold, observed in checks:
            result = NOT_MEASURED if observed is None else BREACH if threshold.evaluate(observed) else PASS
            yield [
                result,
                threshold.severity,
                threshold.requirement(),
                number(ws, observed, threshold.unit),
                number(ws, threshold.limit, threshold.unit),
                threshold.rule,
                threshold.dimension,
                threshold.key,
                "\n".join(threshold.queries or (threshold.query,)),
            ]

    breached = len(context.evaluation.breaches)
    table = write_table(
        workbook,
        BREACHES,
        columns,
        rows,
        total=len(checks),
        caption=f"{breached} of {len(checks)} thresholds breached (breaches.json lists the same).{suffix}",
        empty="No thresholds are configured.",
    )
    flag_text(table, "Result", BREACH, BAD)
    flag_text(table, "Result", PASS, GOOD)
    return table


def write_queries(workbook: Workbook, context: ReportContext, suffix: str) -> Table:
    """Every query the scan ran: version, hashes, rows, evidence file and the full KQL text."""
    wrap = Styles.WRAP  # top-aligned beside the many lines of KQL
    columns = [
        Column("Query", 24, wrap),
        Column("Version", 8, Styles.COUNT),
        Column("Rows", 10, Styles.COUNT),
        Column("Complete", 9, wrap),
        Column("Template sha256", 66, wrap),
        Column("Rendered sha256", 66, wrap),
        Column("Evidence file", 40, wrap),
        Column("KQL (as run)", 110, Styles.CODE),
    ]
    rows = [
        [r.id, r.version, r.rows, r.complete, r.template_sha256, r.rendered_sha256, r.evidence, r.text]
        for r in context.queries
    ]
    return write_table(
        workbook,
        QUERIES,
        columns,
        rows,
        total=len(rows),
        caption=f"The queries behind every figure; the same text runs on Resource Graph and offline.{suffix}",
        empty="No queries were recorded.",
    )
