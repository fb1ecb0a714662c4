"""Microsoft.Authorization roleAssignments, Microsoft.PolicyInsights remediations and policy states."""

from __future__ import annotations

import uuid
from typing import Any

from . import validation
from .state import CALLER, TENANT_ROOT, ArmError, ArmState, Remediation, ScopeInfo, is_within, key, now

TERMINAL = {"Succeeded", "Failed", "Canceled"}


def put_role(state: ArmState, scope: ScopeInfo, name: str, body: Any) -> tuple[int, dict[str, Any]]:
    props = validation.check_role_assignment(scope.canonical, name, body, state)
    principal = str(props["principalId"])
    actual = state.principals.get(principal)
    if actual is None:
        raise ArmError(
            400,
            "PrincipalNotFound",
            f"Principal {principal.replace('-', '')} does not exist in the directory {TENANT_ROOT}.",
        )
    if (
        actual == "ServicePrincipal"
        and state.principal_tries.get(principal, state.principal_delay) < state.principal_delay
    ):
        state.principal_tries[principal] = state.principal_tries.get(principal, 0) + 1
        raise ArmError(
            400,
            "PrincipalNotFound",
            f"Principal {principal.replace('-', '')} does not exist in the directory "
            f"{TENANT_ROOT}. Check that you have the correct principal ID. If you are creating this principal "
            "and then immediately assigning a role, this error might be related to a replication delay.",
        )
    requested = props.get("principalType", "User")
    if requested != actual:
        raise ArmError(
            400,
            "UnmatchedPrincipalType",
            f"The PrincipalType in the request ('{requested}') does not match "
            f"the actual PrincipalType of the principal ('{actual}').",
        )
    guid = str(props["roleDefinitionId"]).rsplit("/", 1)[1].lower()
    rid = f"{scope.canonical}/providers/Microsoft.Authorization/roleAssignments/{name}"
    previous = state.role_assignments.get(key(rid))
    for other_id, other in state.role_assignments.items():
        p = other["properties"]
        same = (
            key(p["scope"]) == key(scope.canonical)
            and p["roleDefinitionId"].rsplit("/", 1)[1].lower() == guid
            and p["principalId"] == principal
        )
        if same and other_id != key(rid):
            raise ArmError(409, "RoleAssignmentExists", "The role assignment already exists.")
    if previous is not None and (
        previous["properties"]["principalId"] != principal
        or previous["properties"]["roleDefinitionId"].rsplit("/", 1)[1].lower() != guid
    ):
        raise ArmError(
            400,
            "RoleAssignmentUpdateNotPermitted",
            "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.",
        )
    stored = {
        "id": rid,
        "name": name,
        "type": "Microsoft.Authorization/roleAssignments",
        "properties": {
            "roleDefinitionId": f"/providers/Microsoft.Authorization/roleDefinitions/{guid}",
            "principalId": principal,
            "principalType": actual,
            "scope": scope.canonical,
            "description": props.get("description"),
            "condition": None,
            "conditionVersion": None,
            "createdOn": (previous or {}).get("properties", {}).get("createdOn", now()),
            "updatedOn": now(),
            "createdBy": CALLER,
            "updatedBy": CALLER,
            "delegatedManagedIdentityResourceId": None,
        },
    }
    state.role_assignments[key(rid)] = stored
    return 201, stored


def get_role(state: ArmState, rid: str) -> tuple[int, dict[str, Any]]:
    if rid not in state.role_assignments:
        raise ArmError(404, "RoleAssignmentNotFound", "The role assignment does not exist.")
    return 200, state.role_assignments[rid]


def delete_role(state: ArmState, rid: str) -> tuple[int, dict[str, Any] | None]:
    return (200, state.role_assignments.pop(rid)) if rid in state.role_assignments else (204, None)


def roles_listing(state: ArmState, scope: ScopeInfo, filter_: str | None) -> list[dict[str, Any]]:
    items = list(state.role_assignments.values())
    if filter_ == "atScope()":
        return [r for r in items if is_within(scope.canonical, r["properties"]["scope"])]
    if filter_ and filter_.startswith("principalId eq "):
        wanted = filter_.split("'")[1]
        return [r for r in items if r["properties"]["principalId"] == wanted]
    if filter_:
        raise ArmError(400, "InvalidFilterInQueryString", f"The filter '{filter_}' is not supported.")
    return [
        r
        for r in items
        if is_within(scope.canonical, r["properties"]["scope"]) or is_within(r["properties"]["scope"], scope.canonical)
    ]


def _remediation_target(state: ArmState, props: dict[str, Any]) -> None:
    assignment = state.assignments.get(key(str(props.get("policyAssignmentId", ""))))
    if assignment is None:
        raise ArmError(
            404,
            "PolicyAssignmentNotFound",
            f"The policy assignment '{props.get('policyAssignmentId')}' could not be found.",
        )
    target, _ = validation.target_of(state, assignment["properties"]["policyDefinitionId"])
    reference = props.get("policyDefinitionReferenceId")
    members = target["properties"].get("policyDefinitions")
    if members is None:
        definition = target
    else:
        match = next(
            (m for m in members if str(m["policyDefinitionReferenceId"]).casefold() == str(reference or "").casefold()),
            None,
        )
        if match is None:
            raise ArmError(
                400,
                "InvalidCreateRemediationRequest",
                "A policy definition reference ID of the initiative is required.",
            )
        definition = state.find_definition(match["policyDefinitionId"]) or {}
    if not validation.possible_effects(definition) & {"deployifnotexists", "modify"}:
        raise ArmError(
            400, "InvalidCreateRemediationRequest", "Only DeployIfNotExists and Modify policies can be remediated."
        )


def put_remediation(state: ArmState, scope: ScopeInfo, name: str, body: Any) -> tuple[int, dict[str, Any]]:
    if scope.kind not in ("managementGroup", "subscription"):
        raise ArmError(
            400, "InvalidScope", "Remediations are supported at management group and subscription scope here."
        )
    props = dict((body or {}).get("properties") or {})
    _remediation_target(state, props)
    mode = props.get("resourceDiscoveryMode", "ExistingNonCompliant")
    if scope.kind == "managementGroup" and mode != "ExistingNonCompliant":
        raise ArmError(
            400,
            "InvalidCreateRemediationRequest",
            "Re-evaluating compliance is not supported at management group scope.",
        )
    rid = f"{scope.canonical.lower()}/providers/microsoft.policyinsights/remediations/{name}"
    stored = {
        "id": rid,
        "name": name,
        "type": "Microsoft.PolicyInsights/remediations",
        "properties": {
            **props,
            "resourceDiscoveryMode": mode,
            "provisioningState": "Accepted",
            "createdOn": now(),
            "lastUpdatedOn": now(),
            "deploymentStatus": {"totalDeployments": 0, "successfulDeployments": 0, "failedDeployments": 0},
            "statusMessage": "Remediation extended status",
            "correlationId": str(uuid.uuid4()),
        },
        "systemData": {
            "createdBy": CALLER,
            "createdByType": "User",
            "createdAt": now(),
            "lastModifiedBy": CALLER,
            "lastModifiedByType": "User",
            "lastModifiedAt": now(),
        },
    }
    state.remediations[key(rid)] = Remediation(scope.canonical, name, stored)
    return 201, stored


def get_remediation(state: ArmState, scope: ScopeInfo, name: str) -> tuple[int, dict[str, Any]]:
    found = state.remediations.get(key(f"{scope.canonical}/providers/microsoft.policyinsights/remediations/{name}"))
    if found is None:
        raise ArmError(404, "RemediationNotFound", f"The remediation '{name}' could not be found.")
    props = found.body["properties"]
    if props["provisioningState"] not in TERMINAL:
        found.polls += 1
        if found.polls >= state.remediation_polls:
            failing = str(props.get("policyDefinitionReferenceId") or "") in state.failing_references
            total = state.remediation_deployments
            props["provisioningState"] = "Failed" if failing else "Succeeded"
            props["deploymentStatus"] = {
                "totalDeployments": total,
                "successfulDeployments": 0 if failing else total,
                "failedDeployments": total if failing else 0,
            }
        else:
            props["provisioningState"] = "Evaluating"
        props["lastUpdatedOn"] = now()
    return 200, found.body


def summarize(state: ArmState, scope: ScopeInfo, base_url: str) -> tuple[int, dict[str, Any]]:
    if scope.kind not in ("managementGroup", "subscription"):
        raise ArmError(400, "InvalidScope", "Summaries are supported at management group and subscription scope here.")
    rows, totals = [], [0, 0]
    for assignment in state.assignments.values():
        if not is_within(assignment["properties"]["scope"], scope.canonical):
            continue
        compliant, non_compliant = state.compliance.get(key(assignment["id"]), (0, 0))
        totals[0] += compliant
        totals[1] += non_compliant
        target = assignment["properties"]["policyDefinitionId"]
        rows.append(
            {
                "policyAssignmentId": assignment["id"].lower(),
                "policySetDefinitionId": target.lower() if "policysetdefinitions" in target.lower() else "",
                "results": _results(compliant, non_compliant),
                "policyDefinitions": [],
                "policyGroups": [],
            }
        )
    context = f"{base_url}{scope.canonical}/providers/Microsoft.PolicyInsights/policyStates/$metadata#summary"
    body = {
        "@odata.context": context,
        "@odata.count": 1,
        "value": [
            {
                "@odata.id": None,
                "@odata.context": context + "/$entity",
                "results": _results(*totals),
                "policyAssignments": rows,
            }
        ],
    }
    return 200, body


def _results(compliant: int, non_compliant: int) -> dict[str, Any]:
    return {
        "queryResultsUri": None,
        "nonCompliantResources": non_compliant,
        "nonCompliantPolicies": 1 if non_compliant else 0,
        "resourceDetails": [
            {"complianceState": "compliant", "count": compliant},
            {"complianceState": "noncompliant", "count": non_compliant},
        ],
        "policyDetails": [],
        "policyGroupDetails": [],
    }
