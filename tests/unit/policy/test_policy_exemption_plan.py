"""Exemptions in the plan: what ARM adds is not drift, expiry changes are one-property updates, expired ones are
flagged (and not created), orphans are pruned, other owners and other rings are left alone."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from auditor.policy.exemptions import listing_scopes, ring_exemptions
from auditor.policy.model import DeployedState, DesiredAssignment, DesiredState, Resource
from auditor.policy.normalize import DiffEntry
from auditor.policy.plan import Flag, Plan, make_plan, read_plan, write_plan
from auditor.policy.view import render_plan

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
MG = "/providers/Microsoft.Management/managementGroups/contoso"
SUB = "/subscriptions/11111111-1111-1111-1111-111111111111"
OTHER_SUB = "/subscriptions/33333333-3333-3333-3333-333333333333"
ASSIGN_ID = f"{SUB}/providers/Microsoft.Authorization/policyAssignments/aum-dev"
OURS = {"managedBy": "auditor", "ownerId": "team"}


def exemption(
    name: str = "legacy",
    scope: str = f"{SUB}/resourceGroups/rg-legacy",
    expires: str = "2027-01-15T00:00:00Z",
    ring: str = "dev",
    **metadata: Any,
) -> Resource:
    return Resource(
        "policyExemption",
        f"{scope}/providers/Microsoft.Authorization/policyExemptions/{name}",
        {
            "properties": {
                "policyAssignmentId": ASSIGN_ID,
                "exemptionCategory": "Waiver",
                "expiresOn": expires,
                "description": "Vendor-patched",
                "metadata": {"ring": ring, "owner": "jane", "justification": "vendor", **OURS, **metadata},
            }
        },
    )


def as_deployed(resource: Resource) -> Resource:
    """What ARM hands back: its own metadata, reference list default, id casing and spelling of expiresOn."""
    body = copy.deepcopy(dict(resource.body))
    props = body["properties"]
    props["metadata"] = {**props["metadata"], "createdBy": "x", "createdOn": "2026-11-01T00:00:00Z"}
    props["policyDefinitionReferenceIds"] = []
    props["expiresOn"] = props["expiresOn"].replace("Z", ".0000000Z")
    props["policyAssignmentId"] = props["policyAssignmentId"].lower()
    body.update(id=resource.id.lower(), systemData={"createdBy": "x"})
    return Resource(resource.kind, resource.id.lower(), body)


ASSIGNMENT = Resource("policyAssignment", ASSIGN_ID, {"properties": {"metadata": OURS}})


def desired(*exemptions: Resource) -> DesiredState:
    assignment = DesiredAssignment(ASSIGNMENT, (), ())
    return DesiredState("dev", SUB, MG, "team", (), (), (assignment,), exemptions)


def plan_of(want: tuple[Resource, ...], have: tuple[Resource, ...], **options: Any) -> Plan:
    """The plan at NOW, with the assignment already deployed, so that only exemptions change."""
    deployed = DeployedState(assignments=(ASSIGNMENT,), exemptions=ring_exemptions(have, desired(*want)))
    return make_plan(desired(*want), deployed, now=NOW, **options)


def rows(plan: Plan) -> list[tuple[str, str]]:
    return [(c.action, c.label) for c in plan.changes if c.kind == "policyExemption"]


def test_first_plan_creates_and_arms_spelling_is_not_drift() -> None:
    first = plan_of((exemption(),), ())
    assert rows(first) == [("create", "legacy")]
    assert first.changes[-1].body == exemption().body and first.flags == ()
    again = plan_of((exemption(),), (as_deployed(exemption()),))
    assert rows(again) == [("unchanged", "legacy")] and not again.has_changes


def test_a_new_expiry_is_one_property_update() -> None:
    plan = plan_of((exemption(expires="2027-02-14T00:00:00Z"),), (as_deployed(exemption()),))
    (update,) = plan.of("update")
    assert update.diff == (
        DiffEntry("/properties/expiresOn", "replace", "2027-01-15T00:00:00Z", "2027-02-14T00:00:00Z"),
    )


def test_expired_exemptions_are_flagged_and_not_created() -> None:
    past = exemption("old", expires="2026-11-01T00:00:00Z")
    deployed_past = exemption("stale", expires="2026-10-01T06:00:00Z")
    orphan_past = exemption("gone", expires="2026-09-30T00:00:00Z")
    plan = plan_of((past, deployed_past), (as_deployed(deployed_past), as_deployed(orphan_past)))
    assert rows(plan) == [("orphan", "gone"), ("unchanged", "stale")]
    assert plan.flags == (
        Flag("policyExemption", orphan_past.id.lower(), "expired on 2026-09-30: renew or remove"),
        Flag("policyExemption", past.id, "expired on 2026-11-01: renew or remove; not created"),
        Flag("policyExemption", deployed_past.id, "expired on 2026-10-01T06:00:00Z: renew or remove"),
    )
    assert not plan.has_changes
    pruned = plan_of((), (as_deployed(orphan_past),), prune=True)
    assert rows(pruned) == [("delete", "gone")] and len(pruned.flags) == 1


def test_other_owners_conflict_or_are_left_alone_and_other_rings_are_not_seen() -> None:
    theirs_here = as_deployed(exemption())
    theirs_here.body["properties"]["metadata"] = {"owner": "someone"}
    theirs_elsewhere = as_deployed(exemption("hand-made"))
    theirs_elsewhere.body["properties"]["metadata"] = {}
    other_ring = as_deployed(exemption("prod-thing", ring="prod"))
    unrelated = as_deployed(exemption("unrelated"))
    unrelated.body["properties"].update(policyAssignmentId=f"{SUB}/providers/x/policyAssignments/y", metadata={})
    plan = plan_of((exemption(),), (theirs_here, theirs_elsewhere, other_ring, unrelated), prune=True)
    assert rows(plan) == [("conflict", "legacy")]
    assert plan.changes[-1].note.startswith("exists and is not managed by auditor")
    assert plan.foreign == 1 and plan.has_changes


def test_listing_scopes_cover_each_subscription_once() -> None:
    at_group = DesiredState(
        "prod",
        MG,
        MG,
        "team",
        (),
        (),
        (),
        (
            exemption("a", scope=f"{SUB}/resourceGroups/rg-a"),
            exemption("b", scope=f"{SUB}/resourceGroups/rg-b/providers/Microsoft.Compute/virtualMachines/vm1"),
            exemption("c", scope=OTHER_SUB),
            exemption("d", scope=MG),
        ),
    )
    assert listing_scopes(at_group) == (MG, SUB, OTHER_SUB)
    assert listing_scopes(desired(exemption("a", scope=f"{SUB}/resourceGroups/rg-a"))) == (SUB,)


def test_plan_json_carries_flags(tmp_path: Path) -> None:
    plan = plan_of((exemption("old", expires="2026-11-01T00:00:00Z"),), ())
    path = tmp_path / "plan.json"
    write_plan(plan, path)
    assert read_plan(path)["flags"] == [
        {
            "kind": "policyExemption",
            "id": exemption("old").id,
            "message": "expired on 2026-11-01: renew or remove; not created",
        }
    ]


def test_the_plan_view_shows_flags_and_where_an_exemption_lives() -> None:
    console = Console(record=True, width=200)
    render_plan(plan_of((exemption("old", expires="2026-11-01T00:00:00Z"), exemption()), ()), console)
    text = console.export_text()
    assert "legacy at rg-legacy" in text
    assert "! policyExemption old: expired on 2026-11-01: renew or remove; not created" in text
    assert text.rstrip().endswith("Plan: 1 to create (1 unchanged, 1 flagged).")
