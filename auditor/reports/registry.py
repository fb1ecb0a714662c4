"""The explicit list of renderers a pack gets, in the order they run, and the formats a user may choose."""

from __future__ import annotations

from collections.abc import Iterable

from auditor.errors import ConfigError
from auditor.reports.interface import Renderer
from auditor.reports.json import BreachesRenderer, SummaryRenderer

FORMATS: tuple[str, ...] = ("json", "xlsx", "pdf")
"""What a pack can hold: `json` (summary.json and breaches.json, always written: they are the pack's figures and
what verify --replay recomputes), the workbook and the PDF."""


def default_renderers() -> list[Renderer]:
    """summary.json, breaches.json, then the human reports."""
    return renderers_for(FORMATS)


def renderers_for(formats: Iterable[str]) -> list[Renderer]:
    """The renderers of `formats` (names from FORMATS; json is always included), in FORMATS order.

    A pipeline that reads only the figures skips the workbook and the PDF, which are most of a large scan's time;
    `auditor report PACK` renders them later from the pack's own evidence.
    """
    wanted = {name.strip().lower() for name in formats if name.strip()}
    unknown = sorted(wanted - set(FORMATS))
    if unknown:
        raise ConfigError(f"unknown report format(s) {', '.join(unknown)}", f"choose from {', '.join(FORMATS)}")
    renderers: list[Renderer] = [SummaryRenderer(), BreachesRenderer()]
    # Imported here: openpyxl (and the numpy it loads) cost a scan that writes JSON only a tenth of a second.
    if "xlsx" in wanted:
        from auditor.reports.xlsx.workbook import XlsxRenderer

        renderers.append(XlsxRenderer())
    if "pdf" in wanted:
        from auditor.reports.pdf.document import PdfRenderer

        renderers.append(PdfRenderer())
    return renderers
