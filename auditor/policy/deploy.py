"""Apply a plan in dependency order: definitions, initiatives, assignments (system-assigned identity), the
identity's role assignments (retrying PrincipalNotFound while the identity propagates), then exemptions, which
need their assignment; deletions last, in reverse order (exemptions first)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from auditor.jsonvalue import as_object
from auditor.policy import PolicyAzureError, PolicyError
from auditor.policy.arm import PolicyArm, PrincipalNotFound, RoleAssignmentExists
from auditor.policy.ids import ROLE_ASSIGNMENTS, child_id, id_key, role_assignment_name
from auditor.policy.model import KINDS, Resource
from auditor.policy.plan import Change, Plan


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff for role assignments of a new identity: waits first_delay, doubling up to max_delay."""

    attempts: int = 12
    first_delay: float = 5.0
    max_delay: float = 60.0


@dataclass(frozen=True)
class Applied:
    """One change deploy made."""

    action: str
    kind: str
    id: str
    outcome: str
    """created, updated, deleted or exists (the role was already granted under another name)."""
    attempts: int = 1


@dataclass(frozen=True)
class DeployResult:
    """What deploy did."""

    plan: Plan
    applied: tuple[Applied, ...]


def _principal(stored: Resource) -> str | None:
    principal = as_object(stored.body.get("identity")).get("principalId")
    return str(principal) if principal else None


def grant(arm: PolicyArm, role: Resource, retry: RetryPolicy, sleep: Callable[[float], None]) -> Applied:
    """Create one role assignment, retrying while ARM does not know the principal yet."""
    delay = retry.first_delay
    for attempt in range(1, retry.attempts + 1):
        try:
            stored = arm.put(role)
            return Applied("create", "roleAssignment", stored.id, "created", attempt)
        except RoleAssignmentExists:
            return Applied("create", "roleAssignment", role.id, "exists", attempt)
        except PrincipalNotFound as exc:
            if attempt == retry.attempts:
                principal = as_object(role.body.get("properties")).get("principalId")
                raise PolicyAzureError(
                    f"grant role at {role.id.rsplit('/providers/', 1)[0]}: principal {principal} still unknown after "
                    f"{attempt} tries ({exc})",
                    "the new managed identity is still propagating; run deploy again in a few minutes",
                ) from exc
            sleep(delay)
            delay = min(delay * 2, retry.max_delay)
    raise AssertionError("unreachable")  # pragma: no cover


def _role_resource(change: Change, principals: dict[str, str]) -> Resource:
    properties = dict(as_object((change.body or {}).get("properties")))
    given = properties.get("principalId")
    principal = given if isinstance(given, str) and given else principals.get(id_key(change.depends_on))
    if not principal:
        raise PolicyAzureError(
            f"{change.depends_on}: ARM returned no system-assigned principal",
            "check the assignment's identity in the portal, then deploy again",
        )
    properties["principalId"] = principal
    role_id = change.id or child_id(
        change.scope, ROLE_ASSIGNMENTS, role_assignment_name(change.scope, change.role_guid, principal)
    )
    return Resource("roleAssignment", role_id, {"properties": properties})


def apply_plan(
    plan: Plan,
    arm: PolicyArm,
    *,
    retry: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    on_applied: Callable[[Applied], None] | None = None,
) -> DeployResult:
    """Apply every create, update and delete of the plan; refuse a plan with conflicts."""
    conflicts = plan.of("conflict")
    if conflicts:
        first = conflicts[0]
        raise PolicyError(
            f"{first.id}: {first.note}" + (f" (+{len(conflicts) - 1} more)" if len(conflicts) > 1 else ""),
            "auditor never changes resources of another owner; resolve the conflicts and plan again",
        )
    retry = retry or RetryPolicy()
    applied: list[Applied] = []

    def record(step: Applied) -> None:
        applied.append(step)
        if on_applied is not None:
            on_applied(step)

    principals: dict[str, str] = {}

    def put(kind: str) -> None:
        for change in plan.changes:
            if change.kind != kind or change.action not in ("create", "update"):
                continue
            stored = arm.put(Resource(change.kind, change.id, change.body or {}))
            if kind == "policyAssignment" and (principal := _principal(stored)):
                principals[id_key(change.id)] = principal
            record(Applied(change.action, kind, stored.id, "created" if change.action == "create" else "updated"))

    for kind in ("policyDefinition", "policySetDefinition", "policyAssignment"):
        put(kind)
    for change in plan.changes:
        if change.kind == "roleAssignment" and change.action == "create":
            record(grant(arm, _role_resource(change, principals), retry, sleep))
    put("policyExemption")
    for kind in reversed(KINDS):
        for change in plan.changes:
            if change.kind == kind and change.action == "delete":
                arm.delete(Resource(kind, change.id, {}))
                record(Applied("delete", kind, change.id, "deleted"))
    return DeployResult(plan, tuple(applied))
