"""Chart geometry for the PDF: plain data that `report_templates/charts/*.svg.j2` draws as inline SVG.

The charts are laid out here (positions, scales, ticks, arc paths) and drawn by autoescaped Jinja templates, so
no SVG is built by string concatenation and every label is escaped. Each chart has a fixed number of marks (a
capped list of bars, a capped series of scans), so a chart costs the same for 100 machines as for 100,000.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from auditor.compliance.metrics import rate
from auditor.compliance.summary import StatusCounts

WIDTH = 680.0
"""ViewBox width of every chart; the stylesheet scales it to the text column."""
LABEL_WIDTH = 150.0
LABEL_CHARS = 24
MAX_BARS = 12
MAX_TREND_POINTS = 24
BAR_HEIGHT = 15.0
BAR_GAP = 6.0
STATUS_ORDER = (
    ("compliant", "Compliant"),
    ("compliant_with_exception", "Compliant through an exception"),
    ("non_compliant", "Non-compliant"),
    ("unknown", "Unknown"),
)
"""The donut's slices: summary.json's `compliant` counts the machines compliant through an exception too, so the
donut shows those apart and its first slice is the rest."""


@dataclass(frozen=True)
class Tick:
    """A gridline on the value axis."""

    at: float
    label: str


@dataclass(frozen=True)
class Bar:
    """One horizontal bar with its label and value text."""

    label: str
    y: float
    width: float
    text: str
    tone: str
    """CSS class: `ok`, `bad`, `info`, `muted` or `empty`."""
    target_x: float | None = None
    """A per-bar target (e.g. an environment's own threshold) when it differs from the chart's line."""
    target_label: str = ""
    target_anchor: str = "start"
    """Which side of the mark its label sits: right of it (`start`) unless the mark is near the end of the track."""


@dataclass(frozen=True)
class BarChart:
    """Horizontal bars against a linear value axis, optionally with a threshold line."""

    height: float
    left: float
    right: float
    top: float
    bottom: float
    bars: list[Bar]
    ticks: list[Tick]
    threshold_x: float | None
    threshold_label: str
    hidden: int
    """Rows left out of the chart (they are in the table below it)."""
    track: bool = False
    """Draw each bar's full 0-100 % track, so a short bar still reads as a share."""
    bar_height: float = BAR_HEIGHT
    width: float = WIDTH


@dataclass(frozen=True)
class Slice:
    """One slice of the status donut, with its legend entry."""

    key: str
    label: str
    value: int
    share: str
    path: str
    """SVG path data; empty for a zero slice. A full circle is drawn as two half arcs."""


@dataclass(frozen=True)
class Donut:
    """The machine status split."""

    height: float
    cx: float
    cy: float
    outer: float
    inner: float
    slices: list[Slice]
    centre: str
    centre_caption: str
    width: float = WIDTH


@dataclass(frozen=True)
class TrendPoint:
    """One scan on the trend line."""

    x: float
    y: float
    label: str
    value: str


@dataclass(frozen=True)
class TrendChart:
    """Compliance rate across scans, oldest first."""

    height: float
    left: float
    right: float
    top: float
    bottom: float
    points: list[TrendPoint]
    polyline: str
    ticks: list[Tick]
    x_labels: list[TrendPoint]
    threshold_y: float | None
    threshold_label: str
    dropped: int
    """Older scans left out to keep the chart to MAX_TREND_POINTS."""
    width: float = WIDTH


def shorten(text: str, limit: int = LABEL_CHARS) -> str:
    """Cut a label to `limit` characters with an ellipsis; the tables carry the full text."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def nice_step(maximum: float, ticks: int = 5) -> float:
    """A 1-2-5 step that covers `maximum` in about `ticks` intervals."""
    if maximum <= 0:
        return 1.0
    raw = maximum / ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return float(factor * power)
    return float(10 * power)


def _fmt_number(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


def _bar_frame(count: int, *, labelled: bool) -> tuple[float, float]:
    """(top, height) of a bar chart with `count` bars; room above for a threshold label, below for ticks."""
    top = 22.0 if labelled else 6.0
    plot = max(count, 1) * (BAR_HEIGHT + BAR_GAP)
    return top, top + plot + 24.0


def rate_bars(
    rows: Sequence[tuple[str, float | None]],
    *,
    threshold: float | None,
    targets: Mapping[str, float] | None = None,
) -> BarChart:
    """Compliance rate per group (key, rate) on a 0-100 % axis with the threshold line.

    A bar is `bad` when its rate is under its own target (the group's entry in `targets`, else the threshold),
    `ok` otherwise, and `empty` when the group has no rate.
    """
    targets = targets or {}
    shown = list(rows[:MAX_BARS])
    top, height = _bar_frame(len(shown), labelled=threshold is not None)
    left, right = LABEL_WIDTH, WIDTH - 70.0
    span = right - left

    def x(value: float) -> float:
        return left + span * max(0.0, min(value, 100.0)) / 100.0

    bars = []
    for index, (key, value) in enumerate(shown):
        target = targets.get(key, threshold)
        if value is None:
            tone, width, text = "empty", 0.0, "n/a"
        else:
            tone = "bad" if target is not None and value < target else "ok"
            width, text = x(value) - left, f"{value:.2f}%"
        own = targets.get(key)
        bars.append(
            Bar(
                label=shorten(key),
                y=top + index * (BAR_HEIGHT + BAR_GAP) + BAR_GAP / 2,
                width=width,
                text=text,
                tone=tone,
                target_x=x(own) if own is not None and own != threshold else None,
                target_label=f"{own:g}%" if own is not None and own != threshold else "",
                target_anchor="end" if own is not None and own > 95 else "start",
            )
        )
    ticks = [Tick(x(v), f"{v}%") for v in range(0, 101, 20)]
    return BarChart(
        height=height,
        left=left,
        right=right,
        top=top,
        bottom=height - 24.0,
        bars=bars,
        ticks=ticks,
        threshold_x=x(threshold) if threshold is not None else None,
        threshold_label=f"target {threshold:.2f}%" if threshold is not None else "",
        hidden=max(len(rows) - len(shown), 0),
        track=True,
    )


def count_bars(rows: Sequence[tuple[str, int, str]]) -> BarChart:
    """Counts per label (label, count, tone) on a linear axis from zero, largest first."""
    ordered = sorted(rows, key=lambda row: (-row[1], row[0]))
    shown = ordered[:MAX_BARS]
    top, height = _bar_frame(len(shown), labelled=False)
    left, right = LABEL_WIDTH, WIDTH - 70.0
    peak = max((count for _, count, _ in shown), default=0)
    step = nice_step(peak)
    axis_max = step * max(math.ceil(peak / step), 1)
    scale = (right - left) / axis_max
    bars = [
        Bar(
            label=shorten(label),
            y=top + index * (BAR_HEIGHT + BAR_GAP) + BAR_GAP / 2,
            width=count * scale,
            text=f"{count:,}",
            tone=tone,
        )
        for index, (label, count, tone) in enumerate(shown)
    ]
    ticks = [Tick(left + i * step * scale, _fmt_number(i * step)) for i in range(round(axis_max / step) + 1)]
    return BarChart(
        height=height,
        left=left,
        right=right,
        top=top,
        bottom=height - 24.0,
        bars=bars,
        ticks=ticks,
        threshold_x=None,
        threshold_label="",
        hidden=max(len(ordered) - len(shown), 0),
    )


def _point(cx: float, cy: float, radius: float, turn: float) -> tuple[float, float]:
    """The point at `turn` (0..1, clockwise from twelve o'clock) on a circle."""
    angle = 2 * math.pi * turn - math.pi / 2
    return cx + radius * math.cos(angle), cy + radius * math.sin(angle)


def slice_path(cx: float, cy: float, outer: float, inner: float, start: float, end: float) -> str:
    """SVG path of an annular sector from `start` to `end` (fractions of a turn).

    With `inner` == 0 the sector closes through the centre with a straight line: WeasyPrint mis-draws the
    zero-radius arc (`A0 0 0 ...`) that pie generators such as pygal emit there. A full turn is split into two
    half arcs because an arc from a point to itself draws nothing.
    """
    if end - start >= 1.0:
        return (
            slice_path(cx, cy, outer, inner, start, start + 0.5)
            + " "
            + slice_path(cx, cy, outer, inner, start + 0.5, start + 1.0)
        )
    large = 1 if end - start > 0.5 else 0
    x0, y0 = _point(cx, cy, outer, start)
    x1, y1 = _point(cx, cy, outer, end)
    parts = [f"M{x0:.2f} {y0:.2f}", f"A{outer:.2f} {outer:.2f} 0 {large} 1 {x1:.2f} {y1:.2f}"]
    if inner > 0:
        x2, y2 = _point(cx, cy, inner, end)
        x3, y3 = _point(cx, cy, inner, start)
        parts += [f"L{x2:.2f} {y2:.2f}", f"A{inner:.2f} {inner:.2f} 0 {large} 0 {x3:.2f} {y3:.2f}"]
    else:
        parts.append(f"L{cx:.2f} {cy:.2f}")
    return " ".join(parts) + " Z"


def status_donut(counts: StatusCounts) -> Donut:
    """Compliant / compliant through an exception / non-compliant / unknown machines as a donut, the overall rate
    in its middle. Every share is rounded as the rate is (half-up, 2 decimals), so the legend and the centre agree:
    the first two shares add up to the centre's rate give or take the last digit."""
    total = counts.machines
    excepted = counts.compliant_with_exception
    values = {
        "compliant": counts.compliant - excepted,
        "compliant_with_exception": excepted,
        "non_compliant": counts.non_compliant,
        "unknown": counts.unknown,
    }
    cx, cy, outer, inner = 100.0, 75.0, 68.0, 42.0
    slices, turn = [], 0.0
    for key, label in STATUS_ORDER:
        value = values[key]
        fraction = value / total if total else 0.0
        path = slice_path(cx, cy, outer, inner, turn, turn + fraction) if value else ""
        share = f"{rate(value, total):.2f}%" if total else "n/a"
        slices.append(Slice(key, label, value, share, path))
        turn += fraction
    overall = counts.compliance_rate
    return Donut(
        height=150.0,
        cx=cx,
        cy=cy,
        outer=outer,
        inner=inner,
        slices=slices,
        centre=f"{overall:.2f}%" if overall is not None else "n/a",
        centre_caption="compliant",
    )


def trend_chart(points: Sequence[tuple[str, float | None]], *, threshold: float | None) -> TrendChart | None:
    """Compliance rate per scan (label, rate), oldest first; None with fewer than two rated scans."""
    every_rated = [(label, rate) for label, rate in points if rate is not None]
    rated = every_rated[-MAX_TREND_POINTS:]
    if len(rated) < 2:
        return None
    left, right, top, height = 60.0, WIDTH - 30.0, 16.0, 150.0
    bottom = height - 26.0
    values = [rate for _, rate in rated] + ([threshold] if threshold is not None else [])
    # The axis ends at 100 % and starts a little under the lowest value, on a multiple of the tick step so the
    # gridlines land on round figures.
    tick_step = nice_step(100.0 - max(0.0, min(values) - 5))
    floor = max(0.0, math.floor((min(values) - 5) / tick_step) * tick_step)

    def y(value: float) -> float:
        return bottom - (bottom - top) * (value - floor) / (100.0 - floor)

    step = (right - left) / (len(rated) - 1)
    pts = [TrendPoint(left + i * step, y(rate), label, f"{rate:.2f}%") for i, (label, rate) in enumerate(rated)]
    every = max(1, math.ceil(len(pts) / 6))
    labels = [p for i, p in enumerate(pts) if i % every == 0 or i == len(pts) - 1]
    if len(labels) > 1 and labels[-1].x - labels[-2].x < 80:
        labels.pop(-2)
    ticks = [Tick(y(v), f"{v:g}%") for v in _frange(floor, 100.0, tick_step)]
    return TrendChart(
        height=height,
        left=left,
        right=right,
        top=top,
        bottom=bottom,
        points=pts,
        polyline=" ".join(f"{p.x:.2f},{p.y:.2f}" for p in pts),
        ticks=ticks,
        x_labels=labels,
        threshold_y=y(threshold) if threshold is not None else None,
        threshold_label=f"target {threshold:.2f}%" if threshold is not None else "",
        dropped=len(every_rated) - len(rated),
    )


def _frange(start: float, stop: float, step: float) -> list[float]:
    count = round((stop - start) / step)
    return [start + i * step for i in range(count + 1)]
