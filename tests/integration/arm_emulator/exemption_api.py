"""Microsoft.Authorization policyExemptions, at any scope (management group, subscription, resource group,
resource), as ARM serves them: the assignment must exist, the category is Waiver or Mitigated, a new exemption
must expire in the future, reference ids must be members of the assigned initiative, and (unless
assignmentScopeValidation is DoNotValidate) the exemption lies at or under its assignment's scope."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .state import CALLER, ArmError, ArmState, ScopeInfo, is_within, key, now

COLLECTION = "policyExemptions"
EXEMPTION_KEYS = {
    "policyAssignmentId",
    "policyDefinitionReferenceIds",
    "exemptionCategory",
    "displayName",
    "description",
    "metadata",
    "expiresOn",
    "assignmentScopeValidation",
    "resourceSelectors",
}
CATEGORIES = {"Waiver", "Mitigated"}
SCOPE_VALIDATION = {"Default", "DoNotValidate"}


def bad(message: str, code: str = "InvalidCreatePolicyExemptionRequest") -> ArmError:
    return ArmError(400, code, message)


def _expiry(value: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise bad(f"The expiresOn value '{value}' is not a valid date-time.", "InvalidRequestContent") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _check(state: ArmState, scope: ScopeInfo, body: Any, previous: dict[str, Any] | None) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
        raise bad(
            "The request content for the policy exemption is invalid: 'properties' is required.",
            "InvalidRequestContent",
        )
    props: dict[str, Any] = body["properties"]
    unknown = sorted(set(props) - EXEMPTION_KEYS)
    if unknown:
        raise bad(f"Could not find member '{unknown[0]}' on object of type 'PolicyExemption'.", "InvalidRequestContent")
    assignment_id = props.get("policyAssignmentId")
    if not isinstance(assignment_id, str) or not assignment_id:
        raise bad("The policy exemption must have a 'policyAssignmentId'.")
    assignment = state.assignments.get(key(assignment_id))
    if assignment is None:
        raise ArmError(404, "PolicyAssignmentNotFound", f"The policy assignment '{assignment_id}' could not be found.")
    if props.get("exemptionCategory") not in CATEGORIES:
        raise bad(f"The exemption category '{props.get('exemptionCategory')}' is not valid: use Waiver or Mitigated.")
    if "expiresOn" in props and props["expiresOn"] is not None:
        expiry = _expiry(props["expiresOn"])
        if previous is None and expiry <= datetime.now(UTC):
            raise bad(f"The policy exemption expiration '{props['expiresOn']}' must be in the future.")
    validation = props.get("assignmentScopeValidation", "Default")
    if validation not in SCOPE_VALIDATION:
        raise bad(f"The assignmentScopeValidation '{validation}' is not valid.")
    assignment_scope = assignment["properties"]["scope"]
    if (
        validation == "Default"
        and not key(assignment_scope).startswith("/providers/microsoft.management/")
        and not is_within(scope.canonical, assignment_scope)
    ):
        raise bad(f"The policy exemption scope must be at or under the policy assignment scope '{assignment_scope}'.")
    references = props.get("policyDefinitionReferenceIds") or []
    if references:
        target = state.set_definitions.get(key(assignment["properties"]["policyDefinitionId"]))
        members = {
            str(m["policyDefinitionReferenceId"]).casefold()
            for m in (target or {}).get("properties", {}).get("policyDefinitions", [])
        }
        missing = [r for r in references if str(r).casefold() not in members]
        if target is None or missing:
            raise bad(
                f"The policy definition reference id '{(missing or references)[0]}' is not in the assigned policy set."
            )
    return props


def _canonical_expiry(value: Any) -> Any:
    """The same instant in another spelling than auditor's, so that a plan must compare instants, not text."""
    if value is None:
        return None
    return _expiry(value).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def put(state: ArmState, scope: ScopeInfo, name: str, body: Any) -> tuple[int, dict[str, Any]]:
    if scope.kind == "tenant":
        raise ArmError(400, "InvalidScope", "Policy exemptions cannot be written at the tenant root.")
    rid = f"{scope.canonical}/providers/Microsoft.Authorization/{COLLECTION}/{name}"
    previous = state.exemptions.get(key(rid))
    props = _check(state, scope, body, previous)
    stored_props = {
        **props,
        "policyAssignmentId": props["policyAssignmentId"].replace(
            "/Microsoft.Management/managementGroups/", "/Microsoft.Management/managementgroups/"
        ),
        "policyDefinitionReferenceIds": props.get("policyDefinitionReferenceIds") or [],
        "expiresOn": _canonical_expiry(props.get("expiresOn")),
        "metadata": state.stamp_metadata(props.get("metadata"), previous),
    }
    created = (previous or {}).get("systemData", {}).get("createdAt", now())
    stored = {
        "id": rid,
        "name": name,
        "type": "Microsoft.Authorization/policyExemptions",
        "properties": stored_props,
        "systemData": {
            "createdBy": CALLER,
            "createdByType": "User",
            "createdAt": created,
            "lastModifiedBy": CALLER,
            "lastModifiedByType": "User",
            "lastModifiedAt": now(),
        },
    }
    state.exemptions[key(rid)] = stored
    return (200 if previous else 201), stored


def get(state: ArmState, scope: ScopeInfo, name: str) -> tuple[int, dict[str, Any]]:
    found = state.exemptions.get(key(f"{scope.canonical}/providers/Microsoft.Authorization/{COLLECTION}/{name}"))
    if found is None:
        raise ArmError(404, "PolicyExemptionNotFound", f"The policy exemption '{name}' could not be found.")
    return 200, found


def delete(state: ArmState, scope: ScopeInfo, name: str) -> tuple[int, dict[str, Any] | None]:
    rid = key(f"{scope.canonical}/providers/Microsoft.Authorization/{COLLECTION}/{name}")
    return (200, state.exemptions.pop(rid)) if rid in state.exemptions else (204, None)


def _scope_of(exemption: dict[str, Any]) -> str:
    return key(exemption["id"]).rsplit("/providers/microsoft.authorization/", 1)[0]


def listing(state: ArmState, scope: ScopeInfo, filter_: str | None) -> list[dict[str, Any]]:
    """ARM's filters: none (at, above and, but for a management group, below the scope), atScope() (at and
    above), atExactScope(), excludeExpired() and policyAssignmentId eq '<id>'."""
    here = key(scope.canonical)
    items = list(state.exemptions.values())

    def at_or_above(item: dict[str, Any]) -> bool:
        return is_within(here, _scope_of(item))

    if filter_ is None:
        below = scope.kind != "managementGroup"
        return [i for i in items if at_or_above(i) or (below and is_within(_scope_of(i), here))]
    if filter_ == "atScope()":
        return [i for i in items if at_or_above(i)]
    if filter_ == "atExactScope()":
        return [i for i in items if _scope_of(i) == here]
    if filter_ == "excludeExpired()":
        moment = datetime.now(UTC)
        return [
            i
            for i in listing(state, scope, None)
            if i["properties"].get("expiresOn") is None or _expiry(i["properties"]["expiresOn"]) > moment
        ]
    if filter_.startswith("policyAssignmentId eq '") and filter_.endswith("'"):
        wanted = key(filter_[len("policyAssignmentId eq '") : -1])
        return [i for i in listing(state, scope, None) if key(i["properties"]["policyAssignmentId"]) == wanted]
    raise ArmError(400, "InvalidFilterInQueryString", f"The filter '{filter_}' is not supported.")
