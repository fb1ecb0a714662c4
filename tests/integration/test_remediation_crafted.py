"""Remediation timeliness end to end on crafted fleets: every edge of the rule observed through summary.json."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from auditor.config import config_from_dict
from auditor.evidence.files import pack_files
from auditor.evidence.replay import replay_differences
from auditor.evidence.verify import verify_pack
from auditor.reports.json import BreachesRenderer, SummaryRenderer
from auditor.scan import scan
from tests.crafted import AS_OF, Fleet, ts
from tests.schemas import assert_valid_summary
from tests.summaries import js

FAST = {"renderers": [SummaryRenderer(), BreachesRenderer()]}
"""summary.json and breaches.json only: the figures are what these tests judge."""
EARLIER = AS_OF - timedelta(days=10)
"""The as-of time of the scan that first saw the undated Linux patch pending."""


def _at(days: float, hours: float = 0) -> str:
    return ts(AS_OF - timedelta(days=days, hours=hours))


def fleet() -> Fleet:
    f = Fleet()
    win = f.machine("vm-win")
    f.assessment(win)
    other = f.machine("vm-other")
    f.assessment(other)
    lin = f.machine("arc-lin", platform="Arc", os="Linux")
    f.assessment(lin)
    # Critical, installed exactly at its SLA (15 days 23 hours: floor is 15) and one day past it.
    f.installed_patch(win, "r1", "kb-at-sla", ["Critical"], published=_at(20), installed=_at(4, 1))
    f.installed_patch(win, "r1", "kb-past-sla", ["Critical"], published=_at(21), installed=_at(5))
    # Installed before its publication date counts as 0 days.
    f.installed_patch(win, "r2", "kb-early", ["Security"], published=_at(1), installed=_at(3))
    # Two enforced classifications: the smaller SLA (Critical 15) judges 20 days; it counts under both.
    f.installed_patch(other, "r3", "kb-both", ["Security", "critical"], published=_at(25), installed=_at(5))
    # Exactly at the start of the window is inside it.
    f.installed_patch(other, "r3", "kb-edge", ["Security"], published=_at(33), installed=_at(30))
    # Undated (Linux): one seen pending by the earlier scan, one never seen.
    f.installed_patch(lin, "r4", "openssl", ["Security"], installed=_at(2))
    f.installed_patch(lin, "r4", "zlib", ["Security"], installed=_at(2))
    # Ignored: not Installed; no enforced classification; outside the window; a machine not in the fleet.
    for state in ("Failed", "Pending", "NotSelected", "Excluded", "installed"):
        f.installed_patch(win, "r5", f"kb-{state}", ["Critical"], published=_at(90), installed=_at(1), state=state)
    f.installed_patch(win, "r6", "kb-other", ["Other"], published=_at(90), installed=_at(1))
    f.installed_patch(win, "r7", "kb-old", ["Critical"], published=_at(90), installed=_at(30, 1))
    f.installed_patch(win, "r8", "kb-future", ["Critical"], published=_at(90), installed=ts(AS_OF + timedelta(hours=1)))
    gone = "/subscriptions/x/resourceGroups/r/providers/Microsoft.Compute/virtualMachines/gone"
    f.installed_patch(gone, "r9", "kb-gone", ["Critical"], published=_at(90), installed=_at(1))
    return f


def earlier_fleet() -> Fleet:
    """The same Linux machine ten days before, with openssl pending (undated)."""
    f = Fleet()
    lin = f.machine("arc-lin", platform="Arc", os="Linux")
    f.assessment(lin, last_modified=ts(EARLIER - timedelta(hours=1)))
    f.patch(lin, "openssl", ["Security"])
    return f


def run(tmp_path: Path, *, history: bool) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"use_history": False, **FAST}
    if history:
        store = tmp_path / "history.duckdb"
        kwargs = {"history": store, "use_history": True, **FAST}
        earlier_fleet().write(tmp_path / "earlier", captured_at=EARLIER)
        scan(config_from_dict({}), source=f"snapshot:{tmp_path / 'earlier'}", out=tmp_path / "packs", **kwargs)
    fleet().write(tmp_path / "snap")
    result = scan(config_from_dict({}), source=f"snapshot:{tmp_path / 'snap'}", out=tmp_path / "packs", **kwargs)
    assert verify_pack(result.pack).intact
    # The pack replays to the same figures: its first-seen evidence carries the undated installed patches too.
    with pack_files(result.pack) as files:
        assert replay_differences(files) == []
    summary = json.loads((result.pack / "summary.json").read_text())
    assert_valid_summary(summary)
    return dict(summary["remediation"])


@pytest.mark.slow
def test_rule_edges_with_history(tmp_path: Path) -> None:
    remediation = run(tmp_path, history=True)
    # days: at-sla 15, past 16, early 0, both 20, edge 3, openssl 8 (first seen 10 days before, installed 2 before)
    assert remediation == {
        "installed": 7,
        "dated": 6,
        "within_sla": 4,
        "within_sla_rate": 66.67,
        "p50_days": 8,
        "p90_days": 20,
        "by_classification": {
            "Critical": {
                "installed": 3,
                "dated": 3,
                "within_sla": 1,
                "within_sla_rate": 33.33,
                "p50_days": 16,
                "p90_days": 20,
            },
            "Security": {
                "installed": 5,
                "dated": 4,
                "within_sla": 3,
                "within_sla_rate": 75.0,
                "p50_days": 3,
                "p90_days": 20,
            },
        },
    }


def test_undated_rows_without_history_are_not_dated(tmp_path: Path) -> None:
    remediation = run(tmp_path, history=False)
    assert (remediation["installed"], remediation["dated"], remediation["within_sla"]) == (7, 5, 3)
    assert remediation["within_sla_rate"] == 60.0
    assert remediation["by_classification"]["Security"]["dated"] == 3


def test_no_installations_give_null_rate(tmp_path: Path) -> None:
    f = Fleet()
    f.assessment(f.machine("vm-a"))
    f.write(tmp_path / "snap")
    result = scan(
        config_from_dict({}), source=f"snapshot:{tmp_path / 'snap'}", out=tmp_path / "p", use_history=False, **FAST
    )
    assert js(result.summary)["remediation"] == {
        "installed": 0,
        "dated": 0,
        "within_sla": 0,
        "within_sla_rate": None,
        "p50_days": None,
        "p90_days": None,
        "by_classification": {},
    }


@pytest.mark.slow
def test_workbook_and_pdf_list_remediation_and_lifecycle(tmp_path: Path) -> None:
    from openpyxl import load_workbook
    from pypdf import PdfReader

    f = fleet()
    f.machine("arc-2012", platform="Arc", os_sku="Windows Server 2012 R2 Standard", esu=("Assigned", "Active"))
    f.write(tmp_path / "snap")
    config = config_from_dict({"thresholds": {"max_end_of_support_machines": 0}})
    result = scan(config, source=f"snapshot:{tmp_path / 'snap'}", out=tmp_path / "packs", use_history=False)
    book = load_workbook(result.pack / "audit-pack.xlsx", read_only=True)
    rows = list(book["Remediation"].iter_rows(min_row=3, values_only=True))
    by_patch = {row[0]: row for row in rows}
    assert set(by_patch) == {"kb-at-sla", "kb-past-sla", "kb-early", "kb-both", "kb-edge", "openssl", "zlib"}
    # Patch, ..., Days to install, SLA, Within SLA
    assert by_patch["kb-at-sla"][9:12] == (15, 15, "yes")
    assert by_patch["kb-past-sla"][9:12] == (16, 15, "no")
    assert by_patch["kb-both"][3] == "Security, Critical" and by_patch["kb-both"][9:12] == (20, 15, "no")
    assert by_patch["openssl"][5] == "unknown" and by_patch["openssl"][11] == "unknown"
    lifecycle = {row[0]: row for row in book["OS lifecycle"].iter_rows(min_row=3, values_only=True)}
    assert lifecycle["Windows Server 2012 R2"][1:6] == (1, "2023-10-10", "yes", 1, 0)
    assert lifecycle["Windows Server 2022"][3] == "no"
    # An ESU licence keeps the machine out of the threshold's count.
    assert result.summary.lifecycle is not None and result.summary.lifecycle.end_of_support_without_esu == 0
    assert "max_end_of_support_machines" not in {b.rule for b in result.breaches}
    pages = PdfReader(result.pack / "audit-pack.pdf").pages
    text = " ".join(" ".join(page.extract_text() for page in pages).split())
    assert "Remediation timeliness" in text and "Distribution per classification" in text
    assert "Operating system lifecycle" in text and "Windows Server 2012 R2" in text
    assert "whose installationState is exactly Installed" in text  # the rule as written, in the methodology


@pytest.mark.slow
def test_installed_patches_v2_selects_exactly_the_rows_of_v1(tmp_path: Path) -> None:
    """v2 only names two sub-expressions in their own `extend`s (so duckdb-kql's SQL is shorter); every row of v1
    comes back, byte for byte, on the crafted fleet (dated, undated, out-of-window) and on a generated one."""
    from auditor.kql.catalog import Catalog
    from auditor.snapshots.format import read_snapshot
    from auditor.snapshots.generate import generate_fleet
    from auditor.sources.snapshot import SnapshotSource

    fleet().write(tmp_path / "crafted")
    query, current = Catalog().get("installed_patches")
    assert current is None and query.current == 2
    params = {"as_of": AS_OF, "window_days": 30, "classifications": ["Critical", "Security", "Other"]}
    for snapshot in (read_snapshot(tmp_path / "crafted"), generate_fleet(60, seed=11, out=tmp_path / "generated")):
        source = SnapshotSource(snapshot)
        try:
            params["as_of"] = source.default_as_of() or AS_OF
            old = source.run(query.render(params, version=1)).table
            new = source.run(query.render(params, version=2)).table
        finally:
            source.close()
        assert (
            old.num_rows > 0
            and any(old.column("machineId").to_pylist())
            and not all(old.column("machineId").to_pylist())
        )
        assert new.equals(old)
