"""The risk-acceptance register in the workbook: the Exceptions sheet, and the Summary's exceptions section.

Every figure comes from the typed summary (`exceptions`, `exception_warnings` and the rates with and without
exceptions), so the workbook never tells a different story. An expired or expiring exception is filled red or amber
across its whole row: fills, not conditional formats, so they show in any viewer and survive sorting.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from openpyxl.workbook import Workbook

from auditor.compliance.summary import Summary
from auditor.reports.interface import ReportContext
from auditor.reports.json import plain_object
from auditor.reports.xlsx.groups import without_exceptions
from auditor.reports.xlsx.records import plain, record_columns
from auditor.reports.xlsx.sheet import Column, Form, Table, fit, sheet_location, write_table
from auditor.reports.xlsx.style import HIGHLIGHT_BAD, HIGHLIGHT_WARN, Highlight, Styles, link_cell, styled

EXCEPTIONS = "Exceptions"
WARNINGS = "Warnings"
EXCEPTION_KNOWN = {
    "id": Column("Exception", 12, Styles.WRAP),
    "status": Column("Status", 14, Styles.WRAP),
    "owner": Column("Owner", 28, Styles.WRAP),
    "approver": Column("Approver", 28, Styles.WRAP),
    "approved_on": Column("Approved on", 11, Styles.WRAP),
    "risk_rating": Column("Risk rating", 9, Styles.WRAP),
    "ticket": Column("Ticket", 14, Styles.WRAP),
    "justification": Column("Justification", 60, Styles.WRAP),
    "compensating_controls": Column("Compensating controls", 40, Styles.WRAP),
    "created": Column("Created", 11, Styles.WRAP),
    "expires_on": Column("Expires on", 11, Styles.WRAP),
    "days_to_expiry": Column("Days to expiry", 9, Styles.COUNT),
    "selector": Column("Selects", 40, Styles.WRAP),
    "narrowed_to": Column("Narrowed to", 30, Styles.WRAP),
    "matched_machines": Column("Machines matched", 10, Styles.COUNT),
    "machines_excepted": Column("Machines excepted", 10, Styles.COUNT),
    "patches_covered": Column("Patches covered", 10, Styles.COUNT),
}
"""summary.json's `exceptions` keys in sheet order, every cell top-aligned beside the wrapped texts; keys added
later follow under their own names."""
MARKS: Mapping[str, Highlight] = {"expired": HIGHLIGHT_BAD, "expiring": HIGHLIGHT_WARN}
STATES = (
    ("active", "Active"),
    ("expiring", "Expiring"),
    ("expired", "Expired (covers nothing; a breach)"),
    ("not_yet_active", "Not yet active"),
)


def warnings_by_exception(summary: Summary) -> dict[str, list[str]]:
    """Exception id -> the messages of its warnings."""
    found: dict[str, list[str]] = {}
    for warning in summary.exception_warnings:
        found.setdefault(warning.exception, []).append(warning.message)
    return found


def write_exceptions(workbook: Workbook, context: ReportContext, suffix: str) -> Table | None:
    """Exceptions: every entry of the register as the scan applied it."""
    summary = context.summary
    items = [plain_object(row) for row in summary.exceptions]
    # Machine id lists can run to thousands of ids; the Machines sheet (status) and Overdue patches (covering
    # exceptions) show who is covered.
    keyed = [(k, c) for k, c in record_columns(items, EXCEPTION_KNOWN) if not k.endswith("_ids")]
    warnings = warnings_by_exception(summary)
    rows = [
        [*(plain(item.get(key)) for key, _ in keyed), "\n".join(warnings.get(str(item.get("id")), [])) or None]
        for item in items
    ]
    columns = [*(c for _, c in keyed), Column(WARNINGS, 60, Styles.WRAP)]
    return write_table(
        workbook,
        EXCEPTIONS,
        fit(columns, rows),
        rows,
        total=len(rows),
        caption=f"Risk-acceptance exceptions: who accepted which overdue patches, until when. "
        f"{register_sentence(summary)}{suffix}",
        empty="The exception register is empty.",
        marks=[MARKS.get(str(item.get("status"))) for item in items],
    )


def register_sentence(summary: Summary) -> str:
    """The register and its effect in one or two sentences, the rate without exceptions always beside the rate."""
    items = summary.exceptions
    states = Counter(item.status for item in items)
    counted = ", ".join(f"{states[key]} {key.replace('_', ' ')}" for key, _ in STATES if states[key])
    rate, excepted = without_exceptions(summary.counts)
    figures = (
        f"Compliance rate {_pct(summary.compliance_rate)} with exceptions, {_pct(rate)} without "
        f"({_n(excepted, 'machine')} compliant only through an exception)."
    )
    if not items:
        return figures
    warned = len(summary.exception_warnings)
    return (
        f"{_n(len(items), 'exception')} ({counted}); {_n(warned, 'warning')}. Expired rows are red (they cover "
        f"nothing and are breaches), expiring rows amber. {figures}"
    )


def _n(count: int, word: str) -> str:
    return f"{count:,} {word if count == 1 else word + 's'}"


def _pct(value: Any) -> str:
    return f"{value:.2f}%" if isinstance(value, int | float) else "n/a"


def write_summary_section(form: Form, context: ReportContext, merge_to: int) -> None:
    """The Summary's exceptions section: the register's states, the rates with and without, and every warning."""
    summary = context.summary
    ws = form.ws
    items = summary.exceptions
    form.section(f"Exceptions ({len(items)})")
    if not items:
        form.text("No exception register was applied: every figure is without exceptions.")
        form.blank()
        return
    states = Counter(item.status for item in items)
    for key, label in STATES:
        form.pair(label, states[key], Styles.COUNT)
    rate, excepted = without_exceptions(summary.counts)
    form.pair("Machines compliant only through an exception", excepted, Styles.COUNT)
    form.pair("Compliance rate with exceptions", summary.compliance_rate, Styles.RATE)
    form.pair("Compliance rate without exceptions", rate, Styles.RATE)
    warnings = summary.exception_warnings
    form.add(styled(ws, f"Warnings ({len(warnings)})", Styles.LABEL))
    for warning in warnings:
        form.text(f"• {warning.message}", Styles.WRAP, merge_to=merge_to)
    form.add(link_cell(ws, "Every exception, its owner, ticket and reach", location=sheet_location(EXCEPTIONS)))
    form.blank()
