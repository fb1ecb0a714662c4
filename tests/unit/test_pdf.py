"""audit-pack.pdf: figures that match summary.json, attachments, PDF/A metadata, escaping, INCOMPLETE, layout."""

from __future__ import annotations

import dataclasses
import functools
import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pypdf
import pytest

from auditor.config import config_from_dict
from auditor.digests import scope_key
from auditor.reports.interface import ReportContext
from auditor.reports.json import BreachesRenderer, SummaryRenderer
from auditor.reports.pdf.document import PdfRenderer, render_html
from auditor.reports.registry import default_renderers
from auditor.scan import scan
from tests.crafted import AS_OF, Fleet, days_ago, ts
from tests.summaries import js

CONFIG = {
    "environment_aliases": {"Production": ["prod", "prd"], "Development": ["dev"]},
    "thresholds": {
        "min_compliance_rate": 80.0,
        "by_environment": {"Production": 95.0},
        "max_overdue_machines": {"Critical": 0},
    },
}
HOSTILE = "<script>x</script>"


class Capture:
    """A renderer that keeps the context it was given (so tests can re-render it with changes)."""

    filename = "context.txt"

    def __init__(self) -> None:
        self.context: ReportContext | None = None

    def render(self, context: ReportContext, path: Path) -> None:
        self.context = context
        path.write_text(context.run_id, encoding="utf-8")


def crafted_fleet(path: Path) -> Path:
    """Twelve machines over three environments and two subscriptions, one with a hostile name."""
    f = Fleet()
    second = "00000000-0000-0000-0000-000000000002"
    for i in range(12):
        env = ("prod", "dev", "Staging")[i % 3]
        os = "Linux" if i % 4 == 3 else "Windows"
        name = HOSTILE if i == 4 else f"vm-{i:02d}"
        machine = f.machine(
            name,
            os=os,
            platform="Arc" if i % 5 == 4 else "Azure",
            tags={"Environment": env},
            sub=second if i % 2 else "00000000-0000-0000-0000-000000000001",
        )
        if i == 11:
            continue  # no assessment: unknown
        f.assessment(machine)
        if i % 3 != 2:
            f.patch(machine, f"kb{i}", ["Critical"] if i % 2 else ["Security"], published=days_ago(10 + 7 * i))
        if os == "Linux":
            f.patch(machine, f"openssl{i}", ["Security"])
        f.patch(machine, f"def{i}", ["Definition"], published=days_ago(2))
        if i % 4 == 1:
            f.patch(machine, f"rollup{i}", ["Security", "Critical"], published=days_ago(5))
        f.run(
            machine,
            f"run{i}",
            status="Failed" if i % 4 == 0 else "Succeeded",
            start=ts(AS_OF - timedelta(days=3 + i)),
            error="PatchInstallationFailed" if i % 4 == 0 else None,
        )
        if i % 2:
            f.assign(machine, "weekly")
    f.write(path)
    return path


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ReportContext]:
    """One scan of the crafted fleet with the JSON and PDF renderers."""
    root = tmp_path_factory.mktemp("pdf")
    capture = Capture()
    result = scan(
        config_from_dict(CONFIG),
        source=f"snapshot:{crafted_fleet(root / 'snap')}",
        out=root / "packs",
        use_history=False,
        renderers=[SummaryRenderer(), BreachesRenderer(), capture, PdfRenderer()],
    )
    assert capture.context is not None
    return result.pack, capture.context


@functools.cache
def text_of(path: Path) -> list[str]:
    """Each page's text with whitespace collapsed (extracted once per file: pypdf takes seconds per PDF)."""
    return [" ".join(page.extract_text().split()) for page in pypdf.PdfReader(path).pages]


def pct(value: float) -> str:
    return f"{value:.2f}%"


def test_pdf_is_a_default_renderer() -> None:
    assert any(isinstance(r, PdfRenderer) for r in default_renderers())


def test_key_figures_match_summary(pack: tuple[Path, ReportContext]) -> None:
    path, context = pack
    summary = js(context.summary)
    text = " ".join(text_of(path / "audit-pack.pdf"))
    assert summary["machines"] == 12 and summary["breaches"] > 0
    rate = pct(summary["compliance_rate"])
    assert f"{summary['compliant']} of {summary['machines']} machines ({rate}) were compliant" in text
    assert f"The scan breached {summary['breaches']} of" in text
    assert f"{summary['breaches']} threshold breaches" in text
    for figure in ("machines", "compliant", "non_compliant", "unknown"):
        assert re.search(rf"\b{summary[figure]} (machines in scope|compliant|non-compliant|unknown)", text), figure
    for row in summary["by_environment"]:
        figures = " ".join(str(row[k]) for k in ("machines", "compliant", "non_compliant", "unknown"))
        assert re.search(
            rf"{re.escape(row['key'])}( \(target [\d.]+%\))? {figures} {re.escape(pct(row['compliance_rate']))}", text
        ), row["key"]
    for row in summary["by_classification"]:
        assert f"{row['classification']} " in text


def test_attachments_equal_the_pack_files(pack: tuple[Path, ReportContext]) -> None:
    path, _ = pack
    attachments = pypdf.PdfReader(path / "audit-pack.pdf").attachments
    assert sorted(attachments) == ["breaches.json", "summary.json"]
    assert attachments["summary.json"] == [(path / "summary.json").read_bytes()]
    assert attachments["breaches.json"] == [(path / "breaches.json").read_bytes()]


def test_pdfa_3b_metadata(pack: tuple[Path, ReportContext]) -> None:
    path, context = pack
    reader = pypdf.PdfReader(path / "audit-pack.pdf")
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()
    assert re.search(r"pdfaid:part(>|=\")3", xmp)
    assert re.search(r"pdfaid:conformance(>|=\")B", xmp)
    info = reader.metadata
    assert info is not None and info.title is not None
    assert js(context.summary)["as_of"] in info.title
    created = context.generated_at.strftime("D:%Y%m%d%H%M%S")
    assert str(info["/CreationDate"]).startswith(created)


@pytest.mark.slow
def test_every_page_has_header_and_footer(pack: tuple[Path, ReportContext]) -> None:
    path, context = pack
    pages = text_of(path / "audit-pack.pdf")
    assert len(pages) >= 8
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in page
        assert f"As of {js(context.summary)['as_of']}" in page
        assert context.pack_id in page
        assert "INCOMPLETE" not in page


def test_sections_are_present(pack: tuple[Path, ReportContext]) -> None:
    path, context = pack
    text = " ".join(text_of(path / "audit-pack.pdf"))
    for heading in (
        "Executive summary",
        "Compliance by environment",
        "Breaches",
        "Non-compliant machines",
        "Installation health",
        "Coverage",
        "Policy cross-check",
        "Methodology",
        "Appendix: queries",
    ):
        assert heading in text
    # The rules carry the config's parameters, and the conservative undated-patch rule is stated.
    assert "An undated patch that no earlier scan saw has an unknown age" in text
    assert "keeps 7 days of patch assessment results and 30 days of installation results" in text
    for query in context.queries:
        assert query.ref in text and query.rendered_sha256 in text
    assert "see manifest.json" in text


@pytest.mark.slow
def test_hostile_names_are_text(pack: tuple[Path, ReportContext]) -> None:
    path, context = pack
    html = render_html(context)
    assert HOSTILE not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html
    assert HOSTILE in " ".join(text_of(path / "audit-pack.pdf"))


@pytest.mark.slow
def test_incomplete_marks_every_page(pack: tuple[Path, ReportContext], tmp_path: Path) -> None:
    _, context = pack
    problems = ["pending_patches@v1: ARG returned 1000 of 2000 rows", "installations@v1: access denied"]
    incomplete = dataclasses.replace(context, problems=problems)
    PdfRenderer().render(incomplete, tmp_path / "audit-pack.pdf")
    pages = text_of(tmp_path / "audit-pack.pdf")
    assert all("INCOMPLETE" in page for page in pages)
    summary_page = next(page for page in pages if "Executive summary INCOMPLETE: the data behind this pack" in page)
    for problem in problems:
        assert problem in summary_page


def test_the_cover_points_to_the_manifest_for_its_fingerprint(pack: tuple[Path, ReportContext]) -> None:
    # The manifest hashes the PDF, so the PDF can never print the manifest's own fingerprint.
    _, context = pack
    assert "see manifest.json (written after this report, so it cannot be printed here)" in render_html(context)


@pytest.mark.slow
def test_trend_chart_from_history(pack: tuple[Path, ReportContext]) -> None:
    _, context = pack
    scope = scope_key(context.source)
    history: list[dict[str, Any]] = [
        {"as_of": "2026-09-01T06:00:00Z", "compliance_rate": 41.5, "complete": True, "scope_key": scope},
        {"as_of": "2026-09-15T06:00:00Z", "compliance_rate": 99.0, "complete": True, "scope_key": "another estate"},
        {"as_of": "2026-09-20T06:00:00Z", "compliance_rate": 12.0, "complete": False, "scope_key": scope},
        {"as_of": "2026-10-01T06:00:00Z", "compliance_rate": 47.25, "complete": True, "scope_key": scope},
        {"as_of": "2026-12-01T06:00:00Z", "compliance_rate": 70.0, "complete": True, "scope_key": scope},
    ]
    html = render_html(dataclasses.replace(context, history=history))
    assert "<polyline" in html and "2026-09-01" in html
    for left_out in ("2026-09-15", "2026-09-20", "2026-12-01"):
        assert left_out not in html
    assert "Since the previous scan (2026-10-01, 47.25%)" in html
    assert "<polyline" not in render_html(context)


@pytest.mark.slow
def test_pending_patches_count_each_patch_once(pack: tuple[Path, ReportContext]) -> None:
    path, context = pack
    total = sum(v.pending_patches for v in context.evaluation.verdicts)
    by_class = sum(r["pending_patches"] for r in js(context.summary)["by_classification"])
    assert total < by_class  # the crafted fleet has patches with two classifications
    assert f"{total} pending patches" in " ".join(text_of(path / "audit-pack.pdf"))


@pytest.mark.slow
def test_pages_render_to_png(pack: tuple[Path, ReportContext], tmp_path: Path) -> None:
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    path, _ = pack
    subprocess.run(
        ["pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "3", str(path / "audit-pack.pdf"), str(tmp_path / "page")],
        check=True,
        capture_output=True,
        timeout=60,
    )
    images = sorted(tmp_path.glob("page-*.png"))
    assert len(images) == 3
    assert all(image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and image.stat().st_size > 2000 for image in images)
