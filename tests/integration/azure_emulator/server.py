"""AzureEmulator: Resource Graph and Log Analytics on 127.0.0.1, over a snapshot, with quota and faults."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from auditor.snapshots.format import Snapshot, read_snapshot
from auditor.sources.azure_settings import AzureSettings

from . import arg, law, subscriptions
from .auth import TENANT, TOKEN, AllowLoopbackHttp, FakeCredential
from .engine import KqlEngine
from .faults import Fault, FaultPlan
from .quota import QuotaWindow
from .reply import Reply, error

WORKSPACE = "0b3d6a2c-5c1e-4f7e-9a55-3c1f2b9e8d10"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    emulator: AzureEmulator

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out and hung up is part of the tests, not an error.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else every response waits ~40 ms for a delayed ACK
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self._send(error(400, "InvalidRequestContent", "The request content was invalid."))
            return
        self._send(self.server.emulator.dispatch(self.path, dict(self.headers.items()), body))

    def do_GET(self) -> None:
        self._send(self.server.emulator.dispatch_get(self.path, dict(self.headers.items())))

    def _send(self, reply: Reply) -> None:
        if reply.delay:
            threading.Event().wait(reply.delay)
        payload = json.dumps(reply.body, separators=(",", ":")).encode()
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if reply.cut:
                self.wfile.write(payload[: len(payload) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
            else:
                self.wfile.write(payload)
        except OSError:
            self.close_connection = True


class AzureEmulator:
    """Serves a snapshot as Resource Graph and Log Analytics on http://127.0.0.1:<free port>.

    `quota` is (requests, window seconds) per user, or None for no quota. `management_groups` maps group IDs to
    their subscriptions. `paging` is `lenient` or `conservative` (see `arg.PAGING_MODES`). Faults are armed with
    `inject`.
    """

    def __init__(
        self,
        snapshot: Snapshot | Path,
        *,
        quota: tuple[int, float] | None = (15, 5.0),
        management_groups: dict[str, list[str]] | None = None,
        workspaces: tuple[str, ...] = (WORKSPACE,),
        subscription_limit: int = 10000,
        extra_subscriptions: tuple[dict[str, Any], ...] = (),
        subscriptions_page_size: int = 100,
        paging: str = "lenient",
    ) -> None:
        self.snapshot = snapshot if isinstance(snapshot, Snapshot) else read_snapshot(snapshot)
        self.engine = KqlEngine(self.snapshot)
        self.faults = FaultPlan()
        self.quota = QuotaWindow(*quota) if quota else None
        self.arg = arg.ResourceGraphApi(
            self.engine,
            self.faults,
            self.quota,
            management_groups=management_groups or {},
            subscription_limit=subscription_limit,
            paging=paging,
        )
        self.law = law.LogAnalyticsApi(self.engine, self.faults, workspaces)
        visible = [{"id": sub} for sub in self.engine.subscriptions] + list(extra_subscriptions)
        self.subscriptions = subscriptions.SubscriptionsApi(
            TENANT, sorted(visible, key=lambda item: str(item["id"])), subscriptions_page_size
        )
        self.credential = FakeCredential()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL (Resource Manager and Log Analytics share it)."""
        assert self._server is not None, "start() the emulator first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> AzureEmulator:
        """Listen on a free loopback port."""
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.emulator = self
        self._thread = threading.Thread(target=self._server.serve_forever, name="azure-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and release the snapshot."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.engine.close()

    def __enter__(self) -> AzureEmulator:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def inject(self, *faults: Fault) -> None:
        """Arm faults."""
        self.faults.arm(*faults)

    def dispatch(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> Reply:
        """Route one POST."""
        lowered = {k.lower(): v for k, v in headers.items()}
        auth = lowered.get("authorization", "")
        if not auth.startswith("Bearer ") or auth.removeprefix("Bearer ") != TOKEN:
            return error(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
        parts = urlsplit(path)
        user = auth.removeprefix("Bearer ")
        if parts.path == arg.PATH:
            version = parse_qs(parts.query).get("api-version", [None])[0]
            return self.arg.handle(body, user, version)
        match = law.PATH.match(parts.path)
        if match:
            return self.law.handle(match.group(1), body, lowered.get("prefer", ""))
        return error(404, "NotFound", f"{parts.path} is not emulated")

    def dispatch_get(self, path: str, headers: dict[str, str]) -> Reply:
        """Route one GET: Resource Manager's subscriptions list."""
        lowered = {k.lower(): v for k, v in headers.items()}
        if lowered.get("authorization", "") != f"Bearer {TOKEN}":
            return error(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
        if urlsplit(path).path == subscriptions.PATH:
            return self.subscriptions.handle(path, lowered.get("host", "127.0.0.1"))
        return error(404, "NotFound", f"{urlsplit(path).path} is not emulated")

    def settings(self, **overrides: Any) -> AzureSettings:
        """[azure] pointing at this emulator, with fast retries for tests."""
        values: dict[str, Any] = {
            "tenant_id": TENANT,
            "resource_manager_url": self.url,
            "log_analytics_url": self.url,
            "log_analytics_workspace_id": WORKSPACE,
            "backoff_seconds": 0.01,
            "backoff_max_seconds": 0.05,
            "connection_timeout_seconds": 2,
            "read_timeout_seconds": 5,
            "quota_margin_seconds": 0.01,
        }
        values.update(overrides)
        return AzureSettings(**values)

    def client_kwargs(self) -> dict[str, Any]:
        """What a source needs to talk to the emulator: the fake credential and the loopback-http policy."""
        return {"credential": self.credential, "per_call_policies": [AllowLoopbackHttp()]}
