"""What a ring wants, built from the shipped policies/."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.policy import PolicyError
from auditor.policy.desired import desired_state
from auditor.policy.load import load_tree
from tests.unit.policy.helpers import DEFINITION_SCOPE, REPO, copy_policies, settings

MC = (
    "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/rg-patching/providers/"
    "Microsoft.Maintenance/maintenanceConfigurations/mc-dev-tuesday"
)
DEV = "/subscriptions/11111111-1111-1111-1111-111111111111"
ROLES = [
    "9980e02c-c2be-4d73-94e8-173b1dc7cf3c",
    "cd570a14-e51a-42ad-bac8-bafd67325302",
    "b24988ac-6180-42a0-ab88-20f7382dd24c",
]


def test_dev_ring() -> None:
    state = desired_state(load_tree(REPO / "policies"), settings(), "dev")
    assert (state.scope, state.definition_scope, state.owner_id) == (DEV, DEFINITION_SCOPE, "platform-team")
    assert [r.name for r in state.definitions] == [
        "aum-hotpatch-audit",
        "aum-periodic-assessment-audit",
        "aum-periodic-assessment",
        "aum-schedule-patching",
    ]
    (initiative,) = state.set_definitions
    assert (
        initiative.id == f"{DEFINITION_SCOPE}/providers/Microsoft.Authorization/policySetDefinitions/aum-patch-baseline"
    )
    members = {
        m["policyDefinitionReferenceId"]: m["policyDefinitionId"]
        for m in initiative.body["properties"]["policyDefinitions"]
    }
    assert (
        members["attachToSchedule"]
        == f"{DEFINITION_SCOPE}/providers/Microsoft.Authorization/policyDefinitions/aum-schedule-patching"
    )
    assert (
        members["missingSystemUpdates"]
        == "/providers/Microsoft.Authorization/policyDefinitions/f85bf3e0-d513-442e-89c3-1784ad63382b"
    )
    assert initiative.body["properties"]["metadata"] == {
        "version": "1.0.0",
        "category": "Azure Update Manager",
        "managedBy": "auditor",
        "ownerId": "platform-team",
    }

    (assignment,) = state.assignments
    body = assignment.resource.body
    assert assignment.resource.id == f"{DEV}/providers/Microsoft.Authorization/policyAssignments/aum-baseline-dev"
    assert body["identity"] == {"type": "SystemAssigned"} and body["location"] == "westeurope"
    assert body["properties"]["parameters"] == {
        "hotpatchEffect": {"value": "Audit"},
        "maintenanceConfigurationId": {"value": MC},
    }
    assert body["properties"]["nonComplianceMessages"][1] == {
        "message": "This Azure Edition VM can take updates without a reboot: turn hotpatch on.",
        "policyDefinitionReferenceId": "auditHotpatch",
    }
    assert [(n.scope, n.role_guid) for n in assignment.role_needs] == [(s, g) for s in (DEV, MC) for g in ROLES]
    assert assignment.remediable == ("enablePeriodicAssessment", "schedulePrerequisite", "attachToSchedule")


def test_effective_effects_decide_what_is_remediated(tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)
    ring = policies / "assignments" / "dev.toml"
    ring.write_text(
        ring.read_text().replace(
            'hotpatchEffect = "Audit"', 'assessmentEffect = "Disabled"\nscheduleEffect = "AuditIfNotExists"'
        )
    )
    (assignment,) = desired_state(load_tree(policies), settings(policies), "dev").assignments
    assert assignment.remediable == ("schedulePrerequisite",)
    assert len(assignment.role_needs) == 6  # roles follow what the members may do, not the current choice


def test_ring_errors(tmp_path: Path) -> None:
    tree = load_tree(REPO / "policies")
    with pytest.raises(PolicyError, match="ring 'stage' is not configured"):
        desired_state(tree, settings(), "stage")
    policies = copy_policies(tmp_path)
    (policies / "assignments" / "prod.toml").unlink()
    with pytest.raises(PolicyError, match=r"assignments/prod\.toml does not exist"):
        desired_state(load_tree(policies), settings(policies), "prod")


def test_a_toml_date_in_a_parameter_value_is_named_not_sent(tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)
    ring = policies / "assignments" / "dev.toml"
    ring.write_text(ring.read_text().replace('hotpatchEffect = "Audit"', "operatingSystemTypes = [2027-01-15]"))
    with pytest.raises(PolicyError) as caught:
        desired_state(load_tree(policies), settings(policies), "dev")
    assert caught.value.message == (
        f"{ring}#/assignments/aum-baseline-dev/parameters/operatingSystemTypes/0: a TOML date is not a JSON value"
    )
    assert caught.value.hint == 'write it as a string, e.g. "2027-01-15"'
