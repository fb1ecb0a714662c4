"""Resource Graph under the most conservative paging rules: results cut into hash partitions add up, figure for
figure, to the offline scan of the same snapshot."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditor.config import Config
from auditor.errors import ExitCode
from auditor.kql.catalog import Catalog
from auditor.reports.json import BreachesRenderer, SummaryRenderer
from auditor.scan import ScanResult, scan
from auditor.snapshots.format import Snapshot
from auditor.snapshots.generate import generate_fleet
from auditor.sources._paging import canonical_json
from auditor.sources.resource_graph import ResourceGraphSource
from auditor.sources.snapshot import SnapshotSource
from benchmarks.arg_requests import plan_scan
from tests.integration.azure_emulator import AzureEmulator
from tests.integration.azure_emulator.engine import KqlEngine
from tests.summaries import assert_same_figures, js

PARTITIONED = ("pending_patches", "maintenance_runs", "subscriptions")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    return generate_fleet(150, seed=11, out=tmp_path_factory.mktemp("fleet") / "snap")


@pytest.fixture(scope="module")
def engine(fleet: Snapshot) -> Iterator[KqlEngine]:
    engine = KqlEngine(fleet)
    yield engine
    engine.close()


def _scan(source: ResourceGraphSource | SnapshotSource, out: Path, as_of: object) -> ScanResult:
    return scan(
        Config(),
        source=source,
        out=out,
        as_of=as_of,  # type: ignore[arg-type]
        use_history=False,
        renderers=[SummaryRenderer(), BreachesRenderer()],
    )


@pytest.mark.parametrize("query_id", PARTITIONED)
def test_every_partition_set_covers_every_row_exactly_once(fleet: Snapshot, engine: KqlEngine, query_id: str) -> None:
    """The emulator's hash is not Resource Graph's, so partition i holds other machines here than in Azure; what
    the source relies on holds for both: for any N, the N partitions together are the whole result, once each."""
    as_of = SnapshotSource(fleet).default_as_of()
    query = Catalog().queries[query_id]
    request = query.render({"as_of": as_of} if "as_of" in query.params else {})
    assert request.partitioned is not None and request.partition_key == query.partition_key
    scope = engine.subscriptions
    whole = Counter(canonical_json(row) for row in engine.run(request.text, scope).rows)
    assert sum(whole.values()) > 0
    for count in (2, 3, 7):
        parts = [engine.run(request.partitioned(index, count), scope).rows for index in range(count)]
        assert Counter(canonical_json(row) for part in parts for row in part) == whole, count
        if query_id == "pending_patches":
            # Cut on machineId: a machine's groups never straddle two partitions.
            owners = [{row["machineId"] for row in part} for part in parts]
            assert sum(len(owner) for owner in owners) == len(set().union(*owners))


def test_conservative_emulator_refuses_to_page_summaries_and_id_less_results(fleet: Snapshot) -> None:
    request = Catalog().queries["pending_patches"].render({})
    with AzureEmulator(fleet, quota=None, paging="conservative") as emulator:
        rows = emulator.engine.run(request.text, emulator.engine.subscriptions).rows
        source = ResourceGraphSource.from_settings(
            emulator.settings(subscriptions=list(emulator.engine.subscriptions), batch_size=100, page_size=40),
            **emulator.client_kwargs(),
        )
        result = source.run(request)
        source.close()
        first = emulator.arg.stats.bodies[0]
    assert len(rows) > 40 and first["query"] == request.text
    assert emulator.arg.stats.truncated >= 1
    assert result.complete, result.problems
    assert result.table.num_rows == len(rows)
    partitioned = [piece for piece in result.pieces if piece.partition is not None]
    assert partitioned and all(piece.rows <= 40 for piece in result.pieces)
    assert sum(piece.rows for piece in result.pieces) == len(rows)


@pytest.mark.slow
def test_conservative_live_scan_equals_offline_and_records_its_partitions(fleet: Snapshot, tmp_path: Path) -> None:
    """The fast variant of the 3,000-machine acceptance test: 150 machines, 40-row pages."""
    as_of = SnapshotSource(fleet).default_as_of()
    offline = _scan(SnapshotSource(fleet), tmp_path / "offline", as_of)
    subscriptions = list(fleet.scope["subscriptions"])
    with AzureEmulator(fleet, quota=None, paging="conservative") as emulator:
        source = ResourceGraphSource.from_settings(
            emulator.settings(subscriptions=subscriptions, page_size=40), **emulator.client_kwargs()
        )
        live = _scan(source, tmp_path / "live", as_of)
        truncated, requests = emulator.arg.stats.truncated, emulator.arg.stats.requests
    assert truncated > 0, "the fleet must overflow a page, or this test proves nothing"
    # benchmarks/arg_requests.py plans a live scan's requests from the snapshot alone: it must count these.
    planned = plan_scan(fleet.path, batch_size=100, page_size=40, conservative=True)
    assert sum(plan.requests for plan in planned) == requests
    assert live.problems == [] and live.exit_code == ExitCode.OK == offline.exit_code
    assert (live.pack / "breaches.json").read_bytes() == (offline.pack / "breaches.json").read_bytes()
    assert_same_figures(live.pack, offline.pack)
    manifest = json.loads((live.pack / "manifest.json").read_text())
    recorded = {entry["query"]: entry for entry in manifest["partitioning"]}
    rows = {query["id"]: query["rows"] for query in manifest["queries"]}
    for ref, entry in recorded.items():
        assert sum(request["rows"] for request in entry["requests"]) == rows[ref.split("@")[0]], ref
    pending = recorded["pending_patches@v2"]
    assert pending["key"] == "machineId"
    assert any(request["partitions"] for request in pending["requests"])
    assert "partitioning" not in json.loads((offline.pack / "manifest.json").read_text())


@pytest.mark.slow
def test_live_scan_of_3000_machines_under_conservative_paging_equals_offline(tmp_path: Path) -> None:
    """Acceptance: a generated 3,000-machine fleet (about 750 machines a subscription, so pending_patches passes
    1,000 rows per batch), Resource Graph's real 1,000-row pages, no skip token for summaries or id-less results."""
    fleet = generate_fleet(3000, seed=3, out=tmp_path / "fleet")
    as_of = SnapshotSource(fleet).default_as_of()
    offline = _scan(SnapshotSource(fleet), tmp_path / "offline", as_of)
    with AzureEmulator(fleet, quota=None, paging="conservative") as emulator:
        source = ResourceGraphSource.from_settings(
            emulator.settings(subscriptions=list(fleet.scope["subscriptions"])), **emulator.client_kwargs()
        )
        live = _scan(source, tmp_path / "live", as_of)
        truncated = emulator.arg.stats.truncated
    assert truncated > 0
    assert live.problems == [] and live.exit_code == ExitCode.OK
    assert_same_figures(live.pack, offline.pack)
    assert js(live.summary)["machines"] == 3000
