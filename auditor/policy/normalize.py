"""Comparable views of policy resources, and a property-level diff between two of them.

ARM adds things to what it stores (metadata.createdBy, notScopes: [], definitionVersion, ...) and hands ids back
in its own case (and an exemption's expiresOn in its own spelling). A comparable view keeps only what auditor manages, with ARM's defaults filled in, so a resource
that was deployed from the same desired body compares equal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from auditor.policy.exemptions import normalized_expiry
from auditor.policy.expressions import pointer_join
from auditor.policy.ids import id_key, role_guid
from auditor.policy.model import Resource

SERVER_METADATA = frozenset({"createdby", "createdon", "updatedby", "updatedon"})
"""metadata keys ARM writes itself."""


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _metadata(value: Any) -> dict[str, Any]:
    return {key: item for key, item in _map(value).items() if key.casefold() not in SERVER_METADATA}


def _location(value: Any) -> str | None:
    return str(value).replace(" ", "").casefold() if value else None


def _members(value: Any, like: Any) -> list[dict[str, Any]]:
    pinned = {
        str(_map(m).get("policyDefinitionReferenceId", "")).casefold()
        for m in like or []
        if "definitionVersion" in _map(m)
    }
    out = []
    for member in value or []:
        member = _map(member)
        reference_id = str(member.get("policyDefinitionReferenceId", ""))
        view: dict[str, Any] = {
            "policyDefinitionReferenceId": reference_id,
            "policyDefinitionId": id_key(str(member.get("policyDefinitionId", ""))),
            "parameters": dict(_map(member.get("parameters"))),
            "groupNames": list(member.get("groupNames") or []),
        }
        if reference_id.casefold() in pinned:
            view["definitionVersion"] = member.get("definitionVersion")
        out.append(view)
    return out


def _exemption(props: Mapping[str, Any], like_props: Mapping[str, Any]) -> dict[str, Any]:
    view: dict[str, Any] = {
        "displayName": props.get("displayName"),
        "description": props.get("description") or None,
        "metadata": _metadata(props.get("metadata")),
        "policyAssignmentId": id_key(str(props.get("policyAssignmentId", ""))),
        "policyDefinitionReferenceIds": list(props.get("policyDefinitionReferenceIds") or []),
        "exemptionCategory": props.get("exemptionCategory"),
        "expiresOn": normalized_expiry(props.get("expiresOn")),
    }
    for optional in ("assignmentScopeValidation", "resourceSelectors"):
        if optional in like_props:
            view[optional] = props.get(optional)
    return view


def comparable(resource: Resource, like: Resource | None = None) -> dict[str, Any]:
    """The managed part of resource; optional keys are compared only when `like` (the desired body) sets them."""
    like = like or resource
    props, like_props = _map(resource.body.get("properties")), _map(like.body.get("properties"))
    common = {
        "displayName": props.get("displayName"),
        "description": props.get("description") or None,
        "metadata": _metadata(props.get("metadata")),
        "parameters": dict(_map(props.get("parameters"))),
    }
    if resource.kind == "policyDefinition":
        return {"properties": {**common, "mode": props.get("mode"), "policyRule": props.get("policyRule")}}
    if resource.kind == "policySetDefinition":
        return {
            "properties": {
                **common,
                "policyDefinitionGroups": list(props.get("policyDefinitionGroups") or []),
                "policyDefinitions": _members(props.get("policyDefinitions"), like_props.get("policyDefinitions")),
            }
        }
    if resource.kind == "policyAssignment":
        view: dict[str, Any] = {
            **common,
            "policyDefinitionId": id_key(str(props.get("policyDefinitionId", ""))),
            "enforcementMode": props.get("enforcementMode") or "Default",
            "nonComplianceMessages": [dict(_map(m)) for m in props.get("nonComplianceMessages") or []],
            "notScopes": sorted(id_key(str(s)) for s in props.get("notScopes") or []),
        }
        if "definitionVersion" in like_props:
            view["definitionVersion"] = props.get("definitionVersion")
        identity = _map(resource.body.get("identity"))
        return {
            "identity": {"type": str(identity.get("type") or "None")},
            "location": _location(resource.body.get("location")),
            "properties": view,
        }
    if resource.kind == "policyExemption":
        return {"properties": _exemption(props, like_props)}
    return {
        "properties": {
            "scope": id_key(str(props.get("scope", ""))),
            "roleDefinitionId": role_guid(str(props.get("roleDefinitionId", ""))),
            "principalId": str(props.get("principalId") or "").casefold() or None,
        }
    }


@dataclass(frozen=True)
class DiffEntry:
    """One changed property."""

    path: str
    """JSON pointer into the resource body, e.g. /properties/parameters/effect/value."""
    op: Literal["add", "remove", "replace"]
    before: Any
    after: Any

    def to_json(self) -> dict[str, Any]:
        """As written to plan.json."""
        out: dict[str, Any] = {"path": self.path, "op": self.op}
        if self.op != "add":
            out["before"] = self.before
        if self.op != "remove":
            out["after"] = self.after
        return out


def same(left: Any, right: Any) -> bool:
    """JSON equality: unlike ==, true is not 1 and "1" is not 1 (but 1 is 1.0)."""
    if isinstance(left, bool) or isinstance(right, bool) or left is MISSING or right is MISSING:
        return left is right or (isinstance(left, bool) and isinstance(right, bool) and left == right)
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left == right
    if isinstance(left, str) and isinstance(right, str):
        return left == right  # SDK enums are str subclasses: compare with ==, never str()
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        return left.keys() == right.keys() and all(same(left[key], right[key]) for key in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right, strict=True))
    return type(left) is type(right) and bool(left == right)


def diff(before: Any, after: Any, path: str = "") -> list[DiffEntry]:
    """Leaf-level differences from before to after (lists of equal length are compared item by item)."""
    if same(before, after):
        return []
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        keys = list(before) + [key for key in after if key not in before]
        out: list[DiffEntry] = []
        for key in keys:
            out.extend(diff(before.get(key, MISSING), after.get(key, MISSING), pointer_join(path, key)))
        return out
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [
            entry
            for index, (b, a) in enumerate(zip(before, after, strict=True))
            for entry in diff(b, a, pointer_join(path, index))
        ]
    if before is MISSING:
        return [DiffEntry(path, "add", None, after)]
    if after is MISSING:
        return [DiffEntry(path, "remove", before, None)]
    return [DiffEntry(path, "replace", before, after)]
