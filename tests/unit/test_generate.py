"""The seeded synthetic fleet: reproducibility, the committed sample, and what the fleet looks like."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from auditor.errors import SnapshotError
from auditor.package_data import sample_fleet
from auditor.snapshots.format import ARG_COLUMNS, REQUIRED_TABLES, Snapshot, iter_table
from auditor.snapshots.generate import DEFAULT_CAPTURED_AT, generate_fleet
from auditor.timestamps import parse_timestamp

VM = "microsoft.compute/virtualmachines"
ARC = "microsoft.hybridcompute/machines"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def _machine_part(row_id: str, marker: str) -> str:
    return row_id[: row_id.lower().index(marker.lower())]


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    return generate_fleet(1500, seed=42, out=tmp_path_factory.mktemp("fleet") / "fleet")


@pytest.fixture(scope="module")
def tables(sample: Snapshot) -> dict[str, list[dict[str, Any]]]:
    return {name: list(iter_table(table)) for name, table in sample.tables.items()}


@pytest.fixture(scope="module")
def machines(tables: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Machine rows keyed by lower-cased id."""
    return {r["id"].lower(): r for r in tables["resources"] if r["type"] in (VM, ARC)}


def _os(machine: dict[str, Any]) -> str:
    props = machine["properties"]
    return str(props.get("osName") or props["storageProfile"]["osDisk"]["osType"]).capitalize()


def _patch_settings(machine: dict[str, Any]) -> dict[str, Any]:
    profile = machine["properties"]["osProfile"]
    config = profile.get("windowsConfiguration") or profile.get("linuxConfiguration") or {}
    return dict(config.get("patchSettings") or {})


# --- reproducibility ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_committed_sample_regenerates_byte_for_byte(tmp_path: Path) -> None:
    committed = sample_fleet()
    assert (committed / "snapshot.json").is_file(), "samples/fleet is missing; regenerate it (see this test)"
    fresh = generate_fleet(1500, seed=42, out=tmp_path / "fleet", captured_at=DEFAULT_CAPTURED_AT)
    assert _files(fresh.path) == _files(committed)
    assert sum(len(b) for b in _files(committed).values()) < 5_000_000


@pytest.mark.slow
def test_same_inputs_give_identical_bytes_across_processes(tmp_path: Path) -> None:
    first = generate_fleet(300, seed=7, out=tmp_path / "a")
    script = (
        "import sys; from pathlib import Path; from auditor.snapshots.generate import generate_fleet; "
        "generate_fleet(300, seed=7, out=Path(sys.argv[1]))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "b")], check=True, env=env)
    assert _files(first.path) == _files(tmp_path / "b")


def test_different_seeds_give_different_fleets(tmp_path: Path) -> None:
    one = generate_fleet(200, seed=1, out=tmp_path / "one")
    two = generate_fleet(200, seed=2, out=tmp_path / "two")
    assert one.tenant_id != two.tenant_id
    for name in REQUIRED_TABLES:
        assert one.tables[name].sha256 != two.tables[name].sha256, name
    assert one.meta["generator"] == {"seed": 1, "machines": 200}


def test_machine_count_below_one_is_refused(tmp_path: Path) -> None:
    for bad in (0, -5):
        with pytest.raises(SnapshotError) as info:
            generate_fleet(bad, out=tmp_path / "x")
        assert info.value.hint
    assert not (tmp_path / "x").exists()


@pytest.mark.slow
def test_progress_rises_to_the_machine_count(tmp_path: Path) -> None:
    seen: list[int] = []
    generate_fleet(2500, seed=3, out=tmp_path / "fleet", progress=seen.append)
    assert len(seen) >= 2
    assert seen == sorted(seen)
    assert seen[-1] == 2500


def test_a_single_machine_fleet_still_carries_the_hostile_tags(tmp_path: Path) -> None:
    snap = generate_fleet(1, seed=9, out=tmp_path / "one")
    (machine,) = [r for r in iter_table(snap.tables["resources"]) if r["type"] in (VM, ARC)]
    assert machine["tags"]["app"] == "+cmd|' /C calc'!A0"
    assert machine["tags"]["owner"] == "=1+1"


def test_another_capture_time_moves_every_timestamp(tmp_path: Path) -> None:
    captured = datetime(2027, 3, 20, 12, 30, tzinfo=UTC)
    snap = generate_fleet(400, seed=11, out=tmp_path / "fleet", captured_at=captured)
    assert snap.captured_at == captured
    stamps = [
        parse_timestamp(value)
        for name in ("patchassessmentresources", "patchinstallationresources", "maintenanceresources")
        for row in iter_table(snap.tables[name])
        for key, value in row["properties"].items()
        if key.endswith("DateTime") and isinstance(value, str) and TIMESTAMP.match(value)
    ]
    assert stamps
    assert max(stamps) <= captured
    assert min(stamps) >= captured - timedelta(days=130)


# --- shape of the sample fleet -----------------------------------------------------------------------------------


def test_every_row_has_the_arg_columns_in_order(tables: dict[str, list[dict[str, Any]]]) -> None:
    for name, rows in tables.items():
        assert rows, name
        for row in rows:
            assert tuple(row) == ARG_COLUMNS, (name, row["id"])
            assert row["type"] == row["type"].lower()
            assert row["tenantId"]
        if name in ("patchassessmentresources", "patchinstallationresources", "maintenanceresources"):
            assert all(row["tags"] is None for row in rows), name
    assert set(tables) == {*REQUIRED_TABLES, "resourcecontainers"}


def test_snapshot_metadata(sample: Snapshot, tables: dict[str, list[dict[str, Any]]]) -> None:
    assert sample.meta["generator"] == {"seed": 42, "machines": 1500}
    assert sample.source == "synthetic"
    assert sample.captured_at == DEFAULT_CAPTURED_AT
    subscriptions = [r for r in tables["resourcecontainers"] if r["type"] == "microsoft.resources/subscriptions"]
    assert 4 <= len(subscriptions) <= 6
    assert sorted(sample.scope["subscriptions"]) == sorted(r["subscriptionId"] for r in subscriptions)
    assert all(r["name"] == r["properties"]["displayName"] for r in subscriptions)
    groups = [r for r in tables["resourcecontainers"] if r["type"].endswith("/resourcegroups")]
    assert len(groups) >= 3 * len(subscriptions)
    assert any(g["name"] != g["name"].lower() for g in groups)


def test_machine_mix(machines: dict[str, dict[str, Any]]) -> None:
    assert len(machines) == 1500
    kinds = Counter(m["type"] for m in machines.values())
    assert 0.65 < kinds[VM] / 1500 < 0.85
    assert 0.5 < sum(_os(m) == "Windows" for m in machines.values()) / 1500 < 0.7
    assert len({m["location"] for m in machines.values()}) >= 5
    for machine in machines.values():
        props = machine["properties"]
        if machine["type"] == VM:
            assert "osName" not in props and "osType" not in props
            assert props["storageProfile"]["osDisk"]["osType"] in ("Windows", "Linux")
            power = props.get("extended", {}).get("instanceView", {}).get("powerState", {})
            assert power.get("code", "PowerState/").startswith("PowerState/")
        else:
            assert props["osName"] in ("windows", "linux")
            assert props["status"] in ("Connected", "Disconnected", "Expired")
    skus = Counter(
        m["properties"]["storageProfile"]["imageReference"]["sku"] for m in machines.values() if m["type"] == VM
    )
    assert skus["2022-datacenter-azure-edition"] and skus["2025-datacenter-azure-edition"]
    hotpatched = [m for m in machines.values() if _patch_settings(m).get("enableHotpatching")]
    assert hotpatched
    for machine in hotpatched:
        assert "azure-edition" in machine["properties"]["storageProfile"]["imageReference"]["sku"]
        assert _patch_settings(machine)["patchMode"] == "AutomaticByPlatform"
    assert any(m["type"] == VM and not _patch_settings(m) for m in machines.values())


def test_power_and_connection_states_are_realistic(machines: dict[str, dict[str, Any]]) -> None:
    """Most VMs run; some are deallocated, fewer stopped inside the guest, a handful carry no instance view in ARG;
    Arc machines are mostly connected."""
    power = Counter(
        m["properties"].get("extended", {}).get("instanceView", {}).get("powerState", {}).get("code")
        for m in machines.values()
        if m["type"] == VM
    )
    vms = sum(power.values())
    assert set(power) == {"PowerState/running", "PowerState/deallocated", "PowerState/stopped", None}
    assert 0.85 < power["PowerState/running"] / vms < 0.97
    assert 0 < power["PowerState/stopped"] < power["PowerState/deallocated"]
    assert 0 < power[None] < 0.02 * vms
    arc = Counter(m["properties"]["status"] for m in machines.values() if m["type"] == ARC)
    assert arc["Connected"] > arc["Disconnected"] > arc["Expired"] > 0
    assert any("esuProfile" in m["properties"].get("licenseProfile", {}) for m in machines.values())


def test_tags_are_messy(machines: dict[str, dict[str, Any]]) -> None:
    keys = Counter(next((k for k in m["tags"] if k.lower() == "environment"), None) for m in machines.values())
    assert keys["environment"] and keys["ENVIRONMENT"]
    assert 0.03 < keys[None] / 1500 < 0.12
    values = {m["tags"][k] for m in machines.values() for k in m["tags"] if k.lower() == "environment"}
    assert {"Production", "prod", "PRD", "dev", "UAT", "Staging"} <= values
    apps = [m["tags"].get("app") for m in machines.values()]
    owners = [m["tags"].get("owner") for m in machines.values()]
    assert apps.count("+cmd|' /C calc'!A0") == 1
    assert owners.count("=1+1") == 1
    assert {m["tags"].get("patchGroup") for m in machines.values()} >= {"ring1", "ring2", "weekend"}


def test_maintenance_configurations(tables: dict[str, list[dict[str, Any]]], sample: Snapshot) -> None:
    configs = {
        r["name"]: r for r in tables["resources"] if r["type"] == "microsoft.maintenance/maintenanceconfigurations"
    }
    assert {"cfg-weekly-sat", "cfg-daily-dev", "cfg-monthly-prod", "cfg-expired-legacy"} <= set(configs)
    expired = []
    for config in configs.values():
        props = config["properties"]
        assert props["maintenanceScope"] == "InGuestPatch"
        assert props["namespace"] == "Microsoft.Maintenance" and props["visibility"] == "Custom"
        assert props["extensionProperties"] == {"InGuestPatchMode": "User"}
        window = props["maintenanceWindow"]
        assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d$", window["startDateTime"])
        expires = datetime.strptime(window["expirationDateTime"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        if expires < sample.captured_at:
            expired.append(config["name"])
    assert expired == ["cfg-expired-legacy"]
    assert any("tasks" in c["properties"]["installPatches"] for c in configs.values())
    referenced = {
        r["properties"]["maintenanceConfigurationId"].lower()
        for r in tables["maintenanceresources"]
        if "maintenanceConfigurationId" in r["properties"]
    }
    assert [c["name"] for c in configs.values() if c["id"].lower() not in referenced] == ["cfg-monthly-sql"]


def test_assessments(tables: dict[str, list[dict[str, Any]]], machines: dict[str, dict[str, Any]]) -> None:
    now = DEFAULT_CAPTURED_AT
    rows = tables["patchassessmentresources"]
    summaries = [r for r in rows if r["type"].endswith("/patchassessmentresults")]
    assert 0.8 < len(summaries) / len(machines) < 0.95
    exact_ids = {m["id"] for m in machines.values()}
    variants = 0
    for summary in summaries:
        machine_id = _machine_part(summary["id"], "/patchAssessmentResults/latest")
        assert machine_id.lower() in machines
        assert summary["type"] == machines[machine_id.lower()]["type"] + "/patchassessmentresults"
        variants += machine_id not in exact_ids
    assert 0.08 < variants / len(summaries) < 0.25
    statuses = Counter(s["properties"]["status"] for s in summaries)
    assert statuses["Succeeded"] / len(summaries) > 0.8
    assert statuses["Failed"] and statuses["InProgress"] and statuses["CompletedWithWarnings"]
    assert all(s["properties"]["errorDetails"]["code"] for s in summaries if s["properties"]["status"] == "Failed")
    ages = [(now - parse_timestamp(s["properties"]["lastModifiedDateTime"])) / timedelta(days=1) for s in summaries]
    assert 0.07 < sum(a > 7 for a in ages) / len(ages) < 0.18
    assert sum(6.9 < a < 7.1 for a in ages) >= 3
    assert min(ages) >= 0
    assert sum(a <= 3 for a in ages) / len(ages) > 0.7


def test_software_patches_belong_to_assessments(tables: dict[str, list[dict[str, Any]]]) -> None:
    rows = tables["patchassessmentresources"]
    summaries = {r["id"]: r for r in rows if r["type"].endswith("/patchassessmentresults")}
    patches = [r for r in rows if r["type"].endswith("/softwarepatches")]
    assert len(patches) > len(summaries)
    counted: dict[str, Counter[str]] = defaultdict(Counter)
    identities: Counter[str] = Counter()
    two_classes = windows_patches = with_kb = 0
    for patch in patches:
        parent_id = patch["id"].rsplit("/softwarePatches/", 1)[0]
        assert parent_id in summaries, patch["id"]
        parent = summaries[parent_id]
        assert patch["type"] == parent["type"] + "/softwarepatches"
        props = patch["properties"]
        assert patch["id"].endswith("/softwarePatches/" + props["patchId"])
        identities[props["patchId"]] += 1
        for classification in props["classifications"]:
            counted[parent_id][classification[0].lower() + classification[1:]] += 1
        if parent["properties"]["osType"] == "Linux":
            assert "publishedDateTime" not in props
            assert props["version"] and props["classifications"] in (["Security"], ["Other"])
        else:
            windows_patches += 1
            two_classes += len(props["classifications"]) > 1
            with_kb += bool(props["kbId"])
            assert not props["kbId"] or f"KB{props['kbId']}" in props["patchName"]
            assert props["msrcSeverity"] in ("Critical", "Important", "Moderate", "Low", "")
            age = DEFAULT_CAPTURED_AT - parse_timestamp(props["publishedDateTime"])
            assert timedelta(0) <= age <= timedelta(days=130)
    assert 0.03 < two_classes / windows_patches < 0.15
    assert with_kb / windows_patches > 0.8
    assert identities.most_common(1)[0][1] > 50, "patch identities are shared across machines"
    for summary_id, summary in summaries.items():
        counts = {k: v for k, v in summary["properties"]["availablePatchCountByClassification"].items() if v}
        assert counts == dict(counted.get(summary_id, {})), summary_id
        if summary["properties"]["osType"] == "Linux":
            assert set(summary["properties"]["availablePatchCountByClassification"]) == {"security", "other"}
    per_machine = Counter(p["id"].rsplit("/softwarePatches/", 1)[0] for p in patches)
    sizes = [per_machine.get(s, 0) for s in summaries]
    assert max(sizes) == 25
    assert sum(n <= 3 for n in sizes) / len(sizes) > 0.4


def test_installation_runs(tables: dict[str, list[dict[str, Any]]], machines: dict[str, dict[str, Any]]) -> None:
    now = DEFAULT_CAPTURED_AT
    rows = tables["patchinstallationresources"]
    runs = [r for r in rows if r["type"].endswith("/patchinstallationresults")]
    per_machine = Counter(_machine_part(r["id"], "/patchInstallationResults/").lower() for r in runs)
    assert set(per_machine) <= set(machines)
    assert max(per_machine.values()) <= 6
    statuses = Counter(r["properties"]["status"] for r in runs)
    assert 0.6 < statuses["Succeeded"] / len(runs) < 0.8
    assert 0.08 < statuses["Failed"] / len(runs) < 0.18
    assert 0.06 < statuses["CompletedWithWarnings"] / len(runs) < 0.16
    assert statuses["InProgress"] and statuses["NotStarted"]
    assert 0.04 < sum(r["properties"]["maintenanceWindowExceeded"] for r in runs) / len(runs) < 0.12
    starts = []
    for run in runs:
        props = run["properties"]
        assert run["name"] == props["installationActivityId"] == run["id"].rsplit("/", 1)[1]
        start, end = parse_timestamp(props["startDateTime"]), parse_timestamp(props["lastModifiedDateTime"])
        assert start <= end <= now
        starts.append(now - start)
        if props["status"] == "InProgress":
            assert now - start < timedelta(hours=3)
        else:
            assert timedelta(minutes=1) <= end - start <= timedelta(minutes=250)
        if props["status"] == "Failed":
            error = props["errorDetails"]
            assert error["code"] and error["message"] and error["details"][0]["code"]
    assert max(starts) <= timedelta(days=45)
    assert sum(s > timedelta(days=30) for s in starts) > 50
    codes = Counter(r["properties"]["errorDetails"]["code"] for r in runs if r["properties"]["errorDetails"])
    assert {"PatchInstallationFailed", "MaintenanceWindowExceeded", "VMAgentNotResponding", "RebootFailed"} <= set(
        codes
    )
    by_location: dict[str, Counter[bool]] = defaultdict(Counter)
    for run in runs:
        by_location[run["location"]][run["properties"]["status"] == "Failed"] += 1
    rates = {loc: c[True] / (c[True] + c[False]) for loc, c in by_location.items()}
    others = [rate for loc, rate in rates.items() if loc != "eastus2"]
    assert rates["eastus2"] > 2 * max(others), rates
    patches = [r for r in rows if r["type"].endswith("/softwarepatches")]
    states = Counter(p["properties"]["installationState"] for p in patches)
    assert set(states) == {"Installed", "Failed"} and states["Failed"] > 0


def test_installed_patches_have_realistic_delays(
    tables: dict[str, list[dict[str, Any]]], machines: dict[str, dict[str, Any]]
) -> None:
    rows = tables["patchinstallationresources"]
    runs = {r["id"].lower(): r for r in rows if r["type"].endswith("/patchinstallationresults")}
    installed = [r for r in rows if r["properties"].get("installationState") == "Installed"]
    assert len(installed) > 2000
    delays: list[float] = []
    undated = 0
    for row in installed:
        props = row["properties"]
        run = runs[row["id"].lower().rsplit("/softwarepatches/", 1)[0]]["properties"]
        at = parse_timestamp(props["lastModifiedDateTime"])
        # Each patch finishes within its run, and only finished runs install.
        assert parse_timestamp(run["startDateTime"]) <= at <= parse_timestamp(run["lastModifiedDateTime"])
        assert run["status"] != "InProgress" and run["installedPatchCount"] > 0
        if "publishedDateTime" not in props:
            undated += 1  # Linux packages carry no publication date, as in ARG
            continue
        delays.append((at - parse_timestamp(props["publishedDateTime"])) / timedelta(days=1))
    assert undated > 0 and delays
    delays.sort()
    assert min(delays) >= 0  # a patch is never installed before it was published
    median, p90 = delays[len(delays) // 2], delays[int(len(delays) * 0.9)]
    assert 1 < median < 20 and median < p90 < 90, (median, p90)
    # Windows Server 2012 R2 Arc machines come both with and without an active ESU key.
    esu = [
        m["properties"]["licenseProfile"]["esuProfile"]
        for m in machines.values()
        if "2012 R2" in m["properties"].get("osSku", "") and m["type"] == "microsoft.hybridcompute/machines"
    ]
    active = {p["licenseAssignmentState"] == "Assigned" and p["esuKeyState"] == "Active" for p in esu}
    assert active == {True, False}


def test_maintenance_records_correlate_with_runs(tables: dict[str, list[dict[str, Any]]]) -> None:
    maintenance = tables["maintenanceresources"]
    by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in maintenance:
        by_type[row["type"]].append(row)
    schedule_runs = {
        r["properties"]["correlationId"]: r
        for r in by_type["microsoft.maintenance/maintenanceconfigurations/applyupdates"]
    }
    per_machine = by_type["microsoft.maintenance/applyupdates"]
    runs = [r for r in tables["patchinstallationresources"] if r["type"].endswith("/patchinstallationresults")]
    linked = [r for r in runs if r["properties"]["maintenanceRunId"]]
    assert len(linked) == len(per_machine) > 0
    assert {r["properties"]["maintenanceRunId"] for r in linked} <= set(schedule_runs)
    totals: Counter[str] = Counter(r["properties"]["correlationId"] for r in per_machine)
    for correlation, schedule in schedule_runs.items():
        summary = schedule["properties"]["resourceUpdateSummary"]
        assert summary["total"] == totals[correlation]
        assert (
            summary["total"] == summary["succeeded"] + summary["failed"] + summary["inProgress"] + summary["notStarted"]
        )
    assignments = by_type["microsoft.maintenance/configurationassignments"]
    segments = Counter(len(a["id"].split("/")) for a in assignments)
    assert segments[7] >= 1 and segments[9] >= 1
    assert 2 <= segments[7] + segments[9] <= 4
    for dynamic in (a for a in assignments if len(a["id"].split("/")) in (7, 9)):
        assert dynamic["properties"]["filter"]["resourceTypes"]
        assert dynamic["properties"]["filter"]["tagSettings"]["filterOperator"] in ("Any", "All")
    static = [
        a
        for a in assignments
        if "/providers/Microsoft.Maintenance/configurationAssignments/" in a["id"] and len(a["id"].split("/")) > 9
    ]
    assert 0.35 < len(static) / 1500 < 0.55
    for assignment in static:
        assert assignment["id"].startswith(assignment["properties"]["resourceId"] + "/providers/")


def _dynamic_covers(assignment: dict[str, Any], machine: dict[str, Any]) -> bool:
    scope = assignment["properties"]["resourceId"].lower()
    filt = assignment["properties"]["filter"]
    if not machine["id"].lower().startswith(scope + "/"):
        return False
    if machine["type"] not in [t.lower() for t in filt["resourceTypes"]] or _os(machine) not in filt["osTypes"]:
        return False
    if filt["locations"] and machine["location"] not in filt["locations"]:
        return False
    tags = {k.lower(): v for k, v in machine["tags"].items()}
    hits = [tags.get(k.lower()) in values for k, values in filt["tagSettings"]["tags"].items()]
    return all(hits) if filt["tagSettings"]["filterOperator"] == "All" else any(hits)


def test_policy_states_disagree_a_little(
    tables: dict[str, list[dict[str, Any]]], machines: dict[str, dict[str, Any]]
) -> None:
    states = tables["policyresources"]
    by_assignment: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for state in states:
        props = state["properties"]
        assert state["id"].startswith(
            f"/subscriptions/{state['subscriptionId']}/providers/Microsoft.PolicyInsights/policyStates/"
        )
        assert props["isCompliant"] == (props["complianceState"] == "Compliant")
        assert props["resourceId"].lower() in machines
        by_assignment[props["policyAssignmentName"]].append(state)
    periodic = by_assignment["periodic-assess-audit"]
    schedule = by_assignment["scheduled-patching-dine"]
    assert len(periodic) == len(schedule) == 1500
    assert periodic[0]["properties"]["policyDefinitionId"].endswith("bd876905-5b84-4f73-ab2d-2e7a7c4568d9")
    assert schedule[0]["properties"]["policyDefinitionAction"] == "deployifnotexists"
    assert Counter(s["properties"]["complianceState"] for s in states)["Exempt"] >= 5
    assert any(s["properties"]["resourceId"] != machines[s["properties"]["resourceId"].lower()]["id"] for s in states)

    wrongly_periodic = [
        s
        for s in periodic
        if s["properties"]["complianceState"] == "Compliant"
        and _patch_settings(machines[s["properties"]["resourceId"].lower()]).get("assessmentMode")
        != "AutomaticByPlatform"
    ]
    assert 3 <= len(wrongly_periodic) <= 60
    maintenance = tables["maintenanceresources"]
    statically = {
        a["properties"]["resourceId"].lower()
        for a in maintenance
        if a["type"] == "microsoft.maintenance/configurationassignments" and len(a["id"].split("/")) > 9
    }
    dynamic = [
        a
        for a in maintenance
        if a["type"] == "microsoft.maintenance/configurationassignments" and len(a["id"].split("/")) in (7, 9)
    ]
    covered = {mid for mid, m in machines.items() if any(_dynamic_covers(a, m) for a in dynamic)}
    assert covered and covered & statically and covered - statically
    unscheduled = set(machines) - statically - covered
    assert unscheduled
    wrongly_scheduled = [
        s
        for s in schedule
        if s["properties"]["complianceState"] == "Compliant" and s["properties"]["resourceId"].lower() in unscheduled
    ]
    assert 3 <= len(wrongly_scheduled) <= 60
    correctly = [
        s
        for s in schedule
        if s["properties"]["resourceId"].lower() in unscheduled and s["properties"]["complianceState"] == "NonCompliant"
    ]
    assert len(correctly) > 10 * len(wrongly_scheduled)


def test_timestamps_have_one_style(tables: dict[str, list[dict[str, Any]]]) -> None:
    checked = 0
    for name in ("patchassessmentresources", "patchinstallationresources", "maintenanceresources", "policyresources"):
        for row in tables[name]:
            for key, value in row["properties"].items():
                if (key.endswith("DateTime") or key == "timestamp") and value is not None:
                    assert TIMESTAMP.match(value), (name, key, value)
                    assert parse_timestamp(value) <= DEFAULT_CAPTURED_AT
                    checked += 1
    assert checked > 20_000


def test_snapshot_json_is_plain(sample: Snapshot) -> None:
    meta = json.loads((sample.path / "snapshot.json").read_text(encoding="utf-8"))
    assert meta["scope"]["management_groups"] == []
    assert meta["tenant_id"] == sample.tenant_id
