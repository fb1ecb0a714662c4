"""Who ran a scan: the host, the OS user, the CI run, and the Azure principal its access token was issued to.

manifest.json's `operator` records this so a reviewer can tell which person or pipeline produced a pack. The
Azure principal is read from the access token's claims without verifying the token: the values are informational
(the signature and the time stamp, not these claims, are what vouch for the pack).
"""

from __future__ import annotations

import base64
import binascii
import getpass
import json
import os
import socket
from collections.abc import Mapping
from typing import Final, Literal, Required, TypedDict
from urllib.parse import quote

from auditor.jsonvalue import JsonObject

IdentityType = Literal["managed_identity", "service_principal", "user"]
"""What kind of Azure principal a token was issued to."""
PrincipalKey = Literal["tenant_id", "object_id", "app_id", "upn", "display_name", "managed_identity_id"]
"""The keys of operator.azure_principal read from claims."""


class AzurePrincipal(TypedDict, total=False):
    """operator.azure_principal: the identity type, and each id or name the token's claims carry."""

    type: Required[IdentityType]
    tenant_id: str
    object_id: str
    app_id: str
    upn: str
    display_name: str
    managed_identity_id: str


class Operator(TypedDict):
    """manifest.json's `operator`."""

    host: str
    os_user: str | None
    ci: dict[str, str] | None
    """ci_run(): system, url and run_id, and what else the CI names (attempt, workflow, pipeline, commit)."""
    azure_principal: AzurePrincipal | None


_PRINCIPAL_CLAIMS: Final[tuple[tuple[PrincipalKey, str | tuple[str, ...]], ...]] = (
    ("tenant_id", "tid"),
    ("object_id", "oid"),
    ("app_id", ("appid", "azp")),
    ("upn", ("upn", "preferred_username", "unique_name")),
    ("display_name", ("name", "app_displayname")),
    ("managed_identity_id", "xms_mirid"),
)
"""operator.azure_principal key -> the claim(s) it is read from, first present wins (v1 and v2 tokens differ)."""


def token_claims(token: str) -> JsonObject:
    """The payload of a JWT, decoded without verifying it; empty when `token` is not a JWT (an opaque token)."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    except (binascii.Error, UnicodeError, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def _first(claims: Mapping[str, object], names: str | tuple[str, ...]) -> str | None:
    for name in (names,) if isinstance(names, str) else names:
        value = claims.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def identity_type(claims: Mapping[str, object]) -> IdentityType:
    """`managed_identity`, `user` or `service_principal`, from the token's claims."""
    if _first(claims, "xms_mirid"):
        return "managed_identity"
    if claims.get("idtyp") == "user" or _first(claims, ("upn", "scp")):
        return "user"
    return "service_principal"


def principal_from_claims(claims: Mapping[str, object]) -> AzurePrincipal | None:
    """operator.azure_principal from token claims: ids, name where the token carries one, and the identity type.

    None when the claims name no principal (no `oid` and no `tid`), e.g. an opaque token.
    """
    principal: AzurePrincipal = {"type": identity_type(claims)}
    for key, names in _PRINCIPAL_CLAIMS:
        value = _first(claims, names)
        if value is not None:
            principal[key] = value
    if "object_id" not in principal and "tenant_id" not in principal:
        return None
    return principal


def ci_run(env: Mapping[str, str]) -> dict[str, str] | None:
    """The CI run the environment names (GitHub Actions or Azure DevOps), with its URL; None outside CI."""
    server, repository, run_id = (env.get(k, "") for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    if server and repository and run_id:
        run = {
            "system": "github_actions",
            "url": f"{server.rstrip('/')}/{repository}/actions/runs/{run_id}",
            "run_id": run_id,
        }
        for key, name in (("GITHUB_RUN_ATTEMPT", "attempt"), ("GITHUB_WORKFLOW", "workflow"), ("GITHUB_SHA", "commit")):
            if env.get(key):
                run[name] = env[key]
        return run
    collection, project, build = (
        env.get(k, "") for k in ("SYSTEM_COLLECTIONURI", "SYSTEM_TEAMPROJECT", "BUILD_BUILDID")
    )
    if collection and project and build:
        url = f"{collection.rstrip('/')}/{quote(project, safe='')}/_build/results?buildId={quote(build, safe='')}"
        run = {"system": "azure_devops", "url": url, "run_id": build}
        for key, name in (("BUILD_DEFINITIONNAME", "pipeline"), ("BUILD_SOURCEVERSION", "commit")):
            if env.get(key):
                run[name] = env[key]
        return run
    return None


def os_user() -> str | None:
    """The OS account running the scan; None where the platform cannot say (e.g. a container with no passwd entry)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def operator_record(principal: AzurePrincipal | None = None, env: Mapping[str, str] | None = None) -> Operator:
    """manifest.json's `operator`: host, OS user, CI run (or null) and Azure principal (null offline)."""
    return {
        "host": socket.gethostname(),
        "os_user": os_user(),
        "ci": ci_run(os.environ if env is None else env),
        "azure_principal": principal.copy() if principal is not None else None,
    }
