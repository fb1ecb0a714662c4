"""Request-body checks, as ARM makes them (shapes follow refdata/rest-examples)."""

from __future__ import annotations

import re
from typing import Any

from .state import GUID, ArmError, ArmState, key

PARAMETER_TYPES = {"string", "array", "object", "boolean", "integer", "float", "datetime"}
DEFINITION_KEYS = {
    "policyType",
    "mode",
    "displayName",
    "description",
    "policyRule",
    "metadata",
    "parameters",
    "version",
    "versions",
    "externalEvaluationEnforcementSettings",
}
SET_KEYS = {
    "policyType",
    "displayName",
    "description",
    "metadata",
    "parameters",
    "policyDefinitions",
    "policyDefinitionGroups",
    "version",
    "versions",
}
ASSIGNMENT_KEYS = {
    "displayName",
    "policyDefinitionId",
    "definitionVersion",
    "notScopes",
    "parameters",
    "description",
    "metadata",
    "enforcementMode",
    "nonComplianceMessages",
    "resourceSelectors",
    "overrides",
    "assignmentType",
    "selfServeExemptionSettings",
}
ENFORCEMENT = {"Default", "DoNotEnforce", "Enroll"}
PARAM_CALL = re.compile(r"parameters\(\s*'([^']+)'\s*\)", re.IGNORECASE)
WHOLE_REF = re.compile(r"^\[\s*parameters\(\s*'([^']+)'\s*\)\s*\]$", re.IGNORECASE)


def bad(code: str, message: str) -> ArmError:
    return ArmError(400, code, message)


def _properties(body: Any, known: set[str], what: str) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
        raise bad("InvalidRequestContent", f"The request content for the {what} is invalid: 'properties' is required.")
    props: dict[str, Any] = body["properties"]
    unknown = sorted(set(props) - known)
    if unknown:
        raise bad("InvalidRequestContent", f"Could not find member '{unknown[0]}' on object of type '{what}'.")
    return props


def _used_parameters(node: Any, skip_template: bool = True) -> set[str]:
    out: set[str] = set()
    if isinstance(node, str):
        if node.startswith("[") and not node.startswith("[["):
            out.update(name.casefold() for name in PARAM_CALL.findall(node))
    elif isinstance(node, dict):
        for name, value in node.items():
            if skip_template and name == "template" and isinstance(value, dict) and "resources" in value:
                continue
            out |= _used_parameters(name, skip_template) | _used_parameters(value, skip_template)
    elif isinstance(node, list):
        for value in node:
            out |= _used_parameters(value, skip_template)
    return out


def _check_parameter_declarations(parameters: Any, what: str) -> dict[str, Any]:
    if parameters is None:
        return {}
    if not isinstance(parameters, dict):
        raise bad("InvalidPolicyParameters", f"The parameters of the {what} must be an object.")
    for name, declaration in parameters.items():
        if not isinstance(declaration, dict) or str(declaration.get("type", "")).casefold() not in PARAMETER_TYPES:
            raise bad("InvalidPolicyParameterType", f"The parameter '{name}' of the {what} has an invalid type.")
        allowed = declaration.get("allowedValues")
        if allowed and "defaultValue" in declaration and not allowed_value(declaration["defaultValue"], allowed):
            raise bad("InvalidPolicyParameters", f"The default value of parameter '{name}' is not an allowed value.")
    return parameters


def allowed_value(value: Any, allowed: list[Any]) -> bool:
    def same(a: Any, b: Any) -> bool:
        return a.casefold() == b.casefold() if isinstance(a, str) and isinstance(b, str) else bool(a == b)

    if any(same(value, item) for item in allowed):
        return True
    return isinstance(value, list) and all(any(same(v, item) for item in allowed) for v in value)


def possible_effects(definition: dict[str, Any]) -> set[str]:
    props = definition.get("properties") or {}
    effect = str(((props.get("policyRule") or {}).get("then") or {}).get("effect", ""))
    match = WHOLE_REF.match(effect)
    if not match:
        return {effect.casefold()}
    declaration: dict[str, Any] = next(
        (v for k, v in (props.get("parameters") or {}).items() if k.casefold() == match.group(1).casefold()), {}
    )
    values = list(declaration.get("allowedValues") or []) + (
        [declaration["defaultValue"]] if "defaultValue" in declaration else []
    )
    return {str(v).casefold() for v in values}


def check_definition(name: str, body: Any) -> dict[str, Any]:
    props = _properties(body, DEFINITION_KEYS, "PolicyDefinition")
    if props.get("policyType", "Custom") not in ("Custom", "NotSpecified"):
        raise bad(
            "InvalidPolicyDefinitionRequest",
            f"The policy definition '{name}' cannot be of type '{props['policyType']}'.",
        )
    if len(str(props.get("displayName", ""))) > 128 or len(str(props.get("description", ""))) > 512:
        raise bad(
            "InvalidPolicyDefinitionRequest",
            f"The policy definition '{name}' has a too long displayName or description.",
        )
    rule = props.get("policyRule")
    if (
        not isinstance(rule, dict)
        or not isinstance(rule.get("if"), dict)
        or not isinstance(rule.get("then"), dict)
        or not isinstance(rule["then"].get("effect"), str)
    ):
        raise bad(
            "InvalidPolicyRule", f"The policy definition '{name}' rule is invalid: it needs 'if' and 'then.effect'."
        )
    declared = {k.casefold() for k in _check_parameter_declarations(props.get("parameters"), "policy definition")}
    missing = sorted(_used_parameters(rule) - declared)
    if missing:
        raise bad(
            "InvalidPolicyRule",
            f"The policy definition '{name}' rule is invalid. The parameter '{missing[0]}' is not defined.",
        )
    return props


def _check_values(values: Any, declared: dict[str, Any], target: str, *, allow_expressions: bool) -> None:
    values = values or {}
    if not isinstance(values, dict):
        raise bad("InvalidPolicyParameters", "Parameter values must be an object.")
    folded = {k.casefold(): v for k, v in declared.items()}
    for name, wrapped in values.items():
        if name.casefold() not in folded:
            raise bad(
                "UndefinedPolicyParameter",
                f"The policy parameter '{name}' is not defined in the policy definition '{target}'.",
            )
        if not isinstance(wrapped, dict) or "value" not in wrapped:
            raise bad("InvalidPolicyParameters", f"The value of parameter '{name}' must be an object with 'value'.")
        value, allowed = wrapped["value"], folded[name.casefold()].get("allowedValues")
        expression = isinstance(value, str) and value.startswith("[") and not value.startswith("[[")
        if allowed and not (allow_expressions and expression) and not allowed_value(value, allowed):
            raise bad("InvalidPolicyParameterValue", f"The value of parameter '{name}' is not allowed.")
    given = {k.casefold() for k in values}
    for name, declaration in declared.items():
        if "defaultValue" not in declaration and name.casefold() not in given:
            raise bad("MissingPolicyParameter", f"The policy parameter '{name}' is missing for '{target}'.")


def check_set_definition(name: str, body: Any, state: ArmState) -> dict[str, Any]:
    props = _properties(body, SET_KEYS, "PolicySetDefinition")
    declared = _check_parameter_declarations(props.get("parameters"), "policy set definition")
    members = props.get("policyDefinitions")
    if not isinstance(members, list) or not members:
        raise bad(
            "InvalidCreatePolicySetDefinitionRequest", f"The policy set definition '{name}' has no policy definitions."
        )
    groups = {str(g.get("name", "")).casefold() for g in props.get("policyDefinitionGroups") or []}
    seen: set[str] = set()
    for member in members:
        reference_id = str(member.get("policyDefinitionReferenceId") or "")
        if not reference_id or reference_id.casefold() in seen:
            raise bad(
                "InvalidCreatePolicySetDefinitionRequest",
                f"Missing or duplicate policyDefinitionReferenceId '{reference_id}'.",
            )
        seen.add(reference_id.casefold())
        definition = state.find_definition(str(member.get("policyDefinitionId", "")))
        if definition is None:
            raise bad(
                "PolicyDefinitionNotFound",
                f"The policy definition '{member.get('policyDefinitionId')}' could not be found.",
            )
        _check_values(
            member.get("parameters"),
            definition["properties"].get("parameters") or {},
            str(member["policyDefinitionId"]),
            allow_expressions=True,
        )
        for group in member.get("groupNames") or []:
            if group.casefold() not in groups:
                raise bad("InvalidCreatePolicySetDefinitionRequest", f"The group '{group}' is not defined.")
    missing = sorted(_used_parameters(members) - {k.casefold() for k in declared})
    if missing:
        raise bad("UndefinedPolicyParameter", f"The policy set parameter '{missing[0]}' is not defined.")
    return props


def target_of(state: ArmState, definition_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(definition or set, member definitions) of an assignment target."""
    found = state.find_definition(definition_id)
    if found is not None:
        return found, [found]
    found = state.set_definitions.get(key(definition_id))
    if found is None:
        code = (
            "PolicySetDefinitionNotFound"
            if "policysetdefinitions" in key(definition_id)
            else "PolicyDefinitionNotFound"
        )
        raise bad(code, f"The policy definition '{definition_id}' could not be found.")
    members = [state.find_definition(m["policyDefinitionId"]) for m in found["properties"]["policyDefinitions"]]
    return found, [m for m in members if m is not None]


def check_assignment(scope: str, name: str, body: Any, state: ArmState, is_mg: bool) -> dict[str, Any]:
    props = _properties(body, ASSIGNMENT_KEYS, "PolicyAssignment")
    if len(name) > (24 if is_mg else 64):
        raise bad("InvalidPolicyAssignmentName", f"The policy assignment name '{name}' is too long for this scope.")
    target, members = target_of(state, str(props.get("policyDefinitionId", "")))
    definition_scope = key(target["id"]).split("/providers/microsoft.authorization/")[0]
    if definition_scope.startswith("/subscriptions/") and not key(scope).startswith(definition_scope):
        raise bad(
            "InvalidCreatePolicyAssignmentRequest", "The policy definition is not reachable from the assignment scope."
        )
    _check_values(
        props.get("parameters"), target["properties"].get("parameters") or {}, target["id"], allow_expressions=False
    )
    if props.get("enforcementMode", "Default") not in ENFORCEMENT:
        raise bad("InvalidCreatePolicyAssignmentRequest", f"Invalid enforcementMode '{props.get('enforcementMode')}'.")
    identity = body.get("identity") or {}
    if identity.get("type") not in (None, "None", "SystemAssigned", "UserAssigned"):
        raise bad("InvalidIdentityType", f"The identity type '{identity.get('type')}' is not supported.")
    if identity.get("type") in ("SystemAssigned", "UserAssigned") and not body.get("location"):
        raise bad("LocationRequired", "The location property is required when the assignment has a managed identity.")
    if identity.get("type") in (None, "None") and any(
        possible_effects(m) & {"deployifnotexists", "modify"} for m in members
    ):
        raise bad(
            "InvalidCreatePolicyAssignmentRequest",
            f"The policy assignment '{name}' request is invalid. Policy "
            "assignments must include a 'managed identity' when assigning 'DeployIfNotExists' policy definitions.",
        )
    references = {
        str(m.get("policyDefinitionReferenceId", "")).casefold()
        for m in target["properties"].get("policyDefinitions") or []
    }
    for message in props.get("nonComplianceMessages") or []:
        if not isinstance(message.get("message"), str) or not message["message"]:
            raise bad("InvalidNonComplianceMessage", "A non-compliance message needs 'message'.")
        reference = message.get("policyDefinitionReferenceId")
        if reference is not None and str(reference).casefold() not in references:
            raise bad("InvalidNonComplianceMessage", f"The policy definition reference '{reference}' does not exist.")
    return props


def check_role_assignment(scope: str, name: str, body: Any, state: ArmState) -> dict[str, Any]:
    if not GUID.match(name):
        raise bad(
            "InvalidRoleAssignmentId",
            f"The role assignment ID '{name}' is not valid. The role assignment ID must be a GUID.",
        )
    props = body.get("properties") if isinstance(body, dict) else None
    if not isinstance(props, dict) or not props.get("roleDefinitionId") or not props.get("principalId"):
        raise bad("InvalidRequestContent", "roleDefinitionId and principalId are required.")
    role = str(props["roleDefinitionId"])
    match = re.match(
        r"^(/subscriptions/([^/]+))?/providers/Microsoft\.Authorization/roleDefinitions/([0-9a-fA-F-]{36})$", role, re.I
    )
    if not match:
        raise bad("InvalidRoleDefinitionId", f"The role definition ID '{role}' is not valid.")
    if match.group(2) and not key(scope).startswith(f"/subscriptions/{match.group(2).casefold()}"):
        raise bad("InvalidRoleDefinitionId", f"The role definition '{role}' is not in the scope's subscription.")
    return props
