"""LogAnalyticsSource through the loopback emulator: same rows as offline; partial, throttled, timed out."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from auditor.errors import ExitCode
from auditor.kql.request import QueryRequest, QueryResult
from auditor.snapshots.format import Snapshot
from auditor.sources.interface import SourceError
from auditor.sources.log_analytics import LogAnalyticsSource
from auditor.sources.snapshot import SnapshotSource
from tests.integration.azure_emulator import TENANT, WORKSPACE, AzureEmulator, Fault, FaultKind
from tests.integration.azure_emulator.fleet import build_fleet, subscription_ids

BEATS = QueryRequest(
    "heartbeats",
    1,
    "la_Heartbeat | summarize beats = count(), latest = tostring(max(TimeGenerated)) by Computer, OSType"
    " | order by Computer asc",
    "law",
    (("Computer", "string"), ("beats", "long"), ("latest", "string"), ("OSType", "string")),
)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    return build_fleet(
        tmp_path_factory.mktemp("la") / "snap", tenant=TENANT, subscriptions=subscription_ids(2), heartbeats=3
    )


@pytest.fixture(scope="module")
def expected(fleet: Snapshot) -> QueryResult:
    source = SnapshotSource(fleet)
    try:
        return source.run(BEATS)
    finally:
        source.close()


@pytest.fixture(scope="module")
def shared_emulator(fleet: Snapshot) -> Iterator[AzureEmulator]:
    with AzureEmulator(fleet, quota=None) as emulator:
        yield emulator


@pytest.fixture
def emulator(shared_emulator: AzureEmulator) -> Iterator[AzureEmulator]:
    shared_emulator.faults.clear()
    shared_emulator.law.stats.prefer.clear()
    yield shared_emulator
    shared_emulator.faults.clear()


def live(emulator: AzureEmulator, request: QueryRequest = BEATS, **settings: object) -> QueryResult:
    source = LogAnalyticsSource.from_settings(emulator.settings(**settings), **emulator.client_kwargs())
    try:
        return source.run(request)
    finally:
        source.close()


def test_rows_match_the_snapshot_source(emulator: AzureEmulator, expected: QueryResult) -> None:
    result = live(emulator)
    assert result.complete and result.problems == ()
    assert expected.table.num_rows > 0 and result.table.equals(expected.table)
    assert emulator.law.stats.prefer == ["wait=180"]
    assert emulator.credential.requests[-1][0] == (f"{emulator.url}/.default",)


def test_table_names_without_the_snapshot_prefix(emulator: AzureEmulator, expected: QueryResult) -> None:
    bare = QueryRequest("heartbeats", 1, BEATS.text.replace("la_Heartbeat", "Heartbeat"), "law", BEATS.columns)
    assert live(emulator, bare).table.equals(expected.table)


@pytest.mark.parametrize(
    "fault",
    [
        Fault(FaultKind.THROTTLE, service="law", times=2),
        Fault(FaultKind.SERVER_ERROR, service="law", times=2),
        Fault(FaultKind.RESET, service="law"),
    ],
    ids=lambda f: f.kind.value,
)
def test_transient_faults_recover(emulator: AzureEmulator, expected: QueryResult, fault: Fault) -> None:
    emulator.inject(fault)
    result = live(emulator)
    assert emulator.faults.fired
    assert result.complete and result.table.equals(expected.table)


def test_gateway_timeout_gets_more_server_time(emulator: AzureEmulator, expected: QueryResult) -> None:
    emulator.inject(Fault(FaultKind.GATEWAY_TIMEOUT, service="law", times=-1, min_wait=300))
    result = live(emulator)
    assert result.complete and result.table.equals(expected.table)
    assert emulator.law.stats.prefer == ["wait=180", "wait=360"]


def test_gateway_timeout_at_the_maximum_is_incomplete(emulator: AzureEmulator) -> None:
    emulator.inject(Fault(FaultKind.GATEWAY_TIMEOUT, service="law", times=-1, min_wait=601))
    result = live(emulator)
    assert emulator.law.stats.prefer == ["wait=180", "wait=360", "wait=600"]
    assert not result.complete and result.table.num_rows == 0
    assert result.problems == (
        f"workspace {WORKSPACE}: the query ran past the 600 s server timeout, the most Log Analytics allows "
        "(HTTP 504 GatewayTimeout: The query exceeded the server timeout.)",
    )


def test_partial_result_is_incomplete(emulator: AzureEmulator, expected: QueryResult) -> None:
    emulator.inject(Fault(FaultKind.PARTIAL, service="law"))
    result = live(emulator)
    assert not result.complete
    assert result.table.num_rows == expected.table.num_rows // 2
    assert result.problems == (
        f"workspace {WORKSPACE} returned a partial result: PartialError: There were some errors when processing "
        "your query. (Query result set has exceeded the internal limit.)",
    )


def test_throttling_that_persists_is_incomplete(emulator: AzureEmulator) -> None:
    emulator.inject(Fault(FaultKind.THROTTLE, service="law", times=-1))
    result = live(emulator, max_throttled_retries=2)
    assert not result.complete
    assert result.problems == (f"workspace {WORKSPACE}: still throttled (HTTP 429) after 2 waits",)


@pytest.mark.parametrize(("fault", "status"), [(FaultKind.UNAUTHORIZED, 401), (FaultKind.FORBIDDEN, 403)])
def test_access_denied_names_workspace_and_permission(emulator: AzureEmulator, fault: FaultKind, status: int) -> None:
    emulator.inject(Fault(fault, service="law"))
    with pytest.raises(SourceError) as caught:
        live(emulator)
    assert caught.value.exit_code == ExitCode.INCOMPLETE
    message = caught.value.message
    assert f"HTTP {status}" in message and WORKSPACE in message
    assert "Microsoft.OperationalInsights/workspaces/query/read" in message


def test_unknown_workspace_and_missing_settings(emulator: AzureEmulator) -> None:
    with pytest.raises(SourceError, match="HTTP 404 WorkspaceNotFoundError"):
        live(emulator, log_analytics_workspace_id="00000000-0000-0000-0000-000000000001")
    with pytest.raises(SourceError, match="no Log Analytics workspace"):
        LogAnalyticsSource(emulator.settings(log_analytics_workspace_id=None), **emulator.client_kwargs())
    with pytest.raises(SourceError, match="targets 'arg'"):
        live(emulator, QueryRequest("x", 1, "resources", "arg", (("id", "string"),)))
