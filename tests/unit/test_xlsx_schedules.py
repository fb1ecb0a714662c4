"""The Schedules, Concurrency and Failure patterns sheets against summary.json, with their native charts."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from openpyxl import load_workbook

from auditor.reports.interface import ReportContext
from auditor.reports.xlsx.style import HIGHLIGHT_BAD, HIGHLIGHT_WARN, RATE_FORMAT
from auditor.reports.xlsx.workbook import XlsxRenderer
from tests.summaries import js
from tests.unit.test_xlsx_fixtures import DDE_TAG, crafted_context, rows_of

PEAK_HOURS = (145, 146, 147)
"""Sunday 01:00-04:00 UTC of the as-of week (Monday 2026-10-26): cfg-weekly's window over vm-ok and vm-late."""


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> ReportContext:
    return crafted_context(tmp_path_factory)


@pytest.fixture(scope="module")
def path(context: ReportContext, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("schedules") / "audit-pack.xlsx"
    XlsxRenderer().render(context, out)
    return out


@pytest.fixture(scope="module")
def book(path: Path) -> Any:
    return load_workbook(path)


def table(ws: Any) -> list[dict[str, Any]]:
    headers = [c.value for c in ws[2]]
    return [dict(zip(headers, row, strict=False)) for row in rows_of(ws)]


def test_schedules_rows_equal_the_summary(book: Any, context: ReportContext) -> None:
    audit = js(context.summary)["schedules"]
    rows = {row["Configuration"]: row for row in table(book["Schedules"])}
    assert sorted(rows) == [c["key"] for c in audit["configurations"]] == ["cfg-old", "cfg-spare", "cfg-weekly"]
    for config in audit["configurations"]:
        row, runs = rows[config["key"]], config["runs"]
        assert (row["Recurrence"], row["Start (local)"], row["Duration"], row["Time zone"]) == (
            config["recurrence_text"],
            config["start"],
            config["duration"],
            config["time_zone"],
        )
        assert (row["Machines"], row["Static assignments"], row["Schedule runs"], row["Machine runs"]) == (
            config["machines"],
            config["static_assignments"],
            runs["schedule_runs"],
            runs["machine_runs"],
        )
        assert (row["Window (minutes)"], row["Window exceeded"], row["Window exceeded rate"]) == (
            runs["window_minutes"],
            runs["window_exceeded"],
            runs["window_exceeded_rate"],
        )
        assert row["Configuration ID"] == config["id"]
    weekly = rows["cfg-weekly"]
    assert (weekly["Windows classifications"], weekly["KBs excluded"], weekly["Pre-tasks"]) == (
        "Critical, Security",
        "5030211",
        "/runbooks/drain (Resource)",
    )
    assert (weekly["Machines by environment"], weekly["Machines by OS"], weekly["Machines by platform"]) == (
        "Production 2",
        "Windows 2",
        "Azure 2",
    )
    assert (
        weekly["Average run (minutes)"],
        weekly["Longest run (minutes)"],
        weekly["Longest run as share of window"],
    ) == (50, 50, 27.78)
    assert (weekly["Run success rate"], weekly["Last run status"]) == (100, "Completed")
    assert (rows["cfg-old"]["Linux classifications"], rows["cfg-old"]["Packages included"]) == ("Security", "openssl*")
    caption = book["Schedules"]["A1"].value
    assert "2 machines have no schedule" in caption and "1 configuration expired" in caption
    assert "1 configuration assigned to nothing" in caption


def test_expired_and_unassigned_configurations_are_filled(book: Any) -> None:
    fills = {
        row[0].value: {c.fill.fgColor.rgb[-6:] if c.fill.fill_type == "solid" else None for c in row}
        for row in book["Schedules"].iter_rows(min_row=3)
    }
    assert fills["cfg-old"] == {HIGHLIGHT_BAD.fill.fgColor.rgb[-6:]}  # expired
    assert fills["cfg-spare"] == {HIGHLIGHT_WARN.fill.fgColor.rgb[-6:]}  # covers no machine
    assert fills["cfg-weekly"] == {None}


def test_concurrency_has_every_hour_of_the_week(book: Any, context: ReportContext) -> None:
    block = js(context.summary)["schedules"]["concurrency"]
    rows = table(book["Concurrency"])
    assert [row["Hour of the week"] for row in rows] == list(range(168))
    assert [row["Machines scheduled"] for row in rows] == block["series"]
    assert {row["Limit"] for row in rows} == {block["limit"]} == {1}
    above = [row["Hour of the week"] for row in rows if row["Above the limit"]]
    assert above == [peak["hour"] for peak in block["peaks"]] == list(PEAK_HOURS)
    sunday = rows[145]
    assert (
        sunday["Day and hour (UTC)"],
        sunday["Machines scheduled"],
        sunday["Configurations with a window open"],
    ) == ("Sun 01:00", 2, "cfg-weekly")
    assert sunday["Starts (UTC)"].isoformat() == "2026-11-01T01:00:00"
    caption = book["Concurrency"]["A1"].value
    assert "The limit is 1 machine" in caption and "stagger the start times of cfg-weekly" in caption
    formulas = [f for cf in book["Concurrency"].conditional_formatting for r in cf.rules for f in r.formula]
    assert "AND(ISNUMBER(D3),ISNUMBER(E3),D3>E3)" in formulas  # machines above the limit turn red


def test_failure_patterns_against_the_fleet_with_flags_and_rules(book: Any, context: ReportContext) -> None:
    found = js(context.summary)["failure_patterns"]
    ws = book["Failure patterns"]
    headers = [c.value for c in ws[2]]
    rows = []
    for row in ws.iter_rows(min_row=3, values_only=True):
        if row[0] is None or str(row[0]).startswith("Flags"):
            break
        rows.append(dict(zip(headers, row, strict=True)))
    expected = [(dimension, g) for dimension, groups in found["dimensions"].items() for g in groups]
    assert len(rows) == len(expected)
    for row, (_, group) in zip(rows, expected, strict=True):
        assert (row["Value"], row["Finished runs"], row["Failed"], row["Failure rate"], row["Flagged"]) == (
            group["key"],
            group["runs"],
            group["failed"],
            group["failure_rate"],
            group["flagged"],
        )
        assert row["Fleet failure rate"] == found["fleet_failure_rate"] == 50.0
        assert row["Points above the fleet"] == round(group["failure_rate"] - 50.0, 2)
    eastus2 = next(row for row in rows if row["Value"] == "eastus2")
    assert eastus2["Dimension"] == "Location" and eastus2["What to do (flagged values)"].startswith("runs in eastus2")
    assert ws.cell(3, headers.index("Failure rate") + 1).number_format == RATE_FORMAT
    values = [row for row in ws.iter_rows(values_only=True)]
    flags_at = next(i for i, row in enumerate(values) if row[0] == f"Flags ({len(found['flags'])})")
    flagged = values[flags_at + 2 : flags_at + 2 + len(found["flags"])]
    assert [(row[1], row[7], row[8]) for row in flagged] == [
        (f["key"], "Overruns its window" if f["kind"] == "window_exceeded" else "Fails often", f["recommendation"])
        for f in found["flags"]
    ]
    assert DDE_TAG in [row[1] for row in flagged]
    texts = [row[0] for row in values]
    assert found["rule"] in texts and found["window_rule"] in texts


def chart_parts(path: Path) -> dict[str, str]:
    """Chart part name -> XML, for the charts anchored on each sheet (by the data they reference)."""
    with zipfile.ZipFile(path) as archive:
        return {n: archive.read(n).decode() for n in archive.namelist() if n.startswith("xl/charts/chart")}


def kinds(xml: str) -> set[str]:
    return {element.tag.rsplit("}", 1)[-1] for element in ElementTree.fromstring(xml).iter()}


def test_native_charts_of_failure_rates_and_concurrency(path: Path, book: Any, context: ReportContext) -> None:
    charts = chart_parts(path).values()
    patterns = [xml for xml in charts if "'Failure patterns'!" in xml]
    assert len(patterns) == 2  # by location and by configuration, each against the fleet's rate
    for xml in patterns:
        assert {"barChart", "lineChart"} <= kinds(xml)
        assert "Fleet failure rate" in xml and "'Failure patterns'!$E$" in xml and "'Failure patterns'!$F$" in xml
    by_location = next(xml for xml in patterns if "by location" in xml)
    locations = table(book["Failure patterns"])[:2]
    assert [r["Value"] for r in locations] == ["eastus2", "westeurope"]
    assert "'Failure patterns'!$E$3:$E$4" in by_location and "'Failure patterns'!$B$3:$B$4" in by_location
    concurrency = [xml for xml in charts if "'Concurrency'!" in xml]
    assert len(concurrency) == 1
    assert {"barChart", "lineChart"} <= kinds(concurrency[0])
    assert "'Concurrency'!$D$3:$D$170" in concurrency[0] and "'Concurrency'!$E$3:$E$170" in concurrency[0]
