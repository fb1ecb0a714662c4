"""Scale and determinism: sheets cut at Excel's limits with a visible note, and identical renders."""

from __future__ import annotations

import dataclasses
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from auditor.reports.interface import ReportContext
from auditor.reports.xlsx import fleet as xlsx_fleet
from auditor.reports.xlsx import sheet as xlsx_sheet
from auditor.reports.xlsx.workbook import XlsxRenderer, build_workbook, save_workbook
from tests.unit.test_xlsx_fixtures import crafted_context, render, rows_of, sheet_xml


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> ReportContext:
    return crafted_context(tmp_path_factory)


def test_every_sheet_streams(context: ReportContext, tmp_path: Path) -> None:
    workbook = build_workbook(context)
    assert workbook.write_only
    assert {type(ws).__name__ for ws in workbook.worksheets} == {"WriteOnlyWorksheet"}
    save_workbook(workbook, tmp_path / "x.xlsx", context.evaluation.as_of)  # closes the sheets' temporary files


def test_sheet_past_the_row_limit_is_cut_with_a_note(
    context: ReportContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(xlsx_sheet, "MAX_ROWS", 5)  # caption, header, 2 data rows, the note
    book = render(context, tmp_path / "x.xlsx")
    ws = book["Machines"]
    machines = len(context.evaluation.verdicts)
    evidence = next(q.evidence for q in context.queries if q.id == "machine_facts")
    assert ws.max_row == 5
    assert ws["A1"].value.endswith(xlsx_sheet.cut_note(2, machines, evidence))
    assert f"first 2 of {machines:,} rows" in ws["A1"].value and evidence in ws["A1"].value
    assert ws["A3"].value is not None and ws["A4"].value is not None
    assert ws["A5"].value == xlsx_sheet.cut_note(2, machines, evidence) and ws["A5"].font.bold
    assert ws.auto_filter.ref.endswith("4")
    installations = book["Installations"]
    assert len(rows_of(installations)) == len(context.evaluation.runs) == 2
    assert "CUT" not in installations["A1"].value


def test_links_stop_at_excels_limit_of_a_sheet(
    context: ReportContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(xlsx_fleet, "MAX_LINKS", 3)
    ws = render(context, tmp_path / "x.xlsx")["Machines"]
    cells = [row[-1] for row in ws.iter_rows(min_row=3)]
    assert [c.hyperlink is not None for c in cells] == [True, True, True, False, False]
    assert cells[-1].value == context.evaluation.verdicts[-1].machine.resource_id
    assert "Excel allows 3 links a sheet" in ws["A1"].value


def test_two_renders_are_byte_identical(context: ReportContext, tmp_path: Path) -> None:
    XlsxRenderer().render(context, tmp_path / "one.xlsx")
    later = dataclasses.replace(context, generated_at=context.generated_at)  # a new context of the same scan
    XlsxRenderer().render(later, tmp_path / "two.xlsx")
    assert dict(sheet_xml(tmp_path / "one.xlsx")) == dict(sheet_xml(tmp_path / "two.xlsx"))
    assert (tmp_path / "one.xlsx").read_bytes() == (tmp_path / "two.xlsx").read_bytes()


def test_properties_and_zip_times_come_from_the_as_of_time(context: ReportContext, tmp_path: Path) -> None:
    path = tmp_path / "x.xlsx"
    XlsxRenderer().render(context, path)
    as_of = context.evaluation.as_of.replace(tzinfo=None)
    props = load_workbook(path).properties
    assert (props.created, props.modified) == (as_of, as_of)
    assert props.creator == props.lastModifiedBy == f"auditor {context.tool_version}"
    with zipfile.ZipFile(path) as archive:
        times = {info.date_time for info in archive.infolist()}
    assert times == {(as_of.year, as_of.month, as_of.day, as_of.hour, as_of.minute, as_of.second)}


def test_a_later_scan_changes_the_properties(context: ReportContext, tmp_path: Path) -> None:
    evaluation = dataclasses.replace(context.evaluation, as_of=context.evaluation.as_of + timedelta(days=1))
    XlsxRenderer().render(dataclasses.replace(context, evaluation=evaluation), tmp_path / "x.xlsx")
    props: Any = load_workbook(tmp_path / "x.xlsx").properties
    assert props.modified == evaluation.as_of.replace(tzinfo=None)
