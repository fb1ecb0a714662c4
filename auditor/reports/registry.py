"""The explicit list of renderers a pack gets, in the order they run."""

from __future__ import annotations

from auditor.reports.interface import Renderer
from auditor.reports.json import BreachesRenderer, SummaryRenderer
from auditor.reports.pdf import PdfRenderer
from auditor.reports.xlsx import XlsxRenderer


def default_renderers() -> list[Renderer]:
    """summary.json, breaches.json, then the human reports."""
    return [SummaryRenderer(), BreachesRenderer(), XlsxRenderer(), PdfRenderer()]
