"""capture_snapshot through the loopback emulator: all or nothing, and its snapshot reproduces the live rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from auditor.errors import ExitCode
from auditor.snapshots.format import ARG_COLUMNS, Snapshot, iter_table, read_snapshot
from auditor.sources.capture import CAPTURE_QUERIES, RESOURCE_TYPES, CaptureIncompleteError, capture_snapshot
from auditor.sources.interface import SourceError
from auditor.sources.resource_graph import ResourceGraphSource
from auditor.sources.snapshot import SnapshotSource
from tests.integration.azure_emulator import TENANT, AzureEmulator, Fault, FaultKind
from tests.integration.azure_emulator.auth import IDENTITY_OBJECT_ID
from tests.integration.azure_emulator.catalog import catalog_requests
from tests.integration.azure_emulator.fleet import AS_OF, build_fleet, subscription_ids

SUBS = subscription_ids(4)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    return build_fleet(tmp_path_factory.mktemp("fleet") / "snap", tenant=TENANT, subscriptions=SUBS, seed=5)


@pytest.fixture
def emulator(fleet: Snapshot) -> Iterator[AzureEmulator]:
    with AzureEmulator(fleet, quota=None) as emulator:
        yield emulator


def capture(emulator: AzureEmulator, out: Path, **settings: object) -> Snapshot:
    values: dict[str, object] = {"subscriptions": SUBS, "batch_size": 3, "page_size": 9}
    values.update(settings)
    return capture_snapshot(emulator.settings(**values), out=out, **emulator.client_kwargs())


def test_capture_reproduces_the_live_rows(emulator: AzureEmulator, fleet: Snapshot, tmp_path: Path) -> None:
    captured = capture(emulator, tmp_path / "captured")
    assert read_snapshot(captured.path).source == "azure"
    assert captured.tenant_id == TENANT
    assert (captured.scope["subscriptions"], captured.scope["management_groups"]) == (SUBS, [])
    # The live scope's reconciliation travels with the snapshot, and a scan of it reports it.
    assert (captured.scope["visible_subscriptions"], captured.scope["subscriptions_not_scanned"]) == (4, [])
    assert captured.meta["capture"]["operator"]["azure_principal"]["object_id"] == IDENTITY_OBJECT_ID
    reread = SnapshotSource(captured)
    try:
        scope = reread.provenance()["scope"]
    finally:
        reread.close()
    assert (scope["kind"], scope["origin"], scope["tenant_id"]) == ("snapshot", "azure", TENANT)
    assert [s["id"] for s in scope["subscriptions_scanned"]] == sorted(SUBS)
    assert set(captured.tables) == set(CAPTURE_QUERIES)
    assert captured.meta["capture"]["resource_types"] == list(RESOURCE_TYPES)
    # Every table but resources is copied whole, row for row, with ARG's 16 columns.
    for name in CAPTURE_QUERIES:
        rows = list(iter_table(captured.tables[name]))
        assert all(list(row) == list(ARG_COLUMNS) for row in rows)
        original = sorted(iter_table(fleet.tables[name]), key=lambda row: row["id"])
        if name == "resources":
            original = [row for row in original if row["type"] in RESOURCE_TYPES]
            assert len(original) < fleet.tables["resources"].rows  # disks were left behind
        assert rows == original, name
    live = ResourceGraphSource.from_settings(emulator.settings(subscriptions=SUBS), **emulator.client_kwargs())
    offline = SnapshotSource(captured)
    try:
        for request in catalog_requests(AS_OF):
            expected = live.run(request)
            assert expected.complete and expected.table.num_rows > 0
            assert offline.run(request).table.equals(expected.table), request.ref
    finally:
        live.close()
        offline.close()


@pytest.mark.parametrize(
    ("fault", "line"),
    [
        (
            Fault(FaultKind.TRUNCATED, page=0, times=-1),
            "resources: subscriptions 1-3 of 4, part 1 of 3: Resource Graph truncated the result",
        ),
        (Fault(FaultKind.SERVER_ERROR, page=1, times=-1), "resources: subscriptions 1-3 of 4: page 2: HTTP 500"),
    ],
    ids=["truncated", "server-error"],
)
def test_incomplete_capture_writes_nothing(emulator: AzureEmulator, tmp_path: Path, fault: Fault, line: str) -> None:
    emulator.inject(fault)
    with pytest.raises(CaptureIncompleteError) as caught:
        capture(emulator, tmp_path / "out", max_retries=1)
    assert caught.value.exit_code == ExitCode.INCOMPLETE
    assert caught.value.message.startswith("capture incomplete, nothing written: " + line)
    assert caught.value.problems[0].startswith(line)
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # no temporary directory left either


def test_failed_capture_keeps_the_previous_snapshot(emulator: AzureEmulator, tmp_path: Path) -> None:
    first = capture(emulator, tmp_path / "snap")
    emulator.inject(Fault(FaultKind.FORBIDDEN))
    with pytest.raises(SourceError, match=r"Microsoft\.ResourceGraph/resources/read"):
        capture(emulator, tmp_path / "snap")
    again = read_snapshot(tmp_path / "snap")
    assert again.fingerprint() == first.fingerprint()
