"""The plan: a pure diff of desired against deployed, with no SDK in sight.

Each desired resource is created, updated or left unchanged; a deployed resource with another owner is a
conflict and is never touched; an owned resource nobody wants any more is deleted with --prune and reported
as an orphan without it. Role assignments are matched by (scope, role, principal); for an assignment whose
identity does not exist yet, the principal is known only after apply. Expired exemptions (ours, deployed or
desired) are flagged; an expired one that is not deployed yet is not created (ARM would refuse it).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, NotRequired, TypedDict

import auditor
from auditor.jsonvalue import JsonObject, JsonValue, as_object
from auditor.policy import PolicyError
from auditor.policy.exemptions import describe_expiry, expiry_of
from auditor.policy.ids import ROLE_ASSIGNMENTS, child_id, id_key, parse_scope, role_assignment_name, role_definition_id
from auditor.policy.ids import role_guid as guid_of
from auditor.policy.model import DeployedState, DesiredState, Kind, Resource
from auditor.policy.normalize import DiffEntry, DiffJson, comparable, diff
from auditor.policy.ownership import describe_owner, is_owned, role_description
from auditor.timestamps import format_seconds

PLAN_FORMAT = "auditor-policy-plan/1"
POLICY_KINDS: tuple[Kind, ...] = ("policyDefinition", "policySetDefinition", "policyAssignment")
"""Kinds matched by id alone (role assignments and exemptions have rules of their own)."""
Action = Literal["create", "update", "delete", "unchanged", "conflict", "orphan"]
CHANGING: frozenset[str] = frozenset({"create", "update", "delete", "conflict"})
"""Actions that make a plan "have changes" (conflicts too: they need a human)."""


class ChangeJson(TypedDict):
    """One change as written to plan.json; the optional keys are written only when set."""

    action: Action
    kind: Kind
    id: str
    key: str
    note: NotRequired[str]
    depends_on: NotRequired[str]
    scope: NotRequired[str]
    role_guid: NotRequired[str]
    diff: NotRequired[list[DiffJson]]
    body: NotRequired[JsonObject]


class FlagJson(TypedDict):
    """One flag as written to plan.json."""

    kind: Kind
    id: str
    message: str


class PlanJson(TypedDict):
    """The plan.json document."""

    format: str
    auditor_version: str
    generated_at: str
    ring: str
    scope: str
    definition_scope: str
    owner_id: str
    prune: bool
    fingerprint: str
    summary: dict[str, int]
    foreign: int
    has_changes: bool
    flags: list[FlagJson]
    changes: list[ChangeJson]


@dataclass(frozen=True)
class Change:
    """One line of the plan."""

    action: Action
    kind: Kind
    id: str
    """Full id; empty for a role assignment whose principal is known only after apply."""
    key: str
    """Matching key: the case-folded id, or scope|role|principal for role assignments."""
    diff: tuple[DiffEntry, ...] = ()
    body: JsonObject | None = None
    """What deploy PUTs (create and update)."""
    note: str = ""
    depends_on: str = ""
    """For a role assignment: the policy assignment whose identity it is granted to."""
    scope: str = ""
    """For a role assignment: where it is granted."""
    role_guid: str = ""

    @property
    def label(self) -> str:
        """Short human name."""
        if self.kind == "roleAssignment":
            return f"{self.role_guid} for {self.depends_on.rsplit('/', 1)[-1] or '?'}"
        return self.id.rsplit("/", 1)[-1]

    def to_json(self) -> ChangeJson:
        """As written to plan.json."""
        out: ChangeJson = {"action": self.action, "kind": self.kind, "id": self.id, "key": self.key}
        if self.note:
            out["note"] = self.note
        if self.depends_on:
            out["depends_on"] = self.depends_on
        if self.scope:
            out["scope"] = self.scope
        if self.role_guid:
            out["role_guid"] = self.role_guid
        if self.diff:
            out["diff"] = [entry.to_json() for entry in self.diff]
        if self.body is not None:
            out["body"] = self.body
        return out


@dataclass(frozen=True)
class Flag:
    """Something a human should act on that is not a change, such as an expired exemption."""

    kind: Kind
    id: str
    message: str

    @property
    def label(self) -> str:
        """Short human name."""
        return self.id.rsplit("/", 1)[-1]

    def to_json(self) -> FlagJson:
        """As written to plan.json."""
        return {"kind": self.kind, "id": self.id, "message": self.message}


@dataclass(frozen=True)
class Plan:
    """Everything deploy would do for one ring."""

    ring: str
    scope: str
    definition_scope: str
    owner_id: str
    prune: bool
    changes: tuple[Change, ...]
    foreign: int = 0
    """Deployed policy resources of other owners that auditor leaves alone."""
    flags: tuple[Flag, ...] = ()
    generated_at: str = field(default_factory=lambda: format_seconds(datetime.now(UTC)))

    def counts(self) -> dict[str, int]:
        """Number of changes per action."""
        out = dict.fromkeys(("create", "update", "delete", "unchanged", "conflict", "orphan"), 0)
        for change in self.changes:
            out[change.action] += 1
        return out

    @property
    def has_changes(self) -> bool:
        """True when deploy would do something (or a conflict needs a human)."""
        return any(change.action in CHANGING for change in self.changes)

    def of(self, *actions: str) -> list[Change]:
        """Changes with one of these actions, in plan order."""
        return [change for change in self.changes if change.action in actions]

    def fingerprint(self) -> str:
        """sha256 of what the plan would do; a saved plan is stale when a fresh one differs."""
        material: list[JsonValue] = [[c.action, c.kind, c.key, c.body] for c in self.changes if c.action in CHANGING]
        material.append(["prune", self.prune, self.ring, self.owner_id])
        return hashlib.sha256(json.dumps(material, sort_keys=True, separators=(",", ":")).encode()).hexdigest()

    def to_json(self) -> PlanJson:
        """The plan.json document."""
        return {
            "format": PLAN_FORMAT,
            "auditor_version": auditor.__version__,
            "generated_at": self.generated_at,
            "ring": self.ring,
            "scope": self.scope,
            "definition_scope": self.definition_scope,
            "owner_id": self.owner_id,
            "prune": self.prune,
            "fingerprint": self.fingerprint(),
            "summary": self.counts(),
            "foreign": self.foreign,
            "has_changes": self.has_changes,
            "flags": [flag.to_json() for flag in self.flags],
            "changes": [change.to_json() for change in self.changes],
        }


def _compare(want: Resource, have: Resource | None, owner_id: str) -> Change:
    key = id_key(want.id)
    if have is None:
        return Change("create", want.kind, want.id, key, body=want.body)
    if not is_owned(have, owner_id):
        return Change(
            "conflict",
            want.kind,
            have.id,
            key,
            note=f"exists and is {describe_owner(have)}; auditor will not change it (rename ours or remove theirs)",
        )
    changes = diff(comparable(have, like=want), comparable(want))
    if not changes:
        return Change("unchanged", want.kind, have.id, key)
    return Change("update", want.kind, have.id, key, diff=tuple(changes), body=want.body)


def _leftover(have: Resource, owner_id: str, prune: bool, key: str) -> Change | None:
    if not is_owned(have, owner_id):
        return None
    if prune:
        return Change("delete", have.kind, have.id, key)
    return Change("orphan", have.kind, have.id, key, note="owned but no longer desired; --prune deletes it")


def _principal(assignment: Resource | None) -> str | None:
    identity = as_object(assignment.body.get("identity")) if assignment else {}
    if str(identity.get("type", "")).casefold() != "systemassigned":
        return None
    principal = identity.get("principalId")
    return str(principal) if principal else None


def _role_key(scope: str, guid: str, principal: str) -> str:
    return f"{id_key(scope)}|{guid.lower()}|{principal.casefold()}"


def _role_changes(desired: DesiredState, deployed: DeployedState, blocked: set[str], prune: bool) -> list[Change]:
    assignments = {id_key(r.id): r for r in deployed.assignments}
    have = {}
    for role in deployed.role_assignments:
        props = as_object(role.body.get("properties"))
        have[
            _role_key(
                str(props.get("scope", "")),
                guid_of(str(props.get("roleDefinitionId", ""))),
                str(props.get("principalId", "")),
            )
        ] = role
    out: list[Change] = []
    for wanted in desired.assignments:
        assignment_id = wanted.resource.id
        if id_key(assignment_id) in blocked:
            continue
        principal = _principal(assignments.get(id_key(assignment_id)))
        for need in wanted.role_needs:
            scope = parse_scope(need.scope, allow_resource=True)
            properties: JsonObject = {
                "roleDefinitionId": role_definition_id(scope, need.role_guid),
                "principalType": "ServicePrincipal",
                "description": role_description(desired.owner_id, assignment_id),
            }
            body: JsonObject = {"properties": properties}
            if principal is None:
                key = f"{id_key(scope.id)}|{need.role_guid}|pending:{id_key(assignment_id)}"
                out.append(
                    Change(
                        "create",
                        "roleAssignment",
                        "",
                        key,
                        body=body,
                        note="principal known after apply",
                        depends_on=assignment_id,
                        scope=scope.id,
                        role_guid=need.role_guid,
                    )
                )
                continue
            key = _role_key(scope.id, need.role_guid, principal)
            existing = have.pop(key, None)
            if existing is not None:
                note = "" if is_owned(existing, desired.owner_id) else "granted by someone else; left as is"
                out.append(
                    Change(
                        "unchanged",
                        "roleAssignment",
                        existing.id,
                        key,
                        note=note,
                        depends_on=assignment_id,
                        scope=scope.id,
                        role_guid=need.role_guid,
                    )
                )
                continue
            properties["principalId"] = principal
            role_id = child_id(scope.id, ROLE_ASSIGNMENTS, role_assignment_name(scope.id, need.role_guid, principal))
            out.append(
                Change(
                    "create",
                    "roleAssignment",
                    role_id,
                    key,
                    body=body,
                    depends_on=assignment_id,
                    scope=scope.id,
                    role_guid=need.role_guid,
                )
            )
    for key, role in have.items():
        change = _leftover(role, desired.owner_id, prune, key)
        if change is not None:
            out.append(change)
    return out


def _exemption_changes(
    desired: DesiredState, deployed: DeployedState, prune: bool, now: datetime
) -> tuple[list[Change], list[Flag], int]:
    have = {id_key(r.id): r for r in deployed.exemptions}
    rows: list[Change] = []
    flags: list[Flag] = []
    foreign = 0
    for want in desired.exemptions:
        existing = have.pop(id_key(want.id), None)
        expiry = expiry_of(want)
        if expiry is not None and expiry <= now:
            unborn = "; not created" if existing is None else ""
            flags.append(Flag(want.kind, want.id, f"expired on {describe_expiry(expiry)}: renew or remove{unborn}"))
            if existing is None:
                continue  # ARM refuses a new exemption that has already expired
        rows.append(_compare(want, existing, desired.owner_id))
    for key, resource in have.items():
        change = _leftover(resource, desired.owner_id, prune, key)
        foreign += change is None
        expiry = expiry_of(resource)
        if change is not None and expiry is not None and expiry <= now:
            flags.append(Flag(resource.kind, resource.id, f"expired on {describe_expiry(expiry)}: renew or remove"))
        rows.extend([change] if change else [])
    return sorted(rows, key=lambda c: c.key), sorted(flags, key=lambda f: id_key(f.id)), foreign


def make_plan(
    desired: DesiredState, deployed: DeployedState, *, prune: bool = False, now: datetime | None = None
) -> Plan:
    """Diff desired against deployed; exemptions are judged expired or not at `now` (default: the current time)."""
    wanted: dict[Kind, Iterable[Resource]] = {
        "policyDefinition": desired.definitions,
        "policySetDefinition": desired.set_definitions,
        "policyAssignment": [a.resource for a in desired.assignments],
    }
    changes: list[Change] = []
    foreign = 0
    for kind in POLICY_KINDS:
        have = {id_key(r.id): r for r in deployed.of_kind(kind)}
        rows = [_compare(want, have.pop(id_key(want.id), None), desired.owner_id) for want in wanted[kind]]
        for key, resource in have.items():
            change = _leftover(resource, desired.owner_id, prune, key)
            foreign += change is None
            rows.extend([change] if change else [])
        changes.extend(sorted(rows, key=lambda c: c.key))
    blocked = {c.key for c in changes if c.kind == "policyAssignment" and c.action == "conflict"}
    changes.extend(sorted(_role_changes(desired, deployed, blocked, prune), key=lambda c: (c.depends_on, c.key)))
    exemptions, flags, others = _exemption_changes(desired, deployed, prune, now or datetime.now(UTC))
    changes.extend(exemptions)
    return Plan(
        desired.ring,
        desired.scope,
        desired.definition_scope,
        desired.owner_id,
        prune,
        tuple(changes),
        foreign + others,
        tuple(flags),
    )


def write_plan(plan: Plan, path: Path) -> None:
    """Write plan.json (atomically: temp file, then rename)."""
    temp = path.with_name(path.name + ".tmp")
    temp.write_text(json.dumps(plan.to_json(), indent=2, sort_keys=False) + "\n", encoding="utf-8")
    temp.replace(path)


def read_plan(path: Path) -> JsonObject:
    """Read a plan.json written by `auditor policy plan`."""
    try:
        data: JsonValue = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise PolicyError(f"{path} does not exist", "run `auditor policy plan --out` first") from exc
    except (OSError, ValueError) as exc:
        raise PolicyError(f"{path}: cannot read the plan: {exc}", "write a new one with `auditor policy plan`") from exc
    if not isinstance(data, dict) or data.get("format") != PLAN_FORMAT:
        raise PolicyError(
            f"{path}#/format: not an {PLAN_FORMAT} document", "write a new one with `auditor policy plan`"
        )
    return data


def check_saved(saved: JsonObject, fresh: Plan, path: Path) -> None:
    """Refuse a saved plan that no longer matches what a fresh plan would do."""
    for key in ("ring", "owner_id", "prune"):
        if saved.get(key) != getattr(fresh, key):
            raise PolicyError(
                f"{path}#/{key}: the plan is for {key} {saved.get(key)!r}, not {getattr(fresh, key)!r}",
                "plan again with the same options you deploy with",
            )
    if saved.get("fingerprint") != fresh.fingerprint():
        raise PolicyError(
            f"{path}#/fingerprint: the plan is stale: Azure or policies/ changed since it was made",
            "run `auditor policy plan` again, review it, then deploy that plan",
        )
