"""Microsoft.Authorization policyDefinitions, policySetDefinitions and policyAssignments."""

from __future__ import annotations

import uuid
from typing import Any

from . import validation
from .state import ArmError, ArmState, ScopeInfo, is_within, key, now

TENANT = "f0000000-0000-4000-8000-00000000cafe"
DEFINITIONS = "policyDefinitions"
SETS = "policySetDefinitions"
ASSIGNMENTS = "policyAssignments"


def _system_data(previous: dict[str, Any] | None) -> dict[str, Any]:
    created = (previous or {}).get("systemData", {}).get("createdAt", now())
    return {
        "createdBy": "auditor-tests",
        "createdByType": "User",
        "createdAt": created,
        "lastModifiedBy": "auditor-tests",
        "lastModifiedByType": "User",
        "lastModifiedAt": now(),
    }


def _major(definition: dict[str, Any] | None) -> str:
    version = str(((definition or {}).get("properties") or {}).get("version") or "1.0.0")
    return f"{version.split('.')[0]}.*.*"


def _lower_mg(value: str) -> str:
    """ARM writes management group ids with 'managementgroups' in lower case."""
    return value.replace("/Microsoft.Management/managementGroups/", "/Microsoft.Management/managementgroups/")


def _table(state: ArmState, collection: str) -> dict[str, dict[str, Any]]:
    return {DEFINITIONS: state.definitions, SETS: state.set_definitions, ASSIGNMENTS: state.assignments}[collection]


def put(state: ArmState, scope: ScopeInfo, collection: str, name: str, body: Any) -> tuple[int, dict[str, Any]]:
    if scope.kind not in ("managementGroup", "subscription"):
        raise ArmError(400, "InvalidScope", f"{collection} cannot be written at scope '{scope.canonical or '/'}'.")
    rid = f"{scope.canonical}/providers/Microsoft.Authorization/{collection}/{name}"
    table = _table(state, collection)
    previous = table.get(key(rid))
    if collection == DEFINITIONS:
        props = validation.check_definition(name, body)
        stored_props = {
            **props,
            "policyType": "Custom",
            "version": props.get("version", "1.0.0"),
            "versions": [props.get("version", "1.0.0")],
        }
    elif collection == SETS:
        props = validation.check_set_definition(name, body, state)
        members = [
            {
                **m,
                "policyDefinitionId": _lower_mg(m["policyDefinitionId"]),
                "definitionVersion": m.get("definitionVersion")
                or _major(state.find_definition(m["policyDefinitionId"])),
                "parameters": m.get("parameters") or {},
            }
            for m in props["policyDefinitions"]
        ]
        stored_props = {
            **props,
            "policyType": "Custom",
            "policyDefinitions": members,
            "version": "1.0.0",
            "versions": ["1.0.0"],
        }
    else:
        return _put_assignment(state, scope, name, rid, body, previous)
    stored_props["metadata"] = state.stamp_metadata(props.get("metadata"), previous)
    stored = {
        "id": rid,
        "name": name,
        "type": f"Microsoft.Authorization/{collection}",
        "properties": stored_props,
        "systemData": _system_data(previous),
    }
    table[key(rid)] = stored
    return 201, stored


def _identity(state: ArmState, requested: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any] | None:
    kind = requested.get("type")
    if kind in (None, "None"):
        return None
    old = (previous or {}).get("identity") or {}
    if kind == "SystemAssigned":
        principal = old.get("principalId") if old.get("type") == "SystemAssigned" else state.new_identity()
        return {"type": "SystemAssigned", "principalId": principal, "tenantId": TENANT}
    identities = {}
    for resource_id in requested.get("userAssignedIdentities") or {}:
        known = (old.get("userAssignedIdentities") or {}).get(resource_id)
        identities[resource_id] = known or {"principalId": state.new_identity(), "clientId": str(uuid.uuid4())}
    return {"type": "UserAssigned", "userAssignedIdentities": identities}


def _put_assignment(
    state: ArmState, scope: ScopeInfo, name: str, rid: str, body: Any, previous: dict[str, Any] | None
) -> tuple[int, dict[str, Any]]:
    props = validation.check_assignment(scope.canonical, name, body, state, scope.kind == "managementGroup")
    target = state.find_definition(props["policyDefinitionId"]) or state.set_definitions.get(
        key(props["policyDefinitionId"])
    )
    stored_props = {
        **props,
        "scope": scope.canonical,
        "notScopes": props.get("notScopes") or [],
        "parameters": props.get("parameters") or {},
        "enforcementMode": props.get("enforcementMode") or "Default",
        "definitionVersion": props.get("definitionVersion") or _major(target),
        "metadata": state.stamp_metadata(props.get("metadata"), previous),
        "instanceId": (previous or {}).get("properties", {}).get("instanceId") or str(uuid.uuid4()),
    }
    stored: dict[str, Any] = {
        "id": rid,
        "name": name,
        "type": "Microsoft.Authorization/policyAssignments",
        "properties": stored_props,
        "systemData": _system_data(previous),
    }
    identity = _identity(state, body.get("identity") or {}, previous)
    if identity is not None:
        stored["identity"] = identity
        stored["location"] = str(body["location"]).replace(" ", "").lower()
    state.assignments[key(rid)] = stored
    return 201, stored


def get(state: ArmState, scope: ScopeInfo, collection: str, name: str) -> tuple[int, dict[str, Any]]:
    if scope.kind == "tenant" and collection in (DEFINITIONS, SETS):
        found = state.builtins.get(key(name)) if collection == DEFINITIONS else None
    else:
        found = _table(state, collection).get(
            key(f"{scope.canonical}/providers/Microsoft.Authorization/{collection}/{name}")
        )
    if found is None:
        code = {
            DEFINITIONS: "PolicyDefinitionNotFound",
            SETS: "PolicySetDefinitionNotFound",
            ASSIGNMENTS: "PolicyAssignmentNotFound",
        }[collection]
        raise ArmError(404, code, f"The {collection[:-1]} '{name}' could not be found.")
    return 200, found


def delete(state: ArmState, scope: ScopeInfo, collection: str, name: str) -> tuple[int, dict[str, Any] | None]:
    rid = key(f"{scope.canonical}/providers/Microsoft.Authorization/{collection}/{name}")
    table = _table(state, collection)
    if rid not in table:
        return 204, None
    users = [a["id"] for a in state.assignments.values() if key(a["properties"]["policyDefinitionId"]) == rid]
    if collection == DEFINITIONS:
        users += [
            s["id"]
            for s in state.set_definitions.values()
            if any(key(m["policyDefinitionId"]) == rid for m in s["properties"]["policyDefinitions"])
        ]
    if users:
        code = (
            "InvalidDeletePolicyDefinitionRequest"
            if collection == DEFINITIONS
            else "InvalidDeletePolicySetDefinitionRequest"
        )
        raise ArmError(
            400, code, f"The {collection[:-1]} '{name}' cannot be deleted. It is referenced by '{users[0]}'."
        )
    return 200, table.pop(rid)


def listing(state: ArmState, scope: ScopeInfo, collection: str, filter_: str | None) -> list[dict[str, Any]]:
    items = list(_table(state, collection).values())
    if filter_ in (None, "atScope()") and collection == DEFINITIONS:
        items += list(state.builtins.values())
    if filter_ not in (None, "atExactScope()", "atScope()"):
        raise ArmError(400, "InvalidFilterInQueryString", f"The filter '{filter_}' is not supported.")

    def scope_of(item: dict[str, Any]) -> str:
        return key(item["id"]).split("/providers/microsoft.authorization/")[0]

    if filter_ == "atExactScope()":
        return [item for item in items if scope_of(item) == key(scope.canonical)]
    return [item for item in items if not scope_of(item) or is_within(scope.canonical, scope_of(item))]
