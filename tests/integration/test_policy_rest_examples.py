"""The emulator answers Microsoft's own REST examples (refdata/rest-examples) as ARM does: same status, same
response shape. Skipped when the shared reference data is not next to the repo,
except in CI."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.arm_emulator import ArmEmulator, ArmState
from tests.refdata import REFDATA, needs_refdata

EXAMPLES = REFDATA / "rest-examples"
pytestmark = needs_refdata("rest-examples")


def example(relative: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / relative).read_text(encoding="utf-8"))
    return data


def call(
    emulator: ArmEmulator, method: str, path: str, api_version: str, body: Any = None, token: str | None = "Bearer t"
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{emulator.base_url}{path}?api-version={api_version}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", token)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def same_shape(expected: Any, actual: Any, where: str = "") -> list[str]:
    """Keys (recursively) of the example's response that the emulator's response lacks or types differently."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected an object"]
        return [
            problem
            for key, value in expected.items()
            for problem in (
                same_shape(value, actual[key], f"{where}/{key}") if key in actual else [f"{where}/{key}: missing"]
            )
        ]
    if isinstance(expected, list) and expected:
        if not isinstance(actual, list) or not actual:
            return [f"{where}: expected a non-empty array"]
        return same_shape(expected[0], actual[0], f"{where}/0")
    if expected is None or actual is None or isinstance(expected, bool) != isinstance(actual, bool):
        return [] if expected is None or actual is None else [f"{where}: type differs"]
    return (
        []
        if isinstance(actual, type(expected)) or {type(expected), type(actual)} <= {int, float}
        else [f"{where}: {type(actual).__name__} instead of {type(expected).__name__}"]
    )


@pytest.fixture
def emulator() -> Iterator[ArmEmulator]:
    with ArmEmulator(ArmState()) as running:
        yield running


def test_policy_examples(emulator: ArmEmulator) -> None:
    definition = example("policy/2025-03-01_createOrUpdatePolicyDefinition.json")
    p = definition["parameters"]
    status, body = call(
        emulator,
        "PUT",
        f"/subscriptions/{p['subscriptionId']}/providers/Microsoft.Authorization/"
        f"policyDefinitions/{p['policyDefinitionName']}",
        p["api-version"],
        p["parameters"],
    )
    assert status == 201 and same_shape(definition["responses"]["201"]["body"], body) == []
    assert body["id"] == definition["responses"]["201"]["body"]["id"] and body["properties"]["policyType"] == "Custom"

    assignment = example("policy/2025-03-01_createPolicyAssignmentWithUserAssignedIdentity.json")
    p = assignment["parameters"]
    status, body = call(
        emulator,
        "PUT",
        f"/{p['scope']}/providers/Microsoft.Authorization/policyAssignments/{p['policyAssignmentName']}",
        p["api-version"],
        p["parameters"],
    )
    assert status == 201 and same_shape(assignment["responses"]["201"]["body"], body) == []
    assert body["properties"]["scope"] == assignment["responses"]["201"]["body"]["properties"]["scope"]

    initiative = example("policy/2025-03-01_createOrUpdatePolicySetDefinitionAtManagementGroup.json")
    p = initiative["parameters"]
    group = f"/providers/Microsoft.Management/managementGroups/{p['managementGroupId']}"
    skus = {
        "properties": {
            "mode": "All",
            "parameters": {"listOfAllowedSKUs": {"type": "Array"}},
            "policyRule": {"if": {"field": "type", "equals": "x"}, "then": {"effect": "Deny"}},
        }
    }
    for name, member in (
        ("7433c107-6db4-4ad1-b57a-a76dce0154a1", skus),
        ("ResourceNaming", definition["parameters"]["parameters"]),
    ):
        assert (
            call(
                emulator,
                "PUT",
                f"{group}/providers/Microsoft.Authorization/policyDefinitions/{name}",
                p["api-version"],
                member,
            )[0]
            == 201
        )
    status, body = call(
        emulator,
        "PUT",
        f"{group}/providers/Microsoft.Authorization/policySetDefinitions/{p['policySetDefinitionName']}",
        p["api-version"],
        p["parameters"],
    )
    expected = initiative["responses"]["201"]["body"]
    assert status == 201 and same_shape(expected, body) == []
    assert body["id"] == expected["id"]  # ARM's lower-case 'managementgroups'
    assert [m["definitionVersion"] for m in body["properties"]["policyDefinitions"]] == ["1.*.*", "1.*.*"]


def test_role_assignment_example_and_principal_checks(emulator: ArmEmulator) -> None:
    role = example("authorization/2022-04-01_RoleAssignments_CreateForSubscription.json")
    p = role["parameters"]
    path = f"/{p['scope']}/providers/Microsoft.Authorization/roleAssignments/{p['roleAssignmentName']}"
    status, body = call(emulator, "PUT", path, p["api-version"], p["parameters"])
    assert (status, body["error"]["code"]) == (400, "PrincipalNotFound")
    emulator.state.principals[p["parameters"]["properties"]["principalId"]] = "User"
    status, body = call(emulator, "PUT", path, p["api-version"], p["parameters"])
    assert status == 201 and same_shape(role["responses"]["201"]["body"], body) == []
    assert body["properties"]["roleDefinitionId"] == role["responses"]["201"]["body"]["properties"]["roleDefinitionId"]
    as_user = {"properties": {**p["parameters"]["properties"], "principalId": emulator.state.new_identity()}}
    emulator.state.principal_tries[as_user["properties"]["principalId"]] = emulator.state.principal_delay
    status, body = call(
        emulator,
        "PUT",
        path.replace(p["roleAssignmentName"], "6c7a1f7e-1f35-4c5b-9b8e-2d4c1e0a9b10"),
        p["api-version"],
        as_user,
    )
    assert (status, body["error"]["code"]) == (400, "UnmatchedPrincipalType")


def test_remediation_example(emulator: ArmEmulator) -> None:
    remediation = example("policyinsights/2024-10-01_Remediations_CreateSubscriptionScope_AllProperties.json")
    p = remediation["parameters"]
    scope = f"/subscriptions/{p['subscriptionId']}"
    assignment_id = p["parameters"]["properties"]["policyAssignmentId"]
    dine = {
        "properties": {
            "mode": "Indexed",
            "policyRule": {
                "if": {"field": "type", "equals": "x"},
                "then": {"effect": "deployIfNotExists", "details": {"type": "y", "roleDefinitionIds": []}},
            },
        }
    }
    initiative = {
        "properties": {
            "policyDefinitions": [
                {
                    "policyDefinitionReferenceId": p["parameters"]["properties"]["policyDefinitionReferenceId"],
                    "policyDefinitionId": f"{scope}/providers/Microsoft.Authorization/policyDefinitions/dine",
                }
            ]
        }
    }
    assert (
        call(emulator, "PUT", f"{scope}/providers/Microsoft.Authorization/policyDefinitions/dine", "2025-03-01", dine)[
            0
        ]
        == 201
    )
    assert (
        call(
            emulator,
            "PUT",
            f"{scope}/providers/Microsoft.Authorization/policySetDefinitions/set",
            "2025-03-01",
            initiative,
        )[0]
        == 201
    )
    status, body = call(
        emulator,
        "PUT",
        assignment_id,
        "2025-03-01",
        {"properties": {"policyDefinitionId": f"{scope}/providers/Microsoft.Authorization/policySetDefinitions/set"}},
    )
    assert (status, body["error"]["code"]) == (400, "InvalidCreatePolicyAssignmentRequest")  # DINE needs an identity
    status, _ = call(
        emulator,
        "PUT",
        assignment_id,
        "2025-03-01",
        {
            "identity": {"type": "SystemAssigned"},
            "location": "eastus",
            "properties": {"policyDefinitionId": f"{scope}/providers/Microsoft.Authorization/policySetDefinitions/set"},
        },
    )
    assert status == 201
    path = f"{scope}/providers/Microsoft.PolicyInsights/remediations/{p['remediationName']}"
    status, body = call(emulator, "PUT", path, p["api-version"], p["parameters"])
    expected = remediation["responses"]["201"]["body"]
    assert status == 201 and same_shape(expected, body) == []
    assert body["id"] == expected["id"] and body["properties"]["provisioningState"] == "Accepted"


def test_service_level_refusals(emulator: ArmEmulator) -> None:
    path = "/subscriptions/ae640e6b-ba3e-4256-9d62-2993eecfa6f2/providers/Microsoft.Authorization/policyDefinitions"
    assert call(emulator, "GET", path, "2025-03-01", token=None)[0] == 401
    assert call(emulator, "GET", path, "1999-01-01")[1]["error"]["code"] == "InvalidApiVersionParameter"
    connection = http.client.HTTPConnection(emulator.base_url.removeprefix("http://"), timeout=5)
    connection.request("GET", f"/{path}?api-version=2025-03-01", headers={"Authorization": "Bearer t"})
    response = connection.getresponse()  # a scope with a leading slash in the SDK's {scope} argument
    assert (response.status, json.loads(response.read())["error"]["code"]) == (400, "InvalidRequestUri")
    connection.close()
    bad_rule = {
        "properties": {
            "mode": "All",
            "policyRule": {"if": {"field": "name", "like": "[parameters('prefix')]"}, "then": {"effect": "deny"}},
        }
    }
    status, body = call(emulator, "PUT", f"{path}/bad", "2025-03-01", bad_rule)
    assert (status, body["error"]["code"]) == (400, "InvalidPolicyRule")
