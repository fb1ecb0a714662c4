"""audit-pack.pdf: the archival PDF/A-3b report, rendered by WeasyPrint from the Jinja templates in report_templates/.

The HTML comes only from autoescaped templates (report_templates/audit-pack.html.j2 and its partials); the
view model (pdf_model) caps every list, so the PDF's size does not grow with the fleet. summary.json and
breaches.json ride along as PDF/A-3 attachments, byte-equal to the pack's own files, so the filed PDF carries its
figures in machine-readable form.
"""

from __future__ import annotations

import io
from datetime import datetime
from functools import cache
from pathlib import Path

import jinja2

from auditor.package_data import data_dir
from auditor.reports.interface import RenderError, ReportContext
from auditor.reports.json import breaches_document, dumps
from auditor.reports.pdf.model import build_view
from auditor.reports.pdf.risk_acceptance import clip, honesty

TEMPLATE = "audit-pack.html.j2"
STYLESHEET = "audit-pack.css"
PDF_VARIANT = "pdf/a-3b"


def templates_dir() -> Path:
    """report_templates/, from a checkout or an installed wheel."""
    return data_dir("report_templates")


def pct(value: float | None) -> str:
    """A rate as `92.35%`, or `n/a` for an empty group."""
    return "n/a" if value is None else f"{value:.2f}%"


def num(value: float | None) -> str:
    """A count with thousands separators (`12,345`), a decimal with two places, `n/a` for none."""
    if value is None:
        return "n/a"
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}"


def sentence(text: str) -> str:
    """Upper-case the first letter only (Jinja's `capitalize` also lower-cases names such as Production)."""
    return text[:1].upper() + text[1:]


def plural(count: int, word: str, words: str | None = None) -> str:
    """`1 machine`, `3 machines` (with thousands separators)."""
    return f"{count:,} {word if count == 1 else (words or word + 's')}"


@cache
def environment(directory: Path) -> jinja2.Environment:
    """The Jinja environment for the PDF templates: autoescaping on, undefined names are errors."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(pct=pct, num=num, plural=plural, sentence=sentence, honesty=honesty, clip=clip)
    return env


def render_html(context: ReportContext) -> str:
    """The report's HTML (exposed for tests and for debugging the layout in a browser)."""
    return environment(templates_dir()).get_template(TEMPLATE).render(build_view(context))


def attachments(context: ReportContext) -> list[tuple[str, str, bytes]]:
    """(name, description, bytes) of the embedded files: exactly what the pack's JSON renderers write."""
    return [
        ("summary.json", "The scan's figures (auditor-summary/1)", dumps(context.summary).encode("utf-8")),
        ("breaches.json", "Threshold breaches (auditor-breaches/1)", dumps(breaches_document(context)).encode("utf-8")),
    ]


def write_pdf(html: str, path: Path, *, files: list[tuple[str, str, bytes]], stamp: datetime) -> None:
    """Lay out `html` with the pack stylesheet and write a PDF/A-3b file with `files` attached."""
    # Imported here: WeasyPrint loads Pango and fonts on import, which the rest of a scan never needs.
    from weasyprint import CSS, HTML, Attachment

    from auditor.reports.pdf.fetcher import TemplateFetcher

    directory = templates_dir()
    fetcher = TemplateFetcher(directory)
    embedded = [
        Attachment(
            file_obj=io.BytesIO(data),
            name=name,
            description=description,
            created=stamp,
            modified=stamp,
            relationship="Data",
        )
        for name, description, data in files
    ]
    document = HTML(string=html, base_url=str(directory), url_fetcher=fetcher).render(
        stylesheets=[CSS(filename=str(directory / STYLESHEET), url_fetcher=fetcher)]
    )
    document.write_pdf(str(path), pdf_variant=PDF_VARIANT, attachments=embedded)


class PdfRenderer:
    """Writes audit-pack.pdf."""

    filename = "audit-pack.pdf"

    def render(self, context: ReportContext, path: Path) -> None:
        """Render the PDF to `path`."""
        try:
            html = render_html(context)
        except jinja2.TemplateError as exc:
            raise RenderError(
                f"cannot render {self.filename}: template error: {exc}",
                "the report templates are broken; reinstall auditor",
            ) from exc
        write_pdf(html, path, files=attachments(context), stamp=context.generated_at)
