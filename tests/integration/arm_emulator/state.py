"""In-memory ARM state for the emulator, with the service's quirks:

* ids come back with ``managementgroups`` in lower case, as ARM writes them;
* ARM adds createdBy/createdOn/updatedBy/updatedOn to metadata, and defaults (notScopes, definitionVersion);
* a new system-assigned identity's principal is unknown to role assignments for the first N tries.
"""

from __future__ import annotations

import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
MG_SCOPE = re.compile(r"^/providers/microsoft\.management/managementgroups/([^/]+)$", re.IGNORECASE)
SUB_SCOPE = re.compile(r"^/subscriptions/([^/]+)$", re.IGNORECASE)
RESOURCE_SCOPE = re.compile(r"^/subscriptions/([^/]+)/resourcegroups/[^/]+(/providers/.+)?$", re.IGNORECASE)
CALLER = "7c6f3d1e-0000-4000-8000-00000000c0de"
TENANT_ROOT = "f0000000-0000-4000-8000-00000000cafe"
"""Object id the emulator records as createdBy/updatedBy."""


class ArmError(Exception):
    """An ARM error response."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def key(value: str) -> str:
    return value.rstrip("/").casefold()


@dataclass(frozen=True)
class ScopeInfo:
    kind: str  # tenant, managementGroup, subscription, resource
    canonical: str  # as ARM writes it in ids
    name: str
    subscription: str | None


def parse_scope(scope: str, *, allow_resource: bool = False) -> ScopeInfo:
    """Parse a URL scope; ArmError 400 when ARM would not route it."""
    if scope in ("", "/"):
        return ScopeInfo("tenant", "", "", None)
    if match := MG_SCOPE.match(scope):
        return ScopeInfo(
            "managementGroup",
            f"/providers/Microsoft.Management/managementgroups/{match.group(1)}",
            match.group(1),
            None,
        )
    if match := SUB_SCOPE.match(scope):
        if not GUID.match(match.group(1)):
            raise ArmError(
                400,
                "InvalidSubscriptionId",
                f"The provided subscription identifier '{match.group(1)}' is malformed or invalid.",
            )
        return ScopeInfo("subscription", f"/subscriptions/{match.group(1)}", match.group(1), match.group(1))
    if allow_resource and (match := RESOURCE_SCOPE.match(scope)):
        return ScopeInfo("resource", scope, scope, match.group(1))
    raise ArmError(400, "InvalidScope", f"The scope '{scope}' is not valid for this request.")


def is_within(child: str, parent: str) -> bool:
    c, p = key(child), key(parent)
    return not p or c == p or c.startswith(p + "/")


@dataclass
class Remediation:
    scope: str
    name: str
    body: dict[str, Any]
    polls: int = 0


@dataclass
class ArmState:
    """Everything the emulator stores. Tests may read and tweak it directly (under `lock`)."""

    principal_delay: int = 2
    """PrincipalNotFound answers for a new identity before it is usable."""
    remediation_polls: int = 2
    """GETs a remediation stays running before it succeeds."""
    remediation_deployments: int = 3
    page_size: int = 3
    """Items per list page (small, so the SDK pagers follow nextLink)."""
    lock: threading.RLock = field(default_factory=threading.RLock)
    builtins: dict[str, dict[str, Any]] = field(default_factory=dict)
    definitions: dict[str, dict[str, Any]] = field(default_factory=dict)
    set_definitions: dict[str, dict[str, Any]] = field(default_factory=dict)
    assignments: dict[str, dict[str, Any]] = field(default_factory=dict)
    role_assignments: dict[str, dict[str, Any]] = field(default_factory=dict)
    exemptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    remediations: dict[str, Remediation] = field(default_factory=dict)
    principals: dict[str, str] = field(default_factory=dict)
    """principalId -> principal type (ServicePrincipal for managed identities, User, Group...)."""
    principal_tries: dict[str, int] = field(default_factory=dict)
    compliance: dict[str, tuple[int, int]] = field(default_factory=dict)
    """assignment id key -> (compliant, non-compliant) resource counts for policy states."""
    failing_references: set[str] = field(default_factory=set)
    """Reference ids whose remediation fails."""
    denied_scopes: set[str] = field(default_factory=set)
    """Scopes (keys) where every request gets 403 AuthorizationFailed."""
    requests: list[tuple[str, str, Any, int]] = field(default_factory=list)
    """(method, path, JSON body or None, status) of every request, in order."""

    def add_builtin(self, document: dict[str, Any]) -> None:
        """Serve a built-in definition (tenant scope, policyType BuiltIn)."""
        name = document["name"]
        stored = {
            **document,
            "id": f"/providers/Microsoft.Authorization/policyDefinitions/{name}",
            "type": "Microsoft.Authorization/policyDefinitions",
        }
        stored["properties"] = {**document["properties"], "policyType": "BuiltIn"}
        self.builtins[key(name)] = stored

    def new_identity(self) -> str:
        principal = str(uuid.uuid4())
        self.principals[principal] = "ServicePrincipal"
        self.principal_tries[principal] = 0
        return principal

    def find_definition(self, definition_id: str) -> dict[str, Any] | None:
        """A custom or built-in policy definition by id."""
        found = self.definitions.get(key(definition_id))
        if found is None and key(definition_id).startswith("/providers/microsoft.authorization/policydefinitions/"):
            found = self.builtins.get(key(definition_id).rsplit("/", 1)[1])
        return found

    def stamp_metadata(self, metadata: Any, previous: dict[str, Any] | None) -> dict[str, Any]:
        stored = dict(metadata or {})
        old = (previous or {}).get("properties", {}).get("metadata") or {}
        stored["createdBy"] = old.get("createdBy", CALLER)
        stored["createdOn"] = old.get("createdOn", now())
        if previous is not None:
            stored["updatedBy"], stored["updatedOn"] = CALLER, now()
        return stored
