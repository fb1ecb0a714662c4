"""RowWriter writes exactly the XML openpyxl writes for the same cell-ready rows, links and relationships included."""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from openpyxl.utils.datetime import to_excel
from openpyxl.workbook import Workbook

from auditor.reports.xlsx.archive import save_workbook
from auditor.reports.xlsx.rows import Link, RowWriter, excel_serial, pending, write_part
from auditor.reports.xlsx.sheet import Column, Form, write_table
from auditor.reports.xlsx.style import Styles, link_cell, naive_utc, safe, styled, text_cell

AS_OF = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
URL = "https://portal.azure.com/#@contoso/resource/subscriptions/s/vm-1?a=1&b=<2>"


def rows(ws: Any, *, links: bool) -> list[list[Any]]:
    """Every kind of value the big sheets append. `links` picks what RowWriter takes (Link values, empty text and
    aware datetimes) or what openpyxl takes for the same cells (link cells, None and naive UTC datetimes)."""

    def link(text: str, url: str) -> Any:
        return Link(text, url) if links else link_cell(ws, text, url=url)

    empty = "" if links else None
    paris = timezone(timedelta(hours=2))
    aware = (
        datetime(2026, 10, 1, 14, 30, 15, 250_000, tzinfo=paris)
        if links
        else datetime(2026, 10, 1, 12, 30, 15, 250_000)
    )
    return [
        ["vm-1", 3, 2.5, True, False, datetime(2026, 10, 1, 12, 30, 15), None, link("/subscriptions/s/vm-1", URL)],
        [" leading and trailing ", "a & b < c > d", "ünïcødé ✓", "line\nbreak", "   ", empty, 0, -1.0e-7],
        [aware, empty, AS_OF if links else AS_OF.replace(tzinfo=None), datetime(1900, 1, 15, 6)],
        [
            safe(ws, "=1+1"),
            safe(ws, "#N/A"),
            safe(ws, "+cmd"),
            text_cell(ws, "bad\x01char"),
            styled(ws, 5, Styles.COUNT),
        ],
        [styled(ws, AS_OF, Styles.DATE), styled(ws, "note", Styles.NOTE), 12345678901234567890, Decimal("1.25")],
        [link("vm-2", "https://portal.azure.com/#resource/vm-2"), link_cell(ws, "Summary", location="'Summary'!A1")],
        [None, None, link('/ids/with "quotes"', 'https://example.com/"q"')],
    ]


def sheet_parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist() if name.startswith("xl/worksheets/")}


def build(path: Path, *, streamed: bool) -> None:
    workbook = Workbook(write_only=True)
    Styles(workbook)
    ws = workbook.create_sheet("Rows")
    ws.append(["caption"])
    ws.append(["header"])
    if streamed:
        writer = RowWriter(ws, 3)
        for row in rows(ws, links=True):
            writer.append(row)
        writer.close()
    else:
        for row in rows(ws, links=False):
            ws.append(row)
    ws.auto_filter.ref = "A2:H9"
    save_workbook(workbook, path, AS_OF)


def test_rows_are_the_xml_openpyxl_writes(tmp_path: Path) -> None:
    build(tmp_path / "openpyxl.xlsx", streamed=False)
    build(tmp_path / "streamed.xlsx", streamed=True)
    assert sheet_parts(tmp_path / "streamed.xlsx") == sheet_parts(tmp_path / "openpyxl.xlsx")
    # The same parts; ISA-L's deflate stream depends on how its input arrives, so the zip bytes are compared
    # between two streamed builds instead.
    build(tmp_path / "again.xlsx", streamed=True)
    assert (tmp_path / "streamed.xlsx").read_bytes() == (tmp_path / "again.xlsx").read_bytes()
    ws = load_workbook(tmp_path / "streamed.xlsx")["Rows"]
    assert ws["A3"].value == "vm-1" and ws["F3"].value == datetime(2026, 10, 1, 12, 30, 15)
    assert ws["H3"].hyperlink.target == URL and ws["A8"].hyperlink.target.endswith("vm-2")
    assert ws["B8"].hyperlink.location == "'Summary'!A1"
    assert ws["A6"].data_type == "s" and ws["A6"].value == "=1+1" and ws["A6"].quotePrefix
    assert ws["A5"].value == datetime(2026, 10, 1, 12, 30, 15, 250_000) and ws["B5"].value is None
    assert ws["A4"].value == " leading and trailing " and ws["B4"].value == "a & b < c > d"


def test_a_streamed_table_takes_no_rows_after_it(tmp_path: Path) -> None:
    workbook = Workbook(write_only=True)
    Styles(workbook)
    table = write_table(workbook, "Big", [Column("Name")], [["a"], ["b"]], caption="Two rows.", total=2, prepared=True)
    assert table.streamed and table.rows == 2
    with pytest.raises(ValueError, match="streamed"):
        Form.below(table)
    save_workbook(workbook, tmp_path / "x.xlsx", AS_OF)
    assert [c.value for c in load_workbook(tmp_path / "x.xlsx")["Big"]["A"]] == ["Two rows.", "Name", "a", "b"]


def test_a_part_without_sheet_data_is_refused(tmp_path: Path) -> None:
    workbook = Workbook(write_only=True)
    ws = workbook.create_sheet("S")
    writer = RowWriter(ws, 1)
    writer.append(["x"])
    writer.close()
    spliced = next(iter(pending(workbook).values()))
    with pytest.raises(ValueError, match="sheetData"), (tmp_path / "out").open("wb") as target:
        write_part(b"<worksheet></worksheet>", spliced, target)


@settings(max_examples=500, deadline=None)
@given(
    moment=st.datetimes(min_value=datetime(1800, 1, 2), max_value=datetime(9998, 12, 30)),
    offset_minutes=st.one_of(st.none(), st.integers(min_value=-23 * 60, max_value=23 * 60)),
)
def test_serials_are_openpyxls_own(moment: datetime, offset_minutes: int | None) -> None:
    """RowWriter's serial of a datetime (naive, or aware in any offset) is the float openpyxl writes for its UTC
    wall-clock time, to the last bit, so the sheet's bytes do not depend on which of them wrote it."""
    value = moment if offset_minutes is None else moment.replace(tzinfo=timezone(timedelta(minutes=offset_minutes)))
    assert excel_serial(value) == to_excel(naive_utc(value))
