"""Test-only glue for the real SDK clients: a fake credential and plain-http allowance for loopback.

Never import this from product code: it turns off the SDK's refusal to send a bearer token over http.
"""

from __future__ import annotations

import time
from typing import Any

from azure.core.credentials import AccessToken, AccessTokenInfo
from azure.core.pipeline import PipelineRequest
from azure.core.pipeline.policies import SansIOHTTPPolicy


class FakeCredential:
    """A TokenCredential that hands out a fixed token and remembers the scopes asked for."""

    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken("emulator-token", int(time.time()) + 3600)

    def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
        self.scopes.append(scopes)
        return AccessTokenInfo("emulator-token", int(time.time()) + 3600)


class AllowHttpForLoopback(SansIOHTTPPolicy[Any, Any]):
    """Per-call policy: lets BearerTokenCredentialPolicy send the token to http://127.0.0.1 (tests only)."""

    def on_request(self, request: PipelineRequest[Any]) -> None:
        request.context["enforce_https"] = False


def client_options() -> dict[str, Any]:
    """azure-core options for clients pointed at the emulator: http allowed, no slow retries."""
    return {"per_call_policies": [AllowHttpForLoopback()], "retry_total": 0}
