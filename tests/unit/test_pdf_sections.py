"""The PDF's newer sections against summary.json and the Evaluation: exceptions and the rate without them,
breach units, subscription names, the oldest overdue patch by name, and the schedules section's heat map."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pypdf
import pytest
from markupsafe import escape

from auditor.reports.interface import ReportContext
from auditor.reports.pdf.document import PdfRenderer, render_html
from tests.summaries import js, typed
from tests.unit.test_xlsx_fixtures import crafted_context

HOUR_CELL = re.compile(r'<rect class="hour" data-hour="(\d+)" data-machines="(\d+)"')
PEAK_CELL = re.compile(r'<rect class="peak" data-hour="(\d+)"')


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> ReportContext:
    return crafted_context(tmp_path_factory)


@pytest.fixture(scope="module")
def page_texts(context: ReportContext, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    path = tmp_path_factory.mktemp("pdf-sections") / "audit-pack.pdf"
    PdfRenderer().render(context, path)
    return [" ".join(page.extract_text().split()) for page in pypdf.PdfReader(path).pages]


@pytest.fixture(scope="module")
def page(context: ReportContext) -> str:
    return render_html(context)


def section(page_texts: list[str], heading: str) -> str:
    """The text of the pages from the one that opens with `heading` onwards."""
    start = next(i for i, text in enumerate(page_texts) if text.startswith(f"{heading} "))
    return " ".join(page_texts[start:])


def test_executive_summary_shows_the_rate_without_exceptions(page_texts: list[str], context: ReportContext) -> None:
    summary = js(context.summary)
    rate, without = summary["compliance_rate"], summary["compliance_rate_without_exceptions"]
    assert (rate, without) == (40.0, 20.0)
    executive = section(page_texts, "Executive summary")
    assert f"{rate:.2f}% overall compliance (target 60.00%) {without:.2f}% without exceptions" in executive
    assert (
        f"1 machine was compliant only through a risk-acceptance exception; without exceptions the rate is "
        f"{without:.2f}%" in executive
    )
    cover = page_texts[0]
    assert f"overall compliance {rate:.2f}% ({without:.2f}% without exceptions)" in cover
    assert "Exceptions" in cover and "Schedules and failure patterns" in cover  # the contents


def test_exceptions_section_lists_every_exception(page_texts: list[str], page: str, context: ReportContext) -> None:
    text = section(page_texts, "Exceptions")
    assert "Compliance rate 40.00% with exceptions, 20.00% without" in text
    for entry in js(context.summary)["exceptions"]:
        for key in ("id", "ticket", "expires_on"):
            assert entry[key] in text, (entry["id"], key)
        row = re.search(
            rf'<tr class="row-{entry["status"]}">\s*<td class="wrap"><strong>{entry["id"]}</strong>'
            rf'<br><span class="state state-{entry["status"]}">',
            page,
        )
        assert row, entry["id"]
        cells = page[row.end() :].split("</tr>", 1)[0]
        numbers = re.findall(r'<td class="n">([\d,]+)</td>', cells)
        assert numbers == [str(entry[k]) for k in ("matched_machines", "machines_excepted", "patches_covered")]
    # Expired and expiring entries come first, and stand out as badges.
    ids = re.findall(r'<tr class="row-\w+">\s*<td class="wrap"><strong>([\w-]+)</strong>', page)
    assert ids == ["EX-EXPIRED", "EX-SOON", "EX-ACTIVE", "EX-NONE"]
    assert "EXPIRED" in text and "17 days ago" in text and "in 4 days" in text
    for warning in js(context.summary)["exception_warnings"]:
        assert str(escape(warning["message"])) in page


def test_methodology_prints_the_exception_rules(page: str, page_texts: list[str], context: ReportContext) -> None:
    rules = js(context.summary)["exceptions_rules"]
    assert len(rules) == 7
    methodology = page[page.index('id="methodology"') :]
    for rule in rules:
        assert str(escape(rule)) in methodology
    assert "Risk-acceptance exceptions come from the register exceptions.toml" in section(page_texts, "Methodology")


def test_each_dimension_table_has_the_rate_without_exceptions(page_texts: list[str], context: ReportContext) -> None:
    text = section(page_texts, "Exceptions")
    for row in js(context.summary)["by_environment"]:
        figures = " ".join(str(row[k]) for k in ("machines", "compliant", "non_compliant", "unknown"))
        excepted = f" {row['compliant_with_exception']} by exception" if row["compliant_with_exception"] else ""
        assert re.search(
            rf"{re.escape(row['key'])}( \(target [\d.]+%\))? {figures} "
            rf"{row['compliance_rate']:.2f}% {row['compliance_rate_without_exceptions']:.2f}%{excepted}",
            text,
        ), row["key"]


def test_breach_figures_carry_their_unit(page_texts: list[str], context: ReportContext) -> None:
    text = section(page_texts, "Breaches")
    expired = next(b for b in context.evaluation.breaches if b.rule == "exception_expired")
    assert f"{expired.message} 17 days 0 days" in text
    overdue = next(b for b in context.evaluation.breaches if b.rule == "max_overdue_machines")
    assert f"{overdue.message} 2 machines 0 machines" in text
    thresholds = " ".join(page_texts[1:3])
    assert "Days past the expiry date of exception EX-EXPIRED must be at most 0 days 17 days breached" in thresholds


def test_subscription_table_shows_the_name_beside_the_id(context: ReportContext) -> None:
    rows = [{**row, "name": "Contoso <Prod>"} for row in js(context.summary)["by_subscription"]]
    evaluation = dataclasses.replace(
        context.evaluation, summary=typed({**js(context.summary), "by_subscription": rows})
    )
    page = render_html(dataclasses.replace(context, evaluation=evaluation))
    key = rows[0]["key"]
    assert f'<td class="wrap"><strong>Contoso &lt;Prod&gt;</strong><span class="rid">{key}</span>' in page


def test_top_machines_name_their_oldest_overdue_patch(page_texts: list[str], context: ReportContext) -> None:
    text = section(page_texts, "Non-compliant machines")
    patch = next(p for p in context.evaluation.overdue_patches if p.age_days == 40)
    assert (patch.name, patch.kb_id) == ("2026-09 Cumulative Update", "5030211")
    assert "Oldest overdue patch: 2026-09 Cumulative Update (KB5030211)" in text


def test_heat_map_has_168_cells_with_the_scheduled_counts(page: str, context: ReportContext) -> None:
    concurrency = js(context.summary)["schedules"]["concurrency"]
    cells = [(int(hour), int(machines)) for hour, machines in HOUR_CELL.findall(page)]
    assert [hour for hour, _ in cells] == list(range(168))
    assert [machines for _, machines in cells] == concurrency["series"]
    # cfg-weekly: Sunday 01:00-04:00 UTC over vm-ok and vm-late; the limit is one machine.
    assert {hour: machines for hour, machines in cells if machines} == {145: 2, 146: 2, 147: 2}
    assert [int(hour) for hour in PEAK_CELL.findall(page)] == [145, 146, 147]
    assert "more than the limit of 1 machine (3 hours)" in page
    assert "Sun 01 Nov" in page and "Mon 26 Oct" in page


def test_schedules_section_shows_configurations_and_flags(page_texts: list[str], context: ReportContext) -> None:
    text = section(page_texts, "Schedules and failure patterns")
    assert "3 maintenance configurations; 1 expired (cfg-old); 1 assigned to nothing (cfg-spare)" in text
    assert "2 machines are covered by no maintenance configuration" in text
    assert "stagger the start times of cfg-weekly or split their scopes" in text
    for config in js(context.summary)["schedules"]["configurations"]:
        assert config["key"] in text
    assert "EXPIRED" in text and "UNASSIGNED" in text
    for flag in js(context.summary)["failure_patterns"]["flags"]:
        assert flag["recommendation"][:40] in text


def test_a_pack_from_before_exceptions_still_says_the_rate_without(context: ReportContext) -> None:
    dropped = (
        "compliant_with_exception",
        "compliance_rate_without_exceptions",
        "exception_rate",
        "exceptions",
        "exception_warnings",
        "exceptions_rules",
        "schedules",
        "failure_patterns",
    )
    summary: dict[str, Any] = {k: v for k, v in js(context.summary).items() if k not in dropped}
    # Replayed today, such a pack is re-evaluated with no register: its rate without exceptions is its rate.
    summary["compliance_rate_without_exceptions"] = summary["compliance_rate"]
    evaluation = dataclasses.replace(context.evaluation, summary=typed(summary), overdue_patches=[])
    page = render_html(dataclasses.replace(context, evaluation=evaluation))
    # Re-evaluated, it has an (empty) register, so only the schedule sections are left out.
    assert 'id="schedules"' not in page and '<svg class="heatmap"' not in page
    assert "No exception changed a machine's status: the rate without exceptions is also 40.00%." in page
    assert "Oldest overdue patch" not in page


def test_an_empty_register_needs_no_page_of_its_own(context: ReportContext) -> None:
    evaluation = dataclasses.replace(
        context.evaluation, summary=typed({**js(context.summary), "exceptions": [], "exception_warnings": []})
    )
    page = render_html(dataclasses.replace(context, evaluation=evaluation))
    assert '<div class="keep">\n<h1 id="exceptions" class="sub">Exceptions</h1>' in page
    assert "The exception register is empty" in page


def test_long_registers_are_capped_expired_first_and_justifications_clipped(context: ReportContext) -> None:
    entry = js(context.summary)["exceptions"][0]
    register = [
        {**entry, "id": f"EX-{i:03d}", "status": "expired" if i == 77 else "active", "justification": "word " * 100}
        for i in range(80)
    ]
    evaluation = dataclasses.replace(context.evaluation, summary=typed({**js(context.summary), "exceptions": register}))
    page = render_html(dataclasses.replace(context, evaluation=evaluation))
    ids = re.findall(r'<tr class="row-\w+">\s*<td class="wrap"><strong>([\w-]+)</strong>', page)
    assert len(ids) == 30 and ids[0] == "EX-077" and ids[1:3] == ["EX-000", "EX-001"]
    assert "and 50 more exceptions (expired and expiring ones are listed first)" in page
    assert "word word…</td>" in page
    assert "the workbook's Exceptions sheet has them in full" in page
