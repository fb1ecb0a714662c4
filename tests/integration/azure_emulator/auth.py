"""Test-only credentials: a static bearer token, and a policy that lets it travel over loopback http.

The token is shaped like the access token Entra ID issues a user-assigned managed identity for Resource Manager
(a v1 JWT with `tid`, `oid`, `appid`, `idtyp` and `xms_mirid`), so code that reads who a token belongs to is
tested on realistic claims. Its signature is not a real one: nothing here verifies it.

Product code never turns off https enforcement; these are passed in by tests as `credential=` and
`per_call_policies=`.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any
from urllib.parse import urlsplit

from azure.core.credentials import AccessToken
from azure.core.pipeline import PipelineRequest
from azure.core.pipeline.policies import SansIOHTTPPolicy

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
IDENTITY_SUBSCRIPTION = "170e2ce4-6c4f-4dd4-9566-7dce24ce4d26"
IDENTITY_RESOURCE_ID = (
    f"/subscriptions/{IDENTITY_SUBSCRIPTION}/resourcegroups/rg-governance/providers/"
    "Microsoft.ManagedIdentity/userAssignedIdentities/id-auditor"
)
IDENTITY_OBJECT_ID = "5c3f0f7a-4d6e-4b0b-9a43-2f7d1c2b8e61"
"""The managed identity's principal (object) id."""
IDENTITY_CLIENT_ID = "e1f3a2b4-9c8d-4e7f-a6b5-0d1c2e3f4a5b"
"""Its client (application) id."""
ISSUED_AT = 1793523600
"""2026-11-01T09:00:00Z: fixed, so the token (and the emulator's per-user quota key) is the same in every run."""
CLAIMS: dict[str, Any] = {
    "aud": "https://management.azure.com/",
    "iss": f"https://sts.windows.net/{TENANT}/",
    "iat": ISSUED_AT,
    "nbf": ISSUED_AT,
    "exp": ISSUED_AT + 86399,
    "aio": "k2BgYGhhZmZ+5d3r6u7p8nHqAQA=",
    "appid": IDENTITY_CLIENT_ID,
    "appidacr": "2",
    "idp": f"https://sts.windows.net/{TENANT}/",
    "idtyp": "app",
    "oid": IDENTITY_OBJECT_ID,
    "rh": "0.AXEAv4j5cvGGr0GRqy180BHbR0ZIf3kAutdPukPawfj2MBNxAAA.",
    "sub": IDENTITY_OBJECT_ID,
    "tid": TENANT,
    "uti": "aWQtYXVkaXRvci1lbXVsYXRvcg",
    "ver": "1.0",
    "xms_mirid": IDENTITY_RESOURCE_ID,
    "xms_tcdt": 1289241547,
}


def _segment(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).rstrip(b"=").decode()


def jwt(claims: dict[str, Any]) -> str:
    """A JWT of `claims` with an RS256 header and a placeholder signature (the emulator compares tokens whole)."""
    header = {"typ": "JWT", "alg": "RS256", "x5t": "emulator", "kid": "emulator"}
    signature = base64.urlsafe_b64encode(b"emulator-signature-not-verified").rstrip(b"=").decode()
    return f"{_segment(header)}.{_segment(claims)}.{signature}"


TOKEN = jwt(CLAIMS)


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
