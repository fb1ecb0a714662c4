"""The concurrency heat map for the PDF: machines scheduled in each hour of the as-of week, as a 7 x 24 grid.

Geometry only, like auditor.reports.charts: `report_templates/charts/heatmap.svg.j2` draws it. The grid always has
168 cells, so it costs the same whatever the fleet size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from auditor.reports.charts import WIDTH, Tick

HOURS_PER_WEEK = 168
HEAT_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
HEAT_EMPTY = (241, 244, 248)
HEAT_LOW = (214, 226, 240)
HEAT_HIGH = (20, 50, 92)


@dataclass(frozen=True)
class HeatCell:
    """One hour of the week in the concurrency heat map."""

    hour: int
    """0 = Monday 00:00-01:00 UTC."""
    machines: int
    x: float
    y: float
    fill: str
    text: str
    """The count as printed in the cell ('' for none)."""
    ink: str
    """Colour of the text, readable on the fill."""
    above: bool
    """More machines than the limit: outlined in red."""


@dataclass(frozen=True)
class Swatch:
    """A legend entry: a colour and what it stands for."""

    x: float
    fill: str
    label: str


@dataclass(frozen=True)
class HeatMap:
    """Machines scheduled per hour of the as-of week: 7 rows (days, UTC) by 24 columns (hours)."""

    height: float
    left: float
    top: float
    cell_width: float
    cell_height: float
    cells: list[HeatCell]
    days: list[Tick]
    """Row labels; `at` is the row's text baseline."""
    hours: list[Tick]
    """Column labels; `at` is the column's centre."""
    legend: list[Swatch]
    legend_y: float
    limit: int
    peak: int
    above: int
    """Hours above the limit."""
    width: float = WIDTH


def _hex(rgb: tuple[int, ...]) -> str:
    return "#" + "".join(f"{channel:02x}" for channel in rgb)


def _shade(share: float) -> str:
    """A colour from light to dark blue for a share (0..1] of the busiest hour; empty hours are near white."""
    if share <= 0:
        return _hex(HEAT_EMPTY)
    mixed = (round(low + (high - low) * share) for low, high in zip(HEAT_LOW, HEAT_HIGH, strict=True))
    return _hex(tuple(mixed))


def _compact(count: int) -> str:
    if count < 1000:
        return str(count)
    return f"{count / 1000:.1f}k" if count < 10_000 else f"{count // 1000}k"


def heat_map(series: Sequence[int], *, limit: int, week_start: date | None) -> HeatMap | None:
    """The 168-hour concurrency series as a 7 x 24 grid, coloured by machines scheduled, peaks above `limit` marked.

    None unless the series has exactly 168 counts. Days are labelled from `week_start` (the Monday, UTC).
    """
    if len(series) != HOURS_PER_WEEK:
        return None
    left, top, right = 78.0, 16.0, WIDTH - 6.0
    cell_width, cell_height = (right - left) / 24, 19.0
    busiest = max(series)
    cells = []
    for hour, machines in enumerate(series):
        share = machines / busiest if busiest else 0.0
        cells.append(
            HeatCell(
                hour=hour,
                machines=machines,
                x=left + (hour % 24) * cell_width,
                y=top + (hour // 24) * cell_height,
                fill=_shade(share),
                text=_compact(machines) if machines else "",
                ink="#ffffff" if share > 0.55 else "#1d2530",
                above=machines > limit,
            )
        )
    days = [
        Tick(
            top + day * cell_height + cell_height / 2 + 3.5,
            f"{name} {(week_start + timedelta(days=day)).strftime('%d %b')}" if week_start else name,
        )
        for day, name in enumerate(HEAT_DAYS)
    ]
    hours = [Tick(left + (hour + 0.5) * cell_width, f"{hour:02d}") for hour in range(0, 24, 2)]
    legend_y = top + 7 * cell_height + 14
    steps = sorted({0, *(round(busiest * k / 4) for k in range(1, 5))}) if busiest else [0]
    legend = [Swatch(left + i * 62, _shade(v / busiest if busiest else 0.0), f"{v:,}") for i, v in enumerate(steps)]
    return HeatMap(
        height=legend_y + 22,
        left=left,
        top=top,
        cell_width=cell_width,
        cell_height=cell_height,
        cells=cells,
        days=days,
        hours=hours,
        legend=legend,
        legend_y=legend_y,
        limit=limit,
        peak=busiest,
        above=sum(1 for cell in cells if cell.above),
    )
