"""The full policy cycle against the loopback ARM emulator with the real SDK clients:
validate → plan → deploy → plan (no changes) → change one parameter → plan (one update) → change an exemption's
expiry → plan (one update) → prune, with foreign-owned resources (an exemption among them) that must survive."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from azure.mgmt.resource.policy.models import PolicyAssignment, PolicyDefinition

from auditor.policy import workflow as wf
from auditor.policy.arm import EXEMPTION_API_VERSION
from auditor.policy.normalize import DiffEntry
from auditor.policy.plan import Plan, read_plan, write_plan
from auditor.policy.validate import validate_path
from tests.integration.arm_emulator.policy_env import DEV_SCOPE, PolicyEnv, RecordingHooks, policy_environment

DEV_ASSIGNMENT = f"{DEV_SCOPE}/providers/Microsoft.Authorization/policyAssignments/aum-baseline-dev"
MC_SCOPE = (
    "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/rg-patching/providers/"
    "Microsoft.Maintenance/maintenanceConfigurations/mc-dev-tuesday"
)
LEGACY_RG = f"{DEV_SCOPE}/resourceGroups/rg-legacy"
OUR_EXEMPTION = f"{LEGACY_RG}/providers/Microsoft.Authorization/policyExemptions/legacy-rg"
THEIR_EXEMPTION = f"{DEV_SCOPE}/resourceGroups/rg-lab/providers/Microsoft.Authorization/policyExemptions/lab-vms"
ROLES = {
    "9980e02c-c2be-4d73-94e8-173b1dc7cf3c",
    "b24988ac-6180-42a0-ab88-20f7382dd24c",
    "cd570a14-e51a-42ad-bac8-bafd67325302",
}
LEGACY = {
    "name": "aum-legacy-audit",
    "properties": {
        "displayName": "Legacy audit",
        "mode": "All",
        "metadata": {"version": "1.0.0", "category": "Azure Update Manager"},
        "policyRule": {
            "if": {"field": "type", "equals": "Microsoft.Compute/virtualMachines"},
            "then": {"effect": "audit"},
        },
    },
}


@pytest.fixture
def env(tmp_path: Path) -> Iterator[PolicyEnv]:
    with policy_environment(tmp_path) as world:
        yield world


def days_ahead(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).date().isoformat()


def write_exemption(env: PolicyEnv, expires_on: str) -> None:
    """exemptions/legacy-rg.toml: one resource group waived from the dev baseline's hotpatch audit."""
    folder = env.policies / "exemptions"
    folder.mkdir(exist_ok=True)
    (folder / "legacy-rg.toml").write_text(
        "\n".join(
            [
                'assignment = "aum-baseline-dev"',
                f'scope = "{LEGACY_RG}"',
                'category = "Waiver"',
                f"expires_on = {expires_on}",
                'description = "The vendor patches these servers until they are migrated."',
                'policy_definition_reference_ids = ["auditHotpatch"]',
                "[metadata]",
                'owner = "jane.doe@contoso.com"',
                'justification = "The vendor support contract forbids hotpatching."',
                'ticket = "CHG-1234"',
            ]
        )
        + "\n",
        encoding="utf-8",
    )


def seed_foreign_exemption(env: PolicyEnv) -> None:
    """Someone exempts their lab from our assignment by hand."""
    body = {
        "properties": {
            "policyAssignmentId": DEV_ASSIGNMENT,
            "exemptionCategory": "Mitigated",
            "expiresOn": f"{days_ahead(10)}T00:00:00Z",
            "metadata": {"managedBy": "terraform"},
        }
    }
    resources = env.clients.resources(DEV_SCOPE.rsplit("/", 1)[1]).resources
    resources.begin_create_or_update_by_id(
        THEIR_EXEMPTION.lstrip("/"), body, api_version=EXEMPTION_API_VERSION, polling=False
    ).result()


def rows(plan: Plan) -> set[tuple[str, str, str]]:
    """(action, kind, label) of every change but the unchanged ones."""
    return {(c.action, c.kind, c.label) for c in plan.changes if c.action != "unchanged"}


def seed_foreign(env: PolicyEnv) -> None:
    """Resources someone else deployed at the same scopes."""
    client = env.clients.policy()
    body = PolicyDefinition(
        {
            "properties": {
                "displayName": "Terraform-managed audit",
                "mode": "All",
                "metadata": {"managedBy": "terraform"},
                "policyRule": {
                    "if": {"field": "type", "equals": "Microsoft.Compute/virtualMachines"},
                    "then": {"effect": "audit"},
                },
            }
        }
    )
    client.policy_definitions.create_or_update_at_management_group("contoso", "tf-vm-audit", body)
    assignment = PolicyAssignment(
        {
            "properties": {
                "displayName": "Missing updates (hand-made)",
                "policyDefinitionId": "/providers/Microsoft.Authorization/policyDefinitions/f85bf3e0-d513-442e-89c3-1784ad63382b",
            }
        }
    )
    env.clients.policy(DEV_SCOPE.rsplit("/", 1)[1]).policy_assignments.create(
        DEV_SCOPE.lstrip("/"), "hand-made", assignment
    )


def foreign_survives(env: PolicyEnv) -> None:
    client = env.clients.policy()
    theirs = client.policy_definitions.get_at_management_group("contoso", "tf-vm-audit").as_dict()
    assert theirs["properties"]["metadata"]["managedBy"] == "terraform"
    kept = env.clients.policy(DEV_SCOPE.rsplit("/", 1)[1]).policy_assignments.get(DEV_SCOPE.lstrip("/"), "hand-made")
    assert kept.as_dict()["properties"]["displayName"] == "Missing updates (hand-made)"
    resources = env.clients.resources(DEV_SCOPE.rsplit("/", 1)[1]).resources
    lab = resources.get_by_id(THEIR_EXEMPTION.lstrip("/"), api_version=EXEMPTION_API_VERSION)
    assert lab["properties"]["metadata"]["managedBy"] == "terraform"


def test_full_cycle(env: PolicyEnv, tmp_path: Path) -> None:
    (env.policies / "definitions" / "aum-legacy-audit.json").write_text(json.dumps(LEGACY), encoding="utf-8")
    write_exemption(env, days_ahead(30))
    settings = env.settings()
    seed_foreign(env)

    # validate
    report = validate_path(env.policies, settings)
    assert report.ok and report.findings == () and report.files == 10

    # plan: everything is new; the foreign resources are counted, not touched
    first = wf.plan_ring(settings, "dev", env.arm)
    assert rows(first) == {
        ("create", "policyDefinition", name)
        for name in (
            "aum-hotpatch-audit",
            "aum-legacy-audit",
            "aum-periodic-assessment",
            "aum-periodic-assessment-audit",
            "aum-schedule-patching",
        )
    } | {
        ("create", "policySetDefinition", "aum-patch-baseline"),
        ("create", "policyAssignment", "aum-baseline-dev"),
        ("create", "policyExemption", "legacy-rg"),
    } | {("create", "roleAssignment", f"{guid} for aum-baseline-dev") for guid in ROLES}
    roles = [c for c in first.of("create") if c.kind == "roleAssignment"]
    assert {(c.scope, c.role_guid, c.id, c.note) for c in roles} == {
        (scope, guid, "", "principal known after apply") for scope in (DEV_SCOPE, MC_SCOPE) for guid in ROLES
    }
    assert first.foreign == 2 and first.has_changes
    saved = tmp_path / "plan.json"
    write_plan(first, saved)
    document = read_plan(saved)
    assert document["summary"] == {"create": 14, "update": 0, "delete": 0, "unchanged": 0, "conflict": 0, "orphan": 0}
    assert document["fingerprint"] == first.fingerprint()

    # deploy the saved plan; the new identity's first role assignment needs retries
    hooks = RecordingHooks()
    outcome = wf.deploy_ring(settings, "dev", env.arm, hooks=hooks, reader=None, plan_file=saved)
    assert outcome.result is not None and hooks.gates == [None]
    assert [s.kind for s in hooks.steps] == ["policyDefinition"] * 5 + ["policySetDefinition", "policyAssignment"] + [
        "roleAssignment"
    ] * 6 + ["policyExemption"]
    assert [s.attempts for s in hooks.steps if s.kind == "roleAssignment"] == [3, 1, 1, 1, 1, 1]
    writes = env.emulator.writes()
    assert all(status == 201 for method, _, status in writes if method == "PUT" and status != 400)
    assert [status for _, _, status in writes].count(400) == 2  # PrincipalNotFound twice, then granted
    stored_roles = [r["properties"] for r in env.emulator.state.role_assignments.values()]
    principal = env.emulator.state.assignments[DEV_ASSIGNMENT.casefold()]["identity"]["principalId"]
    assert sorted(
        (p["scope"], p["roleDefinitionId"].rsplit("/", 1)[1], p["principalId"], p["principalType"])
        for p in stored_roles
    ) == sorted((scope, guid, principal, "ServicePrincipal") for scope in (DEV_SCOPE, MC_SCOPE) for guid in ROLES)
    assert all(
        p["description"] == f"managedBy=auditor;ownerId=platform-team;policyAssignment={DEV_ASSIGNMENT}"
        for p in stored_roles
    )
    stored = env.emulator.state.assignments[DEV_ASSIGNMENT.casefold()]["properties"]
    assert stored["parameters"]["maintenanceConfigurationId"] == {"value": MC_SCOPE}
    assert stored["metadata"]["managedBy"] == "auditor" and stored["metadata"]["ownerId"] == "platform-team"
    waiver = env.emulator.state.exemptions[OUR_EXEMPTION.casefold()]["properties"]
    assert (waiver["policyAssignmentId"], waiver["policyDefinitionReferenceIds"]) == (DEV_ASSIGNMENT, ["auditHotpatch"])
    assert waiver["metadata"]["ring"] == "dev" and waiver["metadata"]["ticket"] == "CHG-1234"
    seed_foreign_exemption(env)

    # plan again: nothing to do (ARM's metadata, defaults, id casing and spelling of expiresOn are not drift)
    again = wf.plan_ring(settings, "dev", env.arm)
    assert not again.has_changes and again.counts()["unchanged"] == 14 and again.foreign == 3

    # change one parameter: exactly one update, on one property
    env.edit("assignments/dev.toml", 'hotpatchEffect = "Audit"', 'hotpatchEffect = "Disabled"')
    changed = wf.plan_ring(settings, "dev", env.arm)
    assert rows(changed) == {("update", "policyAssignment", "aum-baseline-dev")}
    (update,) = changed.of("update")
    assert update.diff == (DiffEntry("/properties/parameters/hotpatchEffect/value", "replace", "Audit", "Disabled"),)
    wf.deploy_ring(settings, "dev", env.arm, hooks=RecordingHooks(), reader=None)
    assert not wf.plan_ring(settings, "dev", env.arm).has_changes

    # renew the exemption: exactly one update, of its expiry
    write_exemption(env, days_ahead(60))
    renewed = wf.plan_ring(settings, "dev", env.arm)
    assert rows(renewed) == {("update", "policyExemption", "legacy-rg")} and renewed.flags == ()
    (update,) = renewed.of("update")
    assert update.diff == (
        DiffEntry("/properties/expiresOn", "replace", f"{days_ahead(30)}T00:00:00Z", f"{days_ahead(60)}T00:00:00Z"),
    )
    wf.deploy_ring(settings, "dev", env.arm, hooks=RecordingHooks(), reader=None)
    assert not wf.plan_ring(settings, "dev", env.arm).has_changes

    # prune: drop a definition and the exemption, and rename the assignment
    (env.policies / "definitions" / "aum-legacy-audit.json").unlink()
    (env.policies / "exemptions" / "legacy-rg.toml").unlink()
    env.edit("assignments/dev.toml", "aum-baseline-dev", "aum-patching-dev")
    kept = wf.plan_ring(settings, "dev", env.arm)
    assert {(c.action, c.kind) for c in kept.of("orphan")} == {
        ("orphan", "policyDefinition"),
        ("orphan", "policyAssignment"),
        ("orphan", "roleAssignment"),
        ("orphan", "policyExemption"),
    }
    assert len(kept.of("orphan")) == 9 and kept.of("delete") == []
    pruned = wf.plan_ring(settings, "dev", env.arm, prune=True)
    assert {(c.kind, c.label) for c in pruned.of("delete") if c.kind != "roleAssignment"} == {
        ("policyDefinition", "aum-legacy-audit"),
        ("policyAssignment", "aum-baseline-dev"),
        ("policyExemption", "legacy-rg"),
    }
    assert len(pruned.of("delete")) == 9 and len(pruned.of("create")) == 7
    hooks = RecordingHooks()
    wf.deploy_ring(settings, "dev", env.arm, hooks=hooks, reader=None, prune=True)
    deleted = [s.kind for s in hooks.steps if s.outcome == "deleted"]
    assert deleted == ["policyExemption"] + ["roleAssignment"] * 6 + ["policyAssignment", "policyDefinition"]
    final = wf.plan_ring(settings, "dev", env.arm, prune=True)
    assert not final.has_changes and final.foreign == 2  # their exemption names an assignment the ring no longer has
    foreign_survives(env)
    assert OUR_EXEMPTION.casefold() not in env.emulator.state.exemptions
    assert all(
        p["principalId"] != principal for p in (r["properties"] for r in env.emulator.state.role_assignments.values())
    )
