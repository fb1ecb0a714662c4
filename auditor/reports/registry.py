"""The explicit list of renderers a pack gets, in the order they run."""

from __future__ import annotations

from auditor.reports.interface import Renderer
from auditor.reports.json import BreachesRenderer, SummaryRenderer


def default_renderers() -> list[Renderer]:
    """summary.json, breaches.json, then the human reports."""
    # Imported here: openpyxl (and the numpy it loads) cost a scan that writes JSON only a tenth of a second.
    from auditor.reports.pdf.document import PdfRenderer
    from auditor.reports.xlsx.workbook import XlsxRenderer

    return [SummaryRenderer(), BreachesRenderer(), XlsxRenderer(), PdfRenderer()]
