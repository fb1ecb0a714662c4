"""The Summary sheet: scope, the headline figures against their targets, breaches, contents and charts.

It is the first thing a compliance officer reads, so an incomplete scan says so at the top, in red, before any
figure. The charts are native Excel charts over the workbook's own cells, added once those cells are written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from openpyxl.chart import BarChart, LineChart, PieChart, Reference
from openpyxl.chart.label import DataLabelList
from openpyxl.chart.marker import DataPoint
from openpyxl.workbook import Workbook

from auditor.reports.interface import ReportContext
from auditor.reports.xlsx.groups import RATE, without_exceptions
from auditor.reports.xlsx.risk_acceptance import write_summary_section
from auditor.reports.xlsx.sheet import Form, Table, rule, sheet_location
from auditor.reports.xlsx.style import BAD, GOOD, Styles, link_cell, safe, styled, text_height, unit_style

SUMMARY = "Summary"
WITHOUT_EXCEPTIONS = "Overall compliance rate without exceptions"
MEETS, BELOW, ABOVE, NO_TARGET, NOT_MEASURED = (
    "Meets target",
    "BELOW TARGET",
    "ABOVE LIMIT",
    "No target set",
    "Not measured",
)
STATUS_COLOURS = ("70AD47", "C00000", "FFC000")
"""Compliant, non-compliant, unknown."""
WIDTHS = (48, 20, 14, 16, 28)


@dataclass(frozen=True)
class SummaryLayout:
    """Where the Summary's figures landed, for the charts added after the other sheets are written."""

    form: Form
    status_rows: tuple[int, int]
    """First and last row of the compliant / non-compliant / unknown counts."""


def judge(value: Any, limit: float | None, kind: str = "min") -> str:
    """The verdict on a figure against its target, in words."""
    if limit is None:
        return NO_TARGET
    if not isinstance(value, int | float):
        return NOT_MEASURED
    if kind == "min":
        return BELOW if value < limit else MEETS
    return ABOVE if value > limit else MEETS


def _figure(
    form: Form, label: str, value: Any, limit: float | None, kind: str = "min", style: str = Styles.RATE
) -> int:
    """A figure with its target and verdict; the value turns red when it is on the wrong side of the target."""
    ws = form.ws
    row = form.pair(label, value, style, styled(ws, limit, style), judge(value, limit, kind))
    op = "<" if kind == "min" else ">"
    ws.conditional_formatting.add(f"B{row}", rule(f"AND(ISNUMBER(B{row}),ISNUMBER(C{row}),B{row}{op}C{row})", BAD))
    ws.conditional_formatting.add(f"D{row}", rule(f'OR(D{row}="{BELOW}",D{row}="{ABOVE}")', BAD))
    ws.conditional_formatting.add(f"D{row}", rule(f'D{row}="{MEETS}"', GOOD))
    return row


def scope_lines(source: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """What the data covers, from the source fingerprint."""
    lines: list[tuple[str, Any]] = [("Source", source.get("kind") or "unknown")]
    if source.get("source"):
        lines.append(("Snapshot origin", source["source"]))
    for key, label in (("tenant_id", "Tenant"), ("cloud", "Cloud"), ("captured_at", "Data captured at")):
        if source.get(key):
            lines.append((label, source[key]))
    scope = source.get("scope")
    if isinstance(scope, Mapping):
        for key, value in scope.items():
            shown = ", ".join(map(str, value)) if isinstance(value, list) else value
            lines.append((f"Scope: {str(key).replace('_', ' ')}", shown or "(none)"))
    return lines


def _banner(form: Form, problems: Sequence[str]) -> None:
    form.add(
        styled(form.ws, "INCOMPLETE: the data behind this pack is incomplete", Styles.BANNER),
        height=30,
        merge_to=len(WIDTHS),
    )
    form.text(
        "These figures may be wrong. Do not rely on them until these problems are resolved:",
        Styles.PROBLEM,
        merge_to=len(WIDTHS),
    )
    for problem in problems:
        form.text(f"• {problem}", Styles.PROBLEM, merge_to=len(WIDTHS))


def write_summary(workbook: Workbook, context: ReportContext, contents: Sequence[tuple[str, str]]) -> SummaryLayout:
    """Write the Summary sheet; `contents` lists (sheet title, what it holds) for the links."""
    summary, evaluation = context.summary, context.evaluation
    limits = evaluation.config.thresholds
    form = Form(workbook, SUMMARY, WIDTHS)
    ws = form.ws
    form.add(styled(ws, "Patch compliance audit pack", Styles.TITLE), height=22)
    form.text(f"Azure Update Manager patch compliance as of {summary.as_of}, by auditor {context.tool_version}.")
    if context.problems:
        _banner(form, context.problems)
    form.blank()

    form.section("Scope")
    form.pair("As of (UTC)", evaluation.as_of, Styles.DATE)
    for label, value in scope_lines(context.source):
        form.pair(label, value)
    form.pair("Subscriptions with machines", len(summary.by_subscription), Styles.COUNT)
    form.pair("Machines in scope", summary.machines, Styles.COUNT)
    form.blank()

    form.section("Compliance")
    form.header("Figure", "Value", "Target", "Result")
    _figure(form, "Overall compliance rate", summary.compliance_rate, limits.min_compliance_rate)
    # Always right under the judged rate, so an exception can never raise the headline figure unremarked.
    without, excepted = without_exceptions(summary.counts)
    form.pair(WITHOUT_EXCEPTIONS, without, Styles.RATE, None, styled(ws, "for comparison", Styles.WRAP))
    first = form.pair("Compliant", summary.counts.compliant, Styles.COUNT)
    form.pair("Non-compliant", summary.counts.non_compliant, Styles.COUNT)
    last = form.pair("Unknown status (no current assessment)", summary.counts.unknown, Styles.COUNT)
    form.pair("Compliant only through an exception", excepted, Styles.COUNT)
    _figure(form, "Share of machines with unknown status", summary.unknown_rate, limits.max_unknown_rate, "max")
    form.pair("Patches of unknown age (counted as overdue)", summary.unknown_age_patches, Styles.COUNT)
    installations = summary.installations
    days = installations.window_days
    _figure(
        form,
        f"Installation success rate (last {days} days)",
        installations.figures.success_rate,
        limits.min_installation_success_rate,
    )
    form.pair(f"Installation runs (last {days} days)", installations.figures.runs, Styles.COUNT)
    form.pair("Failed installation runs", installations.figures.failed, Styles.COUNT)
    form.pair("Machines without a successful installation", installations.machines_without_success, Styles.COUNT)
    coverage = summary.coverage
    _figure(
        form,
        "Periodic assessment coverage",
        coverage.periodic_assessment_enabled.rate,
        limits.min_periodic_assessment_coverage,
    )
    _figure(form, "Maintenance schedule coverage", coverage.scheduled.rate, limits.min_schedule_coverage)
    form.blank()

    _breaches(form, context)
    write_summary_section(form, context, len(WIDTHS))
    _trend(form, context)
    form.section("Contents")
    for title, description in contents:
        form.add(link_cell(ws, title, location=sheet_location(title)), safe(ws, description))
    return SummaryLayout(form, (first, last))


def _breaches(form: Form, context: ReportContext) -> None:
    evaluation = context.evaluation
    ws = form.ws
    units = {(t.rule, t.dimension, t.key): t.unit for t, _ in evaluation.threshold_checks}
    form.section(f"Breaches ({len(evaluation.breaches)})")
    if not evaluation.threshold_checks:
        form.text("No thresholds are configured, so nothing can be breached.")
    elif not evaluation.breaches:
        form.text(f"All {len(evaluation.threshold_checks)} thresholds are met.")
    else:
        form.header("Breach", "Observed", "Limit", "Severity", "Query")
        for breach in evaluation.breaches:
            style = unit_style(units.get((breach.rule, breach.dimension, breach.key), "%"))
            form.add(
                styled(ws, breach.message, Styles.WRAP),
                styled(ws, breach.observed, style),
                styled(ws, breach.threshold, style),
                styled(ws, breach.severity, Styles.WRAP),
                styled(ws, breach.query, Styles.WRAP),
                height=text_height(breach.message, WIDTHS[0]),
            )
    form.blank()


def _trend(form: Form, context: ReportContext) -> None:
    trend = context.trend
    if len(trend) < 2:  # this scan alone: no earlier scan to compare with
        return
    ws = form.ws
    form.section("Trend")
    form.header("As of", "Compliance rate", "Machines")
    for point in trend:
        form.add(
            styled(ws, point.as_of, Styles.WRAP),
            styled(ws, point.compliance_rate, Styles.RATE),
            styled(ws, point.machines, Styles.COUNT),
        )
    form.blank()


def add_charts(layout: SummaryLayout, environments: Table | None, *, show_target: bool) -> None:
    """Compliance by environment against its targets, and the machine status split, beside the figures."""
    ws = layout.form.ws
    if environments is not None and environments.rows:
        bar = BarChart()
        bar.title = "Compliance rate by environment"
        bar.y_axis.scaling.min, bar.y_axis.scaling.max = 0, 100
        bar.y_axis.number_format = '0"%"'
        bar.add_data(Reference(range_string=environments.ref(RATE, with_header=True)), titles_from_data=True)
        bar.set_categories(Reference(range_string=environments.ref("Environment")))
        if show_target:
            line = LineChart()
            line.add_data(Reference(range_string=environments.ref("Target", with_header=True)), titles_from_data=True)
            line.series[0].smooth = False
            bar += line
        for axis in (bar.x_axis, bar.y_axis):
            axis.delete = False  # openpyxl 3.1 otherwise leaves the axes out
        bar.legend.position = "b"
        bar.height, bar.width = 9, 18
        ws.add_chart(bar, "H2")
    first, last = layout.status_rows
    pie = PieChart()
    pie.title = "Machines by status"
    pie.add_data(Reference(ws, min_col=2, min_row=first, max_row=last))
    pie.set_categories(Reference(ws, min_col=1, min_row=first, max_row=last))
    pie.dataLabels = DataLabelList(
        showPercent=True, showVal=False, showCatName=False, showSerName=False, showLegendKey=False
    )
    for index, colour in enumerate(STATUS_COLOURS):
        point = DataPoint(idx=index)
        point.graphicalProperties.solidFill = colour
        pie.series[0].dPt.append(point)
    pie.height, pie.width = 9, 12
    ws.add_chart(pie, "H22")
