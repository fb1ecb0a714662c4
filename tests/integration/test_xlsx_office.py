"""The workbook opened by a real office suite: LibreOffice headless shows the same figures, and text as text."""

from __future__ import annotations

import csv
import shutil
import subprocess
from pathlib import Path

import pytest
from openpyxl import load_workbook

from auditor.reports.interface import ReportContext
from auditor.reports.xlsx.workbook import XlsxRenderer
from tests.summaries import js
from tests.unit.test_xlsx_fixtures import DDE_TAG, HYPERLINK_NAME, crafted_context

pytestmark = [
    pytest.mark.office,
    pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not on PATH"),
]
CSV_EVERY_SHEET_AS_SHOWN = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true,false,false,-1"
"""Comma, double quotes, UTF-8; cells as shown (formatted); every sheet to its own file (LibreOffice 7.2+)."""


def convert(source: Path, to: str, out: Path) -> None:
    """Convert with LibreOffice headless, in a profile of its own so no running instance interferes."""
    profile = (out / "profile").as_uri()
    subprocess.run(
        [
            "soffice",
            "--headless",
            "--norestore",
            f"-env:UserInstallation={profile}",
            "--convert-to",
            to,
            "--outdir",
            str(out),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> tuple[ReportContext, Path]:
    context = crafted_context(tmp_path_factory)
    out = tmp_path_factory.mktemp("office")
    XlsxRenderer().render(context, out / "audit-pack.xlsx")
    convert(out / "audit-pack.xlsx", CSV_EVERY_SHEET_AS_SHOWN, out)
    return context, out


def sheet(out: Path, title: str) -> list[list[str]]:
    with (out / f"audit-pack-{title}.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def labelled(rows: list[list[str]], label: str) -> list[str]:
    return next(row for row in rows if row and row[0] == label)


def test_summary_shows_the_same_figures(converted: tuple[ReportContext, Path]) -> None:
    context, out = converted
    summary = js(context.summary)
    rows = sheet(out, "Summary")
    rate = labelled(rows, "Overall compliance rate")
    target = context.evaluation.config.thresholds.min_compliance_rate
    assert rate[1:4] == [f"{summary['compliance_rate']:.2f}%", f"{target:.2f}%", "BELOW TARGET"]
    assert labelled(rows, "Compliant")[1] == str(summary["compliant"])
    assert labelled(rows, "Non-compliant")[1] == str(summary["non_compliant"])
    assert labelled(rows, "Machines in scope")[1] == f"{summary['machines']:,}"
    assert labelled(rows, "As of (UTC)")[1] == context.evaluation.as_of.strftime("%Y-%m-%d %-H:%M:%S")


def test_group_rates_show_as_percentages(converted: tuple[ReportContext, Path]) -> None:
    context, out = converted
    rows = {row[0]: row for row in sheet(out, "By environment")[2:]}
    for group in js(context.summary)["by_environment"]:
        assert rows[group["key"]][5] == f"{group['compliance_rate']:.2f}%"


def test_hostile_text_is_shown_as_written(converted: tuple[ReportContext, Path]) -> None:
    _, out = converted
    machines = sheet(out, "Machines")
    names = [row[0] for row in machines[2:]]
    assert HYPERLINK_NAME in names  # evaluated, it would show as "y"
    environments = [row[0] for row in sheet(out, "By environment")[2:]]
    assert DDE_TAG in environments


def test_round_trip_through_libreoffice_keeps_text_and_numbers(converted: tuple[ReportContext, Path]) -> None:
    context, out = converted
    saved = out / "resaved"
    saved.mkdir()
    convert(out / "audit-pack.xlsx", "xlsx", saved)
    book = load_workbook(saved / "audit-pack.xlsx")
    name = next(c for c in book["Machines"]["A"] if c.value == HYPERLINK_NAME)
    assert name.data_type == "s"  # not turned into a formula on the way through
    rate = next(row[1] for row in book["Summary"].iter_rows() if row[0].value == "Overall compliance rate")
    assert rate.value == js(context.summary)["compliance_rate"]


def test_threshold_figures_show_their_unit(converted: tuple[ReportContext, Path]) -> None:
    context, out = converted
    rows = sheet(out, "Breaches")[2:]
    shown = {row[2]: (row[3], row[4]) for row in rows}
    for threshold, observed in context.evaluation.threshold_checks:
        if threshold.unit == "days":
            assert shown[threshold.requirement()] == (f"{observed:g} days", "0 days")
        elif threshold.unit == "machines":
            assert shown[threshold.requirement()] == (f"{observed:g} machines", f"{threshold.limit:g} machines")


def test_every_sheet_lays_out_for_printing(converted: tuple[ReportContext, Path]) -> None:
    # LibreOffice 7 crashes laying out a conditional format on a TRUE/FALSE cell with text to its right; printing
    # the whole workbook walks every sheet and row, so it catches that and anything like it.
    _, out = converted
    printed = out / "printed"
    printed.mkdir()
    convert(out / "audit-pack.xlsx", "pdf", printed)
    assert (printed / "audit-pack.pdf").read_bytes().startswith(b"%PDF")
