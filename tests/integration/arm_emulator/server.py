"""A loopback ARM for the real SDK clients: routes, api-versions, bearer tokens, paging and error shapes."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote

from . import exemption_api, other_api, policy_api
from .state import ArmError, ArmState, is_within, key, parse_scope

ROUTE = re.compile(
    r"^(?P<scope>.*?)/providers/(?P<ns>Microsoft\.Authorization|Microsoft\.PolicyInsights)/(?P<rest>.+)$", re.IGNORECASE
)
POLICY_VERSIONS = {"2026-06-01", "2025-03-01", "2025-01-01", "2024-04-01", "2023-04-01", "2021-06-01"}
API_VERSIONS = {
    "policydefinitions": POLICY_VERSIONS,
    "policysetdefinitions": POLICY_VERSIONS,
    "policyassignments": POLICY_VERSIONS,
    "policyexemptions": {"2020-07-01-preview", "2022-07-01-preview", "2024-12-01-preview"},
    "roleassignments": {"2022-04-01", "2020-10-01-preview", "2020-04-01-preview"},
    "remediations": {"2019-07-01", "2021-10-01", "2024-10-01"},
    "policystates": {"2019-10-01", "2024-10-01"},
}
COLLECTIONS = {
    "policydefinitions": policy_api.DEFINITIONS,
    "policysetdefinitions": policy_api.SETS,
    "policyassignments": policy_api.ASSIGNMENTS,
}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # otherwise every request waits ~40 ms for delayed ACKs
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        # http.server collapses a leading "//" in self.path; the request line keeps what the client sent
        target = self.requestline.split(" ")[1] if self.requestline.count(" ") >= 2 else self.path
        raw_path, _, raw_query = target.partition("?")
        path, query = unquote(raw_path), {k: v[0] for k, v in parse_qs(raw_query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body: Any = None
        state = self.server.state
        try:
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError as exc:
                    raise ArmError(
                        400, "InvalidRequestContent", "The request content was invalid and could not be deserialized."
                    ) from exc
            if not str(self.headers.get("Authorization", "")).startswith("Bearer "):
                raise ArmError(
                    401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing."
                )
            with state.lock:
                status, payload = self.server.route(method, path, query, body)
        except ArmError as error:
            status, payload = error.status, error.body()
        with state.lock:
            state.requests.append((method, path, body, status))
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-ms-request-id", "emulator")
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: ArmState
    base_url: str

    def route(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        if "//" in path:
            raise ArmError(400, "InvalidRequestUri", f"The request URI '{path}' is not valid.")
        match = ROUTE.match(path)
        if match is None:
            raise ArmError(404, "NoRegisteredProviderFound", f"No route for '{path}'.")
        parts = match.group("rest").split("/")
        collection = parts[0].lower()
        versions = API_VERSIONS.get(collection)
        if versions is None:
            raise ArmError(404, "InvalidResourceType", f"The resource type '{parts[0]}' could not be found.")
        version = query.get("api-version")
        if version is None:
            raise ArmError(
                400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required."
            )
        if version not in versions:
            raise ArmError(
                400, "InvalidApiVersionParameter", f"The api-version '{version}' is invalid for '{parts[0]}'."
            )
        scope = parse_scope(match.group("scope"), allow_resource=collection in ("roleassignments", "policyexemptions"))
        if any(is_within(scope.canonical or "/", denied) for denied in self.state.denied_scopes):
            raise ArmError(
                403,
                "AuthorizationFailed",
                f"The client does not have authorization to perform action over scope '{scope.canonical}'.",
            )
        name = parts[1] if len(parts) == 2 else None
        if collection == "policystates":
            if method != "POST" or parts[1:] != ["latest", "summarize"]:
                raise ArmError(404, "InvalidResourceType", "Only policyStates/latest/summarize is emulated.")
            return other_api.summarize(self.state, scope, self.base_url)
        if len(parts) > 2:
            raise ArmError(404, "InvalidResourceType", f"No route for '{path}'.")
        if name is None:
            if method != "GET":
                raise ArmError(405, "MethodNotAllowed", f"{method} is not allowed on a collection.")
            return 200, self._page(path, query, self._list(collection, scope, query.get("$filter")))
        return self._item(method, collection, scope, name, body)

    def _list(self, collection: str, scope: Any, filter_: str | None) -> list[dict[str, Any]]:
        if collection in COLLECTIONS:
            return policy_api.listing(self.state, scope, COLLECTIONS[collection], filter_)
        if collection == "roleassignments":
            return other_api.roles_listing(self.state, scope, filter_)
        if collection == "policyexemptions":
            return exemption_api.listing(self.state, scope, filter_)
        return [r.body for r in self.state.remediations.values() if key(r.scope) == key(scope.canonical)]

    def _item(self, method: str, collection: str, scope: Any, name: str, body: Any) -> tuple[int, Any]:
        state = self.state
        handlers: dict[str, Callable[[], tuple[int, Any]]]
        if collection in COLLECTIONS:
            handlers = {
                "PUT": lambda: policy_api.put(state, scope, COLLECTIONS[collection], name, body),
                "GET": lambda: policy_api.get(state, scope, COLLECTIONS[collection], name),
                "DELETE": lambda: policy_api.delete(state, scope, COLLECTIONS[collection], name),
            }
        elif collection == "policyexemptions":
            handlers = {
                "PUT": lambda: exemption_api.put(state, scope, name, body),
                "GET": lambda: exemption_api.get(state, scope, name),
                "DELETE": lambda: exemption_api.delete(state, scope, name),
            }
        elif collection == "roleassignments":
            rid = key(f"{scope.canonical}/providers/Microsoft.Authorization/roleAssignments/{name}")
            handlers = {
                "PUT": lambda: other_api.put_role(state, scope, name, body),
                "GET": lambda: other_api.get_role(state, rid),
                "DELETE": lambda: other_api.delete_role(state, rid),
            }
        else:
            handlers = {
                "PUT": lambda: other_api.put_remediation(state, scope, name, body),
                "GET": lambda: other_api.get_remediation(state, scope, name),
            }
        if method not in handlers:
            raise ArmError(405, "MethodNotAllowed", f"{method} is not emulated for {collection}.")
        return handlers[method]()

    def _page(self, path: str, query: dict[str, str], items: list[dict[str, Any]]) -> dict[str, Any]:
        start = int(query.get("$skiptoken", "0"))
        end = start + self.state.page_size
        next_link = None
        if end < len(items):
            rest = {k: v for k, v in query.items() if k != "$skiptoken"} | {"$skiptoken": str(end)}
            next_link = self.base_url + quote(path) + "?" + "&".join(f"{k}={quote(v)}" for k, v in rest.items())
        return {"value": items[start:end], "nextLink": next_link}


class ArmEmulator:
    """Serves ARM on 127.0.0.1 (a free port) until stopped. Use as a context manager."""

    def __init__(self, state: ArmState | None = None) -> None:
        self.state = state or ArmState()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = self.state
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._server.base_url = self.base_url
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="arm-emulator", daemon=True
        )

    def __enter__(self) -> ArmEmulator:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def writes(self) -> list[tuple[str, str, int]]:
        """(method, path, status) of every PUT and DELETE so far."""
        with self.state.lock:
            return [(m, p, s) for m, p, _, s in self.state.requests if m in ("PUT", "DELETE")]
