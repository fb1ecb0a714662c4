"""Webhook delivery against a loopback receiver: exact bodies, retries with backoff, Retry-After, timeouts,
refusals and redirects; failures are warnings that name the host, never the URL."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import pytest

from auditor.config import NotifySettings
from auditor.notify import FORMATTERS, NotifyError, notify
from auditor.notify.webhook import post_json
from tests.unit.test_notify import outcome

SECRET_PATH = "/webhookb2/0000/IncomingWebhook/s3cret-token"


@dataclass
class Reply:
    """What the receiver answers to one request."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    body: bytes = b"1"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any
    at: float


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    receiver: Receiver

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up is part of the tests


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else every response waits ~40 ms for a delayed ACK
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        receiver = self.server.receiver
        with receiver.lock:
            receiver.requests.append(Received(self.path, dict(self.headers.items()), json.loads(raw), time.monotonic()))
            reply = receiver.script.pop(0) if receiver.script else Reply()
        if reply.delay:
            time.sleep(reply.delay)
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except OSError:
            self.close_connection = True


class Receiver:
    """A webhook on http://127.0.0.1:<free port> that records every body and answers from a script
    (then 200)."""

    def __init__(self, *script: Reply) -> None:
        self.script = list(script)
        self.requests: list[Received] = []
        self.lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.receiver = self

    def url(self, path: str = SECRET_PATH) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Receiver:
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()


class Sleeps(list[float]):
    """An injected sleep that records the waits instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def settings(*webhooks: dict[str, Any]) -> NotifySettings:
    return NotifySettings.model_validate({"webhooks": list(webhooks)})


def test_each_kind_posts_its_exact_payload() -> None:
    scan = outcome()
    with Receiver() as receiver:
        hooks = settings(
            {"kind": "teams", "url_env": "TEAMS_WEBHOOK_URL"},
            {"kind": "slack", "url": receiver.url("/services/T0/B0/s3cret")},
            {"kind": "generic", "url": receiver.url("/generic"), "max_breaches": 1},
        )
        warnings = notify(hooks, scan, environ={"TEAMS_WEBHOOK_URL": receiver.url()})
    assert warnings == []
    assert [r.path for r in receiver.requests] == [SECRET_PATH, "/services/T0/B0/s3cret", "/generic"]
    assert [r.body for r in receiver.requests] == [
        FORMATTERS["teams"].payload(scan, max_breaches=10),
        FORMATTERS["slack"].payload(scan, max_breaches=10),
        FORMATTERS["generic"].payload(scan, max_breaches=1),
    ]
    teams = receiver.requests[0].body
    assert teams["type"] == "message"
    assert teams["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert teams["attachments"][0]["content"]["type"] == "AdaptiveCard"
    assert set(receiver.requests[1].body) == {"blocks", "text"}
    assert receiver.requests[2].body["breaches_total"] == 3 and len(receiver.requests[2].body["breaches"]) == 1
    headers = {k.lower(): v for k, v in receiver.requests[0].headers.items()}
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert headers["user-agent"] == "auditor/0.1.0"


def test_5xx_is_retried_with_exponential_backoff() -> None:
    sleeps = Sleeps()
    with Receiver(Reply(500), Reply(502), Reply(202)) as receiver:
        delivery = post_json(receiver.url(), {"a": 1}, timeout=2, retries=3, backoff=0.5, sleep=sleeps)
    assert (delivery.status, delivery.attempts) == (202, 3)
    assert sleeps == [0.5, 1.0]
    assert [r.body for r in receiver.requests] == [{"a": 1}] * 3


def test_429_honours_retry_after() -> None:
    sleeps = Sleeps()
    with Receiver(Reply(429, {"Retry-After": "7"}), Reply(200)) as receiver:
        delivery = post_json(receiver.url(), {"a": 1}, timeout=2, retries=2, backoff=0.5, sleep=sleeps)
    assert (delivery.status, delivery.attempts, sleeps) == (200, 2, [7.0])


def test_a_long_retry_after_ends_the_retries() -> None:
    sleeps = Sleeps()
    with Receiver(Reply(503, {"Retry-After": "600"})) as receiver, pytest.raises(NotifyError) as info:
        post_json(receiver.url(), {"a": 1}, timeout=2, retries=3, backoff=0.5, sleep=sleeps)
    assert info.value.message == f"webhook {receiver.host} answered HTTP 503 and asked to retry after 600 s; gave up"
    assert (len(receiver.requests), sleeps) == (1, [])


def test_retries_run_out() -> None:
    sleeps = Sleeps()
    with Receiver(*[Reply(503)] * 5) as receiver, pytest.raises(NotifyError) as info:
        post_json(receiver.url(), {"a": 1}, timeout=2, retries=2, backoff=1, sleep=sleeps)
    assert info.value.message == f"webhook {receiver.host} failed after 3 attempts: HTTP 503"
    assert (len(receiver.requests), sleeps) == (3, [1, 2])


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410])
def test_client_errors_are_not_retried(status: int) -> None:
    with Receiver(Reply(status)) as receiver, pytest.raises(NotifyError) as info:
        post_json(receiver.url(), {"a": 1}, timeout=2, retries=3, backoff=0, sleep=Sleeps())
    assert info.value.message == f"webhook {receiver.host} refused the message: HTTP {status}"
    assert len(receiver.requests) == 1


def test_redirects_are_not_followed() -> None:
    with Receiver(Reply(307, {"Location": "/elsewhere"})) as receiver, pytest.raises(NotifyError, match="HTTP 307"):
        post_json(receiver.url(), {"a": 1}, timeout=2, retries=3, backoff=0, sleep=Sleeps())
    assert [r.path for r in receiver.requests] == [SECRET_PATH]


def test_a_slow_receiver_times_out_and_is_retried() -> None:
    sleeps = Sleeps()
    with Receiver(Reply(delay=1.0), Reply(delay=1.0)) as receiver:
        started = time.monotonic()
        with pytest.raises(NotifyError) as info:
            post_json(receiver.url(), {"a": 1}, timeout=0.2, retries=1, backoff=0.25, sleep=sleeps)
        elapsed = time.monotonic() - started
    assert info.value.message == f"webhook {receiver.host} failed after 2 attempts: timed out"
    assert len(receiver.requests) == 2 and sleeps == [0.25]
    assert elapsed < 0.9  # two 0.2 s timeouts, not two 1 s replies


def test_refused_connection() -> None:
    with Receiver() as receiver:
        url = receiver.url()
    with pytest.raises(NotifyError) as info:  # the receiver is gone: nothing listens on its port
        post_json(url, {"a": 1}, timeout=1, retries=1, backoff=0, sleep=Sleeps())
    assert (
        info.value.message
        == f"webhook {receiver.host} failed after 2 attempts: ConnectionRefusedError: Connection refused"
    )


def test_failures_become_warnings_naming_the_host_only() -> None:
    scan = outcome()
    with Receiver(Reply(404), Reply(500), Reply(500)) as receiver:
        hooks = settings(
            {"kind": "teams", "url": receiver.url(), "retries": 0},
            {"kind": "slack", "url_env": "SLACK_WEBHOOK_URL", "retries": 1, "backoff_seconds": 0},
            {"kind": "generic", "url_env": "MISSING_URL"},
            {"kind": "generic", "url": receiver.url("/only-when-incomplete"), "on": "incomplete"},
            {"kind": "generic", "url": receiver.url("/always"), "on": "always"},
        )
        warnings = notify(
            hooks, scan, environ={"SLACK_WEBHOOK_URL": receiver.url("/services/T0/B0/s3cret")}, sleep=Sleeps()
        )
    tail = " (the pack is complete; only this notification is missing)"
    assert warnings == [
        f"notify.webhooks[0] (teams, {receiver.host}): webhook {receiver.host} refused the message: HTTP 404{tail}",
        f"notify.webhooks[1] (slack, SLACK_WEBHOOK_URL): webhook {receiver.host} failed after 2 attempts: HTTP 500{tail}",
        f"notify.webhooks[2] (generic, MISSING_URL): environment variable MISSING_URL is not set{tail}",
    ]
    assert [r.path for r in receiver.requests] == [
        SECRET_PATH,
        "/services/T0/B0/s3cret",
        "/services/T0/B0/s3cret",
        "/always",
    ]
    assert not any("s3cret" in w for w in warnings)
