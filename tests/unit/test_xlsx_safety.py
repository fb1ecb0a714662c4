"""Text from the data is stored as text: never a formula, never an error value, always shown as written."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.workbook import Workbook

from auditor.reports.interface import ReportContext
from auditor.reports.xlsx.fleet import portal_url
from auditor.reports.xlsx.style import (
    FORMULA_TRIGGERS,
    MAX_CELL_TEXT,
    TRUNCATED,
    Styles,
    needs_text_cell,
    plain_texts,
    safe,
    text_cell,
)
from tests.unit.test_xlsx_fixtures import DDE_TAG, HOSTILE_TAGS, HYPERLINK_NAME, crafted_context, render, sheet_xml


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[ReportContext, Path, Any]:
    context = crafted_context(tmp_path_factory)
    path = tmp_path_factory.mktemp("safety") / "audit-pack.xlsx"
    return context, path, render(context, path)


@pytest.fixture
def ws() -> Any:
    workbook = Workbook(write_only=True)
    Styles(workbook)
    return workbook.create_sheet("t")


def test_no_sheet_holds_a_formula(rendered: tuple[ReportContext, Path, Any]) -> None:
    _, path, _ = rendered
    for name, xml in sheet_xml(path):
        assert not re.search(r"<f[ >]", xml), f"{name} holds a formula"


def test_hostile_machine_name_is_inline_text_with_quote_prefix(rendered: tuple[ReportContext, Path, Any]) -> None:
    _, path, book = rendered
    cell = next(c for c in book["Machines"]["A"] if c.value == HYPERLINK_NAME)
    assert cell.data_type == "s" and cell.quotePrefix
    machines = dict(sheet_xml(path))["xl/worksheets/sheet6.xml"]
    escaped = HYPERLINK_NAME.replace('"', "&quot;")
    match = re.search(rf'<c r="{cell.coordinate}" s="(\d+)" t="inlineStr"><is><t>(.*?)</t></is></c>', machines)
    assert match and match.group(2) in (HYPERLINK_NAME, escaped)
    with zipfile.ZipFile(path) as archive:
        styles = archive.read("xl/styles.xml").decode()
    xfs = re.search(r"<cellXfs[^>]*>(.*?)</cellXfs>", styles, re.S)
    assert xfs is not None
    assert 'quotePrefix="1"' in re.findall(r"<xf [^>]*>", xfs.group(1))[int(match.group(1))]


def test_hostile_tags_and_environment_are_text_everywhere(rendered: tuple[ReportContext, Path, Any]) -> None:
    _, _, book = rendered
    environment = next(c for c in book["By environment"]["A"] if c.value == DDE_TAG)
    assert environment.data_type == "s" and environment.quotePrefix
    machines = book["Machines"]
    column = next(c.column_letter for c in machines[2] if c.value == "Tags")
    cell = next(c for c in machines[column] if c.value and "owner=@SUM(1+1)" in c.value)
    assert cell.data_type == "s"
    for key, value in HOSTILE_TAGS.items():
        # A bell cannot be carried by XML; a carriage return is read back as a line feed (XML end-of-line rule).
        shown = value.replace("\x07", "\ufffd").replace("\r", "\n")
        assert f"{key}={shown}" in cell.value


def test_risky_text_keeps_its_quote_prefix_in_every_sheet(rendered: tuple[ReportContext, Path, Any]) -> None:
    """The class, not the examples: wherever data text reaches a cell (a prepared table's text columns included), a
    value that starts with a formula trigger is pinned text that editing cannot turn into a formula."""
    _, _, book = rendered
    risky = [
        (ws.title, cell.coordinate, cell.quotePrefix)
        for ws in book.worksheets
        for row in ws.iter_rows()
        for cell in row
        if isinstance(cell.value, str) and cell.value[:1] in FORMULA_TRIGGERS
    ]
    sheets = {title for title, _, _ in risky}
    assert {"Machines", "Overdue patches", "Installations"} <= sheets
    assert [(title, ref) for title, ref, prefixed in risky if not prefixed] == []


def test_hostile_error_code_of_a_run_is_text(rendered: tuple[ReportContext, Path, Any]) -> None:
    _, _, book = rendered
    cell = next(c for row in book["Installations"].iter_rows(min_row=3) for c in row if c.value == "=cmd|' /C calc'!A0")
    assert cell.data_type == "s" and cell.quotePrefix


@pytest.mark.parametrize(
    "value",
    [
        HYPERLINK_NAME,
        DDE_TAG,
        "@SUM(1+1)",
        "-2+3",
        "\t=1+1",
        "\r=1+1",
        "=1",
        "+1",
        "-",
        "@",
    ],
)
def test_formula_triggers_become_quote_prefixed_text(ws: Any, value: str) -> None:
    cell = safe(ws, value)
    assert isinstance(cell, Cell) and cell.value == value
    assert cell.data_type == "s" and cell.quotePrefix


@pytest.mark.parametrize("value", ["#N/A", "#REF!", "#DIV/0!"])
def test_error_codes_stay_text(ws: Any, value: str) -> None:
    cell = safe(ws, value)
    assert isinstance(cell, Cell) and cell.data_type == "s" and cell.value == value


def test_plain_text_passes_as_a_value(ws: Any) -> None:
    assert safe(ws, "vm-app-01") == "vm-app-01"
    assert safe(ws, "#hashtag") == "#hashtag"
    assert safe(ws, "") is None


def test_characters_xml_cannot_carry_are_replaced_and_long_text_cut(ws: Any) -> None:
    assert safe(ws, "a\x00b\x1fc").value == "a\ufffdb\ufffdc"
    assert safe(ws, "lone \ud800 and \uffff").value == "lone \ufffd and \ufffd"
    long = text_cell(ws, "x" * (MAX_CELL_TEXT + 10))
    assert len(long.value) == MAX_CELL_TEXT and long.value.endswith(TRUNCATED)


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_any_text_is_stored_as_text(value: str) -> None:
    workbook = Workbook(write_only=True)
    Styles(workbook)
    ws = workbook.create_sheet("t")
    result = safe(ws, value)
    if result is None:
        assert value == ""
        return
    # A plain value is what openpyxl will bind; either way the cell must be a string, never 'f' or 'e'.
    cell = result if isinstance(result, Cell) else WriteOnlyCell(ws, result)
    assert cell.data_type == "s"
    assert cell.quotePrefix == (value[0] in FORMULA_TRIGGERS)


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=12), max_size=8))
def test_row_fast_path_never_passes_risky_text(values: list[str]) -> None:
    # False alarms (e.g. a leading '#' that is no error code) only send a row down the value-by-value path.
    if any(v and needs_text_cell(v) for v in values):
        assert not plain_texts(values)


@pytest.mark.parametrize(
    "resource_id",
    [
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/" + HYPERLINK_NAME,
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/a b#c?d@evil.com",
    ],
)
def test_portal_links_stay_on_the_portal(resource_id: str) -> None:
    url = portal_url(resource_id, "contoso.onmicrosoft.com")
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "portal.azure.com", "/")
    assert parts.fragment.startswith("@contoso.onmicrosoft.com/resource/subscriptions/s/")
    assert not re.search(r'[ "#?]', parts.fragment)


def test_portal_link_without_tenant() -> None:
    assert portal_url("/subscriptions/s/x", "") == "https://portal.azure.com/#resource/subscriptions/s/x"
