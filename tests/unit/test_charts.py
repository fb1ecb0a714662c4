"""Chart geometry for the PDF: scales, caps, and pie paths WeasyPrint draws correctly."""

from __future__ import annotations

import re
from datetime import date

import pytest

from auditor.compliance.summary import StatusCounts
from auditor.reports import charts
from auditor.reports.pdf.document import environment, templates_dir
from auditor.reports.pdf.heatmap import heat_map


def test_pie_slice_closes_through_the_centre_without_a_zero_radius_arc() -> None:
    path = charts.slice_path(100, 100, 80, 0, 0.0, 0.25)
    assert not re.search(r"A0(\.0+)? 0(\.0+)? ", path)
    assert path.startswith("M100.00 20.00 A80.00 80.00 0 0 1 180.00 100.00")
    assert path.endswith("L100.00 100.00 Z")


def test_donut_slice_has_an_inner_arc() -> None:
    path = charts.slice_path(100, 100, 80, 40, 0.0, 0.75)
    assert "A80.00 80.00 0 1 1" in path and "A40.00 40.00 0 1 0" in path


def test_full_turn_is_two_half_arcs() -> None:
    path = charts.slice_path(100, 100, 80, 40, 0.0, 1.0)
    assert path.count("M") == 2 and path.count("A80.00") == 2


def counts(
    machines: int, compliant: int, non_compliant: int, unknown: int, rate: float | None, excepted: int = 0
) -> StatusCounts:
    return StatusCounts(
        machines=machines,
        compliant=compliant,
        non_compliant=non_compliant,
        unknown=unknown,
        compliance_rate=rate,
        compliant_with_exception=excepted,
        compliance_rate_without_exceptions=None,
        exception_rate=None,
    )


def test_status_donut_shares_and_empty_slices() -> None:
    donut = charts.status_donut(counts(4, 3, 0, 1, 75.0))
    assert [s.share for s in donut.slices] == ["75.00%", "0.00%", "0.00%", "25.00%"]
    assert donut.slices[2].path == ""
    assert donut.centre == "75.00%"
    # Machines compliant through an exception are a slice of their own; shares round as the rate does.
    split = charts.status_donut(counts(3, 2, 1, 0, 66.67, excepted=1))
    assert [(s.key, s.value, s.share) for s in split.slices] == [
        ("compliant", 1, "33.33%"),
        ("compliant_with_exception", 1, "33.33%"),
        ("non_compliant", 1, "33.33%"),
        ("unknown", 0, "0.00%"),
    ]
    assert split.centre == "66.67%"
    empty = charts.status_donut(counts(0, 0, 0, 0, None))
    assert empty.centre == "n/a" and all(s.path == "" for s in empty.slices)


def test_rate_bars_mark_groups_below_their_target() -> None:
    rows = [("Production", 96.0), ("Test", 85.0), ("Empty", None)]
    chart = charts.rate_bars(rows, threshold=90.0, targets={"Production": 98.0})
    assert [b.tone for b in chart.bars] == ["bad", "bad", "empty"]
    assert chart.bars[0].target_x is not None and chart.bars[0].target_label == "98%"
    assert chart.bars[1].target_x is None
    assert chart.threshold_x == pytest.approx(chart.left + 0.9 * (chart.right - chart.left))
    assert chart.bars[1].width == pytest.approx(0.85 * (chart.right - chart.left))


def test_bar_charts_are_capped() -> None:
    rows: list[tuple[str, float | None]] = [(f"env-{i:02d}", float(i)) for i in range(40)]
    chart = charts.rate_bars(rows, threshold=None)
    assert len(chart.bars) == charts.MAX_BARS and chart.hidden == 40 - charts.MAX_BARS
    assert chart.threshold_x is None
    counts = charts.count_bars([(f"c{i}", i, "info") for i in range(20)])
    assert len(counts.bars) == charts.MAX_BARS and counts.bars[0].label == "c19"


def test_count_axis_covers_the_largest_bar() -> None:
    chart = charts.count_bars([("Security", 3347, "info"), ("Other", 2028, "muted"), ("Tools", 0, "muted")])
    assert [b.label for b in chart.bars] == ["Security", "Other", "Tools"]
    assert chart.ticks[-1].at >= chart.left + chart.bars[0].width
    assert chart.ticks[-1].label == "4,000"


def test_long_labels_are_shortened() -> None:
    assert charts.shorten("x" * 40) == "x" * (charts.LABEL_CHARS - 1) + "…"
    assert charts.shorten("Production") == "Production"


@pytest.mark.parametrize(("maximum", "step"), [(0, 1), (7, 2), (45, 10), (3347, 1000), (0.3, 0.1)])
def test_nice_step(maximum: float, step: float) -> None:
    assert charts.nice_step(maximum) == pytest.approx(step)


def test_trend_needs_two_scans_and_keeps_the_latest() -> None:
    assert charts.trend_chart([("2026-11-01", 90.0)], threshold=95.0) is None
    points = [(f"2026-{i:03d}", 50.0 + i) for i in range(30)]
    trend = charts.trend_chart(points, threshold=95.0)
    assert trend is not None
    assert len(trend.points) == charts.MAX_TREND_POINTS and trend.dropped == 30 - charts.MAX_TREND_POINTS
    assert trend.points[-1].value == "79.00%"
    assert trend.threshold_y is not None and trend.threshold_y < trend.points[-1].y


def test_chart_templates_escape_labels() -> None:
    chart = charts.rate_bars([("<b>&", 50.0)], threshold=90.0)
    svg = environment(templates_dir()).get_template("charts/bars.svg.j2").render(chart=chart)
    assert "&lt;b&gt;&amp;" in svg and "<b>" not in svg


def test_heat_map_is_a_7_by_24_grid_with_peaks_marked() -> None:
    series = [0] * 168
    series[5] = 40  # Monday 05:00
    series[24 * 6 + 23] = 1200  # Sunday 23:00, the busiest hour
    series[24 * 2 + 10] = 600
    chart = heat_map(series, limit=500, week_start=date(2026, 10, 26))
    assert chart is not None and len(chart.cells) == 168
    assert [c.machines for c in chart.cells] == series
    rows = {round(c.y, 2) for c in chart.cells}
    columns = {round(c.x, 2) for c in chart.cells}
    assert len(rows) == 7 and len(columns) == 24
    busiest, wednesday, monday, empty = chart.cells[167], chart.cells[58], chart.cells[5], chart.cells[0]
    assert (busiest.x, busiest.y) == (max(c.x for c in chart.cells), max(c.y for c in chart.cells))
    assert [c.hour for c in chart.cells if c.above] == [58, 167] and chart.above == 2
    assert (busiest.text, wednesday.text, monday.text, empty.text) == ("1.2k", "600", "40", "")
    assert busiest.fill == "#14325c" and busiest.ink == "#ffffff" and empty.fill == "#f1f4f8"
    assert darkness(busiest.fill) > darkness(wednesday.fill) > darkness(monday.fill) > darkness(empty.fill)
    assert [d.label for d in chart.days] == [
        "Mon 26 Oct",
        "Tue 27 Oct",
        "Wed 28 Oct",
        "Thu 29 Oct",
        "Fri 30 Oct",
        "Sat 31 Oct",
        "Sun 01 Nov",
    ]
    assert chart.limit == 500 and chart.peak == 1200
    assert [s.label for s in chart.legend] == ["0", "300", "600", "900", "1,200"]


def darkness(fill: str) -> int:
    return -sum(int(fill[i : i + 2], 16) for i in (1, 3, 5))


def test_heat_map_of_an_idle_week_and_of_a_short_series() -> None:
    idle = heat_map([0] * 168, limit=1, week_start=None)
    assert idle is not None and idle.above == 0 and {c.fill for c in idle.cells} == {"#f1f4f8"}
    assert [d.label for d in idle.days][:2] == ["Mon", "Tue"] and [s.label for s in idle.legend] == ["0"]
    assert heat_map([1] * 24, limit=1, week_start=None) is None


def test_heat_map_template_draws_every_cell_and_outlines_the_peaks() -> None:
    series = [0] * 168
    series[100] = 7
    chart = heat_map(series, limit=5, week_start=date(2026, 10, 26))
    svg = environment(templates_dir()).get_template("charts/heatmap.svg.j2").render(chart=chart)
    assert len(re.findall(r'<rect class="hour" ', svg)) == 168
    assert re.findall(r'<rect class="peak" data-hour="(\d+)"', svg) == ["100"]
    assert 'data-hour="100" data-machines="7"' in svg and "more than the limit of 5 machines (1 hour)" in svg
