"""The Controls sheet: each framework control, its status, and every figure and limit it rests on.

One row per criterion, the control's fields repeated, so a reviewer can filter by framework, control or outcome.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from openpyxl.workbook import Workbook

from auditor.compliance.summary import CriterionResult
from auditor.reports.interface import ReportContext
from auditor.reports.xlsx.sheet import Column, Table, flag_text, write_table
from auditor.reports.xlsx.style import BAD, GOOD, WARN, Styles, styled, unit_style

CONTROLS = "Controls"
STATUS_WORDS = {"met": "met", "not_met": "NOT MET", "not_assessed": "not assessed"}
"""Statuses as the reports print them (summary.json keeps met / not_met / not_assessed)."""


def limit_text(criterion: CriterionResult) -> str:
    """`at least 90% (thresholds.min_compliance_rate)` or `at most 0 machines (fixed by the mapping)`."""
    word, limit, unit = criterion.must_be.replace("_", " "), criterion.limit, criterion.unit
    shown = "not configured" if limit is None else f"{limit:g}" + ("%" if unit == "%" else f" {unit}".rstrip())
    return f"{word} {shown} ({criterion.threshold or 'fixed by the mapping'})"


def write_controls(workbook: Workbook, context: ReportContext, suffix: str) -> Table:
    """Every criterion of every control: the figure, what it must be, the outcome, and the control's sentence."""
    wrap = Styles.WRAP
    columns = [
        Column("Framework", 18, wrap),
        Column("Control", 10, wrap),
        Column("Title", 30, wrap),
        Column("Status", 13, wrap),
        Column("Figure", 40, wrap),
        Column("Observed", 12),
        Column("Must be", 34, wrap),
        Column("Outcome", 13, wrap),
        Column("Summary figure", 34, wrap),
        Column("Sentence", 60, wrap),
        Column("What the figures cannot show", 50, wrap),
    ]
    controls = context.summary.controls or ()

    def rows(ws: Any) -> Iterator[list[Any]]:
        for control in controls:
            for criterion in control.criteria:
                yield [
                    control.framework,
                    control.id,
                    control.title,
                    STATUS_WORDS.get(control.status, control.status),
                    criterion.label,
                    styled(ws, criterion.observed, unit_style(criterion.unit)),
                    limit_text(criterion),
                    STATUS_WORDS.get(criterion.outcome, criterion.outcome),
                    criterion.figure,
                    control.sentence,
                    control.note,
                ]

    counts = {s: sum(1 for c in controls if c.status == s) for s in STATUS_WORDS}
    table = write_table(
        workbook,
        CONTROLS,
        columns,
        rows,
        total=sum(len(c.criteria) for c in controls),
        caption=(
            f"{len(controls)} controls: {counts['met']} met, {counts['not_met']} not met, {counts['not_assessed']} "
            "not assessed. A control is met when every figure meets its limit, not met when one does not, and not "
            "assessed when the pack lacks a figure or the config a threshold it needs. The mappings are "
            f"auditor/controls/*.toml and the config's control_files.{suffix}"
        ),
        empty="No controls were judged (this pack predates them).",
    )
    for header in ("Status", "Outcome"):
        flag_text(table, header, STATUS_WORDS["not_met"], BAD)
        flag_text(table, header, STATUS_WORDS["met"], GOOD)
        flag_text(table, header, STATUS_WORDS["not_assessed"], WARN)
    return table
