"""A live scan through the loopback emulator writes the same summary.json as the offline scan of its snapshot."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.config import Config
from auditor.errors import ExitCode
from auditor.reports.json import BreachesRenderer, SummaryRenderer
from auditor.scan import ScanResult, scan
from auditor.snapshots.format import Snapshot
from auditor.snapshots.generate import generate_fleet
from auditor.sources.resource_graph import ResourceGraphSource
from auditor.sources.snapshot import SnapshotSource
from tests.integration.azure_emulator import TENANT, AzureEmulator, Fault, FaultKind
from tests.integration.azure_emulator.fleet import AS_OF, build_fleet, subscription_ids
from tests.summaries import assert_same_figures, js

SUBS = subscription_ids(5)


def _scan(source: ResourceGraphSource | SnapshotSource, out: Path) -> ScanResult:
    return scan(
        Config(),
        source=source,
        out=out,
        as_of=AS_OF,
        use_history=False,
        renderers=[SummaryRenderer(), BreachesRenderer()],
    )


def _live_and_offline(snapshot: Snapshot, tmp_path: Path, subscriptions: list[str], **settings: object) -> None:
    offline = _scan(SnapshotSource(snapshot), tmp_path / "offline")
    with AzureEmulator(snapshot, quota=None) as emulator:
        source = ResourceGraphSource.from_settings(
            emulator.settings(subscriptions=subscriptions, **settings), **emulator.client_kwargs()
        )
        live = _scan(source, tmp_path / "live")
    assert live.problems == [] and live.exit_code == offline.exit_code
    assert js(live.summary)["machines"] > 0
    assert (live.pack / "breaches.json").read_bytes() == (offline.pack / "breaches.json").read_bytes()
    assert_same_figures(live.pack, offline.pack)


def test_live_scan_matches_offline_scan(tmp_path: Path) -> None:
    fleet = build_fleet(tmp_path / "fleet", tenant=TENANT, subscriptions=SUBS, machines_per_subscription=9)
    _live_and_offline(fleet, tmp_path, SUBS, batch_size=2, page_size=25)


@pytest.mark.slow
def test_live_scan_of_a_generated_fleet_matches_offline(tmp_path: Path) -> None:
    fleet = generate_fleet(250, seed=3, out=tmp_path / "fleet")
    subscriptions = list(fleet.scope["subscriptions"])
    # Its maintenance configurations serve machines of several subscriptions; maintenance_runs@v2 groups by
    # subscription too, so batches of subscriptions merge into the same figures as one request.
    _live_and_offline(fleet, tmp_path, subscriptions, page_size=100)
    with AzureEmulator(fleet, quota=None) as emulator:
        settings = emulator.settings(subscriptions=subscriptions, batch_size=max(1, len(subscriptions) // 2))
        split = ResourceGraphSource.from_settings(settings, **emulator.client_kwargs())
        result = _scan(split, tmp_path / "split")
    offline = _scan(SnapshotSource(fleet), tmp_path / "split-offline")
    assert result.problems == [] and result.exit_code == ExitCode.OK
    assert_same_figures(result.pack, offline.pack)


def test_incomplete_live_scan_exits_3(tmp_path: Path) -> None:
    fleet = build_fleet(tmp_path / "fleet", tenant=TENANT, subscriptions=SUBS[:2])
    with AzureEmulator(fleet, quota=None) as emulator:
        emulator.inject(Fault(FaultKind.SUBSCRIPTION_LIMIT, times=-1))
        source = ResourceGraphSource.from_settings(emulator.settings(), **emulator.client_kwargs())
        result = _scan(source, tmp_path / "live")
    assert result.exit_code == ExitCode.INCOMPLETE
    assert result.problems and all("first 10,000 subscriptions" in line for line in result.problems)
    assert result.problems[0].startswith(f"machine_facts@v3: tenant {TENANT}: Resource Graph read only")
