"""The Failure patterns sheet: failure rates per value of each dimension against the fleet's, the flags raised on
them with what to do, the rules, and native charts of the failure rate by location and by configuration.

Everything comes from summary.json's `failure_patterns` block; packs written before it have no such sheet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.chart.series import SeriesLabel
from openpyxl.workbook import Workbook

from auditor.compliance.summary import FailurePatterns, Flag
from auditor.reports.interface import ReportContext
from auditor.reports.xlsx.sheet import FIRST_ROW, Column, Form, Table, flag_text, write_table
from auditor.reports.xlsx.style import BAD, Styles, styled, text_height

FAILURE_PATTERNS = "Failure patterns"
DIMENSION_NAMES = {
    "location": "Location",
    "os": "OS",
    "os_version": "OS version",
    "platform": "Platform",
    "environment": "Environment",
    "configuration": "Maintenance configuration",
    "window_hour": "Hour of the window",
}
FLAG_KINDS = {"failure_rate": "Fails often", "window_exceeded": "Overruns its window"}
RECOMMENDATION = "What to do (flagged values)"
COLUMNS = [
    Column("Dimension", 24, Styles.WRAP),
    Column("Value", 36, Styles.WRAP),
    Column("Finished runs", 10, Styles.COUNT),
    Column("Failed", 10, Styles.COUNT),
    Column("Failure rate", 10, Styles.RATE),
    Column("Fleet failure rate", 10, Styles.RATE),
    Column("Points above the fleet", 10, Styles.RATE),
    Column("Flagged", 9, Styles.WRAP),
    Column(RECOMMENDATION, 70, Styles.WRAP),
]
"""Every column top-aligned, level with the first line of a wrapped recommendation."""
CHART_ROWS = 18
"""Rows a chart 8 cm high covers, with a gap before the next."""
CHARTED = (("location", "Failure rate by location"), ("configuration", "Failure rate by maintenance configuration"))


def dimension_name(key: Any) -> str:
    """A dimension's name in words."""
    return DIMENSION_NAMES.get(str(key), str(key).replace("_", " ").capitalize())


def _above(rate: Any, fleet: Any) -> float | None:
    if isinstance(rate, int | float) and isinstance(fleet, int | float):
        return round(rate - fleet, 2)
    return None


def pattern_rows(found: FailurePatterns) -> tuple[list[list[Any]], dict[str, tuple[int, int]]]:
    """The table's rows, and where each dimension's rows are (first and last index) for the charts."""
    fleet = found.fleet_failure_rate
    advice: dict[tuple[str, str], list[str]] = {}
    for flag in found.flags:
        advice.setdefault((flag.dimension, flag.key), []).append(flag.recommendation)
    rows: list[list[Any]] = []
    spans: dict[str, tuple[int, int]] = {}
    for dimension, values in found.dimensions.items():
        first = len(rows)
        for row in values:
            rows.append(
                [
                    dimension_name(dimension),
                    row.key,
                    row.runs,
                    row.failed,
                    row.failure_rate,
                    fleet,
                    _above(row.failure_rate, fleet),
                    row.flagged,
                    "\n".join(advice.get((dimension, row.key), [])) or None,
                ]
            )
        if len(rows) > first:
            spans[dimension] = (first, len(rows) - 1)
    return rows, spans


def write_failure_patterns(workbook: Workbook, context: ReportContext, suffix: str) -> Table | None:
    """Failure patterns: the rates per dimension value, then the flags with what to do, the rules and the charts."""
    found = context.summary.failure_patterns
    if found is None:
        return None
    rows, spans = pattern_rows(found)
    fleet = found.fleet_failure_rate
    fleet_text = (
        f" The fleet's failure rate is {fleet:.2f}% of {found.runs:,} finished runs." if fleet is not None else ""
    )
    table = write_table(
        workbook,
        FAILURE_PATTERNS,
        COLUMNS,
        rows,
        total=len(rows),
        caption=f"Installation failures by dimension over the last {found.window_days} days.{fleet_text} "
        f"The flags, the rules and charts against the fleet's rate follow the table.{suffix}",
        empty="No installation run finished in the window.",
    )
    flag_text(table, "Flagged", True, BAD, on="Failure rate")
    form = Form.below(table)
    _flags(form, found.flags)
    _rules(form, found)
    _charts(table, form, spans)
    return table


def _flags(form: Form, flags: Sequence[Flag]) -> None:
    """The flags, in the table's columns, each with its recommendation in the wide last column."""
    ws = form.ws
    form.blank()
    form.section(f"Flags ({len(flags)})")
    if not flags:
        form.text("No value of any dimension fails, or overruns its window, markedly more often than the fleet.")
        return
    form.header(
        "Dimension",
        "Value",
        "Finished runs",
        "Failed or overran",
        "Rate",
        "Reference rate",
        "Points above the reference",
        "Flag",
        "Recommendation",
    )
    for flag in flags:
        text = flag.recommendation
        kind = FLAG_KINDS.get(flag.kind, flag.kind)
        form.add(
            styled(ws, dimension_name(flag.dimension), Styles.WRAP),
            styled(ws, flag.key, Styles.WRAP),
            styled(ws, flag.runs, Styles.COUNT),
            styled(ws, flag.count, Styles.COUNT),
            styled(ws, flag.rate, Styles.RATE),
            styled(ws, flag.reference_rate, Styles.RATE),
            styled(ws, _above(flag.rate, flag.reference_rate), Styles.RATE),
            styled(ws, kind, Styles.WRAP),
            styled(ws, text, Styles.WRAP),
            height=max(text_height(text, form.widths[-1]) or 0, text_height(kind, form.widths[-2]) or 0) or None,
        )


def _rules(form: Form, found: FailurePatterns) -> None:
    form.blank()
    form.section("Rules")
    for text in (found.rule, found.window_rule):
        if text:
            form.text(text, Styles.WRAP, merge_to=len(form.widths))


def _charts(table: Table, form: Form, spans: Mapping[str, tuple[int, int]]) -> None:
    """Bar charts of the failure rate by location and by configuration, with the fleet's rate as a line."""
    anchor = form.row + 2
    ws = table.ws
    for dimension, title in CHARTED:
        if dimension not in spans:
            continue
        first, last = (FIRST_ROW + index for index in spans[dimension])
        bar = BarChart()
        bar.title = title
        bar.y_axis.scaling.min = 0
        bar.y_axis.number_format = '0"%"'
        bar.add_data(Reference(ws, min_col=table_column(table, "Failure rate"), min_row=first, max_row=last))
        bar.series[0].tx = SeriesLabel(v="Failure rate")
        bar.set_categories(Reference(ws, min_col=table_column(table, "Value"), min_row=first, max_row=last))
        line = LineChart()
        line.add_data(Reference(ws, min_col=table_column(table, "Fleet failure rate"), min_row=first, max_row=last))
        line.series[0].tx = SeriesLabel(v="Fleet failure rate")
        line.series[0].smooth = False
        bar += line
        for axis in (bar.x_axis, bar.y_axis):
            axis.delete = False  # openpyxl 3.1 otherwise leaves the axes out
        bar.legend.position = "b"
        bar.height, bar.width = 8, 16
        ws.add_chart(bar, f"A{anchor}")
        anchor += CHART_ROWS


def table_column(table: Table, header: str) -> int:
    """The 1-based column number of a header."""
    return [c.header for c in table.columns].index(header) + 1
