"""The data rows of the big streamed sheets, written as SpreadsheetML text and spliced into the sheet when it is saved.

openpyxl's write-only mode still makes a cell object and an XML element for every value it appends, which at
fleet scale (three million cells in the Machines sheet of 100,000 machines) was most of a scan's CPU. A RowWriter
takes the same cell-ready rows and writes, for each value, exactly the XML openpyxl writes for it: inline strings,
numbers and booleans with their type, plain datetimes as serial numbers in openpyxl's date style, and any cell
object (links, pinned text, styled notes) with its style, type and hyperlink. So the workbook's bytes do not change;
only the cost of making them does.

The rows go to an anonymous temporary file as they are written (memory stays flat), and `splice` puts them in the
sheet's part in place of the empty end of its sheetData when the workbook is saved.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from datetime import datetime
from typing import IO, Any
from weakref import WeakKeyDictionary

from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel
from openpyxl.workbook import Workbook
from openpyxl.worksheet.hyperlink import Hyperlink

_CHUNK_ROWS = 2_000
"""Rows encoded and written to the temporary file at once: large enough that writing costs nothing per row."""
_PENDING: WeakKeyDictionary[Workbook, dict[str, IO[bytes]]] = WeakKeyDictionary()
"""Per workbook: the path of each sheet's part as openpyxl writes it -> the data rows to splice into it."""
SHEET_DATA_END = b"</sheetData>"


def _escaped(text: str) -> str:
    """Text as XML character data, escaped as openpyxl's writer escapes it."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


def _number(value: float) -> str:
    """A number as openpyxl writes it (`%.16g`; NaN and infinities as empty text)."""
    return "" if value != value or value in (float("inf"), float("-inf")) else f"{value:.16g}"


def _text(ref: str, text: str, style: str) -> str:
    # openpyxl keeps leading or trailing blanks of text that is not all blanks.
    space = ' xml:space="preserve"' if text != text.strip() and text.strip() else ""
    return f'<c r="{ref}"{style} t="inlineStr"><is><t{space}>{_escaped(text)}</t></is></c>'


class RowWriter:
    """Writes data rows of one write-only sheet, from row `first_row` on, after the rows openpyxl has written.

    Rows are cell-ready, as for `ws.append`: plain values (already made safe: see `style.safe`) and cell objects.
    """

    def __init__(self, ws: Any, first_row: int) -> None:
        ws._get_writer()  # the sheet's own part, which the rows are spliced into
        self.ws = ws
        self.row = first_row
        self._part: str = ws._writer.out
        # Closed by `splice` once its rows are in the zip (or when collected, for a workbook never saved).
        self._file: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        self._chunk: list[str] = []
        self._letters: list[str] = []
        self._date_style: str | None = None

    def _letter(self, column: int) -> str:
        while len(self._letters) <= column:
            self._letters.append(get_column_letter(len(self._letters) + 1))
        return self._letters[column]

    def _date(self, ref: str, value: datetime) -> str:
        if self._date_style is None:
            # The style openpyxl gives a plain datetime (its date format), registered once per sheet.
            self._date_style = f' s="{WriteOnlyCell(self.ws, value).style_id}"'
        return f'<c r="{ref}"{self._date_style} t="n"><v>{_number(to_excel(value))}</v></c>'

    def _cell(self, ref: str, cell: Cell) -> str:
        """A cell object, written as openpyxl writes it (its style, type and hyperlink)."""
        if cell._value is None and not cell.has_style:
            return ""
        style = f' s="{cell.style_id}"' if cell.has_style else ""
        if cell.hyperlink is not None:
            link: Hyperlink = cell.hyperlink
            link.ref = ref
            self.ws._hyperlinks.append(link)
        value, kind = cell._value, cell.data_type
        if kind == "s":
            if value is None or value == "":
                return f'<c r="{ref}"{style} t="inlineStr" />'
            return _text(ref, str(value), style)
        if value is None or value == "":
            return f'<c r="{ref}"{style} t="{kind}" />'
        if kind == "d":
            return f'<c r="{ref}"{style} t="n"><v>{_number(to_excel(value))}</v></c>'
        if kind == "b":
            return f'<c r="{ref}"{style} t="b"><v>{1 if value else 0}</v></c>'
        if kind == "n":
            return f'<c r="{ref}"{style} t="n"><v>{_number(value)}</v></c>'
        raise ValueError(f"a streamed sheet cannot hold a cell of type {kind!r} ({ref})")

    def append(self, values: Sequence[Any]) -> None:
        """Write one row of cell-ready values (None leaves a cell empty)."""
        r = self.row
        parts = [f'<row r="{r}">']
        letters = self._letters
        if len(letters) < len(values):
            self._letter(len(values) - 1)
        for column, value in enumerate(values):
            if value is None:
                continue
            ref = f"{letters[column]}{r}"
            kind = value.__class__
            if kind is str:
                if value:
                    parts.append(_text(ref, value, ""))
                else:
                    parts.append(f'<c r="{ref}" t="inlineStr" />')
            elif kind is int or kind is float:
                parts.append(f'<c r="{ref}" t="n"><v>{_number(value)}</v></c>')
            elif kind is bool:
                parts.append(f'<c r="{ref}" t="b"><v>{1 if value else 0}</v></c>')
            elif kind is datetime:
                parts.append(self._date(ref, value))
            elif isinstance(value, Cell):
                parts.append(self._cell(ref, value))
            else:  # anything else (a date, a Decimal) is typed by openpyxl, then written like any cell
                parts.append(self._cell(ref, WriteOnlyCell(self.ws, value)))
        parts.append("</row>")
        self._chunk.append("".join(parts))
        self.row = r + 1
        if len(self._chunk) >= _CHUNK_ROWS:
            self._flush()

    def _flush(self) -> None:
        self._file.write("".join(self._chunk).encode("utf-8"))
        self._chunk.clear()

    def close(self) -> None:
        """Hand the rows to the workbook, to be spliced into the sheet when it is saved (see `splice`)."""
        self._flush()
        _PENDING.setdefault(self.ws.parent, {})[self._part] = self._file


def pending(workbook: Workbook) -> dict[str, IO[bytes]]:
    """The rows written for the workbook's sheets, by the path of the part they belong in (taken: call once)."""
    return _PENDING.pop(workbook, {})


def splice(part: bytes, rows: IO[bytes], target: IO[bytes]) -> None:
    """Write a sheet's part to `target` with `rows` at the end of its sheetData."""
    end = part.rfind(SHEET_DATA_END)
    if end < 0:
        raise ValueError("the sheet part has no sheetData to hold its rows")
    target.write(part[:end])
    rows.seek(0)
    while block := rows.read(1 << 20):
        target.write(block)
    target.write(part[end:])
    rows.close()
