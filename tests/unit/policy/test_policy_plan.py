"""The plan is a pure diff: ownership, normalisation of what ARM adds, role assignments, fingerprints."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from auditor.policy import PolicyError
from auditor.policy.model import DeployedState, DesiredAssignment, DesiredState, Resource, RoleNeed
from auditor.policy.normalize import DiffEntry
from auditor.policy.plan import check_saved, make_plan, read_plan, write_plan

MG = "/providers/Microsoft.Management/managementGroups/contoso"
SUB = "/subscriptions/11111111-1111-1111-1111-111111111111"
DEF_ID = f"{MG}/providers/Microsoft.Authorization/policyDefinitions/aum-x"
ASSIGN_ID = f"{SUB}/providers/Microsoft.Authorization/policyAssignments/aum-dev"
OURS = {"managedBy": "auditor", "ownerId": "team"}
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
PRINCIPAL = "5f0f6a3c-2d1e-4c8b-9a7f-0e1d2c3b4a59"


def definition(**metadata: Any) -> Resource:
    return Resource(
        "policyDefinition",
        DEF_ID,
        {
            "properties": {
                "displayName": "X",
                "mode": "All",
                "metadata": {"version": "1.0.0", **OURS, **metadata},
                "parameters": {"effect": {"type": "String", "defaultValue": "Audit"}},
                "policyRule": {"if": {"field": "type", "equals": "x"}, "then": {"effect": "[parameters('effect')]"}},
            }
        },
    )


def assignment(effect: str = "Audit") -> Resource:
    return Resource(
        "policyAssignment",
        ASSIGN_ID,
        {
            "identity": {"type": "SystemAssigned"},
            "location": "westeurope",
            "properties": {
                "displayName": "Dev",
                "metadata": {**OURS, "ring": "dev"},
                "policyDefinitionId": DEF_ID,
                "parameters": {"effect": {"value": effect}},
                "enforcementMode": "Default",
                "nonComplianceMessages": [],
                "notScopes": [],
            },
        },
    )


def desired(*assignments: DesiredAssignment, definitions: tuple[Resource, ...] = ()) -> DesiredState:
    return DesiredState("dev", SUB, MG, "team", definitions or (definition(),), (), assignments)


def as_deployed(resource: Resource, principal: str | None = PRINCIPAL) -> Resource:
    """What ARM hands back for a PUT of `resource`: its own metadata, defaults and id casing."""
    body = copy.deepcopy(dict(resource.body))
    props = body["properties"]
    props["metadata"] = {
        **props.get("metadata", {}),
        "createdBy": "x",
        "createdOn": "2026-11-01T00:00:00Z",
        "updatedBy": None,
        "updatedOn": None,
    }
    if resource.kind == "policyAssignment":
        props.update(
            scope=SUB,
            definitionVersion="1.*.*",
            instanceId="i",
            policyDefinitionId=props["policyDefinitionId"].replace("managementGroups", "managementgroups"),
        )
        body["identity"] = {"type": "SystemAssigned", "principalId": principal, "tenantId": "t"}
        body["location"] = "WestEurope"
    else:
        props.update(policyType="Custom", version="1.0.0", versions=["1.0.0"])
    return Resource(resource.kind, resource.id.replace("managementGroups", "managementgroups"), body)


def role(principal: str = PRINCIPAL, owner: str = "team", scope: str = SUB) -> Resource:
    return Resource(
        "roleAssignment",
        f"{scope}/providers/Microsoft.Authorization/roleAssignments/r-{owner}",
        {
            "properties": {
                "roleDefinitionId": f"/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR}",
                "principalId": principal,
                "scope": scope,
                "description": f"managedBy=auditor;ownerId={owner};policyAssignment={ASSIGN_ID}",
            }
        },
    )


WANT = DesiredAssignment(assignment(), (RoleNeed(SUB, CONTRIBUTOR),), (None,))


def test_first_plan_creates_everything_with_pending_roles() -> None:
    plan = make_plan(desired(WANT), DeployedState())
    assert [(c.action, c.kind, c.id) for c in plan.changes] == [
        ("create", "policyDefinition", DEF_ID),
        ("create", "policyAssignment", ASSIGN_ID),
        ("create", "roleAssignment", ""),
    ]
    pending = plan.changes[-1]
    assert (pending.note, pending.depends_on, pending.scope, pending.role_guid) == (
        "principal known after apply",
        ASSIGN_ID,
        SUB,
        CONTRIBUTOR,
    )
    assert pending.body == {
        "properties": {
            "roleDefinitionId": f"/subscriptions/11111111-1111-1111-1111-111111111111/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR}",
            "principalType": "ServicePrincipal",
            "description": f"managedBy=auditor;ownerId=team;policyAssignment={ASSIGN_ID}",
        }
    }


def test_what_arm_adds_is_not_drift() -> None:
    deployed = DeployedState((as_deployed(definition()),), (), (as_deployed(assignment()),), (role(),))
    plan = make_plan(desired(WANT), deployed)
    assert not plan.has_changes and plan.counts()["unchanged"] == 3


def test_update_has_a_property_diff_and_a_stable_fingerprint() -> None:
    deployed = DeployedState((as_deployed(definition()),), (), (as_deployed(assignment("Audit")),), (role(),))
    want = DesiredAssignment(assignment("Disabled"), WANT.role_needs, ())
    plan = make_plan(desired(want), deployed)
    (update,) = plan.of("update")
    assert update.id == ASSIGN_ID and update.diff == (
        DiffEntry("/properties/parameters/effect/value", "replace", "Audit", "Disabled"),
    )
    assert make_plan(desired(want), deployed).fingerprint() == plan.fingerprint()
    assert make_plan(desired(WANT), deployed).fingerprint() != plan.fingerprint()


def test_foreign_resources_conflict_or_are_left_alone() -> None:
    theirs = as_deployed(definition(managedBy="terraform"))
    other_auditor = as_deployed(assignment())
    other_auditor.body["properties"]["metadata"]["ownerId"] = "team-b"
    stranger = Resource(
        "policyDefinition",
        f"{MG}/providers/Microsoft.Authorization/policyDefinitions/theirs",
        {"properties": {"metadata": {}}},
    )
    plan = make_plan(desired(WANT), DeployedState((theirs, stranger), (), (other_auditor,), ()), prune=True)
    assert [(c.action, c.kind) for c in plan.changes] == [
        ("conflict", "policyDefinition"),
        ("conflict", "policyAssignment"),
    ]
    assert plan.changes[0].note.startswith("exists and is managedBy=terraform, ownerId=team;")
    assert "managedBy=auditor, ownerId=team-b" in plan.changes[1].note
    assert plan.foreign == 1 and plan.has_changes  # roles of a conflicting assignment are not planned


def test_owned_leftovers_are_orphans_or_deleted_with_prune() -> None:
    old = DesiredAssignment(assignment(), WANT.role_needs, ())
    other = Resource(
        "policyDefinition",
        f"{MG}/providers/Microsoft.Authorization/policyDefinitions/aum-old",
        as_deployed(definition()).body,
    )
    deployed = DeployedState(
        (as_deployed(definition()), other),
        (),
        (as_deployed(old.resource),),
        (
            role(),
            role("0d0c4f8e-8b3a-4c55-9c3e-7d9e1f2a3b4c"),
            role("1e1d5a9f-9c4b-4d66-8d4f-8e0f2a3b4c5d", owner="elsewhere"),
        ),
    )
    kept = make_plan(desired(), deployed)
    assert [
        (c.action, c.kind, c.key.rsplit("|", 1)[-1].rsplit("/", 1)[-1]) for c in kept.changes if c.action != "unchanged"
    ] == [
        ("orphan", "policyDefinition", "aum-old"),
        ("orphan", "policyAssignment", "aum-dev"),
        ("orphan", "roleAssignment", "0d0c4f8e-8b3a-4c55-9c3e-7d9e1f2a3b4c"),
        ("orphan", "roleAssignment", PRINCIPAL),
    ]
    assert not kept.has_changes
    pruned = make_plan(desired(), deployed, prune=True)
    assert [c.action for c in pruned.changes if c.action != "unchanged"] == ["delete"] * 4
    assert pruned.has_changes


def test_role_granted_by_someone_else_satisfies_the_need() -> None:
    deployed = DeployedState((as_deployed(definition()),), (), (as_deployed(assignment()),), (role(owner="human"),))
    plan = make_plan(desired(WANT), deployed)
    assert plan.changes[-1].action == "unchanged" and plan.changes[-1].note == "granted by someone else; left as is"


def test_new_identity_after_recreation_replaces_roles() -> None:
    deployed = DeployedState(
        (as_deployed(definition()),), (), (as_deployed(assignment(), principal="new-one"),), (role(),)
    )
    plan = make_plan(desired(WANT), deployed, prune=True)
    created, deleted = plan.of("create"), plan.of("delete")
    assert [c.body["properties"]["principalId"] for c in created if c.body] == ["new-one"]
    assert created[0].id.startswith(f"{SUB}/providers/Microsoft.Authorization/roleAssignments/")
    assert [c.id for c in deleted] == [role().id]


def test_plan_file_round_trip_and_staleness(tmp_path: Path) -> None:
    plan = make_plan(desired(WANT), DeployedState())
    path = tmp_path / "plan.json"
    write_plan(plan, path)
    saved = read_plan(path)
    assert saved["summary"]["create"] == 3 and saved["changes"][0]["body"]["properties"]["displayName"] == "X"
    check_saved(saved, make_plan(desired(WANT), DeployedState()), path)
    with pytest.raises(PolicyError, match="the plan is stale"):
        check_saved(saved, make_plan(desired(WANT), DeployedState((as_deployed(definition()),))), path)
    path.write_text('{"format": "other"}')
    with pytest.raises(PolicyError, match=r"plan\.json#/format: not an auditor-policy-plan/1 document"):
        read_plan(path)
