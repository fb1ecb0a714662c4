"""The register in the workbook: the Exceptions sheet against summary.json, highlighted rows, and the rate without
exceptions beside every rate (Summary and each by-dimension sheet)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from auditor.reports.interface import ReportContext
from auditor.reports.xlsx.style import HIGHLIGHT_BAD, HIGHLIGHT_WARN, RATE_FORMAT
from auditor.reports.xlsx.summary_sheet import WITHOUT_EXCEPTIONS
from tests.summaries import js, typed
from tests.unit.test_xlsx_fixtures import crafted_context, render, rows_of

COLUMNS = {
    "Exception": "id",
    "Status": "status",
    "Owner": "owner",
    "Ticket": "ticket",
    "Justification": "justification",
    "Created": "created",
    "Expires on": "expires_on",
    "Days to expiry": "days_to_expiry",
    "Machines matched": "matched_machines",
    "Machines excepted": "machines_excepted",
    "Patches covered": "patches_covered",
}


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> ReportContext:
    return crafted_context(tmp_path_factory)


@pytest.fixture(scope="module")
def book(context: ReportContext, tmp_path_factory: pytest.TempPathFactory) -> Any:
    return render(context, tmp_path_factory.mktemp("exceptions") / "audit-pack.xlsx")


def table(ws: Any) -> list[dict[str, Any]]:
    headers = [c.value for c in ws[2]]
    return [dict(zip(headers, row, strict=True)) for row in rows_of(ws)]


def test_exceptions_sheet_rows_equal_the_summary(book: Any, context: ReportContext) -> None:
    rows = table(book["Exceptions"])
    expected = js(context.summary)["exceptions"]
    assert (
        [row["Exception"] for row in rows]
        == [e["id"] for e in expected]
        == ["EX-ACTIVE", "EX-EXPIRED", "EX-NONE", "EX-SOON"]
    )
    for row, entry in zip(rows, expected, strict=True):
        assert {header: row[header] for header in COLUMNS} == {header: entry[key] for header, key in COLUMNS.items()}
    by_id = {row["Exception"]: row for row in rows}
    assert (by_id["EX-ACTIVE"]["Machines excepted"], by_id["EX-ACTIVE"]["Patches covered"]) == (1, 1)
    assert by_id["EX-EXPIRED"]["Days to expiry"] == -17 and by_id["EX-EXPIRED"]["Patches covered"] == 0
    assert by_id["EX-SOON"]["Narrowed to"] == "classifications: Security"


def test_every_warning_is_listed_beside_its_exception(book: Any, context: ReportContext) -> None:
    rows = {row["Exception"]: row for row in table(book["Exceptions"])}
    warnings = js(context.summary)["exception_warnings"]
    assert {w["kind"] for w in warnings} == {"expiring", "matches_nothing"}
    for warning in warnings:
        assert warning["message"] in rows[warning["exception"]]["Warnings"]
    assert rows["EX-ACTIVE"]["Warnings"] is None


def test_expired_and_expiring_rows_are_filled(book: Any) -> None:
    ws = book["Exceptions"]
    fills = {
        row[0].value: {cell.fill.fgColor.rgb[-6:] if cell.fill.fill_type == "solid" else None for cell in row}
        for row in ws.iter_rows(min_row=3)
    }
    assert fills["EX-EXPIRED"] == {HIGHLIGHT_BAD.fill.fgColor.rgb[-6:]}  # every cell of the row, empty ones too
    assert fills["EX-SOON"] == {HIGHLIGHT_WARN.fill.fgColor.rgb[-6:]}
    assert fills["EX-ACTIVE"] == fills["EX-NONE"] == {None}
    expired = next(row for row in ws.iter_rows(min_row=3) if row[0].value == "EX-EXPIRED")
    assert expired[0].font.color.rgb.endswith("9C0006")


def test_hostile_register_text_stays_text(book: Any) -> None:
    soon = next(row for row in book["Exceptions"].iter_rows(min_row=3) if row[0].value == "EX-SOON")
    owner, justification = soon[2], soon[4]
    assert owner.value == "@risk-owner" and owner.data_type == "s" and owner.quotePrefix
    assert justification.value.startswith("=1+1") and justification.data_type == "s"


def labelled(ws: Any, label: str) -> tuple[Any, ...]:
    return next(row for row in ws.iter_rows() if row[0].value == label)


def test_summary_shows_the_rate_without_exceptions_under_the_rate(book: Any, context: ReportContext) -> None:
    ws, summary = book["Summary"], js(context.summary)
    assert summary["compliance_rate"] != summary["compliance_rate_without_exceptions"]
    overall = labelled(ws, "Overall compliance rate")
    without = labelled(ws, WITHOUT_EXCEPTIONS)
    assert without[0].row == overall[0].row + 1
    assert without[1].value == summary["compliance_rate_without_exceptions"] == 20.0
    assert without[1].number_format == RATE_FORMAT
    assert labelled(ws, "Compliant only through an exception")[1].value == 1


def test_summary_exceptions_section(book: Any, context: ReportContext) -> None:
    ws = book["Summary"]
    assert labelled(ws, "Exceptions (4)")
    counts = {
        label: labelled(ws, label)[1].value
        for label in ("Active", "Expiring", "Expired (covers nothing; a breach)", "Not yet active")
    }
    assert counts == {"Active": 2, "Expiring": 1, "Expired (covers nothing; a breach)": 1, "Not yet active": 0}
    assert labelled(ws, "Compliance rate without exceptions")[1].value == 20.0
    texts = [c.value for c in ws["A"] if isinstance(c.value, str)]
    for warning in js(context.summary)["exception_warnings"]:
        assert f"• {warning['message']}" in texts
    links = {c.hyperlink.location for row in ws.iter_rows() for c in row if c.hyperlink}
    assert "'Exceptions'!A1" in links


@pytest.mark.parametrize(
    ("sheet", "key", "first"),
    [
        ("By environment", "by_environment", 0),
        ("By subscription", "by_subscription", 1),
        ("By platform & OS", "by_platform", 1),
    ],
)
def test_every_dimension_has_the_rate_without_exceptions(
    book: Any, context: ReportContext, sheet: str, key: str, first: int
) -> None:
    rows = table(book[sheet])
    if sheet == "By platform & OS":
        rows = [row for row in rows if row["Dimension"] == "Platform"]
    expected = js(context.summary)[key]
    assert len(rows) == len(expected)
    for row, group in zip(rows, expected, strict=True):
        assert row["Compliance rate"] == group["compliance_rate"]
        assert row["Rate without exceptions"] == group["compliance_rate_without_exceptions"]
        assert row["Compliant only through an exception"] == group["compliant_with_exception"]
    assert any(group["compliant_with_exception"] for group in expected)


def test_a_summary_from_before_exceptions_shows_its_rate_as_the_rate_without(
    context: ReportContext, tmp_path: Path
) -> None:
    dropped = (
        "compliant_with_exception",
        "compliance_rate_without_exceptions",
        "exception_rate",
        "exceptions",
        "exception_warnings",
        "exceptions_rules",
    )
    # An old pack is replayed by re-evaluating its evidence with no register, so its typed summary states the
    # rate without exceptions as the rate, and an empty register (the Exceptions sheet says so).
    summary = {k: v for k, v in js(context.summary).items() if k not in dropped}
    summary["by_environment"] = [
        {k: v for k, v in row.items() if k not in dropped} for row in summary["by_environment"]
    ]
    for counts in [summary, *summary["by_environment"]]:
        counts["compliance_rate_without_exceptions"] = counts["compliance_rate"]
    evaluation = dataclasses.replace(context.evaluation, summary=typed(summary))
    book = render(dataclasses.replace(context, evaluation=evaluation), tmp_path / "old.xlsx")
    assert labelled(book["Summary"], WITHOUT_EXCEPTIONS)[1].value == summary["compliance_rate"]
    for row, group in zip(table(book["By environment"]), summary["by_environment"], strict=True):
        assert (row["Rate without exceptions"], row["Compliant only through an exception"]) == (
            group["compliance_rate"],
            0,
        )
