"""The risk-acceptance register as the PDF shows it: every exception with its state, reach and warnings, and the
figures with and without exceptions side by side."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from auditor.compliance.summary import ExceptionSummary, ExceptionWarning, StatusCounts, Summary
from auditor.reports.pdf.caps import TOP_ROWS, Capped, cap

STATE_ORDER = ("expired", "expiring", "not_yet_active", "active")
"""Capped lists keep the exceptions that need action first."""
MAX_JUSTIFICATION = 240
"""Characters of a justification the PDF prints; the workbook's Exceptions sheet has every word."""


@dataclass(frozen=True)
class Honesty:
    """A group's (or the fleet's) rate with exceptions, without them, and the machines only exceptions made
    compliant."""

    rate: float | None
    without: float | None
    excepted: int


@dataclass(frozen=True)
class ExceptionsView:
    """The register (expired and expiring first), its warnings and rules, and the figures without exceptions."""

    rows: Capped[ExceptionSummary]
    clipped: bool
    """Whether a shown justification is cut short."""
    states: Counter[str]
    """Exceptions per status."""
    warned: dict[str, list[str]]
    """Exception id -> the kinds of warning raised on it, in words."""
    warnings: Capped[ExceptionWarning]
    rules: tuple[str, ...]
    figures: Honesty


def honesty(counts: StatusCounts) -> Honesty:
    """A group's (or the fleet's) rate with exceptions, without them, and the machines only exceptions made compliant."""
    return Honesty(counts.compliance_rate, counts.compliance_rate_without_exceptions, counts.compliant_with_exception)


def clip(value: str | None, limit: int = MAX_JUSTIFICATION) -> str:
    """Text cut at a word boundary to at most `limit` characters, with an ellipsis when cut."""
    text = "" if value is None else value
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:.") + "…"


def _rank(row: ExceptionSummary) -> tuple[int, str]:
    status = row.status
    return (STATE_ORDER.index(status) if status in STATE_ORDER else len(STATE_ORDER), row.id)


def exceptions_view(summary: Summary) -> ExceptionsView:
    """The register (expired and expiring first), its warnings and rules."""
    rows = summary.exceptions
    warnings = summary.exception_warnings
    by_id: dict[str, list[str]] = {}
    for warning in warnings:
        by_id.setdefault(warning.exception, []).append(warning.kind.replace("_", " "))
    shown = cap(sorted(rows, key=_rank), TOP_ROWS)
    return ExceptionsView(
        rows=shown,
        clipped=any(len(row.justification) > MAX_JUSTIFICATION for row in shown.rows),
        states=Counter(row.status for row in rows),
        warned=by_id,
        warnings=cap(warnings, TOP_ROWS),
        rules=summary.exceptions_rules,
        figures=honesty(summary.counts),
    )
