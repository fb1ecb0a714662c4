"""ResourceGraphSource through the loopback emulator: the same rows as offline, every fault loud or recovered."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from auditor.errors import ExitCode
from auditor.kql.request import QueryRequest, QueryResult
from auditor.snapshots.format import Snapshot
from auditor.sources._paging import ProgressEvent
from auditor.sources.interface import SourceError
from auditor.sources.resource_graph import ResourceGraphSource
from auditor.sources.snapshot import SnapshotSource
from tests.integration.azure_emulator import TENANT, TOKEN, AzureEmulator, Fault, FaultKind
from tests.integration.azure_emulator.catalog import catalog_requests
from tests.integration.azure_emulator.fleet import AS_OF, build_fleet, subscription_ids

SUBS = subscription_ids(5)
REQUESTS = {request.query_id: request for request in catalog_requests(AS_OF)}
RESOURCES = QueryRequest(
    "all_resources",
    1,
    "resources | project id, name, type, subscriptionId | order by id asc",
    "arg",
    (("id", "string"), ("name", "string"), ("type", "string"), ("subscriptionId", "string")),
)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    return build_fleet(tmp_path_factory.mktemp("fleet") / "snap", tenant=TENANT, subscriptions=SUBS)


@pytest.fixture(scope="module")
def offline(fleet: Snapshot) -> Iterator[SnapshotSource]:
    source = SnapshotSource(fleet)
    yield source
    source.close()


@pytest.fixture(scope="module")
def shared_emulator(fleet: Snapshot) -> Iterator[AzureEmulator]:
    with AzureEmulator(fleet, quota=None, management_groups={"Contoso": SUBS[:3], "Fabrikam": SUBS[2:]}) as emulator:
        yield emulator


@pytest.fixture
def emulator(shared_emulator: AzureEmulator) -> Iterator[AzureEmulator]:
    shared_emulator.faults.clear()
    shared_emulator.arg.stats.bodies.clear()
    yield shared_emulator
    shared_emulator.faults.clear()


def live(emulator: AzureEmulator, request: QueryRequest, **settings: object) -> QueryResult:
    values: dict[str, object] = {"subscriptions": SUBS, "page_size": 7}
    values.update(settings)
    source = ResourceGraphSource.from_settings(emulator.settings(**values), **emulator.client_kwargs())
    try:
        return source.run(request)
    finally:
        source.close()


@pytest.mark.parametrize("query_id", sorted(REQUESTS))
@pytest.mark.parametrize(
    "scope",
    [
        {"batch_size": 2},
        {"batch_size": 100},
        {"subscriptions": [], "management_groups": ["Contoso", "Fabrikam"]},
        {"subscriptions": []},
    ],
    ids=["3-batches", "1-batch", "management-groups", "tenant"],
)
def test_catalog_query_matches_snapshot_source(
    emulator: AzureEmulator, offline: SnapshotSource, query_id: str, scope: dict[str, object]
) -> None:
    request = REQUESTS[query_id]
    result = live(emulator, request, **scope)
    expected = offline.run(request)
    assert result.complete, result.problems
    assert expected.table.num_rows > 0
    assert result.table.schema == expected.table.schema
    assert result.table.equals(expected.table)
    assert result.response_sha256 is not None and len(result.response_sha256) == 64


def test_scope_is_sent_as_configured(emulator: AzureEmulator) -> None:
    live(emulator, RESOURCES, batch_size=2, page_size=1000)
    sent = [tuple(body["subscriptions"]) for body in emulator.arg.stats.bodies]
    assert sent == [tuple(SUBS[0:2]), tuple(SUBS[2:4]), tuple(SUBS[4:5])]
    options = [body["options"] for body in emulator.arg.stats.bodies]
    assert all(o["$top"] == 1000 and o["resultFormat"] == "objectArray" for o in options)
    emulator.arg.stats.bodies.clear()
    live(emulator, RESOURCES, subscriptions=[], management_groups=["Contoso", "Fabrikam"])
    assert {tuple(body.get("managementGroups", ())) for body in emulator.arg.stats.bodies} == {("Contoso", "Fabrikam")}
    assert not any("subscriptions" in body for body in emulator.arg.stats.bodies)


def test_pages_follow_skip_tokens_and_report_progress(emulator: AzureEmulator, offline: SnapshotSource) -> None:
    events: list[ProgressEvent] = []
    source = ResourceGraphSource.from_settings(
        emulator.settings(subscriptions=SUBS, page_size=10), progress=events.append, **emulator.client_kwargs()
    )
    result = source.run(RESOURCES)
    source.close()
    rows = offline.run(RESOURCES).table.num_rows
    assert result.complete and result.table.num_rows == rows
    assert sum("$skipToken" in (body.get("options") or {}) for body in emulator.arg.stats.bodies) == -(-rows // 10) - 1
    assert events[-1] == ProgressEvent("all_resources@v1", -(-rows // 10), rows, rows, "done")
    assert [event.rows for event in events] == sorted(event.rows for event in events)


RECOVERABLE = [
    Fault(FaultKind.THROTTLE, page=1, times=2),
    Fault(FaultKind.SERVER_ERROR, page=2, times=3),
    Fault(FaultKind.RESET, page=1),
    Fault(FaultKind.SLOW, page=1, delay=0.6),
    Fault(FaultKind.DUPLICATES, page=2, rows=4),
    Fault(FaultKind.DUPLICATES, page=1, rows=2, times=-1),
    Fault(FaultKind.SKIP_ROWS, page=1, rows=2),
    Fault(FaultKind.WRONG_TOTAL, page=0, rows=5),
    Fault(FaultKind.WRONG_TOTAL, page=3, rows=1),
]


@pytest.mark.parametrize("fault", RECOVERABLE, ids=lambda f: f"{f.kind.value}-page{f.page}-x{f.times}")
@pytest.mark.parametrize("query_id", ["all_resources", "pending_patches"])
def test_fault_recovers_to_the_same_rows(
    emulator: AzureEmulator, offline: SnapshotSource, fault: Fault, query_id: str
) -> None:
    request = RESOURCES if query_id == "all_resources" else REQUESTS[query_id]
    emulator.inject(Fault(**{**fault.__dict__}))
    result = live(emulator, request, subscriptions=SUBS[:2], read_timeout_seconds=0.3)
    assert emulator.faults.fired, "the fault never fired"
    assert result.complete, result.problems
    assert result.table.equals(offline_rows(offline, request, SUBS[:2]))


def offline_rows(offline: SnapshotSource, request: QueryRequest, subs: list[str]) -> pa.Table:
    """The offline result restricted to `subs`, the scope the live source was given."""
    table = offline.run(request).table
    ids = table.column("subscriptionId" if "subscriptionId" in table.column_names else 0).to_pylist()
    return table.filter(pa.array([any(sub in str(value) for sub in subs) for value in ids]))


@pytest.mark.parametrize(
    ("fault", "line"),
    [
        (Fault(FaultKind.SUBSCRIPTION_LIMIT, page=1), "first 10,000 subscriptions"),
        (Fault(FaultKind.WRONG_TOTAL, rows=3, times=-1), "totalRecords is"),
        (Fault(FaultKind.SKIP_ROWS, page=1, rows=2, times=-1), "distinct rows arrived"),
        (Fault(FaultKind.SERVER_ERROR, page=1, times=-1), "HTTP 500 InternalServerError"),
        (Fault(FaultKind.THROTTLE, page=0, times=-1), "still throttled (HTTP 429)"),
        (Fault(FaultKind.RESET, page=2, times=-1), "gave up after"),
    ],
    ids=lambda v: v.kind.value if isinstance(v, Fault) else "",
)
def test_fault_that_persists_is_an_explicit_incomplete(emulator: AzureEmulator, fault: Fault, line: str) -> None:
    emulator.inject(fault)
    result = live(emulator, RESOURCES, subscriptions=SUBS[:2], max_retries=2, max_throttled_retries=2)
    assert not result.complete
    assert len(result.problems) == 1 and line in result.problems[0], result.problems


def test_a_truncated_batch_is_read_again_in_smaller_batches(emulator: AzureEmulator, offline: SnapshotSource) -> None:
    emulator.inject(Fault(FaultKind.TRUNCATED, page=0))
    result = live(emulator, RESOURCES, subscriptions=SUBS[:2])
    assert emulator.faults.fired and result.complete, result.problems
    assert [piece.scope for piece in result.pieces] == [
        f"subscriptions {SUBS[0]}, {SUBS[1]}, part 1 of 2",
        f"subscriptions {SUBS[0]}, {SUBS[1]}, part 2 of 2",
    ]
    assert result.table.equals(offline_rows(offline, RESOURCES, SUBS[:2]))


def test_truncation_that_splitting_cannot_help_is_incomplete(emulator: AzureEmulator) -> None:
    emulator.inject(Fault(FaultKind.TRUNCATED, page=0, times=-1))
    result = live(emulator, RESOURCES, subscriptions=SUBS[:1])
    assert not result.complete
    assert result.problems == (
        f"subscriptions {SUBS[0]}: Resource Graph truncated the result (resultTruncated=true): the query cannot be "
        "paged (it uses limit/take, summarizes, projects no id, or projects only dynamic columns)",
        f"subscriptions {SUBS[0]}: the result is too large for one response and the query declares no [partition] "
        "key to cut it by",
    )


def test_a_batch_that_fails_for_good_is_named_and_the_rest_is_kept(
    emulator: AzureEmulator, offline: SnapshotSource
) -> None:
    emulator.inject(Fault(FaultKind.SERVER_ERROR, subscription=SUBS[2], times=-1))
    result = live(emulator, RESOURCES, batch_size=2, max_retries=1)
    assert not result.complete
    assert result.problems == (
        "subscriptions 3-4 of 5: page 1: HTTP 500 InternalServerError: "
        "Encountered an internal server error. (gave up after 2 attempts)",
    )
    kept = set(result.table.column("subscriptionId").to_pylist())
    assert kept == {SUBS[0], SUBS[1], SUBS[4]}


@pytest.mark.parametrize(("fault", "status"), [(FaultKind.UNAUTHORIZED, 401), (FaultKind.FORBIDDEN, 403)])
def test_access_denied_names_scope_and_permission(emulator: AzureEmulator, fault: FaultKind, status: int) -> None:
    emulator.inject(Fault(fault))
    with pytest.raises(SourceError) as caught:
        live(emulator, RESOURCES, subscriptions=SUBS[:1])
    error = caught.value
    assert error.exit_code == ExitCode.INCOMPLETE
    assert f"HTTP {status}" in error.message and f"subscriptions {SUBS[0]}" in error.message
    assert "Microsoft.ResourceGraph/resources/read" in error.message and "Reader" in error.message
    assert "\n" not in error.message and "Reader" in error.hint


def test_query_the_service_rejects_is_a_source_error(emulator: AzureEmulator) -> None:
    bad = QueryRequest("bad", 1, "resources | frobnicate", "arg", (("id", "string"),))
    with pytest.raises(SourceError, match=r"Resource Graph rejected query bad@v1 \(subscriptions .*HTTP 400"):
        live(emulator, bad)


def test_law_query_is_refused(emulator: AzureEmulator) -> None:
    with pytest.raises(SourceError, match="targets 'law'"):
        live(emulator, QueryRequest("x", 1, "Heartbeat", "law", (("id", "string"),)))


def test_fingerprint_and_as_of(emulator: AzureEmulator) -> None:
    source = ResourceGraphSource.from_settings(
        emulator.settings(management_groups=["Contoso"]), **emulator.client_kwargs()
    )
    assert source.default_as_of() is None
    assert source.fingerprint() == {
        "kind": "azure",
        "tenant_id": TENANT,
        "cloud": "AzurePublic",
        "scope": {"subscriptions": [], "management_groups": ["Contoso"]},
    }
    source.close()


def test_tokens_are_asked_for_the_tenant_and_arm_scope(emulator: AzureEmulator) -> None:
    emulator.credential.requests.clear()
    live(emulator, RESOURCES, subscriptions=SUBS[:1])
    assert emulator.credential.requests[0] == (("https://management.azure.com/.default",), None)


def test_quota_is_paced_without_429(fleet: Snapshot, tmp_path: Path, offline: SnapshotSource) -> None:
    # 4 requests per 0.4 s window (the emulator then reports resets-after with milliseconds): 14 pages need
    # four windows, and the source must wait them out instead of provoking 429s.
    with AzureEmulator(fleet, quota=(4, 0.4)) as emulator:
        source = ResourceGraphSource.from_settings(
            emulator.settings(subscriptions=SUBS, page_size=4), **emulator.client_kwargs()
        )
        result = source.run(RESOURCES)
        source.close()
        assert result.complete and result.table.equals(offline.run(RESOURCES).table)
        assert emulator.arg.stats.requests == 14
        assert emulator.quota is not None and emulator.quota.throttled == 0
        assert source.governor.waited_seconds > 0.6


def test_quota_429_is_honoured(fleet: Snapshot, offline: SnapshotSource) -> None:
    with AzureEmulator(fleet, quota=(3, 1.0)) as emulator:
        assert emulator.quota is not None
        for _ in range(3):
            emulator.quota.check(TOKEN)  # someone else spent the quota
        source = ResourceGraphSource.from_settings(
            emulator.settings(subscriptions=SUBS, page_size=1000), **emulator.client_kwargs()
        )
        result = source.run(RESOURCES)
        source.close()
        assert result.complete and result.table.equals(offline.run(RESOURCES).table)
        assert emulator.quota.throttled == 1


def test_a_query_that_combines_subscriptions_cannot_be_batched(emulator: AzureEmulator) -> None:
    by_type = QueryRequest(
        "by_type",
        1,
        "resources | summarize n = count() by type | order by type asc",
        "arg",
        (("type", "string"), ("n", "long")),
    )
    batched = live(emulator, by_type, batch_size=2)
    assert not batched.complete
    assert batched.problems[0].startswith('type = ["microsoft.compute/disks"] came back from both subscriptions 1-2')
    assert "combines subscriptions" in batched.problems[0]
    assert live(emulator, by_type).complete


def test_wire_format_matches_the_rest_examples(emulator: AzureEmulator) -> None:
    # Shapes of refdata/rest-examples/resourcegraph/*FirstPageQuery.json, spoken by a plain HTTP client.
    body = {
        "subscriptions": SUBS[:1],
        "query": "resources | project id, name, type, location",
        "options": {"$skip": 0, "$top": 3},
    }
    request = urllib.request.Request(
        f"{emulator.url}/providers/Microsoft.ResourceGraph/resources?api-version=2024-04-01",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        first = json.load(response)
    assert set(first) == {"$skipToken", "count", "data", "facets", "resultTruncated", "totalRecords"}
    assert first["count"] == 3 and first["resultTruncated"] == "false" and first["facets"] == []
    assert isinstance(first["totalRecords"], int) and first["totalRecords"] > 3
    assert set(first["data"][0]) == {"id", "name", "type", "location"}
