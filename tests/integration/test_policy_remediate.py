"""Remediation tasks and compliance status against the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from auditor.policy import workflow as wf
from auditor.policy.remediate import RemediationOutcome
from tests.integration.arm_emulator.policy_env import DEV_SCOPE, PolicyEnv, RecordingHooks, policy_environment

ASSIGNMENT = f"{DEV_SCOPE}/providers/Microsoft.Authorization/policyAssignments/aum-baseline-dev"
NOW = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[PolicyEnv]:
    with policy_environment(tmp_path) as world:
        yield world


def test_deploy_with_remediation_runs_one_task_per_remediable_member(env: PolicyEnv) -> None:
    sleeps: list[float] = []
    outcome = wf.deploy_ring(
        env.settings(remediation_poll_seconds=7.0),
        "dev",
        env.arm,
        hooks=RecordingHooks(),
        reader=None,
        with_remediation=True,
        sleep=sleeps.append,
        now=NOW,
    )
    assert outcome.remediations == tuple(
        RemediationOutcome(ASSIGNMENT, ref, f"aum-baseline-dev-{ref}-20261120T083000Z", "Succeeded", 3, 3, 0)
        for ref in ("attachToSchedule", "enablePeriodicAssessment", "schedulePrerequisite")
    )
    assert all(o.ok for o in outcome.remediations)
    assert 7.0 in sleeps  # polled while Evaluating
    bodies = [
        body["properties"]
        for method, path, body, _ in env.emulator.state.requests
        if method == "PUT" and "/remediations/" in path
    ]
    assert sorted(b["policyDefinitionReferenceId"] for b in bodies) == [
        "attachToSchedule",
        "enablePeriodicAssessment",
        "schedulePrerequisite",
    ]
    assert {(b["policyAssignmentId"].casefold(), b["resourceDiscoveryMode"]) for b in bodies} == {
        (ASSIGNMENT.casefold(), "ExistingNonCompliant")
    }


def test_effective_effects_failures_and_timeouts(env: PolicyEnv) -> None:
    env.edit("assignments/dev.toml", 'hotpatchEffect = "Audit"', 'hotpatchEffect = "Audit"\nassessmentEffect = "Audit"')
    settings = env.settings()
    wf.deploy_ring(settings, "dev", env.arm, hooks=RecordingHooks(), reader=None)
    env.emulator.state.failing_references.add("schedulePrerequisite")
    outcomes = wf.remediate_ring(settings, "dev", env.arm, sleep=lambda _: None, now=NOW)
    assert [(o.reference_id, o.state, o.failed, o.ok) for o in outcomes] == [
        ("attachToSchedule", "Succeeded", 0, True),
        ("schedulePrerequisite", "Failed", 3, False),
    ]

    env.emulator.state.remediation_polls = 10_000
    ticks = iter(range(0, 10_000, 30))
    timed_out = wf.remediate_ring(
        env.settings(remediation_timeout_minutes=1.0),
        "dev",
        env.arm,
        sleep=lambda _: None,
        clock=lambda: float(next(ticks)),
        now=NOW,
    )
    assert {(o.reference_id, o.state) for o in timed_out} == {
        ("attachToSchedule", "TimedOut"),
        ("schedulePrerequisite", "TimedOut"),
    }


def test_remediation_of_an_undeployed_ring_reports_not_deployed(env: PolicyEnv) -> None:
    outcomes = wf.remediate_ring(env.settings(), "dev", env.arm, sleep=lambda _: None, now=NOW)
    assert {(o.reference_id, o.state, o.ok) for o in outcomes} == {
        (ref, "NotDeployed", False) for ref in ("attachToSchedule", "enablePeriodicAssessment", "schedulePrerequisite")
    }


def test_status_reports_compliance_per_assignment(env: PolicyEnv) -> None:
    settings = env.settings()
    wf.deploy_ring(settings, "dev", env.arm, hooks=RecordingHooks(), reader=None)
    env.emulator.state.compliance[ASSIGNMENT.casefold()] = (30, 10)
    (row,) = wf.status(settings, ["dev"], env.arm)
    assert (row.scope, row.owned, row.compliant, row.non_compliant, row.other, row.non_compliant_policies) == (
        DEV_SCOPE,
        True,
        30,
        10,
        0,
        1,
    )
    assert row.assignment_id == ASSIGNMENT.lower() and row.compliance_rate == 75.0
