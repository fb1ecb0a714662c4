"""Installations, coverage (static and dynamic schedules), patch modes, hotpatch and the policy cross-check."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from auditor.config import config_from_dict
from auditor.scan import scan
from tests.crafted import AS_OF, SUB, Fleet, days_ago, ts
from tests.schemas import assert_valid_summary
from tests.summaries import js

OTHER_SUB = "00000000-0000-0000-0000-000000000002"


def summarise(tmp_path: Path, fleet: Fleet, config: dict[str, Any] | None = None) -> dict[str, Any]:
    fleet.write(tmp_path / "snap")
    result = scan(
        config_from_dict(config or {}),
        source=f"snapshot:{tmp_path / 'snap'}",
        out=tmp_path / "packs",
        use_history=False,
    )
    assert_valid_summary(js(result.summary))
    return js(result.summary)


def test_installations(tmp_path: Path) -> None:
    f = Fleet()
    a = f.machine("vm-a", tags={"Environment": "Production"})
    b = f.machine("vm-b", tags={"Environment": "Dev"}, sub=OTHER_SUB)
    c = f.machine("vm-c", tags={"Environment": "Dev"})
    f.run(a, "r1", status="Succeeded", start=days_ago(2), minutes=30)
    f.run(a, "r2", status="CompletedWithWarnings", start=days_ago(3), minutes=60)
    f.run(
        a, "r3", status="Failed", start=days_ago(4), minutes=90, error="PatchInstallationFailed", window_exceeded=True
    )
    f.run(b, "r4", status="Failed", start=days_ago(5), minutes=20, error="VMAgentNotResponding")
    f.run(b, "r5", status="Failed", start=days_ago(6), minutes=40, error="PatchInstallationFailed")
    f.run(b, "r6", status="InProgress", start=days_ago(0.1), minutes=5)
    f.run(
        c, "r7", status="Succeeded", start=ts(AS_OF - timedelta(days=30)), minutes=10
    )  # exactly at the window edge: in
    f.run(c, "r8", status="Succeeded", start=ts(AS_OF - timedelta(days=30, seconds=1)), minutes=10)  # just outside
    f.run(c, "r9", status="Succeeded", start=ts(AS_OF + timedelta(hours=1)), minutes=10)  # after the as-of time
    f.run(
        "/subscriptions/x/resourceGroups/r/providers/Microsoft.Compute/virtualMachines/gone",
        "r10",
        status="Failed",
        start=days_ago(1),
    )
    inst = summarise(tmp_path, f)["installations"]
    assert (inst["runs"], inst["succeeded"], inst["failed"], inst["in_progress"]) == (7, 3, 3, 1)
    assert inst["success_rate"] == 50.0
    assert inst["avg_duration_minutes"] == 41.67  # (30 + 60 + 90 + 20 + 40 + 10) / 6 finished runs
    assert inst["window_exceeded"] == 1
    assert inst["top_failure_codes"] == [
        {"code": "PatchInstallationFailed", "count": 2},
        {"code": "VMAgentNotResponding", "count": 1},
    ]
    assert inst["machines_without_success"] == 1 and inst["machines_without_success_ids"] == [b.lower()]
    envs = {row["key"]: row for row in inst["by_environment"]}
    assert (envs["Dev"]["runs"], envs["Dev"]["success_rate"]) == (4, 33.33)
    assert (envs["Production"]["runs"], envs["Production"]["success_rate"]) == (3, 66.67)
    subs = {row["key"]: row["runs"] for row in inst["by_subscription"]}
    assert subs == {SUB: 4, OTHER_SUB: 3}


def test_installation_window_follows_config(tmp_path: Path) -> None:
    f = Fleet()
    a = f.machine("vm-a")
    f.run(a, "r1", status="Succeeded", start=days_ago(2))
    f.run(a, "r2", status="Failed", start=days_ago(10), error="X")
    inst = summarise(tmp_path, f, {"installation_window_days": 7})["installations"]
    assert (inst["window_days"], inst["runs"], inst["success_rate"]) == (7, 1, 100.0)


def coverage_fleet() -> tuple[Fleet, dict[str, str]]:
    f = Fleet()
    ids = {
        "static": f.machine("vm-static", assessment_mode="ImageDefault", patch_mode="AutomaticByOS"),
        "weekend": f.machine("vm-weekend", tags={"PatchGroup": "weekend"}, patch_mode="Manual"),
        "linux": f.machine("vm-linux", os="Linux", tags={"patchGroup": "weekend"}, patch_mode="ImageDefault"),
        "arc": f.machine("arc-1", platform="Arc", tags={"patchGroup": "weekend"}),
        "east": f.machine("vm-east", location="eastus", tags={"patchGroup": "weekend"}),
        "rg": f.machine("vm-rg", rg="RG-Legacy", tags={"owner": "x"}),
        "both": f.machine("vm-both", tags={"patchGroup": "weekend", "tier": "gold"}),
        "other": f.machine("vm-other-sub", sub=OTHER_SUB, tags={"patchGroup": "weekend"}),
        "hot": f.machine("vm-hot", image_sku="2022-datacenter-azure-edition", hotpatch=True),
        "cold": f.machine("vm-cold", image_sku="2025-datacenter-azure-edition-smalldisk", hotpatch=False),
    }
    f.assign(ids["static"].lower(), "cfg-static")
    f.assign(ids["both"], "cfg-static")
    f.dynamic_scope(
        "weekend-windows",
        "cfg-weekend",
        {
            "resourceTypes": ["Microsoft.Compute/virtualMachines"],
            "osTypes": ["Windows"],
            "locations": ["West Europe"],
            "tagSettings": {"tags": {"patchgroup": ["weekend"]}, "filterOperator": "Any"},
        },
    )
    f.dynamic_scope("legacy-rg", "cfg-legacy", {"resourceGroups": ["rg-legacy"]}, rg="rg-legacy")
    f.dynamic_scope(
        "gold-all",
        "cfg-gold",
        {"tagSettings": {"tags": {"patchGroup": ["weekend"], "tier": ["gold"]}, "filterOperator": "All"}},
    )
    return f, ids


def test_schedule_coverage_evaluates_dynamic_filters_exactly(tmp_path: Path) -> None:
    from auditor.compliance import coverage, facts
    from auditor.kql.catalog import Catalog
    from auditor.snapshots.format import read_snapshot
    from auditor.sources.snapshot import SnapshotSource

    f, _ = coverage_fleet()
    f.write(tmp_path / "snap")
    src = SnapshotSource(read_snapshot(tmp_path / "snap"))
    catalog = Catalog()
    machines = facts.build_machines(
        src.run(catalog.queries["machine_facts"].render()).table, environment_tag="Environment", environment_aliases={}
    )
    assignments = coverage.build_assignments(src.run(catalog.queries["maintenance_assignments"].render()).table)
    covered = coverage.schedules_by_machine(machines, assignments)
    names = {m.machine_id: m.name for m in machines}
    by_name = {names[k]: sorted(v.rsplit("/", 1)[-1] for v in vals) for k, vals in covered.items()}
    assert by_name == {
        "vm-static": ["cfg-static"],  # static, id spelled in another case
        "vm-weekend": ["cfg-weekend"],  # tag key matched ignoring case
        "vm-linux": [],  # osTypes Windows only
        "arc-1": [],  # resourceTypes VMs only
        "vm-east": [],  # wrong location
        "vm-rg": ["cfg-legacy"],  # resource-group scope, names compared ignoring case
        "vm-both": ["cfg-gold", "cfg-static", "cfg-weekend"],  # All operator: both tags present
        "vm-other-sub": [],  # scope is another subscription
        "vm-hot": [],
        "vm-cold": [],
    }
    src.close()


def test_coverage_summary(tmp_path: Path) -> None:
    f, _ = coverage_fleet()
    cov = summarise(tmp_path, f)["coverage"]
    assert cov["scheduled"] == {"machines": 4, "rate": 40.0, "multiple_schedules": 1}
    assert cov["periodic_assessment_enabled"] == {"machines": 9, "rate": 90.0}
    assert cov["patch_mode"] == [
        {"key": "Azure Managed - Safe Deployment", "machines": 7},
        {"key": "Image default", "machines": 1},
        {"key": "Manual", "machines": 1},
        {"key": "Windows Automatic Updates", "machines": 1},
    ]
    assert cov["hotpatch"] == {"eligible": 2, "enabled": 1, "disabled": 1}


def test_policy_cross_check(tmp_path: Path) -> None:
    f = Fleet()
    good = f.machine("vm-good")
    off = f.machine("vm-off", assessment_mode="ImageDefault")
    unscheduled = f.machine("vm-unscheduled")
    f.assign(good, "cfg")
    pa_def = "bd876905-5b84-4f73-ab2d-2e7a7c4568d9"
    sched_def = "ba0df93e-e4ac-479a-aac2-134bbae39a1a"
    for machine in (good, off, unscheduled):
        f.policy_state(machine, "pa-audit", "Compliant", definition_ref=pa_def)
    f.policy_state(good, "sched", "Compliant", definition_ref=sched_def)
    f.policy_state(off, "sched", "NonCompliant", definition_ref=sched_def)
    f.policy_state(unscheduled.lower(), "sched", "Compliant", definition_ref=sched_def)
    f.policy_state(good, "other", "Exempt")
    for row in f.tables["policyresources"]:
        ref = row["properties"]["policyDefinitionReferenceId"]
        if ref:
            row["properties"]["policyDefinitionId"] = f"/providers/Microsoft.Authorization/policyDefinitions/{ref}"
    summary = summarise(tmp_path, f)
    assignments = {a["assignment"]: a for a in summary["policy"]["assignments"]}
    assert (assignments["pa-audit"]["compliant"], assignments["pa-audit"]["non_compliant"]) == (3, 0)
    assert (assignments["sched"]["compliant"], assignments["sched"]["non_compliant"]) == (2, 1)
    assert assignments["other"]["exempt"] == 1
    mismatches = [(m["name"], m["assignment"], m["kind"], m["observed"]) for m in summary["policy_mismatches"]]
    assert sorted(mismatches) == [
        ("vm-off", "pa-audit", "periodic_assessment", "assessmentMode is ImageDefault"),
        ("vm-unscheduled", "sched", "schedule", "no maintenance configuration covers the machine"),
    ]
    assert summary["policy"]["mismatches"] == 2


@pytest.mark.parametrize(
    ("thresholds", "rules"),
    [
        ({"max_unknown_rate": 10}, [("max_unknown_rate", 50.0)]),
        ({"min_installation_success_rate": 60}, [("min_installation_success_rate", 50.0)]),
        ({"min_periodic_assessment_coverage": 75}, [("min_periodic_assessment_coverage", 50.0)]),
        ({"min_schedule_coverage": 50.01}, [("min_schedule_coverage", 50.0)]),
        ({"min_schedule_coverage": 50, "max_unknown_rate": 50}, []),  # exactly at the limit passes
    ],
)
def test_each_threshold(tmp_path: Path, thresholds: dict[str, float], rules: list[tuple[str, float]]) -> None:
    f = Fleet()
    a = f.machine("vm-a")
    f.assessment(a)
    b = f.machine("vm-b", assessment_mode="ImageDefault")
    f.assign(a, "cfg")
    f.run(a, "r1", status="Succeeded", start=days_ago(1))
    f.run(b, "r2", status="Failed", start=days_ago(1), error="X")
    f.write(tmp_path / "snap")
    result = scan(
        config_from_dict({"thresholds": thresholds}),
        source=f"snapshot:{tmp_path / 'snap'}",
        out=tmp_path / "p",
        use_history=False,
    )
    assert [(b.rule, b.observed) for b in result.breaches] == rules
