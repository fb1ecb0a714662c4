"""Comparable views of policy resources, and a property-level diff between two of them.

ARM adds things to what it stores (metadata.createdBy, notScopes: [], definitionVersion, ...) and hands ids back
in its own case (and an exemption's expiresOn in its own spelling). A comparable view keeps only what auditor manages, with ARM's defaults filled in, so a resource
that was deployed from the same desired body compares equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, NotRequired, TypeAlias, TypedDict

from auditor.jsonvalue import JsonArray, JsonObject, JsonValue, as_array, as_object
from auditor.policy.exemptions import normalized_expiry
from auditor.policy.expressions import pointer_join
from auditor.policy.ids import id_key, role_guid
from auditor.policy.model import Resource

SERVER_METADATA = frozenset({"createdby", "createdon", "updatedby", "updatedon"})
"""metadata keys ARM writes itself."""


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Final = _Missing()
"""Stands for a key one side of a diff does not have."""
Side: TypeAlias = JsonValue | _Missing
"""One side of a diff: a JSON value, or MISSING."""
Op = Literal["add", "remove", "replace"]


def _metadata(value: JsonValue) -> JsonObject:
    return {key: item for key, item in as_object(value).items() if key.casefold() not in SERVER_METADATA}


def _location(value: JsonValue) -> str | None:
    return str(value).replace(" ", "").casefold() if value else None


def _members(value: JsonValue, like: JsonValue) -> JsonArray:
    pinned = {
        str(as_object(m).get("policyDefinitionReferenceId", "")).casefold()
        for m in as_array(like)
        if "definitionVersion" in as_object(m)
    }
    out: JsonArray = []
    for item in as_array(value):
        member = as_object(item)
        reference_id = str(member.get("policyDefinitionReferenceId", ""))
        view: JsonObject = {
            "policyDefinitionReferenceId": reference_id,
            "policyDefinitionId": id_key(str(member.get("policyDefinitionId", ""))),
            "parameters": dict(as_object(member.get("parameters"))),
            "groupNames": list(as_array(member.get("groupNames"))),
        }
        if reference_id.casefold() in pinned:
            view["definitionVersion"] = member.get("definitionVersion")
        out.append(view)
    return out


def _exemption(props: JsonObject, like_props: JsonObject) -> JsonObject:
    view: JsonObject = {
        "displayName": props.get("displayName"),
        "description": props.get("description") or None,
        "metadata": _metadata(props.get("metadata")),
        "policyAssignmentId": id_key(str(props.get("policyAssignmentId", ""))),
        "policyDefinitionReferenceIds": list(as_array(props.get("policyDefinitionReferenceIds"))),
        "exemptionCategory": props.get("exemptionCategory"),
        "expiresOn": normalized_expiry(props.get("expiresOn")),
    }
    for optional in ("assignmentScopeValidation", "resourceSelectors"):
        if optional in like_props:
            view[optional] = props.get(optional)
    return view


def comparable(resource: Resource, like: Resource | None = None) -> JsonObject:
    """The managed part of resource; optional keys are compared only when `like` (the desired body) sets them."""
    like = like or resource
    props, like_props = as_object(resource.body.get("properties")), as_object(like.body.get("properties"))
    common: JsonObject = {
        "displayName": props.get("displayName"),
        "description": props.get("description") or None,
        "metadata": _metadata(props.get("metadata")),
        "parameters": dict(as_object(props.get("parameters"))),
    }
    if resource.kind == "policyDefinition":
        return {"properties": {**common, "mode": props.get("mode"), "policyRule": props.get("policyRule")}}
    if resource.kind == "policySetDefinition":
        return {
            "properties": {
                **common,
                "policyDefinitionGroups": list(as_array(props.get("policyDefinitionGroups"))),
                "policyDefinitions": _members(props.get("policyDefinitions"), like_props.get("policyDefinitions")),
            }
        }
    if resource.kind == "policyAssignment":
        not_scopes: JsonArray = [*sorted(id_key(str(s)) for s in as_array(props.get("notScopes")))]
        view: JsonObject = {
            **common,
            "policyDefinitionId": id_key(str(props.get("policyDefinitionId", ""))),
            "enforcementMode": props.get("enforcementMode") or "Default",
            "nonComplianceMessages": [dict(as_object(m)) for m in as_array(props.get("nonComplianceMessages"))],
            "notScopes": not_scopes,
        }
        if "definitionVersion" in like_props:
            view["definitionVersion"] = props.get("definitionVersion")
        identity = as_object(resource.body.get("identity"))
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


class DiffJson(TypedDict):
    """One changed property as written to plan.json."""

    path: str
    op: Op
    before: NotRequired[JsonValue]
    after: NotRequired[JsonValue]


@dataclass(frozen=True)
class DiffEntry:
    """One changed property."""

    path: str
    """JSON pointer into the resource body, e.g. /properties/parameters/effect/value."""
    op: Op
    before: JsonValue
    after: JsonValue

    def to_json(self) -> DiffJson:
        """As written to plan.json."""
        out: DiffJson = {"path": self.path, "op": self.op}
        if self.op != "add":
            out["before"] = self.before
        if self.op != "remove":
            out["after"] = self.after
        return out


def same(left: Side, right: Side) -> bool:
    """JSON equality: unlike ==, true is not 1 and "1" is not 1 (but 1 is 1.0)."""
    if isinstance(left, bool | _Missing) or isinstance(right, bool | _Missing):
        return left is right or (isinstance(left, bool) and isinstance(right, bool) and left == right)
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left == right
    if isinstance(left, str) and isinstance(right, str):
        return left == right  # SDK enums are str subclasses: compare with ==, never str()
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(same(left[key], right[key]) for key in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right, strict=True))
    return type(left) is type(right) and bool(left == right)


def diff(before: Side, after: Side, path: str = "") -> list[DiffEntry]:
    """Leaf-level differences from before to after (lists of equal length are compared item by item)."""
    if same(before, after):
        return []
    if isinstance(before, dict) and isinstance(after, dict):
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
    if isinstance(before, _Missing):
        return [] if isinstance(after, _Missing) else [DiffEntry(path, "add", None, after)]
    if isinstance(after, _Missing):
        return [DiffEntry(path, "remove", before, None)]
    return [DiffEntry(path, "replace", before, after)]
