"""What a ring wants to exist: definitions and initiatives at the definition scope, the ring's assignments
with a system-assigned identity, the roles that identity needs, and the exemptions of the ring."""

from __future__ import annotations

from auditor.jsonvalue import JsonArray, JsonObject, as_array, as_object
from auditor.policy import PolicyError
from auditor.policy.config import PolicySettings
from auditor.policy.exemptions import desired_exemptions
from auditor.policy.expressions import effective_effect, lookup, possible_effects, resolve_value
from auditor.policy.ids import BUILTIN_PREFIX, POLICY_ASSIGNMENTS, child_id, id_key, is_within, parse_scope
from auditor.policy.load import Document, PolicyTree
from auditor.policy.model import (
    REMEDIABLE_EFFECTS,
    DefinitionFacts,
    DesiredAssignment,
    DesiredState,
    Resource,
    RoleNeed,
)
from auditor.policy.narrow import to_json
from auditor.policy.ownership import stamp
from auditor.policy.resolve import Target, local_definition_id, resolve_target
from auditor.policy.rules_rings import MAINTENANCE_PARAMETER

DEFINITION_KEYS = ("displayName", "description", "mode", "parameters", "policyRule")
SET_KEYS = ("displayName", "description", "parameters", "policyDefinitionGroups")


def definition_resource(doc: Document, definition_scope: str, owner_id: str) -> Resource:
    """The PUT body of one of our definitions."""
    properties: JsonObject = {key: doc.properties[key] for key in DEFINITION_KEYS if key in doc.properties}
    properties["metadata"] = stamp(as_object(doc.properties.get("metadata")), owner_id)
    return Resource("policyDefinition", local_definition_id(definition_scope, doc), {"properties": properties})


def set_resource(doc: Document, tree: PolicyTree, definition_scope: str, owner_id: str) -> Resource:
    """The PUT body of one of our initiatives, with references to our definitions scoped."""
    properties: JsonObject = {key: doc.properties[key] for key in SET_KEYS if key in doc.properties}
    properties["metadata"] = stamp(as_object(doc.properties.get("metadata")), owner_id)
    members: JsonArray = []
    for item in as_array(doc.properties.get("policyDefinitions")):
        member = dict(as_object(item))
        reference = str(member.get("policyDefinitionId", ""))
        if id_key(reference).startswith(BUILTIN_PREFIX.casefold()):
            local = tree.local("definition", reference.rstrip("/")[len(BUILTIN_PREFIX) :])
            if local is not None:
                member["policyDefinitionId"] = local_definition_id(definition_scope, local)
        members.append(member)
    properties["policyDefinitions"] = members
    return Resource("policySetDefinition", local_definition_id(definition_scope, doc), {"properties": properties})


def _members(target: Target, values: JsonObject) -> list[tuple[str | None, DefinitionFacts, JsonObject]]:
    """(reference id, definition, parameter values it receives) for each member of the target."""
    if target.definition is not None:
        return [(None, target.definition, dict(values))]
    out: list[tuple[str | None, DefinitionFacts, JsonObject]] = []
    for ref in target.references:
        passed: JsonObject = {}
        for name, wrapped in ref.parameters.items():
            known, value = resolve_value(as_object(wrapped).get("value"), values, target.parameters)
            if known:
                passed[name] = value
        out.append((ref.reference_id, ref.definition, passed))
    return out


def _role_scopes(scope: str, target: Target, values: JsonObject) -> list[str]:
    """The assignment scope, plus the scope named by each assignPermissions parameter outside it."""
    scopes = [scope]
    for name, declaration in target.parameters.items():
        if not as_object(as_object(declaration).get("metadata")).get("assignPermissions"):
            continue
        given = lookup(values, name)
        value = given[1] if given is not None else as_object(declaration).get("defaultValue")
        if not isinstance(value, str):
            continue
        try:
            extra = parse_scope(value, allow_resource=True).id
        except ValueError:
            continue
        if not is_within(extra, scope) and all(id_key(extra) != id_key(s) for s in scopes):
            scopes.append(extra)
    return scopes


def assignment(
    name: str,
    spec: JsonObject,
    ring: JsonObject,
    ring_name: str,
    tree: PolicyTree,
    definition_scope: str,
    owner_id: str,
) -> DesiredAssignment:
    """One desired assignment of a ring."""
    scope = parse_scope(str(ring["scope"])).id
    target = resolve_target(tree, str(spec.get("definition", "")), definition_scope)
    if target is None:
        raise PolicyError(
            f"assignments/{ring_name}.toml#/assignments/{name}/definition: cannot resolve {spec.get('definition')!r}",
            "run `auditor policy validate`",
        )
    values = dict(as_object(spec.get("parameters")))
    maintenance = ring.get("maintenance_configuration_id")
    declared = lookup(target.parameters, MAINTENANCE_PARAMETER)
    if isinstance(maintenance, str) and declared is not None:
        values[declared[0]] = maintenance
    messages: JsonArray = []
    for item in as_array(spec.get("non_compliance_messages")):
        given = as_object(item)
        message: JsonObject = {"message": given["message"]}
        if "reference_id" in given:
            message["policyDefinitionReferenceId"] = given["reference_id"]
        messages.append(message)
    properties: JsonObject = {
        "displayName": spec.get("display_name"),
        "metadata": stamp({"ring": ring_name}, owner_id),
        "policyDefinitionId": target.id,
        "parameters": {key: {"value": values[key]} for key in sorted(values)},
        "enforcementMode": spec.get("enforcement_mode", "Default"),
        "nonComplianceMessages": messages,
        "notScopes": [parse_scope(str(s), allow_resource=True).id for s in as_array(spec.get("not_scopes"))],
    }
    if spec.get("description"):
        properties["description"] = spec["description"]
    if spec.get("definition_version"):
        properties["definitionVersion"] = spec["definition_version"]
    body: JsonObject = {
        "identity": {"type": "SystemAssigned"},
        "location": ring["identity_location"],
        "properties": properties,
    }
    members = _members(target, values)
    guids: dict[str, None] = {}
    remediable: list[str | None] = []
    for reference_id, facts, passed in members:
        effects = possible_effects(facts.effect, facts.parameters)
        if effects is None or effects & REMEDIABLE_EFFECTS:
            guids.update(dict.fromkeys(facts.role_guids))
        if effective_effect(facts.effect, passed, facts.parameters) in REMEDIABLE_EFFECTS:
            remediable.append(reference_id)
    needs = tuple(RoleNeed(s, g) for s in _role_scopes(scope, target, values) for g in guids)
    resource = Resource("policyAssignment", child_id(scope, POLICY_ASSIGNMENTS, name), body)
    return DesiredAssignment(resource, needs, tuple(remediable))


def desired_state(tree: PolicyTree, settings: PolicySettings, ring: str) -> DesiredState:
    """Everything `ring` wants (the tree must already be valid)."""
    settings.require_ring(ring)
    ring_file = tree.ring(ring)
    if ring_file is None:
        raise PolicyError(
            f"{tree.root / 'assignments' / f'{ring}.toml'} does not exist",
            "create it, or remove the ring from [policy].rings",
        )
    data = as_object(to_json(ring_file.data, f"{ring_file.path}#"))
    definition_scope = parse_scope(str(data.get("definition_scope") or settings.definition_scope)).id
    owner = settings.owner_id
    definitions = tuple(
        definition_resource(doc, definition_scope, owner)
        for doc in tree.documents
        if doc.kind == "definition" and not doc.builtin
    )
    sets = tuple(
        set_resource(doc, tree, definition_scope, owner)
        for doc in tree.documents
        if doc.kind == "set" and not doc.builtin
    )
    assignments = tuple(
        assignment(name, as_object(spec), data, ring, tree, definition_scope, owner)
        for name, spec in as_object(data.get("assignments")).items()
    )
    return DesiredState(
        ring,
        parse_scope(str(data["scope"])).id,
        definition_scope,
        owner,
        definitions,
        sets,
        assignments,
        desired_exemptions(tree, ring, owner),
    )
