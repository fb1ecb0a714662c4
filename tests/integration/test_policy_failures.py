"""What goes wrong, against the emulator: conflicts, stale plans, slow identities, refused and unreachable ARM,
and ring gates (management group scope included)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from azure.mgmt.resource.policy.models import PolicyDefinition

from auditor.errors import ExitCode
from auditor.policy import PolicyAzureError, PolicyError
from auditor.policy import workflow as wf
from auditor.policy.arm import PolicyArm
from auditor.policy.azure import AzureClients
from auditor.policy.plan import write_plan
from tests.integration.arm_emulator import FakeCredential, client_options
from tests.integration.arm_emulator.policy_env import DEFINITION_SCOPE, PolicyEnv, RecordingHooks, policy_environment

TEST_SCOPE = "/providers/Microsoft.Management/managementGroups/contoso-test"
NOW = datetime(2026, 11, 20, tzinfo=UTC)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[PolicyEnv]:
    with policy_environment(tmp_path) as world:
        yield world


class Reader:
    """A SummaryReader over one fixed summary.json."""

    def __init__(self, summary: dict[str, Any] | None) -> None:
        self.summary = summary
        self.asked: list[str | None] = []

    def latest_summary(self, scope_key: str | None = None) -> dict[str, Any] | None:
        self.asked.append(scope_key)
        return self.summary


def summary(rate: float, coverage: float) -> dict[str, Any]:
    return {
        "as_of": "2026-11-19T06:00:00Z",
        "compliance_rate": rate,
        "by_environment": [
            {
                "key": "Development",
                "machines": 40,
                "compliant": 36,
                "non_compliant": 4,
                "unknown": 0,
                "compliance_rate": rate,
            }
        ],
        "coverage": {"periodic_assessment_enabled": {"machines": 39, "rate": coverage}},
    }


def test_foreign_resource_with_our_name_is_a_conflict_and_blocks_deploy(env: PolicyEnv) -> None:
    body = PolicyDefinition(
        {
            "properties": {
                "displayName": "Someone's hotpatch audit",
                "mode": "All",
                "policyRule": {"if": {"field": "type", "equals": "x"}, "then": {"effect": "audit"}},
            }
        }
    )
    env.clients.policy().policy_definitions.create_or_update_at_management_group("contoso", "aum-hotpatch-audit", body)
    plan = wf.plan_ring(env.settings(), "dev", env.arm)
    (conflict,) = plan.of("conflict")
    assert (conflict.kind, conflict.label) == ("policyDefinition", "aum-hotpatch-audit")
    assert "not managed by auditor" in conflict.note and plan.has_changes
    before = len(env.emulator.writes())
    with pytest.raises(PolicyError) as caught:
        wf.deploy_ring(env.settings(), "dev", env.arm, hooks=RecordingHooks(), reader=None)
    assert caught.value.exit_code == ExitCode.BAD_INPUT
    assert caught.value.message.endswith(
        "aum-hotpatch-audit: exists and is not managed by auditor; auditor will "
        "not change it (rename ours or remove theirs)"
    )
    assert len(env.emulator.writes()) == before
    stored = env.clients.policy().policy_definitions.get_at_management_group("contoso", "aum-hotpatch-audit")
    assert stored.as_dict()["properties"]["displayName"] == "Someone's hotpatch audit"


def test_stale_or_mismatched_saved_plan_is_refused(env: PolicyEnv, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    write_plan(wf.plan_ring(env.settings(), "dev", env.arm), saved)
    with pytest.raises(PolicyError, match=r"plan\.json#/prune: the plan is for prune False, not True"):
        wf.deploy_ring(env.settings(), "dev", env.arm, hooks=RecordingHooks(), reader=None, plan_file=saved, prune=True)
    env.edit("assignments/dev.toml", 'hotpatchEffect = "Audit"', 'hotpatchEffect = "Deny"')
    with pytest.raises(PolicyError, match=r"plan\.json#/fingerprint: the plan is stale"):
        wf.deploy_ring(env.settings(), "dev", env.arm, hooks=RecordingHooks(), reader=None, plan_file=saved)
    assert env.emulator.writes() == []


def test_identity_that_never_propagates_fails_with_exit_3_and_a_rerun_finishes(env: PolicyEnv) -> None:
    env.emulator.state.principal_delay = 1000
    settings = env.settings(principal_retry_attempts=3)
    with pytest.raises(PolicyAzureError) as caught:
        wf.deploy_ring(settings, "dev", env.arm, hooks=RecordingHooks(), reader=None)
    assert caught.value.exit_code == ExitCode.INCOMPLETE
    assert "still unknown after 3 tries" in caught.value.message and "PrincipalNotFound" not in caught.value.hint
    assert len(env.emulator.state.assignments) == 1 and env.emulator.state.role_assignments == {}
    env.emulator.state.principal_delay = 0
    rerun = wf.plan_ring(settings, "dev", env.arm)
    assert {c.kind for c in rerun.of("create")} == {"roleAssignment"} and len(rerun.of("create")) == 6
    assert all(c.id for c in rerun.of("create"))  # the principal is known now: stable ids
    wf.deploy_ring(settings, "dev", env.arm, hooks=RecordingHooks(), reader=None)
    assert not wf.plan_ring(settings, "dev", env.arm).has_changes


def test_permission_denied_and_unreachable_are_exit_3(env: PolicyEnv) -> None:
    env.emulator.state.denied_scopes.add(DEFINITION_SCOPE.casefold())
    with pytest.raises(PolicyAzureError) as denied:
        wf.plan_ring(env.settings(), "dev", env.arm)
    assert denied.value.exit_code == ExitCode.INCOMPLETE
    assert "permission denied (AuthorizationFailed)" in denied.value.message
    assert "User Access Administrator" in denied.value.hint
    dead = AzureClients(
        FakeCredential(),
        base_url="http://127.0.0.1:9",
        credential_scope="x/.default",
        client_options={**client_options(), "connection_timeout": 2},
    )
    with pytest.raises(PolicyAzureError) as unreachable:
        wf.plan_ring(env.settings(), "dev", PolicyArm(dead))
    assert unreachable.value.exit_code == ExitCode.INCOMPLETE and "Azure is unreachable" in unreachable.value.message


def test_arm_refusal_is_bad_input_naming_the_code(env: PolicyEnv) -> None:
    del env.emulator.state.builtins["9905ca54-1471-49c6-8291-7582c04cd4d4"]
    with pytest.raises(PolicyError) as caught:
        wf.deploy_ring(env.settings(), "dev", env.arm, hooks=RecordingHooks(), reader=None)
    assert caught.value.exit_code == ExitCode.BAD_INPUT
    assert (
        "policySetDefinition" in caught.value.message
        and "ARM refused it: PolicyDefinitionNotFound" in caught.value.message
    )


def test_gate_blocks_the_next_ring_unless_forced_and_management_groups_work(env: PolicyEnv) -> None:
    settings = env.settings()
    failing = Reader(summary(rate=81.5, coverage=97.5))
    with pytest.raises(PolicyError) as caught:
        wf.deploy_ring(settings, "test", env.arm, hooks=RecordingHooks(), reader=failing, now=NOW)
    assert caught.value.exit_code == ExitCode.FINDINGS
    assert caught.value.message == (
        "gate of ring 'dev' not met: compliance of Development must be at least 90.00% (scan: 81.50%)"
    )
    assert env.emulator.writes() == [] and failing.asked == [None]

    hooks = RecordingHooks()
    wf.deploy_ring(settings, "test", env.arm, hooks=hooks, reader=failing, force=True, now=NOW)
    assert hooks.gates[0] is not None and not hooks.gates[0].passed
    at_group = {
        body["properties"]["roleDefinitionId"]
        for method, path, body, status in env.emulator.state.requests
        if method == "PUT"
        and status == 201
        and path.startswith(f"{TEST_SCOPE}/providers/Microsoft.Authorization/roleAssignments/")
    }
    assert at_group == {
        f"/providers/Microsoft.Authorization/roleDefinitions/{guid}"
        for guid in (
            "9980e02c-c2be-4d73-94e8-173b1dc7cf3c",
            "b24988ac-6180-42a0-ab88-20f7382dd24c",
            "cd570a14-e51a-42ad-bac8-bafd67325302",
        )
    }
    assert not wf.plan_ring(settings, "test", env.arm).has_changes

    passing = Reader(summary(rate=93.0, coverage=97.5))
    hooks = RecordingHooks()
    outcome = wf.deploy_ring(settings, "test", env.arm, hooks=hooks, reader=passing, now=NOW)
    assert outcome.gate is not None and outcome.gate.passed and outcome.result is None
    assert [line.strip() for line in outcome.gate.lines()] == [
        "gate of ring 'dev' (scan environment 'Development', scan as of 2026-11-19T06:00:00Z): met",
        "ok  compliance of Development must be at least 90.00% (scan: 93.00%)",
        "ok  periodic assessment coverage must be at least 95.00% (scan: 97.50%)",
    ]
