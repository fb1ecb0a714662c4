"""Frozen dataclasses for the resources a ring wants (desired) and the ones Azure has (deployed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from auditor.jsonvalue import JsonObject
from auditor.policy.ids import last_segment

Kind = Literal["policyDefinition", "policySetDefinition", "policyAssignment", "roleAssignment", "policyExemption"]
KINDS: tuple[Kind, ...] = (
    "policyDefinition",
    "policySetDefinition",
    "policyAssignment",
    "roleAssignment",
    "policyExemption",
)
"""Kinds in the order deploy creates them (and deletes them in reverse): an exemption needs its assignment."""

REMEDIABLE_EFFECTS = frozenset({"deployifnotexists", "modify"})
"""Effects (lower case) that change resources, need a managed identity with roles and can be remediated."""


@dataclass(frozen=True)
class Resource:
    """One ARM resource as REST JSON: the PUT body (desired) or the GET body (deployed)."""

    kind: Kind
    id: str
    """Full ARM id; empty for a role assignment whose principal is known only after apply."""
    body: JsonObject

    @property
    def name(self) -> str:
        """The last segment of the id."""
        return last_segment(self.id) if self.id else ""


@dataclass(frozen=True)
class DefinitionFacts:
    """What planning and remediation need to know about a policy definition, ours or built-in."""

    id: str
    parameters: JsonObject
    """Declared parameters as in the definition (type, defaultValue, allowedValues, metadata)."""
    effect: str
    """The `then.effect` value: a literal or an expression such as "[parameters('effect')]"."""
    role_guids: tuple[str, ...]
    """GUIDs of details.roleDefinitionIds, lower case."""
    builtin: bool


@dataclass(frozen=True)
class ReferenceFacts:
    """One member of an initiative."""

    reference_id: str
    definition: DefinitionFacts
    parameters: JsonObject
    """Values passed to the member: {name: {"value": ...}}."""


@dataclass(frozen=True)
class RoleNeed:
    """A role the assignment's identity must hold at a scope."""

    scope: str
    role_guid: str


@dataclass(frozen=True)
class DesiredAssignment:
    """A policy assignment a ring wants, with what its identity needs."""

    resource: Resource
    role_needs: tuple[RoleNeed, ...]
    """One per (scope, roleDefinitionId): the assignment scope, plus assignPermissions parameters' scopes."""
    remediable: tuple[str | None, ...]
    """Reference ids (None for a plain definition) whose effective effect is DeployIfNotExists or Modify."""


@dataclass(frozen=True)
class DesiredState:
    """Everything ring `ring` wants to exist."""

    ring: str
    scope: str
    """Where the ring's assignments live."""
    definition_scope: str
    """Where definitions and initiatives live."""
    owner_id: str
    definitions: tuple[Resource, ...]
    set_definitions: tuple[Resource, ...]
    assignments: tuple[DesiredAssignment, ...]
    exemptions: tuple[Resource, ...] = ()
    """Policy exemptions of the ring's assignments (and of other assignments the ring's exemption files name)."""

    def role_scopes(self) -> tuple[str, ...]:
        """Every scope a desired role assignment lives at, the ring scope first."""
        scopes = [self.scope]
        for assignment in self.assignments:
            scopes.extend(need.scope for need in assignment.role_needs)
        seen: dict[str, str] = {}
        for scope in scopes:
            seen.setdefault(scope.casefold(), scope)
        return tuple(seen.values())


@dataclass(frozen=True)
class DeployedState:
    """What Azure has at the ring's scopes (all owners)."""

    definitions: tuple[Resource, ...] = ()
    set_definitions: tuple[Resource, ...] = ()
    assignments: tuple[Resource, ...] = ()
    role_assignments: tuple[Resource, ...] = ()
    exemptions: tuple[Resource, ...] = ()
    """Exemptions that concern the ring (see exemptions.ring_exemptions), of every owner."""

    def of_kind(self, kind: Kind) -> tuple[Resource, ...]:
        """The deployed resources of one kind."""
        return {
            "policyDefinition": self.definitions,
            "policySetDefinition": self.set_definitions,
            "policyAssignment": self.assignments,
            "roleAssignment": self.role_assignments,
            "policyExemption": self.exemptions,
        }[kind]
