"""Test-only credentials: a static bearer token, and a policy that lets it travel over loopback http.

Product code never turns off https enforcement; these are passed in by tests as `credential=` and
`per_call_policies=`.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from azure.core.credentials import AccessToken
from azure.core.pipeline import PipelineRequest
from azure.core.pipeline.policies import SansIOHTTPPolicy

TOKEN = "emulator-token"


class FakeCredential:
    """A TokenCredential that returns one static token and records what it was asked for."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.requests: list[tuple[tuple[str, ...], str | None]] = []

    def get_token(self, *scopes: str, tenant_id: str | None = None, **_: Any) -> AccessToken:
        """The static token (valid for an hour)."""
        self.requests.append((scopes, tenant_id))
        return AccessToken(self.token, int(time.time()) + 3600)


class AllowLoopbackHttp(SansIOHTTPPolicy):  # type: ignore[type-arg]
    """Lets BearerTokenCredentialPolicy send a token over http, to 127.0.0.1 only.

    azure-core moves `enforce_https` from the call options into the request context and reads it from there,
    so a per-call policy that runs before authentication can set it. Any other host fails the test: tests never
    leave the machine.
    """

    def on_request(self, request: PipelineRequest[Any]) -> None:
        host = urlsplit(request.http_request.url).hostname
        if host != "127.0.0.1":
            raise RuntimeError(f"tests may only talk to 127.0.0.1, not {host}")
        request.context["enforce_https"] = False
