"""audit-pack.pdf: the archival PDF/A-3b report, rendered by WeasyPrint from the Jinja templates in report_templates/.

The HTML comes only from autoescaped templates (report_templates/audit-pack.html.j2 and its partials); the
view model (pdf_model) caps every list, so the PDF's size does not grow with the fleet. summary.json and
breaches.json ride along as PDF/A-3 attachments, byte-equal to the pack's own files, so the filed PDF carries its
figures in machine-readable form.
"""

from __future__ import annotations

import io
import re
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

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


_PLAIN = (
    ("by_classification's overdue_machines", "the overdue machines per classification"),
    ("in `compliant` and the compliance rate", "in the compliant count and the compliance rate"),
    ("compliance_rate_without_exceptions", "the rate without exceptions"),
    ("compliant_with_exception", "compliant through an exception"),
    ("exception_rate", "the share of machines compliant only through an exception"),
    ("listed in exception_warnings", "listed as warnings"),
    ("max_overdue_machines thresholds", "thresholds on overdue machines"),
    ("(rule exception_expired)", "(exception expired)"),
    ("from the overdue_patches query", "from the overdue-patches query"),
    ("an expires_on date", "an expiry date"),
    ("whose expires_on", "whose expiry date"),
    ("non_compliant", "non-compliant"),
)
"""Summary field names in rule texts that summary.json carries (and so cannot reword), said in words for the PDF."""
_SNAKE = re.compile(r"(?<![\w/.])([a-z]+(?:_[a-z]+)+)(?!\w|\.\w)")
"""A snake_case name, but not part of a path or file name (evidence/first_seen.jsonl.gz keeps its spelling)."""


def prose(text: str) -> str:
    """A rule text for readers: summary field names in words, no code quoting. Names left over (a rule added
    later) lose their underscores rather than show as code."""
    for name, words in _PLAIN:
        text = text.replace(name, words)
    text = text.replace("`", "")
    return _SNAKE.sub(lambda m: m.group(1).replace("_", " "), text)


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
    env.filters.update(pct=pct, num=num, plural=plural, sentence=sentence, honesty=honesty, clip=clip, prose=prose)
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
    document.write_pdf(str(path), pdf_variant=PDF_VARIANT, attachments=embedded, finisher=_associate_once)


def _associate_once(_document: Any, pdf: Any) -> None:
    """Name each attachment once in the catalog's associated files (/AF). WeasyPrint's PDF/A-3 step adds every
    attachment twice (once from the names tree, once from its file specification), so a viewer's attachment pane
    listed each file twice."""
    associated = pdf.catalog.get("AF")
    if associated:
        unique = list(dict.fromkeys(associated))
        associated.clear()
        associated.extend(unique)


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
