"""A crafted scan for the workbook tests: a real pipeline run over a small fleet full of hostile strings.

The other test_xlsx modules import `crafted_context`, `render` and `rows_of` from here; the tests in this module
check that the crafted data really holds what the safety tests rely on.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from openpyxl.workbook import Workbook

from auditor.config import config_from_dict
from auditor.reports.interface import ReportContext
from auditor.reports.xlsx.workbook import XlsxRenderer
from auditor.scan import scan
from tests.crafted import AS_OF, Fleet, days_ago, ts
from tests.summaries import js

HYPERLINK_NAME = '=HYPERLINK("http://x","y")'
DDE_TAG = "+cmd|' /C calc'!A0"
HOSTILE_TAGS = {
    "Environment": DDE_TAG,
    "owner": "@SUM(1+1)",
    "cost": "-2+3",
    "tab": "\t=1+1",
    "cr": "\r=1+1",
    "error": "#N/A",
    "bell": "ring\x07ring",
}
PERIODIC_AUDIT = "/providers/Microsoft.Authorization/policyDefinitions/bd876905-5b84-4f73-ab2d-2e7a7c4568d9"
CONFIG = {
    "environment_aliases": {"Production": ["prod", "prd"]},
    "thresholds": {
        "min_compliance_rate": 60,
        "by_environment": {"Production": 95},
        "max_unknown_rate": 50,
        "min_installation_success_rate": 90,
        "max_overdue_machines": {"Critical": 0},
    },
    # Small limits, so a two-machine window is a concurrency peak and a single failed run is a failure pattern.
    "schedules": {"max_concurrent_machines": 1, "pattern_min_runs": 1},
}
REGISTER = """
[[exception]]
id = "EX-ACTIVE"
owner = "erp-team@contoso.com"
justification = "Vendor freeze until the year-end release."
ticket = "CHG-1"
created = 2026-10-01
expires_on = 2027-01-31
machine_ids = [{late}]

[[exception]]
id = "EX-EXPIRED"
owner = "legacy-team@contoso.com"
justification = "Awaiting migration."
ticket = "RISK-2"
created = 2026-06-01
expires_on = 2026-10-15
machine_ids = [{hostile}]

[[exception]]
id = "EX-SOON"
owner = "@risk-owner"
justification = "=1+1 is not a formula here"
ticket = "INC-3"
created = 2026-10-01
expires_on = 2026-11-05
tags = {{ owner = "@SUM(1+1)" }}
classifications = ["Security"]

[[exception]]
id = "EX-NONE"
owner = "nobody@contoso.com"
justification = "Selects a subscription that is not in scope."
ticket = "CHG-4"
created = 2026-10-01
expires_on = 2026-12-31
subscriptions = ["ffffffff-0000-0000-0000-000000000000"]
"""
"""EX-ACTIVE makes vm-late compliant_with_exception; EX-EXPIRED is a breach (17 days past); EX-SOON is expiring and
covers nothing (the hostile machine's overdue patch is Critical); EX-NONE matches nothing."""


class Capture:
    """A renderer that keeps the context the scan hands it."""

    filename = "context.txt"

    def __init__(self) -> None:
        self.context: ReportContext | None = None

    def render(self, context: ReportContext, path: Path) -> None:
        """Keep the context; write a placeholder so the pack has the file it was promised."""
        self.context = context
        path.write_text("captured\n", encoding="utf-8")


def _fleet() -> tuple[Fleet, dict[str, str]]:
    f = Fleet()
    hostile = f.machine(HYPERLINK_NAME, tags=HOSTILE_TAGS, location="eastus2")
    f.assessment(hostile)
    f.patch(hostile, "kb-old", ["Critical"], published=days_ago(40), name="2026-09 Cumulative Update")
    f.tables["patchassessmentresources"][-1]["properties"].update(kbId="KB5030211", version="10.0.1")
    f.run(hostile, "run-1", status="Failed", start=days_ago(3), error="=cmd|' /C calc'!A0")
    ok = f.machine("vm-ok", tags={"Environment": "prod"})
    f.assessment(ok)
    f.patch(ok, "kb-new", ["Critical"], published=days_ago(2))
    f.assign(ok, "cfg-weekly")
    late = f.machine("vm-late", tags={"environment": "PRD"})
    f.assessment(late)
    f.patch(late, "kb-sec", ["Security", "Critical"], published=days_ago(20))
    f.patch(late, "kb-other", ["Other"], published=days_ago(300))
    f.assign(late, "cfg-weekly")
    stale = f.machine("lnx-stale", platform="Arc", os="Linux", tags={"Environment": "Dev"})
    f.assessment(stale, last_modified=ts(AS_OF - timedelta(days=9)))
    f.assign(stale, "cfg-old")
    never = f.machine("lnx-none", os="Linux", tags={}, assessment_mode="ImageDefault")
    # Policy calls it Compliant for periodic assessment (the built-in audit definition) while assessment is off.
    f.policy_state(never, "periodic-assess-audit", "Compliant")
    f.tables["policyresources"][-1]["properties"]["policyDefinitionId"] = PERIODIC_AUDIT
    # Sunday 01:00-04:00 UTC: the as-of week's hours 145-147 have vm-ok and vm-late scheduled, above the limit of 1.
    f.maintenance_configuration(
        "cfg-weekly",
        recur="1Week Sunday",
        start="2026-01-04 01:00",
        duration="03:00",
        windows=["Critical", "Security"],
        kb_exclude=["5030211"],
        tasks={"preTasks": [{"source": "/runbooks/drain", "taskScope": "Resource"}]},
    )
    f.maintenance_configuration("cfg-old", expiration="2026-06-30 23:59", linux=["Security"], mask_include=["openssl*"])
    f.maintenance_configuration("cfg-spare", recur="1Day", start="2026-01-01 02:00", duration="02:00")
    f.schedule_run("cfg-weekly", "corr-1", status="Completed", start=days_ago(7), minutes=50, total=1, succeeded=1)
    f.scheduled_run(
        ok, "run-2", "cfg-weekly", "corr-1", status="Succeeded", start=days_ago(7), minutes=50, window_exceeded=True
    )
    return f, {"hostile": hostile, "late": late}


@cache
def _scan(root: str) -> ReportContext:
    base = Path(root)
    snapshot = base / "snap"
    fleet, ids = _fleet()
    fleet.write(snapshot)
    register = base / "exceptions.toml"
    register.write_text(REGISTER.format(**{k: json.dumps(v) for k, v in ids.items()}), encoding="utf-8")  # TOML strings
    capture = Capture()
    scan(
        config_from_dict({**CONFIG, "exceptions_file": str(register)}),
        source=f"snapshot:{snapshot}",
        out=base / "packs",
        renderers=[capture],
        use_history=False,
    )
    assert capture.context is not None
    return capture.context


def crafted_context(tmp_path_factory: Any) -> ReportContext:
    """The crafted scan's context, computed once per test session."""
    return _scan(str(tmp_path_factory.getbasetemp() / "xlsx-crafted"))


def render(context: ReportContext, path: Path) -> Workbook:
    """Render the workbook and open it again as a reader would (not read-only: links and formats are needed)."""
    XlsxRenderer().render(context, path)
    return load_workbook(path)


def rows_of(ws: Any, first: int = 3) -> list[tuple[Any, ...]]:
    """The values of a table sheet's data rows."""
    return [row for row in ws.iter_rows(min_row=first, values_only=True) if any(v is not None for v in row)]


def sheet_xml(path: Path) -> Iterator[tuple[str, str]]:
    """(member name, XML text) of every worksheet in the file."""
    with zipfile.ZipFile(path) as archive:
        for name in sorted(archive.namelist()):
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                yield name, archive.read(name).decode("utf-8")


def test_crafted_fleet_holds_the_hostile_strings(tmp_path_factory: Any) -> None:
    context = crafted_context(tmp_path_factory)
    names = {v.machine.name for v in context.evaluation.verdicts}
    assert HYPERLINK_NAME in names
    hostile = next(v for v in context.evaluation.verdicts if v.machine.name == HYPERLINK_NAME)
    assert hostile.machine.environment == DDE_TAG
    assert hostile.machine.tags["bell"] == "ring\x07ring"
    assert any(r.error_code.startswith("=") for r in context.evaluation.runs)


def test_crafted_scan_has_every_kind_of_row(tmp_path_factory: Any) -> None:
    context = crafted_context(tmp_path_factory)
    summary = js(context.summary)
    assert summary["machines"] == 5
    assert summary["compliant"] and summary["non_compliant"] and summary["unknown"]
    assert context.evaluation.breaches and context.evaluation.runs
    assert summary["policy_mismatches"]
