"""Table sheets in write-only mode: a caption row, a styled header row, then data rows; frozen, filtered, sized.

Write-only sheets take their layout (column widths, frozen panes, row heights) before the first row is appended,
and their filters and conditional formats any time before the workbook is saved; this module keeps that order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from itertools import islice
from operator import itemgetter
from typing import Any

from openpyxl.formatting.rule import Rule
from openpyxl.styles.differential import DifferentialStyle
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.workbook import Workbook

from auditor.reports.xlsx.rows import RowWriter
from auditor.reports.xlsx.style import (
    BAD,
    LINE_HEIGHT,
    Highlight,
    Styles,
    highlighted,
    plain_texts,
    safe,
    styled,
    text_cell,
    text_height,
)

MAX_ROWS = 1_048_576
"""Excel's row limit; a longer table is cut. Tests monkeypatch this small."""
WRAPPING = frozenset({Styles.WRAP, Styles.CODE})
"""Column styles whose text wraps, so rows are heightened to show it."""
HEADER_ROW = 2
FIRST_ROW = 3
"""The first data row of every table sheet."""


@dataclass(frozen=True)
class Column:
    """One column of a table sheet."""

    header: str
    width: float = 14
    """The width, or for a fitted table the widest it may grow."""
    style: str | None = None
    """Named style for every value in the column; None means values go in as they are (through `safe`)."""
    text: bool = False
    """In a prepared table: the column holds text from the data (str, '' for none), which `SafeTexts` makes safe as
    the rows are written. The other columns of a prepared table are cell-ready already."""


class SafeTexts:
    """The safety rule for the text columns of a prepared table's rows, applied to a whole row at once.

    A row whose texts are all plain (nearly every row; see `plain_texts`) goes through untouched: the writer leaves
    empty text out as it leaves out None. Only a row that may hold risky text has its texts checked one by one.
    """

    def __init__(self, ws: Any, columns: Sequence[Column]) -> None:
        self.ws = ws
        self.indexes = [i for i, column in enumerate(columns) if column.text]
        self._texts: Callable[[Sequence[Any]], Sequence[str]] = (
            itemgetter(*self.indexes) if len(self.indexes) > 1 else lambda row: [row[i] for i in self.indexes]
        )

    def __call__(self, row: Sequence[Any]) -> Sequence[Any]:
        """The row, or a copy of it with its texts made safe."""
        if not self.indexes or plain_texts(self._texts(row)):
            return row
        cells = list(row)
        for i in self.indexes:
            cells[i] = safe(self.ws, cells[i])
        return cells


@dataclass(frozen=True)
class Table:
    """Where a written table landed, for conditional formats and charts."""

    ws: Any
    title: str
    columns: tuple[Column, ...]
    rows: int
    """Data rows written."""
    total: int
    """Data rows there were (more than `rows` when the table was cut)."""
    end_row: int = 0
    """The last row written: the last data row, or the note under a cut or empty table."""
    streamed: bool = False
    """Whether the rows went through a RowWriter: nothing more can be appended to the sheet then."""

    @property
    def last_row(self) -> int:
        """The last data row (HEADER_ROW when there is none)."""
        return HEADER_ROW + self.rows

    def letter(self, header: str) -> str:
        """The column letter of a header."""
        return str(get_column_letter([c.header for c in self.columns].index(header) + 1))

    def ref(self, header: str, *, with_header: bool = False) -> str:
        """An absolute reference to the column's data cells, e.g. `'By environment'!$F$3:$F$9`."""
        col = self.letter(header)
        top = HEADER_ROW if with_header else FIRST_ROW
        return f"{quote_sheetname(self.title)}!${col}${top}:${col}${max(self.last_row, FIRST_ROW)}"


def sheet_location(title: str) -> str:
    """A hyperlink location that opens a sheet at its top-left cell."""
    return f"{quote_sheetname(title)}!A1"


def print_setup(ws: Any) -> None:
    """Landscape pages, one page wide and as many tall as the rows need. Every sheet fits the width: a wide sheet
    left at 100 % prints each row across several pages (the Machines sheet of the sample came to over a thousand
    pages), and a reviewer who prints a sheet wants its rows whole; the header row repeats on every page."""
    ws.page_setup.orientation = "landscape"
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0


def fit(columns: Sequence[Column], rows: Sequence[Sequence[Any]]) -> tuple[Column, ...]:
    """Columns narrowed to their content (never wider than declared), for tables held in memory."""
    fitted = []
    for index, column in enumerate(columns):
        longest = max((_shown_length(row[index]) for row in rows if index < len(row)), default=0)
        widest_word = max((len(word) for word in column.header.split()), default=0)
        width = min(column.width, max(longest + 2, widest_word + 2, 8))
        fitted.append(replace(column, width=width))
    return tuple(fitted)


def _shown_length(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, float):
        return len(f"{value:,.2f}") + 1
    if isinstance(value, int) and not isinstance(value, bool):
        return len(f"{value:,}")
    return max((len(line) for line in str(value).splitlines()), default=0)


def cut_note(shown: int, total: int, evidence: str) -> str:
    """The visible note on a table cut at Excel's row limit."""
    return (
        f"CUT: this sheet shows the first {shown:,} of {total:,} rows (Excel's limit is {MAX_ROWS:,} rows a sheet). "
        f"Every row is in the pack's evidence file {evidence}."
    )


def write_table(
    workbook: Workbook,
    title: str,
    columns: Sequence[Column],
    rows: Callable[[Any], Iterable[Sequence[Any]]] | Sequence[Sequence[Any]],
    *,
    caption: str,
    total: int,
    evidence: str = "",
    freeze_columns: int = 0,
    prepared: bool = False,
    empty: str = "No rows.",
    marks: Sequence[Highlight | None] = (),
) -> Table:
    """Write a table sheet. At most the rows that fit under Excel's limit are taken from `rows`.

    `rows` is a sequence, or a function of the new sheet that yields rows (cells belong to their sheet, so
    prepared rows are built once the sheet exists).

    `total` is the number of rows `rows` yields, known up front so that a cut is announced in the caption (the
    first thing a reader sees) as well as below the last row. `prepared` rows (the fast path of the big sheets)
    are cell-ready but for their `text` columns, which go through `SafeTexts`; otherwise each value is styled by
    its column or passed through `safe`, and a row whose entry in `marks` is a Highlight gets its fill and font in
    every cell.
    """
    ws = workbook.create_sheet(title)
    for index, column in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(index)].width = column.width
    ws.freeze_panes = f"{get_column_letter(freeze_columns + 1)}{FIRST_ROW}"
    print_setup(ws)
    ws.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    lines = max((math.ceil(len(c.header) / max(c.width - 2, 1)) for c in columns), default=1)
    ws.row_dimensions[HEADER_ROW].height = LINE_HEIGHT * max(lines, 1)
    capacity = MAX_ROWS - FIRST_ROW  # one row stays free for the note under a cut table
    cut = total > capacity
    note = cut_note(capacity, total, evidence) if cut else ""
    ws.append([styled(ws, f"{caption} {note}" if cut else caption, Styles.NOTE if cut else Styles.TITLE)])
    ws.append([styled(ws, c.header, Styles.HEADER) for c in columns])
    written = 0
    limited = islice(rows(ws) if callable(rows) else rows, capacity)
    # Prepared rows (the big sheets) bypass openpyxl's cell-by-cell writer; the rest append as usual.
    stream = RowWriter(ws, FIRST_ROW) if prepared else None
    append = stream.append if stream is not None else ws.append
    if prepared:
        made_safe = SafeTexts(ws, columns)
        for row in limited:
            append(made_safe(row))
            written += 1
    else:
        styles = [c.style for c in columns]
        wrapped = [(i, c.width, c.style == Styles.CODE) for i, c in enumerate(columns) if c.style in WRAPPING]
        for row in limited:
            if wrapped:
                heights = [text_height(row[i], w, code=code) for i, w, code in wrapped if isinstance(row[i], str)]
                tallest = max((h for h in heights if h), default=None)
                if tallest:
                    ws.row_dimensions[FIRST_ROW + written].height = tallest
            cells = [safe(ws, v) if s is None else styled(ws, v, s) for v, s in zip(row, styles, strict=False)]
            mark = marks[written] if written < len(marks) else None
            if mark is not None:
                cells = [highlighted(ws, cell, mark) for cell in cells]
            ws.append(cells)
            written += 1
    last = get_column_letter(len(columns))
    ws.auto_filter.ref = f"A{HEADER_ROW}:{last}{HEADER_ROW + written}"
    end = HEADER_ROW + written
    if cut:
        append([styled(ws, note, Styles.NOTE)])
        end += 1
    elif written == 0:
        append([text_cell(ws, empty, Styles.WRAP)])
        end += 1
    if stream is not None:
        stream.close()
    return Table(ws, title, tuple(columns), written, total, end, streamed=stream is not None)


def rule(formula: str, dxf: DifferentialStyle) -> Rule:
    """A conditional format: `dxf` where the formula (relative to the range's top-left cell) is true."""
    # A fresh style per rule: openpyxl records the workbook's style id on the rule when it saves.
    return Rule(type="expression", dxf=DifferentialStyle(font=dxf.font, fill=dxf.fill), formula=[formula])


def flag_against(
    table: Table, header: str, limit: str | float | None, *, kind: str = "min", dxf: DifferentialStyle = BAD
) -> None:
    """Conditionally format a column's numbers that are on the wrong side of a limit.

    `limit` is a number, another column's header (a per-row limit), or None (nothing to flag). Blank cells are
    never flagged: a group with no rate has nothing to judge.
    """
    if limit is None or table.rows == 0:
        return
    col = table.letter(header)
    value = f"{col}{FIRST_ROW}"
    if isinstance(limit, str):
        bound = f"{table.letter(limit)}{FIRST_ROW}"
        guard = f"ISNUMBER({value}),ISNUMBER({bound})"
    else:
        bound = repr(float(limit))
        guard = f"ISNUMBER({value})"
    op = "<" if kind == "min" else ">"
    table.ws.conditional_formatting.add(
        f"{col}{FIRST_ROW}:{col}{table.last_row}", rule(f"AND({guard},{value}{op}{bound})", dxf)
    )


def flag_text(table: Table, header: str, text: str | bool, dxf: DifferentialStyle, *, on: str | None = None) -> None:
    """Conditionally format the cells of column `on` (default: `header` itself) in the rows whose `header` cell holds
    exactly `text` (our own vocabulary, never data) or a bool.

    A boolean column is best flagged through a neighbour (`on`): LibreOffice 7 crashes laying out a page where a
    conditional format applies to a TRUE/FALSE cell with anything written to its right.
    """
    if table.rows == 0:
        return
    col, target = table.letter(header), table.letter(on or header)
    literal = str(text).upper() if isinstance(text, bool) else f'"{text}"'
    table.ws.conditional_formatting.add(
        f"{target}{FIRST_ROW}:{target}{table.last_row}", rule(f"${col}{FIRST_ROW}={literal}", dxf)
    )


class Form:
    """A free-form sheet (Summary, About) written row by row, remembering which row is next."""

    def __init__(self, workbook: Workbook, title: str, widths: Sequence[float]) -> None:
        self.ws = workbook.create_sheet(title)
        self.title = title
        self.widths = tuple(widths)
        for index, width in enumerate(widths, start=1):
            self.ws.column_dimensions[get_column_letter(index)].width = width
        print_setup(self.ws)
        self.row = 0

    @classmethod
    def below(cls, table: Table) -> Form:
        """Free-form rows under a written table sheet, in the table's columns (their widths are already set)."""
        if table.streamed:
            raise ValueError(f"{table.title}: rows cannot follow a streamed (prepared) table")
        form = cls.__new__(cls)
        form.ws, form.title = table.ws, table.title
        form.widths = tuple(c.width for c in table.columns)
        form.row = table.end_row
        return form

    def add(self, *values: Any, height: float | None = None, merge_to: int | None = None) -> int:
        """Append one row of cell-ready values; returns its row number.

        `height` must be known now (a write-only row is final once written); `merge_to` merges the first cell
        across to that column, for banners and long lines of text.
        """
        row = self.row + 1
        if height is not None:
            self.ws.row_dimensions[row].height = height
        self.ws.append(list(values))
        if merge_to is not None:
            self.ws.merged_cells.add(f"A{row}:{get_column_letter(merge_to)}{row}")
        self.row = row
        return row

    def text(self, text: str, style: str | None = None, *, merge_to: int | None = None) -> int:
        """A line of text; merged across columns, it wraps and its row is heightened to show all of it."""
        height = text_height(text, sum(self.widths[:merge_to])) if merge_to is not None else None
        return self.add(
            styled(self.ws, text, style) if style else safe(self.ws, text), height=height, merge_to=merge_to
        )

    def blank(self) -> None:
        """An empty row."""
        self.add()

    def section(self, title: str) -> int:
        """A section heading."""
        return self.add(styled(self.ws, title, Styles.SECTION))

    def header(self, *titles: str) -> int:
        """A styled header row for a small inline table, tall enough for titles that wrap in their columns."""
        lines = max((math.ceil(len(t) / max(w - 2, 1)) for t, w in zip(titles, self.widths, strict=False)), default=1)
        return self.add(
            *(styled(self.ws, t, Styles.HEADER) for t in titles), height=LINE_HEIGHT * lines if lines > 1 else None
        )

    def pair(self, label: str, value: Any, style: str | None = None, *more: Any) -> int:
        """A label and its value (styled, or safe when no style is given), then any further cell-ready values.

        A wrapped value's row is heightened to show all of it.
        """
        shown = safe(self.ws, value) if style is None else styled(self.ws, value, style)
        height = None
        if style in WRAPPING and isinstance(value, str):
            height = text_height(value, self.widths[1], code=style == Styles.CODE)
        return self.add(styled(self.ws, label, Styles.LABEL), shown, *more, height=height)
