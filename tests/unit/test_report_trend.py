"""The trend is worked out once per context: the PDF and the workbook show the same points, and neither mixes in
an incomplete run, a run of another estate, or a run later than the pack."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from auditor.digests import scope_key
from auditor.reports.interface import ReportContext
from auditor.reports.pdf.document import render_html
from auditor.reports.pdf.model import build_view
from tests.unit.test_xlsx_fixtures import crafted_context, render


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> ReportContext:
    base = crafted_context(tmp_path_factory)
    scope = scope_key(base.source)
    history: list[dict[str, Any]] = [
        {"as_of": "2026-09-01T06:00:00Z", "compliance_rate": 41.5, "machines": 5, "complete": True, "scope_key": scope},
        {
            "as_of": "2026-09-20T06:00:00Z",
            "compliance_rate": 12.0,
            "machines": 2,
            "complete": False,
            "scope_key": scope,
        },
        {"as_of": "2026-09-25T06:00:00Z", "compliance_rate": 99.0, "machines": 9, "complete": True, "scope_key": "x"},
        {
            "as_of": "2026-10-01T06:00:00Z",
            "compliance_rate": 47.25,
            "machines": 6,
            "complete": True,
            "scope_key": scope,
        },
        {"as_of": "2026-12-01T06:00:00Z", "compliance_rate": 70.0, "machines": 6, "complete": True, "scope_key": scope},
    ]
    return dataclasses.replace(base, history=history)


def workbook_trend(context: ReportContext, path: Path) -> list[tuple[str, float | None]]:
    """(as-of date, rate) of the rows under the Summary sheet's Trend section."""
    rows = list(render(context, path)["Summary"].iter_rows(values_only=True))
    start = [row[0] for row in rows].index("Trend") + 2  # the section title, then the header row
    points = []
    for row in rows[start:]:
        if row[0] is None:
            break
        points.append((str(row[0])[:10], row[1]))
    return points


def pdf_trend(context: ReportContext) -> list[tuple[str, float | None]]:
    """(as-of date, rate) of the points of the PDF's trend chart."""
    chart = build_view(context)["charts"].trend
    return [(point.label, float(point.value.rstrip("%"))) for point in chart.points]


def test_pdf_and_workbook_show_the_same_trend_without_the_incomplete_run(
    context: ReportContext, tmp_path: Path
) -> None:
    now = (context.summary.as_of[:10], context.summary.compliance_rate)
    expected = [("2026-09-01", 41.5), ("2026-10-01", 47.25), now]
    assert workbook_trend(context, tmp_path / "trend.xlsx") == expected
    assert pdf_trend(context) == expected
    assert [(p.day, p.compliance_rate, p.machines) for p in context.trend][:2] == [
        ("2026-09-01", 41.5, 5),
        ("2026-10-01", 47.25, 6),
    ]
    html = render_html(context)
    assert "2026-09-20" not in html and "12.00%" not in html  # the incomplete run
    assert "Since the previous scan (2026-10-01, 47.25%)" in html


def test_the_trend_is_worked_out_once_per_context(context: ReportContext) -> None:
    assert context.trend is context.trend
    # A context with other history is another context, with its own trend.
    alone = dataclasses.replace(context, history=[])
    assert [p.as_of for p in alone.trend] == [context.summary.as_of]
