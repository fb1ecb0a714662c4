"""Arc-enabled VMware vSphere VMs are machines of their own platform, offline and through live Resource Graph.

Resource Graph lists `microsoft.connectedvmwarevsphere/virtualmachines/patchassessmentresults` and
`.../patchinstallationresults` in the same patch tables as Azure VMs and Arc servers (its supported-tables
reference); SCVMM VMs are not listed there, so they are not a platform (see the methodology).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from auditor.config import Config
from auditor.errors import ExitCode
from auditor.reports.json import SummaryRenderer
from auditor.scan import ScanResult, scan
from auditor.snapshots.format import Snapshot
from auditor.sources.resource_graph import ResourceGraphSource
from auditor.sources.snapshot import SnapshotSource
from tests.crafted import AS_OF, SUB, Fleet, days_ago
from tests.integration.azure_emulator import AzureEmulator
from tests.summaries import assert_same_figures, js


def _fleet(path: Path) -> Snapshot:
    fleet = Fleet()
    azure = fleet.machine("vm-1")
    fleet.assessment(azure)
    arc = fleet.machine("arc-1", platform="Arc", os="Linux")
    fleet.assessment(arc)
    overdue = fleet.machine("vs-1", platform="vSphere", tags={"Environment": "Prod"})
    fleet.assessment(overdue)
    fleet.patch(overdue, "kb5001", ["Critical"], published=days_ago(40))
    fleet.patch(overdue, "kb5002", ["Definition"], published=days_ago(2))
    fleet.run(overdue, "run-1", status="Succeeded", start=days_ago(3))
    clean = fleet.machine("vs-2", platform="vSphere", os="Linux")
    fleet.assessment(clean)
    fleet.machine("vs-3", platform="vSphere")  # never assessed
    # Resource Graph fills subscriptionId on every row, and scopes requests by it; the crafted patch rows leave it.
    for rows in fleet.tables.values():
        for row in rows:
            row["subscriptionId"] = row["subscriptionId"] or SUB
    return fleet.write(path)


def _scan(source: Any, out: Path) -> ScanResult:
    return scan(Config(), source=source, out=out, as_of=AS_OF, use_history=False, renderers=[SummaryRenderer()])


def _row(rows: list[dict[str, Any]], key: str) -> dict[str, Any]:
    return next(row for row in rows if row["key"] == key)


def test_vsphere_vms_are_judged_as_their_own_platform(tmp_path: Path) -> None:
    result = _scan(SnapshotSource(_fleet(tmp_path / "snap")), tmp_path / "packs")
    summary = js(result.summary)
    assert summary["machines"] == 5
    vsphere = _row(summary["by_platform"], "vSphere")
    assert {key: vsphere[key] for key in ("machines", "compliant", "non_compliant", "unknown")} == {
        "machines": 3,
        "compliant": 1,
        "non_compliant": 1,
        "unknown": 1,
    }
    assert vsphere["compliance_rate"] == 33.33
    assert _row(summary["by_platform"], "Arc")["machines"] == 1
    assert {row["key"]: row["machines"] for row in summary["by_os"]} == {"Linux": 2, "Windows": 3}
    critical = next(row for row in summary["by_classification"] if row["classification"] == "Critical")
    assert critical["pending_patches"] == 1 and critical["overdue_machines"] == 1
    assert summary["installations"]["runs"] == 1 and summary["installations"]["succeeded"] == 1
    assert result.exit_code == ExitCode.OK


def test_live_resource_graph_reads_vsphere_vms_like_the_snapshot(tmp_path: Path) -> None:
    fleet = _fleet(tmp_path / "snap")
    offline = _scan(SnapshotSource(fleet), tmp_path / "offline")
    with AzureEmulator(fleet, quota=None, paging="conservative") as emulator:
        source = ResourceGraphSource.from_settings(
            emulator.settings(subscriptions=[SUB], page_size=2), **emulator.client_kwargs()
        )
        live = _scan(source, tmp_path / "live")
    assert live.problems == [] and live.exit_code == ExitCode.OK
    assert_same_figures(live.pack, offline.pack)


@pytest.mark.slow
def test_generated_fleet_with_vsphere_vms_scans_the_same_live_and_offline(tmp_path: Path) -> None:
    from auditor.snapshots.format import iter_table
    from auditor.snapshots.generate import generate_fleet

    fleet = generate_fleet(120, seed=5, out=tmp_path / "fleet", vsphere_share=0.5)
    assert fleet.meta["generator"]["vsphere_share"] == 0.5
    types = {row["type"] for row in iter_table(fleet.tables["patchassessmentresources"])}
    assert "microsoft.connectedvmwarevsphere/virtualmachines/patchassessmentresults/softwarepatches" in types
    as_of = SnapshotSource(fleet).default_as_of()
    offline = scan(
        Config(),
        source=SnapshotSource(fleet),
        out=tmp_path / "offline",
        as_of=as_of,
        use_history=False,
        renderers=[SummaryRenderer()],
    )
    assert _row(js(offline.summary)["by_platform"], "vSphere")["machines"] > 0
    with AzureEmulator(fleet, quota=None, paging="conservative") as emulator:
        source = ResourceGraphSource.from_settings(
            emulator.settings(subscriptions=list(fleet.scope["subscriptions"]), page_size=60),
            **emulator.client_kwargs(),
        )
        live = scan(
            Config(),
            source=source,
            out=tmp_path / "live",
            as_of=as_of,
            use_history=False,
            renderers=[SummaryRenderer()],
        )
    assert live.problems == [] and live.exit_code == ExitCode.OK
    assert_same_figures(live.pack, offline.pack)
