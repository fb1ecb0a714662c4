"""The data rows of the big streamed sheets, written as SpreadsheetML text and spliced into the sheet when it is saved.

openpyxl's write-only mode still makes a cell object and an XML element for every value it appends, which at
fleet scale (three million cells in the Machines sheet of 100,000 machines) was most of a scan's CPU. A RowWriter
takes the same cell-ready rows and writes, for each value, exactly the XML openpyxl writes for it: inline strings,
numbers and booleans with their type, plain datetimes as serial numbers in openpyxl's date style, and any cell
object (links, pinned text, styled notes) with its style, type and hyperlink. So the workbook's bytes do not change;
only the cost of making them does. Two things it takes that `ws.append` does not, so that rows need no copying on
their way in: empty text leaves the cell empty (as None does), and an aware datetime is written as its UTC
wall-clock time (Excel has no time zones).

The rows go to an anonymous temporary file as they are written (memory stays flat), and `splice` puts them in the
sheet's part in place of the empty end of its sheetData when the workbook is saved.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any, NamedTuple
from weakref import WeakKeyDictionary

from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel
from openpyxl.workbook import Workbook
from openpyxl.worksheet.hyperlink import Hyperlink

from auditor.reports.xlsx.style import Styles, naive_utc, new_cell

REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
HYPERLINK_REL = f"{REL_NS}/hyperlink"
AFTER_HYPERLINKS = (
    b"<printOptions",
    b"<pageMargins",
    b"<pageSetup",
    b"<headerFooter",
    b"<rowBreaks",
    b"<colBreaks",
    b"<drawing",
    b"<legacyDrawing",
    b"<tableParts",
    b"</worksheet>",
)
"""The elements a worksheet may hold after its hyperlinks, in schema order: the hyperlinks go before the first."""
_CHUNK_ROWS = 2_000
"""Rows encoded and written to the temporary file at once: large enough that writing costs nothing per row."""
_PENDING: WeakKeyDictionary[Workbook, dict[str, Spliced]] = WeakKeyDictionary()
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


_EPOCH = datetime(1899, 12, 30)
"""Excel's (Windows) epoch, as openpyxl counts from it."""
_EPOCH_UTC = _EPOCH.replace(tzinfo=UTC)


def excel_serial(value: datetime) -> float:
    """A datetime as Excel's serial number, computed exactly as openpyxl's `to_excel` computes it (so the same float).

    An aware datetime counts as its UTC wall-clock time, as `naive_utc` would make it, without making that copy.
    """
    delta = value - (_EPOCH if value.tzinfo is None else _EPOCH_UTC)
    days = delta.days
    if 0 < days <= 60:  # openpyxl's adjustment for Excel's phantom 1900-02-29
        days -= 1
    return days + (delta.seconds + delta.microseconds / 10**6) / 86400


_ATTRIBUTE_SPECIAL = re.compile(r'[&<>"\n\r\t]')


def _attribute(text: str) -> str:
    """Text as an XML attribute value, escaped as openpyxl's writer escapes it."""
    if _ATTRIBUTE_SPECIAL.search(text) is None:
        return text
    text = _escaped(text)
    if '"' in text:
        text = text.replace('"', "&quot;")
    return text.replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#09;")


class Link(NamedTuple):
    """Text that opens a web address: the cell `link_cell(ws, text, url=url)` makes, without the cell and hyperlink
    objects (a RowWriter writes it). The text must be plain (see `style.needs_text_cell`)."""

    text: str
    url: str


@dataclass
class Spliced:
    """What a RowWriter adds to its sheet's part: the data rows, and the hyperlinks with their relationships."""

    ws: Any
    rows: IO[bytes]
    links: IO[bytes] | None = None
    """`<hyperlink>` elements, in the order of their relationship ids."""
    relationships: IO[bytes] | None = None
    """The `<Relationship>` elements of the links that open web addresses."""


_PLAIN = re.compile(r"[^&<>\s](?:[^&<>]*[^&<>\s])?")
"""Text that needs no escaping and no xml:space (nearly all data): written as it is, without a closer look."""


def _text(ref: str, text: str, style: str) -> str:
    if _PLAIN.fullmatch(text) is not None:
        return f'<c r="{ref}"{style} t="inlineStr"><is><t>{text}</t></is></c>'
    # openpyxl keeps leading or trailing blanks of text that is not all blanks.
    space = ' xml:space="preserve"' if text != text.strip() and text.strip() else ""
    return f'<c r="{ref}"{style} t="inlineStr"><is><t{space}>{_escaped(text)}</t></is></c>'


class RowWriter:
    """Writes data rows of one write-only sheet, from row `first_row` on, after the rows openpyxl has written.

    Rows are cell-ready, as for `ws.append`: plain values (already made safe: see `style.safe`) and cell objects.
    None and empty text leave a cell empty; datetimes may be aware (see `excel_serial`).
    """

    def __init__(self, ws: Any, first_row: int) -> None:
        ws._get_writer()  # the sheet's own part, which the rows are spliced into
        self.ws = ws
        self.row = first_row
        self._part: str = ws._writer.out
        # Temporary files, closed once their content is in the zip (or when collected, for a workbook never saved).
        self._spliced = Spliced(ws, tempfile.TemporaryFile())  # noqa: SIM115
        self._chunk: list[str] = []
        self._links: list[str] = []
        self._relationships: list[str] = []
        self._targets = 0
        """Links to web addresses so far: their relationship ids are rId1, rId2, ..."""
        self._letters: list[str] = []
        self._date_style: str | None = None
        self._link_style: str | None = None

    def _letter(self, column: int) -> str:
        while len(self._letters) <= column:
            self._letters.append(get_column_letter(len(self._letters) + 1))
        return self._letters[column]

    def _date(self, ref: str, value: datetime) -> str:
        if self._date_style is None:
            # The style openpyxl gives a plain datetime (its date format), registered once per sheet.
            self._date_style = f' s="{WriteOnlyCell(self.ws, naive_utc(value)).style_id}"'
        return f'<c r="{ref}"{self._date_style} t="n"><v>{_number(excel_serial(value))}</v></c>'

    def _hyperlink(self, ref: str, target: str | None, **more: str | None) -> None:
        """Record a cell's hyperlink: openpyxl's `<hyperlink>` element and, for a web address, its relationship."""
        attributes = "".join(f' {k}="{_attribute(v)}"' for k, v in more.items() if v is not None)
        if target is None:
            self._links.append(f'<hyperlink ref="{ref}"{attributes} />')
            return
        self._targets += 1
        rid = f"rId{self._targets}"
        self._links.append(f'<hyperlink xmlns:r="{REL_NS}" ref="{ref}"{attributes} r:id="{rid}" />')
        self._relationships.append(
            f'<Relationship Type="{HYPERLINK_REL}" Target="{_attribute(target)}" TargetMode="External" Id="{rid}" />'
        )

    def _link(self, ref: str, link: Link) -> str:
        if self._link_style is None:
            self._link_style = f' s="{new_cell(self.ws, Styles.LINK).style_id}"'
        # _hyperlink(ref, link.url), inlined: the big sheets have a link in every row.
        self._targets += 1
        rid = f"rId{self._targets}"
        self._links.append(f'<hyperlink xmlns:r="{REL_NS}" ref="{ref}" r:id="{rid}" />')
        self._relationships.append(
            f'<Relationship Type="{HYPERLINK_REL}" Target="{_attribute(link.url)}" TargetMode="External" Id="{rid}" />'
        )
        return _text(ref, link.text, self._link_style)

    def _cell(self, ref: str, cell: Cell) -> str:
        """A cell object, written as openpyxl writes it (its style, type and hyperlink)."""
        if cell._value is None and not cell.has_style:
            return ""
        style = f' s="{cell.style_id}"' if cell.has_style else ""
        if cell.hyperlink is not None:
            link: Hyperlink = cell.hyperlink
            self._hyperlink(ref, link.target, location=link.location, tooltip=link.tooltip, display=link.display)
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
        """Write one row of cell-ready values (None and empty text leave a cell empty)."""
        r = self.row
        parts = [f'<row r="{r}">']
        letters = self._letters
        if len(letters) < len(values):
            self._letter(len(values) - 1)
        for column, value in enumerate(values):
            kind = value.__class__
            if kind is str:
                if value:
                    parts.append(_text(f"{letters[column]}{r}", value, ""))
                continue
            if value is None:
                continue
            ref = f"{letters[column]}{r}"
            if kind is int or kind is float:
                parts.append(f'<c r="{ref}" t="n"><v>{_number(value)}</v></c>')
            elif kind is bool:
                parts.append(f'<c r="{ref}" t="b"><v>{1 if value else 0}</v></c>')
            elif kind is datetime:
                parts.append(self._date(ref, value))
            elif kind is Link:
                parts.append(self._link(ref, value))
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
        spliced = self._spliced
        spliced.rows.write("".join(self._chunk).encode("utf-8"))
        self._chunk.clear()
        for pieces, name in ((self._links, "links"), (self._relationships, "relationships")):
            if pieces:
                if getattr(spliced, name) is None:
                    setattr(spliced, name, tempfile.TemporaryFile())  # noqa: SIM115
                getattr(spliced, name).write("".join(pieces).encode("utf-8"))
                pieces.clear()

    def close(self) -> None:
        """Hand the rows to the workbook, to be spliced into the sheet when it is saved (see `Spliced`)."""
        self._flush()
        _PENDING.setdefault(self.ws.parent, {})[self._part] = self._spliced


def pending(workbook: Workbook) -> dict[str, Spliced]:
    """What RowWriters wrote for the workbook's sheets, by the path of the part it belongs in (taken: call once)."""
    return _PENDING.pop(workbook, {})


def _size(file: IO[bytes] | None) -> int:
    return 0 if file is None else file.seek(0, os.SEEK_END)


def _copy(file: IO[bytes] | None, target: IO[bytes]) -> None:
    if file is None:
        return
    file.seek(0)
    while block := file.read(1 << 20):
        target.write(block)
    file.close()


def _insert_points(part: bytes, with_links: bool) -> tuple[int, int]:
    """Where the rows (the end of sheetData) and the hyperlinks (before the elements that follow them) go."""
    rows_at = part.rfind(SHEET_DATA_END)
    if rows_at < 0:
        raise ValueError("the sheet part has no sheetData to hold its rows")
    if not with_links:
        return rows_at, len(part)
    if part.find(b"<hyperlinks", rows_at) >= 0:
        raise ValueError("a streamed sheet's links must all come from its RowWriter")
    found = [at for tag in AFTER_HYPERLINKS if (at := part.find(tag, rows_at)) >= 0]
    return rows_at, min(found)


def part_size(part: bytes, spliced: Spliced) -> int:
    """The size of the sheet's part once spliced."""
    links = _size(spliced.links)
    return len(part) + _size(spliced.rows) + (links + len(b"<hyperlinks></hyperlinks>") if links else 0)


def write_part(part: bytes, spliced: Spliced, target: IO[bytes]) -> None:
    """Write a sheet's part (as openpyxl wrote it, without the RowWriter's rows) to `target`, with the rows at the
    end of its sheetData and the links where the schema puts them."""
    if spliced.relationships is not None and spliced.ws._rels:
        raise ValueError(f"{spliced.ws.title}: a streamed sheet with links cannot have relationships of its own")
    rows_at, links_at = _insert_points(part, spliced.links is not None)
    target.write(part[:rows_at])
    _copy(spliced.rows, target)
    target.write(part[rows_at:links_at])
    if spliced.links is not None:
        target.write(b"<hyperlinks>")
        _copy(spliced.links, target)
        target.write(b"</hyperlinks>")
    target.write(part[links_at:])


def relationships_size(spliced: Spliced) -> int:
    """The size of the relationships part of the sheet's links (0: it has none)."""
    size = _size(spliced.relationships)
    return size + len(_relationships_open()) + len(b"</Relationships>") if size else 0


def _relationships_open() -> bytes:
    return f'<Relationships xmlns="{PACKAGE_REL_NS}">'.encode()


def write_relationships(spliced: Spliced, target: IO[bytes]) -> None:
    """Write the relationships part of the sheet's links (call only when `relationships_size` is not 0)."""
    target.write(_relationships_open())
    _copy(spliced.relationships, target)
    target.write(b"</Relationships>")
