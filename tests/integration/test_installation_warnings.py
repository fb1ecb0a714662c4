"""Installation runs that ended CompletedWithWarnings are reported apart from clean successes: summary, workbook,
PDF. The success rate keeps its documented definition (warnings count as succeeded), and the methodology says so."""

from __future__ import annotations

from pathlib import Path

from openpyxl import load_workbook

from auditor.config import Config
from auditor.evidence.methodology import statements
from auditor.reports.interface import ReportContext
from auditor.reports.json import SummaryRenderer
from auditor.reports.pdf.document import render_html
from auditor.reports.xlsx.workbook import XlsxRenderer
from auditor.scan import scan
from tests.crafted import AS_OF, Fleet, days_ago
from tests.summaries import js


class Capture:
    """A renderer that keeps the context it is given."""

    filename = "captured.txt"

    def __init__(self) -> None:
        self.contexts: list[ReportContext] = []

    def render(self, context: ReportContext, path: Path) -> None:
        self.contexts.append(context)
        path.write_text("captured\n")


def test_completed_with_warnings_is_shown_apart_from_succeeded(tmp_path: Path) -> None:
    fleet = Fleet()
    for index, status in enumerate(["Succeeded", "CompletedWithWarnings", "CompletedWithWarnings", "Failed"]):
        machine = fleet.machine(f"vm-{index}")
        fleet.assessment(machine)
        fleet.run(machine, f"run-{index}", status=status, start=days_ago(2), error="E1" if status == "Failed" else None)
    capture = Capture()
    result = scan(
        Config(),
        source=f"snapshot:{fleet.write(tmp_path / 'snap').path}",
        out=tmp_path / "packs",
        as_of=AS_OF,
        use_history=False,
        renderers=[SummaryRenderer(), XlsxRenderer(), capture],
    )
    installations = js(result.summary)["installations"]
    assert (installations["runs"], installations["succeeded"], installations["failed"]) == (4, 3, 1)
    assert installations["completed_with_warnings"] == 2
    assert installations["success_rate"] == 75.0  # 3 / (3 + 1): the documented definition, unchanged

    sheet = load_workbook(result.pack / "audit-pack.xlsx")["Summary"]
    figures = {row[0]: row[1] for row in sheet.iter_rows(values_only=True) if row and isinstance(row[0], str)}
    assert figures["Succeeded installation runs"] == 3
    assert figures["of which completed with warnings"] == 2
    assert figures["Failed installation runs"] == 1

    html = render_html(capture.contexts[0])
    assert "3 succeeded (2 of them completed with warnings), 1 failed" in html
    rule = next(line for line in statements(Config()) if line.startswith("Installation runs"))
    assert "100 x succeeded / (succeeded + failed)" in rule and "CompletedWithWarnings are succeeded" in rule
