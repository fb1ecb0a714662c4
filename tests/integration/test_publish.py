"""Publishing to Azure Monitor with the real LogsIngestionClient against a loopback Logs Ingestion emulator:
exact rows, token scope, retries, service errors; and samples/monitor declares exactly the rows' columns."""

from __future__ import annotations

import gzip
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError

from auditor.compliance.thresholds import Breach
from auditor.config import config_from_dict
from auditor.notify import ScanOutcome
from auditor.publish import COLUMNS, LogAnalyticsPublisher, PublishError, rows
from tests.integration.azure_emulator.auth import TOKEN, AllowLoopbackHttp, FakeCredential
from tests.summaries import typed

RULE_ID = "dcr-" + "0123456789abcdef" * 2
STREAM = "Custom-AuditorCompliance_CL"
MONITOR = Path(__file__).resolve().parents[2] / "samples" / "monitor"
_PATH = re.compile(r"^/dataCollectionRules/(?P<rule>[^/]+)/streams/(?P<stream>[^/?]+)$")


@dataclass
class Reply:
    status: int = 204
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    delay: float = 0.0


@dataclass
class Upload:
    rule: str
    stream: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    rows: list[dict[str, Any]]
    at: float


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    emulator: IngestionEmulator

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._send(self.server.emulator.handle(self.path, {k.lower(): v for k, v in self.headers.items()}, raw))

    def _send(self, reply: Reply) -> None:
        if reply.delay:
            time.sleep(reply.delay)
        payload = json.dumps(reply.body).encode() if reply.body is not None else b""
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if payload:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            self.close_connection = True


class IngestionEmulator:
    """The Logs Ingestion API on http://127.0.0.1:<free port>: `POST /dataCollectionRules/{rule}/streams/{stream}
    ?api-version=2023-01-01` with a bearer token and a gzip-encoded JSON array; answers 204, or from a script."""

    def __init__(self, *script: Reply) -> None:
        self.script = list(script)
        self.uploads: list[Upload] = []
        self.lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.emulator = self

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def handle(self, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        parts = urlsplit(path)
        match = _PATH.match(parts.path)
        if headers.get("authorization") != f"Bearer {TOKEN}":
            return Reply(401, body={"error": {"code": "InvalidToken", "message": "The token is missing or invalid."}})
        if match is None:
            return Reply(404, body={"error": {"code": "NotFound", "message": f"{parts.path} is not emulated"}})
        body = gzip.decompress(raw) if headers.get("content-encoding") == "gzip" else raw
        with self.lock:
            self.uploads.append(
                Upload(
                    match["rule"], match["stream"], parse_qs(parts.query), headers, json.loads(body), time.monotonic()
                )
            )
            if self.script:
                return self.script.pop(0)
        if match["rule"] != RULE_ID:
            return Reply(
                404, body={"error": {"code": "InvalidDcrImmutableId", "message": "No such data collection rule."}}
            )
        if match["stream"] != STREAM:
            return Reply(
                400, body={"error": {"code": "InvalidStream", "message": "The stream is not declared in the DCR."}}
            )
        return Reply(204)

    def __enter__(self) -> IngestionEmulator:
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()


def publisher(
    endpoint: str, credential: Any = None, azure: dict[str, Any] | None = None, **settings: Any
) -> LogAnalyticsPublisher:
    """The publisher a config with [publish.log_analytics] at `endpoint` makes, with the test credential and the
    loopback-http policy (product code never turns https enforcement off)."""
    config = config_from_dict(
        {
            "thresholds": {"min_compliance_rate": 90, "by_environment": {"Production": 95}},
            "publish": {
                "log_analytics": {
                    "endpoint": endpoint,
                    "rule_id": RULE_ID,
                    "stream_name": STREAM,
                    "backoff_seconds": 0,
                    **settings,
                }
            },
            **({"azure": azure} if azure else {}),
        }
    )
    made = LogAnalyticsPublisher.from_config(
        config, credential=credential or FakeCredential(), per_call_policies=[AllowLoopbackHttp()]
    )
    assert made is not None
    return made


PROD_BREACH = Breach(
    "min_compliance_rate",
    "environment",
    "Production",
    50.0,
    95.0,
    "high",
    "compliance rate of environment Production must be at least 95.00%; observed 50.00%",
    "pending_patches@v1",
)
OVERALL_BREACH = Breach(
    "min_compliance_rate",
    "overall",
    None,
    60.0,
    90.0,
    "high",
    "compliance rate must be at least 90.00%; observed 60.00%",
    "pending_patches@v1",
)
SUB = "11111111-1111-1111-1111-111111111111"


def group(
    key: str, machines: int, compliant: int, non_compliant: int, unknown: int, rate: float | None
) -> dict[str, Any]:
    return {
        "key": key,
        "machines": machines,
        "compliant": compliant,
        "non_compliant": non_compliant,
        "unknown": unknown,
        "compliance_rate": rate,
    }


def scan_outcome() -> ScanOutcome:
    summary = {
        "as_of": "2026-11-01T06:00:00Z",
        "machines": 5,
        "compliant": 3,
        "non_compliant": 1,
        "unknown": 1,
        "compliance_rate": 60.0,
        "by_environment": [
            group("Dev", 3, 2, 0, 1, 66.67),
            group("Production", 2, 1, 1, 0, 50.0),
            group("Empty", 0, 0, 0, 0, None),
        ],
        "by_subscription": [group(SUB, 5, 3, 1, 1, 60.0)],
    }
    return ScanOutcome(
        pack_id="pack-20261101T060000Z-0f8e2d4c",
        run_id="0f8e2d4c-1b3a-4c5d-9e6f-7a8b9c0d1e2f",
        fingerprint="cd" * 32,
        as_of="2026-11-01T06:00:00Z",
        complete=True,
        problems=(),
        summary=typed(summary),
        breaches=(OVERALL_BREACH, PROD_BREACH),
        target=90.0,
        tool_version="0.1.0",
    )


COMMON = {
    "TimeGenerated": "2026-11-01T06:00:00Z",
    "AsOf": "2026-11-01T06:00:00Z",
    "Complete": True,
    "PackId": "pack-20261101T060000Z-0f8e2d4c",
    "RunId": "0f8e2d4c-1b3a-4c5d-9e6f-7a8b9c0d1e2f",
    "ManifestSha256": "cd" * 32,
    "ToolVersion": "0.1.0",
}


def metric(
    dimension: str,
    key: str | None,
    machines: int,
    compliant: int,
    non_compliant: int,
    unknown: int,
    rate: float | None,
    target: float | None,
    breaches: int,
) -> dict[str, Any]:
    return {
        **COMMON,
        "RecordType": "metric",
        "Dimension": dimension,
        "Key": key,
        "Machines": machines,
        "Compliant": compliant,
        "NonCompliant": non_compliant,
        "Unknown": unknown,
        "ComplianceRate": rate,
        "Target": target,
        "Breaches": breaches,
    }


EXPECTED_ROWS = [
    metric("overall", None, 5, 3, 1, 1, 60.0, 90.0, 2),
    metric("environment", "Dev", 3, 2, 0, 1, 66.67, None, 0),
    metric("environment", "Production", 2, 1, 1, 0, 50.0, 95.0, 1),
    metric("environment", "Empty", 0, 0, 0, 0, None, None, 0),
    metric("subscription", SUB, 5, 3, 1, 1, 60.0, None, 0),
    {
        **COMMON,
        "RecordType": "breach",
        "Dimension": "overall",
        "Key": None,
        "Rule": "min_compliance_rate",
        "Severity": "high",
        "Observed": 60.0,
        "Threshold": 90.0,
        "Message": OVERALL_BREACH.message,
        "Query": "pending_patches@v1",
    },
    {
        **COMMON,
        "RecordType": "breach",
        "Dimension": "environment",
        "Key": "Production",
        "Rule": "min_compliance_rate",
        "Severity": "high",
        "Observed": 50.0,
        "Threshold": 95.0,
        "Message": PROD_BREACH.message,
        "Query": "pending_patches@v1",
    },
]


def test_rows_are_one_per_group_and_one_per_breach() -> None:
    assert rows(scan_outcome(), {"Production": 95.0}) == EXPECTED_ROWS


def test_upload_with_the_real_client() -> None:
    credential = FakeCredential()
    with IngestionEmulator() as emulator:
        publisher(emulator.endpoint, credential).publish(scan_outcome())
    [upload] = emulator.uploads
    assert (upload.rule, upload.stream, upload.query) == (RULE_ID, STREAM, {"api-version": ["2023-01-01"]})
    assert upload.rows == EXPECTED_ROWS
    assert upload.headers["content-encoding"] == "gzip"
    assert upload.headers["content-type"] == "application/json"
    assert upload.headers["user-agent"].startswith("auditor/0.1.0 ")
    assert credential.requests == [(("https://monitor.azure.com/.default",), None)]


def test_token_scope_and_tenant_follow_the_cloud() -> None:
    tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    gov = {"tenant_id": tenant, "cloud": "AzureUSGovernment"}
    with IngestionEmulator() as emulator:
        credential = FakeCredential()
        publisher(emulator.endpoint, credential, azure=gov).publish(scan_outcome())
        assert credential.requests[0][0] == ("https://monitor.azure.us/.default",)
        override = FakeCredential()
        publisher(emulator.endpoint, override, azure=gov, credential_scope="https://monitor.example/.default").publish(
            scan_outcome()
        )
        assert override.requests[0][0] == ("https://monitor.example/.default",)
    assert len(emulator.uploads) == 2


def test_throttling_and_server_errors_are_retried() -> None:
    with IngestionEmulator(Reply(429, {"Retry-After": "1"}), Reply(503)) as emulator:
        started = time.monotonic()
        publisher(emulator.endpoint, max_retries=2).publish(scan_outcome())
    assert len(emulator.uploads) == 3 and emulator.uploads[2].rows == EXPECTED_ROWS
    assert emulator.uploads[1].at - emulator.uploads[0].at >= 0.95  # Retry-After: 1 was honoured
    assert time.monotonic() - started < 5


def test_retries_run_out() -> None:
    with IngestionEmulator(*[Reply(503)] * 3) as emulator, pytest.raises(PublishError) as info:
        publisher(emulator.endpoint, max_retries=1).publish(scan_outcome())
    assert info.value.message == f"publish.log_analytics: {emulator.endpoint.removeprefix('http://')} answered HTTP 503"
    assert len(emulator.uploads) == 2


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"stream_name": "Custom-Other_CL"}, "answered HTTP 400 InvalidStream: The stream is not declared in the DCR."),
        ({"rule_id": "dcr-" + "f" * 32}, "answered HTTP 404 InvalidDcrImmutableId: No such data collection rule."),
    ],
)
def test_service_errors_name_host_and_code(settings: dict[str, Any], expected: str) -> None:
    with IngestionEmulator() as emulator, pytest.raises(PublishError) as info:
        publisher(emulator.endpoint, **settings).publish(scan_outcome())
    host = emulator.endpoint.removeprefix("http://")
    assert info.value.message == f"publish.log_analytics: {host} {expected}"
    assert "Monitoring Metrics Publisher" in info.value.hint


def test_a_wrong_token_and_a_failing_credential() -> None:
    class Failing:
        def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
            raise ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token ...\n(many lines)")

    with IngestionEmulator() as emulator:
        with pytest.raises(PublishError) as info:
            publisher(emulator.endpoint, FakeCredential("wrong-token")).publish(scan_outcome())
        host = emulator.endpoint.removeprefix("http://")
        assert (
            info.value.message == f"publish.log_analytics: {host} answered HTTP 401 InvalidToken: "
            "The token is missing or invalid."
        )
        with pytest.raises(PublishError) as info:
            publisher(emulator.endpoint, Failing()).publish(scan_outcome())
        assert (
            info.value.message == "publish.log_analytics: could not get a token for https://monitor.azure.com/.default"
        )
    assert len(emulator.uploads) == 0


def test_a_slow_endpoint_times_out_and_a_closed_one_is_unreachable() -> None:
    with IngestionEmulator(Reply(delay=1.0)) as emulator, pytest.raises(PublishError) as info:
        publisher(emulator.endpoint, timeout_seconds=0.2, max_retries=0).publish(scan_outcome())
    host = emulator.endpoint.removeprefix("http://")
    assert info.value.message == f"publish.log_analytics: {host} did not answer within 0.2 s"
    with pytest.raises(PublishError) as info:  # the emulator is gone: nothing listens on its port
        publisher(emulator.endpoint, max_retries=0).publish(scan_outcome())
    assert info.value.message == f"publish.log_analytics: {host} could not be reached (ServiceRequestError)"


def test_samples_monitor_declares_the_published_columns() -> None:
    table = json.loads((MONITOR / "table.json").read_text())
    dcr = json.loads((MONITOR / "dcr.json").read_text())
    schema = table["properties"]["schema"]
    assert schema["name"] == "AuditorCompliance_CL"
    # The Tables API spells the type dateTime; a DCR stream declaration spells it datetime.
    assert {c["name"]: c["type"].lower() for c in schema["columns"]} == COLUMNS
    assert all(c["description"] for c in schema["columns"])
    stream = dcr["properties"]["streamDeclarations"][STREAM]["columns"]
    assert {c["name"]: c["type"] for c in stream} == COLUMNS
    assert [c["name"] for c in stream] == list(COLUMNS)
    [flow] = dcr["properties"]["dataFlows"]
    assert flow["streams"] == [STREAM] and flow["outputStream"] == STREAM
    assert flow["destinations"] == [d["name"] for d in dcr["properties"]["destinations"]["logAnalytics"]]
    for row in EXPECTED_ROWS:
        assert set(row) <= set(COLUMNS)


@pytest.mark.parametrize("name", ["alert-low-compliance.kql", "alert-no-recent-scan.kql"])
def test_alert_queries_use_published_columns(name: str) -> None:
    text = "\n".join(line for line in (MONITOR / name).read_text().splitlines() if not line.startswith("//"))
    assert text.startswith("AuditorCompliance_CL\n")
    assert 'RecordType == "metric" and Dimension == "overall"' in text
    words = set(re.findall(r"\b[A-Z][A-Za-z0-9]+\b", text)) - {"AuditorCompliance_CL"}
    produced = {"LastComplete", "LastAny"}  # columns the query itself makes
    assert words - produced <= set(COLUMNS)
