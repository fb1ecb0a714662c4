"""Number formats, named styles and the safety rule that every data value passes on its way into a cell.

The workbook is written in openpyxl's write-only mode, where each styled value needs a cell object of its own.
Values from the data therefore go in as plain values wherever that is safe (the fast path), and become explicit
text cells only when they would otherwise be read as a formula or an error, or could not be stored at all.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypedDict
from weakref import WeakKeyDictionary

from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES
from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Side
from openpyxl.styles.cell_style import StyleArray
from openpyxl.styles.differential import DifferentialStyle
from openpyxl.workbook import Workbook
from openpyxl.worksheet.hyperlink import Hyperlink

RATE_FORMAT = '0.00"%"'
"""Rates are stored as the numbers 0-100 that summary.json holds, and shown with a literal percent sign."""
COUNT_FORMAT = "#,##0"
MACHINES_FORMAT = '[=1]0" machine";#,##0" machines"'
DAYS_FORMAT = '[=1]0" day";#,##0" days"'
"""Threshold figures in their unit: the cell keeps the number, the format says what it counts."""
DATE_FORMAT = "yyyy-mm-dd h:mm:ss"
"""openpyxl's own format for datetimes: the streamed sheets append plain datetimes (a styled cell per row costs
more than writing it), and styled dates elsewhere match them."""

MAX_CELL_TEXT = 32_767
"""Excel's limit on the characters in one cell."""
TRUNCATED = " … [truncated; the full text is in the pack's evidence]"
FORMULA_TRIGGERS = frozenset("=+-@\t\r")
"""First characters that make Excel or LibreOffice read typed-in text as a formula (OWASP's CSV-injection list)."""
_ILLEGAL = re.compile(r"[\000-\010\013\014\016-\037\ud800-\udfff\ufffe\uffff]")
"""Characters XML 1.0 cannot carry (control characters, lone surrogates, U+FFFE/U+FFFF); they are replaced."""
_RISKY_FIRST = FORMULA_TRIGGERS | {"#"}
"""First characters worth a closer look: the triggers, and the `#` of Excel's error values such as #N/A."""
_ERROR_CODES = frozenset(ERROR_CODES)

LINE_HEIGHT = 15.0
"""Points per line of 11-point text."""
MAX_ROW_HEIGHT = 409.0
"""Excel's tallest row."""
DARK = "1F4E78"
RED = "C00000"


def naive_utc(value: datetime) -> datetime:
    """Excel has no time zones: cells hold UTC wall-clock times, and headers say so."""
    if value.tzinfo is None:
        return value
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None)


class StyleSpec(TypedDict, total=False):
    """The attributes of one named style (NamedStyle's keyword arguments)."""

    font: Font
    fill: PatternFill
    alignment: Alignment
    border: Border
    number_format: str


class Styles:
    """The workbook's named styles, registered once per workbook and applied by name."""

    HEADER = "auditor header"
    TITLE = "auditor title"
    SECTION = "auditor section"
    LABEL = "auditor label"
    BANNER = "auditor banner"
    PROBLEM = "auditor problem"
    NOTE = "auditor note"
    LINK = "auditor link"
    RATE = "auditor rate"
    COUNT = "auditor count"
    MACHINES = "auditor machines"
    DAYS = "auditor days"
    DATE = "auditor date"
    WRAP = "auditor wrap"
    CODE = "auditor code"

    def __init__(self, workbook: Workbook) -> None:
        thin = Side(style="thin", color=DARK)
        # Top-aligned, so figures line up with the first line of wrapped text beside them.
        top = Alignment(vertical="top")
        specs: dict[str, StyleSpec] = {
            self.HEADER: {
                "font": Font(bold=True, color="FFFFFF"),
                "fill": PatternFill("solid", fgColor=DARK),
                "alignment": Alignment(vertical="center", wrap_text=True),
                "border": Border(bottom=thin),
            },
            self.TITLE: {"font": Font(bold=True, size=14, color=DARK)},
            self.SECTION: {"font": Font(bold=True, size=12, color=DARK), "border": Border(bottom=thin)},
            self.LABEL: {"font": Font(bold=True), "alignment": Alignment(vertical="top", wrap_text=True)},
            self.BANNER: {
                "font": Font(bold=True, size=16, color="FFFFFF"),
                "fill": PatternFill("solid", fgColor=RED),
                "alignment": Alignment(vertical="center"),
            },
            self.PROBLEM: {"font": Font(bold=True, color=RED), "alignment": Alignment(wrap_text=True, vertical="top")},
            self.NOTE: {"font": Font(bold=True, color=RED), "fill": PatternFill("solid", fgColor="FFF2CC")},
            self.LINK: {"font": Font(color="0563C1", underline="single"), "alignment": top},
            self.RATE: {"number_format": RATE_FORMAT, "alignment": top},
            self.COUNT: {"number_format": COUNT_FORMAT, "alignment": top},
            self.MACHINES: {"number_format": MACHINES_FORMAT, "alignment": top},
            self.DAYS: {"number_format": DAYS_FORMAT, "alignment": top},
            self.DATE: {"number_format": DATE_FORMAT, "alignment": top},
            self.WRAP: {"alignment": Alignment(wrap_text=True, vertical="top")},
            self.CODE: {"font": Font(name="Consolas", size=9), "alignment": Alignment(wrap_text=True, vertical="top")},
        }
        arrays = {}
        for name, attributes in specs.items():
            style = NamedStyle(name=name, **attributes)
            workbook.add_named_style(style)
            arrays[name] = style.as_tuple()
        # Cells take a copy of the style's array: what `cell.style = name` does, without its lookups, which cost
        # more than writing the cell (the big sheets style a few cells in every row).
        _ARRAYS[workbook] = arrays


_ARRAYS: WeakKeyDictionary[Workbook, dict[str, StyleArray]] = WeakKeyDictionary()


UNIT_STYLES = {"%": Styles.RATE, "machines": Styles.MACHINES, "days": Styles.DAYS}


def unit_style(unit: str) -> str:
    """The named style that shows a threshold's figure in its unit (a rate, machines or days)."""
    return UNIT_STYLES.get(unit, Styles.COUNT)


def new_cell(ws: Any, style: str | None = None) -> Cell:
    """An empty cell of a write-only sheet, in one of the workbook's named styles."""
    if style is None:
        return WriteOnlyCell(ws)
    return Cell(ws, row=1, column=1, style_array=_ARRAYS[ws.parent][style])


BAD = DifferentialStyle(font=Font(color="9C0006"), fill=PatternFill(bgColor="FFC7CE"))
"""Conditional format for a figure on the wrong side of its threshold."""
WARN = DifferentialStyle(font=Font(color="9C5700"), fill=PatternFill(bgColor="FFEB9C"))
GOOD = DifferentialStyle(font=Font(color="006100"), fill=PatternFill(bgColor="C6EFCE"))


@dataclass(frozen=True)
class Highlight:
    """A fill and font given to every cell of a row that must stand out whatever the reader does with the sheet
    (sorting or filtering keeps them, and any viewer shows them, unlike a conditional format)."""

    fill: PatternFill
    font: Font


HIGHLIGHT_BAD = Highlight(PatternFill("solid", fgColor="FFC7CE"), Font(color="9C0006"))
"""Rows that are wrong now: an expired exception or maintenance configuration."""
HIGHLIGHT_WARN = Highlight(PatternFill("solid", fgColor="FFEB9C"), Font(color="9C5700"))
"""Rows that need attention soon: an exception about to expire, a configuration assigned to nothing."""


def highlighted(ws: Any, value: Any, mark: Highlight) -> Cell:
    """A cell-ready value (plain or already a cell) in the highlight's fill and font; an empty value is filled too."""
    cell = value if isinstance(value, Cell) else WriteOnlyCell(ws, value)
    cell.fill = mark.fill
    cell.font = mark.font
    return cell


def needs_text_cell(value: str) -> bool:
    """Whether a string must be pinned as text rather than appended as a plain value."""
    return (
        (value[0] in _RISKY_FIRST and (value[0] != "#" or value in _ERROR_CODES))
        or len(value) > MAX_CELL_TEXT
        or _ILLEGAL.search(value) is not None
    )


_RISKY_LINE = re.compile("\n[" + re.escape("".join(sorted(_RISKY_FIRST))) + "]")
"""A risky first character in texts joined by newlines, each preceded by one (a line inside a text that starts with
one too, which only sends its row down the careful path)."""


def plain_texts(texts: Sequence[str]) -> bool:
    """Whether none of these strings needs a text cell, checked for them all at once (the fast path of a row).

    Printable ASCII, nearly all data, holds no illegal character, which str checks in C faster than a search.
    """
    joined = "".join(texts)
    if len(joined) > MAX_CELL_TEXT:
        return False
    if not (joined.isascii() and joined.isprintable()) and _ILLEGAL.search(joined) is not None:
        return False
    return _RISKY_LINE.search("\n" + "\n".join(texts)) is None


def text_cell(ws: Any, value: str, style: str | None = None) -> WriteOnlyCell:
    """A cell that Excel and LibreOffice show as this text and never evaluate.

    openpyxl turns a string starting with `=` into a formula and `#N/A` into an error value, so the data type is
    pinned to a string after the value is set. Text that starts with a formula trigger also gets the quote-prefix
    style, so that editing the cell in Excel keeps it text instead of re-reading it as a formula.
    """
    text = _ILLEGAL.sub("\ufffd", value)
    if len(text) > MAX_CELL_TEXT:
        text = text[: MAX_CELL_TEXT - len(TRUNCATED)] + TRUNCATED
    cell = new_cell(ws, style)
    cell.value = text
    cell.data_type = "s"
    if text[:1] in FORMULA_TRIGGERS:
        cell.quotePrefix = True
    return cell


def safe(ws: Any, value: Any) -> Any:
    """A data value ready for `append`: plain values pass through, risky text becomes a pinned text cell.

    Empty strings become None so that no empty cell element is written.
    """
    if value.__class__ is str:
        if not value:
            return None
        if needs_text_cell(value):
            return text_cell(ws, value)
    elif value.__class__ is datetime:
        return naive_utc(value)
    return value


def styled(ws: Any, value: Any, style: str) -> Any:
    """A value with a named style (None stays an empty, unstyled cell)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return text_cell(ws, value, style)
    cell = new_cell(ws, style)
    # The value goes in after the style, so openpyxl keeps the style's date format instead of its own.
    cell.value = naive_utc(value) if isinstance(value, datetime) else value
    return cell


def link_cell(ws: Any, text: str, *, url: str | None = None, location: str | None = None) -> WriteOnlyCell:
    """Text that links to a web address (`url`) or a place in the workbook (`location`, e.g. `'Machines'!A1`)."""
    if needs_text_cell(text):
        cell = text_cell(ws, text, Styles.LINK)
    else:
        cell = new_cell(ws, Styles.LINK)
        cell.value = text
    cell.hyperlink = Hyperlink(ref="", target=url, location=location)
    return cell


def text_height(text: str, width: float, *, code: bool = False) -> float | None:
    """The row height that shows all of a wrapped text in a column `width` characters wide (None for one line).

    Excel and LibreOffice do not grow a row for wrapped text written by openpyxl, so the height is estimated
    from the text: each line of it wraps every `width` characters (more for the smaller code font).
    """
    per_line = max(width * (1.3 if code else 1.1) - 1, 1)
    lines = sum(max(math.ceil(len(line) / per_line), 1) for line in text.split("\n"))
    if lines <= 1:
        return None
    return min((12.0 if code else LINE_HEIGHT) * lines + 3, MAX_ROW_HEIGHT)
