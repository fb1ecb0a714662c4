"""The Overdue patches sheet: one row per overdue enforced patch, against Evaluation.overdue_patches."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from auditor.reports.interface import ReportContext
from auditor.reports.xlsx import sheet as xlsx_sheet
from auditor.reports.xlsx.overdue import overdue_groups
from tests.unit.test_xlsx_fixtures import HYPERLINK_NAME, crafted_context, render, rows_of

EVIDENCE = "evidence/overdue_patches@v3.jsonl.gz"


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> ReportContext:
    return crafted_context(tmp_path_factory)


@pytest.fixture(scope="module")
def book(context: ReportContext, tmp_path_factory: pytest.TempPathFactory) -> Any:
    return render(context, tmp_path_factory.mktemp("overdue") / "audit-pack.xlsx")


def test_one_row_per_overdue_patch(book: Any, context: ReportContext) -> None:
    ws = book["Overdue patches"]
    headers = [c.value for c in ws[2]]
    rows = [dict(zip(headers, row, strict=True)) for row in rows_of(ws)]
    patches = context.evaluation.overdue_patches
    verdicts = {v.machine.machine_id: v for v in context.evaluation.verdicts}
    assert len(rows) == len(patches) == 2
    for row, patch in zip(rows, patches, strict=True):
        verdict = verdicts[patch.machine_id]
        assert (row["Machine"], row["Machine status"], row["Environment"]) == (
            verdict.machine.name,
            verdict.status.value,
            verdict.machine.environment,
        )
        assert (row["Patch"], row["Version"], row["Classifications"]) == (
            patch.name,
            patch.version or None,
            ", ".join(patch.classifications),
        )
        assert patch.published is not None and patch.age_days is not None  # the crafted patches are dated
        assert row["Published (UTC)"] == patch.published.replace(tzinfo=None)
        assert (row["Age (days)"], row["SLA (days)"], row["Days past SLA"]) == (
            patch.age_days,
            patch.sla_days,
            patch.age_days - patch.sla_days,
        )
        assert row["Covered by exceptions"] == (", ".join(patch.exceptions) or None)
        assert row["Machine resource ID (opens the Azure portal)"] == verdict.machine.resource_id
    hostile, late = rows
    assert (hostile["Machine"], hostile["KB"], hostile["Version"]) == (HYPERLINK_NAME, "KB5030211", "10.0.1")
    assert (hostile["Machine status"], hostile["Age (days)"], hostile["Days past SLA"]) == ("non_compliant", 40, 25)
    assert (late["Machine status"], late["Covered by exceptions"]) == ("compliant_with_exception", "EX-ACTIVE")
    assert ws.freeze_panes == "B3"
    links = [row[-1].hyperlink for row in ws.iter_rows(min_row=3)]
    assert all(
        link is not None and link.target.startswith("https://portal.azure.com/#@tenant/resource/") for link in links
    )
    assert "2 overdue enforced patches on 2 machines" in ws["A1"].value
    assert ws["A3"].data_type == "s" and ws["A3"].value == HYPERLINK_NAME  # text, not a formula


def test_cut_at_the_row_limit_names_the_evidence_file(
    context: ReportContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(xlsx_sheet, "MAX_ROWS", 4)  # caption, header, one patch, the note
    ws = render(context, tmp_path / "cut.xlsx")["Overdue patches"]
    note = xlsx_sheet.cut_note(1, 2, EVIDENCE)
    assert EVIDENCE in note
    assert ws["A1"].value.endswith(note) and ws["A4"].value == note
    assert ws["A3"].value == HYPERLINK_NAME and ws.max_row == 4


def test_a_pack_without_the_detail_query_shows_groups(context: ReportContext, tmp_path: Path) -> None:
    older = dataclasses.replace(
        context,
        queries=[q for q in context.queries if q.id != "overdue_patches"],
        evaluation=dataclasses.replace(context.evaluation, overdue_patches=[]),
    )
    ws = render(older, tmp_path / "old.xlsx")["Overdue patches"]
    groups = overdue_groups(older)
    rows = rows_of(ws)
    assert [row[0] for row in rows] == [HYPERLINK_NAME] and len(groups) == 1
    assert rows[0][4:8] == (groups[0].group.patches, 40, 15, 25)
    assert "predates the patch-level query" in ws["A1"].value
