"""Policy exemptions against the loopback ARM: the emulator checks bodies as ARM does, auditor flags what has
expired, exempts someone else's assignment when a ring claims it, finds exemptions beneath a management-group
ring, and reports ARM's refusals as bad input."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.mgmt.resource.policy.models import PolicyAssignment

from auditor.errors import ExitCode
from auditor.policy import PolicyError
from auditor.policy import workflow as wf
from auditor.policy.arm import EXEMPTION_API_VERSION
from tests.integration.arm_emulator.policy_env import DEV_SCOPE, PolicyEnv, RecordingHooks, policy_environment

ASSIGNMENTS = "/providers/Microsoft.Authorization/policyAssignments"
EXEMPTIONS = "/providers/Microsoft.Authorization/policyExemptions"
DEV_ASSIGNMENT = f"{DEV_SCOPE}{ASSIGNMENTS}/aum-baseline-dev"
HAND_MADE = f"{DEV_SCOPE}{ASSIGNMENTS}/hand-made"
TEST_GROUP = "/providers/Microsoft.Management/managementGroups/contoso-test"
OTHER_SUB = "/subscriptions/44444444-4444-4444-4444-444444444444"
MISSING_UPDATES = "/providers/Microsoft.Authorization/policyDefinitions/f85bf3e0-d513-442e-89c3-1784ad63382b"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[PolicyEnv]:
    with policy_environment(tmp_path) as world:
        yield world


def days_ahead(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def call(env: PolicyEnv, method: str, path: str, body: Any = None, query: str = "") -> tuple[int, Any]:
    """One raw request (as ARM's REST API takes it) at the exemption api-version."""
    data = None if body is None else json.dumps(body).encode()
    url = f"{env.emulator.base_url}{path}?api-version={EXEMPTION_API_VERSION}{query}"
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    request.add_header("Authorization", "Bearer t")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def exemption_file(env: PolicyEnv, name: str, *lines: str) -> None:
    folder = env.policies / "exemptions"
    folder.mkdir(exist_ok=True)
    common = [
        'category = "Waiver"',
        'description = "Accepted for now."',
        "[metadata]",
        'owner = "jane.doe@contoso.com"',
        'justification = "Vendor-managed."',
    ]
    (folder / f"{name}.toml").write_text("\n".join([*lines, *common]) + "\n", encoding="utf-8")


def hand_made_assignment(env: PolicyEnv) -> None:
    body = PolicyAssignment({"properties": {"displayName": "Hand-made", "policyDefinitionId": MISSING_UPDATES}})
    env.clients.policy(DEV_SCOPE.rsplit("/", 1)[1]).policy_assignments.create(DEV_SCOPE.lstrip("/"), "hand-made", body)


def test_emulator_checks_exemption_bodies_as_arm_does(env: PolicyEnv) -> None:
    wf.deploy_ring(env.settings(), "dev", env.arm, hooks=RecordingHooks(), reader=None)
    path = f"{DEV_SCOPE}/resourceGroups/rg-a{EXEMPTIONS}/waiver"
    good = {
        "properties": {
            "policyAssignmentId": DEV_ASSIGNMENT,
            "exemptionCategory": "Waiver",
            "expiresOn": days_ahead(5),
            "policyDefinitionReferenceIds": ["auditHotpatch"],
        }
    }

    def refused(change: dict[str, Any], at: str = path) -> tuple[int, str]:
        status, body = call(env, "PUT", at, {"properties": {**good["properties"], **change}})
        return status, body["error"]["code"]

    assert refused({"policyAssignmentId": None}) == (400, "InvalidCreatePolicyExemptionRequest")
    assert refused({"policyAssignmentId": f"{DEV_SCOPE}{ASSIGNMENTS}/nope"}) == (404, "PolicyAssignmentNotFound")
    assert refused({"exemptionCategory": "Forever"}) == (400, "InvalidCreatePolicyExemptionRequest")
    assert refused({"expiresOn": days_ahead(-1)}) == (400, "InvalidCreatePolicyExemptionRequest")
    assert refused({"policyDefinitionReferenceIds": ["nope"]}) == (400, "InvalidCreatePolicyExemptionRequest")
    assert refused({}, f"{OTHER_SUB}{EXEMPTIONS}/waiver") == (400, "InvalidCreatePolicyExemptionRequest")
    assert refused({"notAField": 1}) == (400, "InvalidRequestContent")
    status, stored = call(env, "PUT", path, good)
    assert status == 201 and stored["properties"]["expiresOn"].endswith(".0000000Z")
    # an update may keep a past expiry (only a new exemption must expire in the future)
    env.emulator.state.exemptions[path.casefold()]["properties"]["expiresOn"] = days_ahead(-2)
    assert call(env, "PUT", path, {"properties": {**good["properties"], "expiresOn": days_ahead(-2)}})[0] == 200
    assert call(env, "GET", f"{DEV_SCOPE}{EXEMPTIONS}/waiver")[0] == 404
    assert call(env, "GET", path, query="")[0] == 200
    code = call(env, "GET", f"{DEV_SCOPE}{EXEMPTIONS}", query="&$filter=whatever()")[1]["error"]["code"]
    assert code == "InvalidFilterInQueryString"
    listed = {
        query: len(call(env, "GET", f"{DEV_SCOPE}{EXEMPTIONS}", query=query)[1]["value"])
        for query in ("", "&$filter=atScope()", "&$filter=atExactScope()", "&$filter=excludeExpired()")
    }
    assert listed == {"": 1, "&$filter=atScope()": 0, "&$filter=atExactScope()": 0, "&$filter=excludeExpired()": 0}
    assert call(env, "DELETE", path)[0] == 200 and call(env, "DELETE", path)[0] == 204


def test_expired_exemptions_are_flagged_and_someone_elses_assignment_can_be_exempted(env: PolicyEnv) -> None:
    hand_made_assignment(env)
    exemption_file(
        env,
        "lab",
        f'assignment = "{HAND_MADE}"',
        'ring = "dev"',
        f'scope = "{DEV_SCOPE}/resourceGroups/rg-lab"',
        f"expires_on = {days_ahead(20)}",
    )
    settings = env.settings()
    wf.deploy_ring(settings, "dev", env.arm, hooks=RecordingHooks(), reader=None)
    stored = env.emulator.state.exemptions[f"{DEV_SCOPE}/resourceGroups/rg-lab{EXEMPTIONS}/lab".casefold()]
    assert stored["properties"]["policyAssignmentId"] == HAND_MADE
    assert not wf.plan_ring(settings, "dev", env.arm).has_changes

    later = datetime.now(UTC) + timedelta(days=21)
    expired = wf.plan_ring(settings, "dev", env.arm, now=later)
    assert not expired.has_changes
    (flag,) = expired.flags
    assert (flag.kind, flag.label) == ("policyExemption", "lab")
    assert flag.message.startswith("expired on ") and flag.message.endswith(": renew or remove")


def test_exemptions_beneath_a_management_group_ring_are_found(env: PolicyEnv) -> None:
    exemption_file(
        env,
        "test-sandbox",
        'assignment = "aum-baseline-test"',
        f'scope = "{OTHER_SUB}/resourceGroups/rg-sandbox"',
        f"expires_on = {days_ahead(20)}",
    )
    settings = env.settings(gates={})
    plan = wf.plan_ring(settings, "test", env.arm)
    assert ("create", "policyExemption") in {(c.action, c.kind) for c in plan.changes}
    wf.deploy_ring(settings, "test", env.arm, hooks=RecordingHooks(), reader=None)
    again = wf.plan_ring(settings, "test", env.arm)
    assert not again.has_changes and again.counts()["unchanged"] == 13
    listed = [path for method, path, _, _ in env.emulator.state.requests if method == "GET" and "xemptions" in path]
    assert listed[-2:] == [f"{TEST_GROUP}{EXEMPTIONS}", f"{OTHER_SUB}{EXEMPTIONS}"]


def test_arm_refusing_an_exemption_is_bad_input(env: PolicyEnv) -> None:
    hand_made_assignment(env)
    exemption_file(
        env,
        "members",
        f'assignment = "{HAND_MADE}"',
        'ring = "dev"',
        f'scope = "{DEV_SCOPE}"',
        f"expires_on = {days_ahead(20)}",
        'policy_definition_reference_ids = ["someMember"]',  # validate cannot see inside their assignment
    )
    with pytest.raises(PolicyError) as caught:
        wf.deploy_ring(env.settings(), "dev", env.arm, hooks=RecordingHooks(), reader=None)
    assert caught.value.exit_code == ExitCode.BAD_INPUT
    assert caught.value.message.startswith(f"write policyExemption {DEV_SCOPE}{EXEMPTIONS}/members: ARM refused it")
    assert "InvalidCreatePolicyExemptionRequest" in caught.value.message
