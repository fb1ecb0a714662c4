"""The workbook reopened with openpyxl: every figure against summary.json, and the finish (formats, panes, links)."""

from __future__ import annotations

import dataclasses
import zipfile
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from openpyxl.utils import get_column_letter

from auditor.reports.interface import ReportContext
from auditor.reports.xlsx import style as xlsx_style
from auditor.reports.xlsx.about import rules_in_words
from auditor.reports.xlsx.style import COUNT_FORMAT, DATE_FORMAT, DAYS_FORMAT, MACHINES_FORMAT, RATE_FORMAT
from auditor.reports.xlsx.workbook import XlsxRenderer
from tests.summaries import js, typed
from tests.unit.test_xlsx_fixtures import crafted_context, render, rows_of

ORDER = [
    "Summary",
    "By environment",
    "By subscription",
    "By classification",
    "By platform & OS",
    "Machines",
    "Overdue patches",
    "Installations",
    "Coverage",
    "Population",
    "Schedules",
    "Concurrency",
    "Failure patterns",
    "Remediation",
    "OS lifecycle",
    "Policy",
    "Policy mismatches",
    "Exceptions",
    "Controls",
    "Breaches",
    "Queries",
    "About",
]
OPTIONAL = {
    "Schedules": ("schedules",),
    "Concurrency": ("schedules", "concurrency"),
    "Failure patterns": ("failure_patterns",),
    "Remediation": ("remediation",),
    "OS lifecycle": ("lifecycle",),
    "Policy": ("policy",),
    "Policy mismatches": ("policy_mismatches",),
    "Exceptions": ("exceptions",),
    "Population": ("population",),
    "Controls": ("controls",),
}
"""Sheets of summary blocks that newer scans add: present exactly when the summary has the block."""


def has_block(summary: dict[str, Any], path: tuple[str, ...]) -> bool:
    block: Any = summary
    for key in path:
        block = block.get(key) if isinstance(block, dict) else None
    return block is not None


def expected_sheets(summary: dict[str, Any]) -> list[str]:
    return [title for title in ORDER if title not in OPTIONAL or has_block(summary, OPTIONAL[title])]


STATUS_KEYS = ("key", "machines", "compliant", "non_compliant", "unknown", "compliance_rate")


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> ReportContext:
    return crafted_context(tmp_path_factory)


@pytest.fixture(scope="module")
def book(context: ReportContext, tmp_path_factory: pytest.TempPathFactory) -> Any:
    return render(context, tmp_path_factory.mktemp("book") / "audit-pack.xlsx")


def labelled(ws: Any, label: str) -> tuple[Any, ...]:
    """The cells of the Summary/About row whose first cell is `label`."""
    for row in ws.iter_rows():
        if row[0].value == label:
            return row
    raise AssertionError(f"no row labelled {label!r} on {ws.title}")


def test_sheets_in_order(book: Any, context: ReportContext) -> None:
    assert book.sheetnames == expected_sheets(js(context.summary))
    assert {"Policy", "Policy mismatches"} <= set(book.sheetnames)


def test_summary_overall_rate_is_summary_json_figure(book: Any, context: ReportContext) -> None:
    _, value, target, result, *_ = labelled(book["Summary"], "Overall compliance rate")
    assert value.value == js(context.summary)["compliance_rate"]
    assert value.data_type == "n" and value.number_format == RATE_FORMAT
    assert target.value == context.evaluation.config.thresholds.min_compliance_rate
    assert target.number_format == RATE_FORMAT
    assert result.value == ("BELOW TARGET" if value.value < target.value else "Meets target")


def test_summary_counts_and_as_of(book: Any, context: ReportContext) -> None:
    ws, summary = book["Summary"], js(context.summary)
    assert labelled(ws, "Compliant")[1].value == summary["compliant"]
    assert labelled(ws, "Non-compliant")[1].value == summary["non_compliant"]
    assert labelled(ws, "Unknown status (no current assessment)")[1].value == summary["unknown"]
    assert labelled(ws, "Machines in scope")[1].number_format == COUNT_FORMAT
    as_of = labelled(ws, "As of (UTC)")[1]
    assert as_of.value == context.evaluation.as_of.replace(tzinfo=None) and as_of.number_format == DATE_FORMAT
    assert labelled(ws, "Share of machines with unknown status")[1].value == summary["unknown_rate"]
    assert labelled(ws, "Installation success rate (last 30 days)")[1].value == summary["installations"]["success_rate"]


def test_summary_lists_every_breach(book: Any, context: ReportContext) -> None:
    ws = book["Summary"]
    messages = [c.value for c in ws["A"]]
    assert f"Breaches ({len(context.evaluation.breaches)})" in messages
    for breach in context.evaluation.breaches:
        row = labelled(ws, breach.message)
        assert (row[1].value, row[2].value, row[3].value) == (breach.observed, breach.threshold, breach.severity)


UNIT_FORMATS = {"%": RATE_FORMAT, "machines": MACHINES_FORMAT, "days": DAYS_FORMAT}


def test_breach_figures_are_formatted_in_their_threshold_unit(book: Any, context: ReportContext) -> None:
    units = {threshold.unit for threshold, _ in context.evaluation.threshold_checks}
    assert units == {"%", "machines", "days"}  # the crafted scan has an expired exception (days past expiry)
    rows = list(book["Breaches"].iter_rows(min_row=3))
    for (threshold, observed), row in zip(context.evaluation.threshold_checks, rows, strict=True):
        assert (row[3].value, row[4].value) == (observed, threshold.limit)
        assert row[3].number_format == row[4].number_format == UNIT_FORMATS[threshold.unit], threshold.rule
    expired = labelled(
        book["Summary"], next(b.message for b in context.evaluation.breaches if b.rule == "exception_expired")
    )
    assert (expired[1].value, expired[1].number_format) == (17, DAYS_FORMAT)


def test_summary_links_to_every_sheet(book: Any) -> None:
    links = {c.hyperlink.location for row in book["Summary"].iter_rows() for c in row if c.hyperlink}
    assert links == {f"'{title}'!A1" for title in book.sheetnames[1:]}


def test_summary_has_native_charts(tmp_path: Path, context: ReportContext) -> None:
    path = tmp_path / "p.xlsx"
    XlsxRenderer().render(context, path)
    with zipfile.ZipFile(path) as archive:
        every = [archive.read(n).decode() for n in sorted(archive.namelist()) if n.startswith("xl/charts/chart")]
    charts = [xml for xml in every if "'Summary'" in xml or "'By environment'" in xml]
    assert len(charts) == 2
    bar, pie = sorted(charts, key=lambda xml: "pieChart" in xml)
    assert {"barChart", "lineChart"} <= kinds(bar)  # the targets, drawn over the rates
    assert "'By environment'!$F$3:$F$" in bar and "'By environment'!$I$3:$I$" in bar  # rate, target
    assert "'By environment'!$A$3:$A$" in bar
    assert "pieChart" in kinds(pie) and "'Summary'!$B$" in pie


def kinds(xml: str) -> set[str]:
    """Local names of a chart part's elements."""
    return {element.tag.rsplit("}", 1)[-1] for element in ElementTree.fromstring(xml).iter()}


@pytest.mark.parametrize(
    ("sheet", "key", "dimension"),
    [
        ("By environment", "by_environment", None),
        ("By subscription", "by_subscription", None),
    ],
)
def test_group_sheets_equal_summary(book: Any, context: ReportContext, sheet: str, key: str, dimension: Any) -> None:
    ws = book[sheet]
    rows = rows_of(ws)
    expected = [tuple(r[k] for k in STATUS_KEYS) for r in js(context.summary)[key]]
    offset = 1 if sheet == "By subscription" else 0  # name first, then the id
    assert [row[offset : offset + 6] for row in rows] == expected
    rate = ws.cell(row=3, column=6 + offset)
    assert rate.number_format == RATE_FORMAT and ws.cell(row=3, column=2 + offset).number_format == COUNT_FORMAT


def test_by_environment_targets_and_installations(book: Any, context: ReportContext) -> None:
    rows = {row[0]: row for row in rows_of(book["By environment"])}
    assert rows["Production"][8:10] == (95, "environment threshold")
    assert rows["Dev"][8:10] == (60, "overall threshold")
    installs = {r["key"]: r for r in js(context.summary)["installations"]["by_environment"]}
    for key, row in installs.items():
        assert rows[key][10:13] == (row["runs"], row["failed"], row["success_rate"])


def test_subscription_without_names_shows_the_id(book: Any) -> None:
    ws = book["By subscription"]
    assert "names are not in this scan's data" in ws["A1"].value
    assert all(row[0] == row[1] for row in rows_of(ws))


def test_by_classification_and_platform_os_equal_summary(book: Any, context: ReportContext) -> None:
    rows = rows_of(book["By classification"])
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in rows] == [
        (c["classification"], c["sla_days"], c["pending_patches"], c["machines_affected"], c["overdue_machines"])
        for c in js(context.summary)["by_classification"]
    ]
    critical = next(r for r in rows if r[0] == "Critical")
    assert critical[5] == 0  # max_overdue_machines
    expected = [("Platform", *(r[k] for k in STATUS_KEYS)) for r in js(context.summary)["by_platform"]]
    expected += [("OS", *(r[k] for k in STATUS_KEYS)) for r in js(context.summary)["by_os"]]
    assert [row[:7] for row in rows_of(book["By platform & OS"])] == expected


def test_machines_one_row_each_with_status_and_facts(book: Any, context: ReportContext) -> None:
    ws = book["Machines"]
    headers = [c.value for c in ws[2]]
    rows = rows_of(ws)
    assert len(rows) == js(context.summary)["machines"] == len(context.evaluation.verdicts)
    by_name = {row[0]: dict(zip(headers, row, strict=True)) for row in rows}
    for verdict in context.evaluation.verdicts:
        row = by_name[verdict.machine.name]
        assert row["Status"] == verdict.status.value
        assert row["Environment"] == verdict.machine.environment
        assert row["Pending patches"] == verdict.pending_patches
        assert row["Resource ID (opens the Azure portal)"] == verdict.machine.resource_id
    assert (
        ws.freeze_panes == "B3" and ws.auto_filter.ref == f"A2:{ws.cell(2, len(headers)).column_letter}{len(rows) + 2}"
    )
    dated = [c for c in ws[get_column_letter(headers.index("Last assessed (UTC)") + 1)][2:] if c.value is not None]
    assert dated and all(c.is_date and c.number_format == DATE_FORMAT for c in dated)
    flags = [c.value for c in ws[get_column_letter(headers.index("Periodic assessment") + 1)][2:]]
    assert set(flags) == {True, False}


def test_machine_ids_open_the_azure_portal_in_the_tenant(book: Any, context: ReportContext) -> None:
    ws = book["Machines"]
    links = [c.hyperlink.target for row in ws.iter_rows(min_row=3) for c in row if c.hyperlink]
    assert len(links) == len(context.evaluation.verdicts)
    tenant = context.source["tenant_id"]
    assert all(link.startswith(f"https://portal.azure.com/#@{tenant}/resource/subscriptions/") for link in links)


def test_installations_one_row_per_run(book: Any, context: ReportContext) -> None:
    rows = rows_of(book["Installations"])
    assert [row[3] for row in rows] == [run.status for run in context.evaluation.runs]
    assert all(row[4] is not None and row[4].tzinfo is None for row in rows)


def test_coverage_policy_and_breaches(book: Any, context: ReportContext) -> None:
    coverage = {row[1]: row for row in rows_of(book["Coverage"])}
    scheduled = js(context.summary)["coverage"]["scheduled"]
    assert coverage["Covered by a maintenance schedule"][2:4] == (scheduled["machines"], scheduled["rate"])
    assert len(rows_of(book["Policy"])) == len(js(context.summary)["policy"]["assignments"])
    mismatches = rows_of(book["Policy mismatches"])
    assert [row[0] for row in mismatches] == [m["name"] for m in js(context.summary)["policy_mismatches"]]
    results = [row[0] for row in rows_of(book["Breaches"])]
    assert results.count("BREACH") == js(context.summary)["breaches"] == len(context.evaluation.breaches)
    assert len(results) == len(context.evaluation.threshold_checks)


def test_queries_carry_version_hash_rows_and_full_text(book: Any, context: ReportContext) -> None:
    rows = rows_of(book["Queries"])
    assert [(r[0], r[1], r[2], r[4], r[7]) for r in rows] == [
        (q.id, q.version, q.rows, q.template_sha256, q.text) for q in context.queries
    ]


def test_about_has_config_hash_and_rules_with_parameters(book: Any, context: ReportContext) -> None:
    ws = book["About"]
    config = context.evaluation.config
    assert labelled(ws, "Config sha256")[1].value == config.sha256()
    assert labelled(ws, "Effective config (canonical JSON)")[1].value == config.canonical_json()
    assert labelled(ws, "Tool")[1].value == f"auditor {context.tool_version}"
    text = {row[0]: row[1] for row in ws.iter_rows(values_only=True)}
    for name, sentence in rules_in_words(config):
        assert text[name] == sentence
    assert "'Environment'" in text["Environment"] and "Production ← prod, prd" in text["Environment"]
    assert "7 days" in text["Assessment"] and "Critical 15 days, Security 30 days" in text["SLA"]
    values = " ".join(str(v) for v in text.values())
    for threshold, _ in context.evaluation.threshold_checks:
        requirement = threshold.requirement()
        assert requirement[:1].upper() + requirement[1:] in values


def test_finish_headers_panes_filters_widths(book: Any) -> None:
    for title in book.sheetnames[1:-1]:
        ws = book[title]
        header = ws["A2"]
        assert header.font.bold and header.fill.fgColor.rgb.endswith(xlsx_style.DARK), title
        assert ws.freeze_panes in ("A3", "B3"), title
        assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A2:"), title
        assert ws.column_dimensions["A"].width >= 8, title


def test_rates_below_their_target_are_conditionally_formatted(book: Any) -> None:
    def rules(ws: Any) -> dict[str, list[str]]:
        return {str(cf.sqref): [f for rule in cf.rules for f in rule.formula] for cf in ws.conditional_formatting}

    environment = rules(book["By environment"])
    assert any("F3<I3" in f for ref, fs in environment.items() if ref.startswith("F3") for f in fs)
    assert any("G3<I3" in f for ref, fs in environment.items() if ref.startswith("G3") for f in fs)  # without
    summary = rules(book["Summary"])
    overall = labelled(book["Summary"], "Overall compliance rate")[1].coordinate
    assert any("<C" in f for f in summary[overall])
    machines = rules(book["Machines"])
    assert any('"non_compliant"' in f for fs in machines.values() for f in fs)


def test_complete_pack_has_no_banner(book: Any) -> None:
    assert not any("INCOMPLETE" in str(c.value) for row in book["Summary"].iter_rows() for c in row)


def test_incomplete_pack_shows_banner_and_problems(context: ReportContext, tmp_path: Path) -> None:
    problems = ["installations@v1: page 3 of 7 failed (HTTP 429)", "policy_states@v1: incomplete"]
    book = render(dataclasses.replace(context, problems=problems), tmp_path / "x.xlsx")
    ws = book["Summary"]
    assert ws["A3"].value.startswith("INCOMPLETE")
    assert ws["A3"].fill.fgColor.rgb.endswith(xlsx_style.RED) and ws["A3"].font.bold
    shown = [c.value for c in ws["A"][3:8]]
    for problem in problems:
        assert f"• {problem}" in shown
    assert "INCOMPLETE" in book["Machines"]["A1"].value
    assert labelled(book["About"], "Data complete")[1].value.startswith("no: ")


def test_trend_from_history(context: ReportContext, tmp_path: Path) -> None:
    history = [{"as_of": "2026-10-01T06:00:00Z", "compliance_rate": 55.5, "machines": 4}]
    ws = render(dataclasses.replace(context, history=history), tmp_path / "x.xlsx")["Summary"]
    earlier = labelled(ws, "2026-10-01T06:00:00Z")
    assert (earlier[1].value, earlier[2].value) == (55.5, 4)
    assert labelled(ws, js(context.summary)["as_of"])[1].value == js(context.summary)["compliance_rate"]


def test_summary_without_optional_blocks_still_renders(context: ReportContext, tmp_path: Path) -> None:
    # The typed summary always has installations, coverage and policy (a replayed old pack is re-evaluated, so it
    # has them too); only the sections declared optional, schedules and failure_patterns, can be missing.
    summary = {k: v for k, v in js(context.summary).items() if k not in ("schedules", "failure_patterns")}
    evaluation = dataclasses.replace(context.evaluation, summary=typed(summary))
    book = render(dataclasses.replace(context, evaluation=evaluation), tmp_path / "x.xlsx")
    assert not {"Schedules", "Concurrency", "Failure patterns"} & set(book.sheetnames)
    assert labelled(book["Summary"], "Overall compliance rate")[1].value == js(context.summary)["compliance_rate"]


SCHEDULES = {
    "rules": {"expiry": "A configuration has expired when its expiration is before the as-of time."},
    "configurations": [
        {
            "key": "cfg-weekly",
            "id": "/subscriptions/s/resourcegroups/rg/providers/microsoft.maintenance/x/cfg-weekly",
            "recurrence_text": "every week on Sunday",
            "start": "2026-01-04 01:00",
            "duration": "03:00",
            "time_zone": "UTC",
            "expiration": "2026-06-30 23:59:59",
            "expired": True,
            "reboot_setting": "IfRequired",
            "machines": 3,
            "static_assignments": 2,
            "dynamic_scopes": [{"id": "d", "scope": "/subscriptions/s", "filter": "tags (any): app = =cmd"}],
            "by_environment": [{"key": "Production", "machines": 3}],
            "windows": {"classifications": ["Critical", "Security"]},
            "linux": None,
            "runs": {
                "schedule_runs": 4,
                "machine_runs": 12,
                "failed": 3,
                "success_rate": 75.0,
                "window_exceeded_rate": 8.33,
                "last_run": {"start": "2026-11-01T01:00:00Z", "status": "Succeeded"},
            },
            "added_later": "ignored",
        }
    ],
    "unscheduled_machines": 2,
}
PATTERNS = {
    "rule": "A value is flagged when it fails at least twice as often as the fleet.",
    "fleet_failure_rate": 12.5,
    "dimensions": {
        "location": [{"key": "eastus2", "runs": 40, "failed": 20, "failure_rate": 50.0, "flagged": True}],
        "os_version": [{"key": "RHEL 9", "runs": 20, "failed": 1, "failure_rate": 5.0, "flagged": False}],
    },
}
EXCEPTIONS = [
    {
        "id": "EX-1",
        "owner": "@SUM(1)",
        "justification": "vendor freeze",
        "ticket": "CHG-1",
        "created": "2026-09-01",
        "expires_on": "2026-11-10",
        "status": "expiring",
        "days_to_expiry": 9,
        "selector": {"tags": {"app": ["sap"]}, "subscriptions": []},
        "matched_machines": 2,
        "matched_machine_ids": ["/subscriptions/s/vm1", "/subscriptions/s/vm2"],
    }
]


def test_schedule_pattern_and_exception_sheets_follow_the_summary(context: ReportContext, tmp_path: Path) -> None:
    summary = {
        **js(context.summary),
        "schedules": SCHEDULES,
        "failure_patterns": PATTERNS,
        "exceptions": EXCEPTIONS,
        "exception_warnings": [{"exception": "EX-1", "kind": "expiring", "message": "expires in 9 days"}],
        "exceptions_rules": ["An exception names an owner and expires."],
    }
    evaluation = dataclasses.replace(context.evaluation, summary=typed(summary))
    book = render(dataclasses.replace(context, evaluation=evaluation), tmp_path / "x.xlsx")
    assert book.sheetnames == expected_sheets(summary)
    ws = book["Schedules"]
    row = dict(zip([c.value for c in ws[2]], rows_of(ws)[0], strict=True))
    assert (row["Configuration"], row["Expired"], row["Machines"], row["Run success rate"]) == (
        "cfg-weekly",
        True,
        3,
        75,
    )
    assert row["Dynamic scopes"] == "tags (any): app = =cmd" and row["Windows classifications"] == "Critical, Security"
    assert (row["Window exceeded rate"], row["Last run start (UTC)"]) == (8.33, "2026-11-01T01:00:00Z")
    assert "2 machines have no schedule" in ws["A1"].value
    assert "Concurrency" not in book.sheetnames  # this schedules block has no concurrency series
    assert rows_of(book["Failure patterns"])[:2] == [
        ("Location", "eastus2", 40, 20, 50, 12.5, 37.5, True, None),
        ("OS version", "RHEL 9", 20, 1, 5, 12.5, -7.5, False, None),
    ]
    ws = book["Exceptions"]
    headers = [c.value for c in ws[2]]
    row = dict(zip(headers, rows_of(ws)[0], strict=True))
    assert (row["Exception"], row["Owner"], row["Selects"], row["Warnings"]) == (
        "EX-1",
        "@SUM(1)",
        "tags: app: sap",
        "expires in 9 days",
    )
    assert ws[f"C{3}"].quotePrefix and not any("machine ids" in str(h).lower() for h in headers)
    about = {r[0]: r[1] for r in book["About"].iter_rows(values_only=True)}
    assert about["Schedules: expiry"] == SCHEDULES["rules"]["expiry"]
    assert about["Failure patterns"] == PATTERNS["rule"] and about["Exceptions"] == summary["exceptions_rules"][0]


def test_population_and_controls_sheets_reconcile_summary_json(book: Any, context: ReportContext) -> None:
    population = js(context.summary)["population"]
    ws = book["Population"]
    assert ws["A1"].value.startswith(f"{population['resource_rows']:,} machine rows read")
    rows = rows_of(ws)
    assert rows[0][:5] == (
        "Overall",
        "all machines",
        population["machines"],
        population["judged"],
        population["unknown"],
    )
    power = {row[1]: row[2:] for row in rows if row[0] == "Power state (Azure VMs)"}
    assert list(power) == ["deallocated", "running", "stopped", "unknown"]
    for entry in population["by_power_state"]:
        reasons = entry["unknown_reasons"]
        assert power[entry["key"]] == (
            entry["machines"],
            entry["judged"],
            entry["unknown"],
            reasons["none"],
            reasons["failed"],
            reasons["stale"],
        )
    controls = book["Controls"]
    criteria = [(r[0], r[1], r[7]) for r in rows_of(controls)]
    expected = [
        (c["framework"], c["id"], {"met": "met", "not_met": "NOT MET", "not_assessed": "not assessed"}[k["outcome"]])
        for c in js(context.summary)["controls"]
        for k in c["criteria"]
    ]
    assert criteria == expected and len(expected) >= 7


def test_every_sheet_prints_one_page_wide_with_its_header_repeated(book: Any) -> None:
    for ws in book.worksheets:
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert (ws.page_setup.fitToWidth, ws.page_setup.fitToHeight) == (1, 0), ws.title
        if ws.title not in ("Summary", "About"):
            assert ws.print_title_rows == "$2:$2", ws.title


def test_the_status_chart_splits_exception_compliant_machines(book: Any, context: ReportContext) -> None:
    ws, summary = book["Summary"], js(context.summary)
    excepted = summary["compliant_with_exception"]
    assert labelled(ws, "Compliant without an exception")[1].value == summary["compliant"] - excepted
    assert labelled(ws, "Compliant only through an exception")[1].value == excepted
    assert (
        labelled(ws, "Non-compliant only because of patches of unknown age")[1].value
        == (summary["non_compliant_unknown_age_only"])
    )
    assert labelled(ws, "Pending patches (each counted once)")[1].value == summary["pending_patches"]
