"""A tiny hand-written ARG snapshot for the replay and atomic-pack tests (and a check that it scans as intended).

Six machines cover every status the rules know: compliant, non-compliant (overdue dated patch), non-compliant
(undated Linux patch with no history), stale, failed and missing assessments, in three environments and two
subscriptions, with installation runs, a maintenance assignment and a policy state.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from auditor.snapshots.format import ARG_COLUMNS, write_snapshot
from tests.summaries import js

CAPTURED_AT = datetime(2026, 11, 1, tzinfo=UTC)
SUBS = ("11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222")


def _row(**values: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(ARG_COLUMNS)
    row.update(values)
    return row


def _vm(index: int, env: str | None, os_type: str, sub: str) -> dict[str, Any]:
    name = f"vm{index}"
    settings = "windowsConfiguration" if os_type == "Windows" else "linuxConfiguration"
    return _row(
        id=f"/subscriptions/{sub}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/{name}",
        name=name,
        type="microsoft.compute/virtualmachines",
        location="westeurope",
        resourceGroup="rg-app",
        subscriptionId=sub,
        tags={"environment": env} if env else {},
        properties={
            "storageProfile": {"osDisk": {"osType": os_type}, "imageReference": {"offer": "offer", "sku": "sku"}},
            "osProfile": {
                settings: {
                    "patchSettings": {
                        "assessmentMode": "AutomaticByPlatform" if index % 2 else "ImageDefault",
                        "patchMode": "AutomaticByPlatform",
                    }
                }
            },
        },
    )


def _assessment(vm: dict[str, Any], status: str, modified: str) -> dict[str, Any]:
    return _row(
        id=f"{vm['id']}/patchAssessmentResults/latest",
        name="latest",
        type="microsoft.compute/virtualmachines/patchassessmentresults",
        subscriptionId=vm["subscriptionId"],
        properties={"status": status, "lastModifiedDateTime": modified, "rebootPending": False},
    )


def _patch(vm: dict[str, Any], name: str, classes: list[str], published: str | None) -> dict[str, Any]:
    return _row(
        id=f"{vm['id']}/patchAssessmentResults/latest/softwarePatches/{name}",
        name=name,
        type="microsoft.compute/virtualmachines/patchassessmentresults/softwarepatches",
        subscriptionId=vm["subscriptionId"],
        properties={"patchName": name, "classifications": classes, "publishedDateTime": published, "version": "1.0"},
    )


def _run(vm: dict[str, Any], run: str, status: str, started: str) -> dict[str, Any]:
    return _row(
        id=f"{vm['id']}/patchInstallationResults/{run}",
        name=run,
        type="microsoft.compute/virtualmachines/patchinstallationresults",
        subscriptionId=vm["subscriptionId"],
        properties={
            "status": status,
            "startDateTime": started,
            "lastModifiedDateTime": started,
            "installedPatchCount": 3,
            "failedPatchCount": 1 if status == "Failed" else 0,
            "pendingPatchCount": 0,
            "startedBy": "Platform",
            "rebootStatus": "NotNeeded",
            "maintenanceWindowExceeded": False,
            "errorDetails": {"code": "PatchFailed"} if status == "Failed" else None,
        },
    )


def fleet_tables() -> dict[str, list[dict[str, Any]]]:
    """The ARG rows of the small fleet."""
    vms = [
        _vm(0, "prod", "Windows", SUBS[0]),
        _vm(1, "Production", "Windows", SUBS[0]),
        _vm(2, "dev", "Linux", SUBS[1]),
        _vm(3, "Dev", "Linux", SUBS[1]),
        _vm(4, None, "Windows", SUBS[1]),
        _vm(5, "test", "Linux", SUBS[0]),
    ]
    assessments = [
        _assessment(vms[0], "Succeeded", "2026-10-31T12:00:00Z"),
        _assessment(vms[1], "Succeeded", "2026-10-31T12:00:00Z"),
        _assessment(vms[2], "Succeeded", "2026-10-30T08:00:00Z"),
        _assessment(vms[3], "Succeeded", "2026-10-01T08:00:00Z"),
        _assessment(vms[4], "Failed", "2026-10-31T08:00:00Z"),
    ]
    patches = [
        _patch(vms[0], "kb1", ["Critical"], "2026-10-28T00:00:00Z"),
        _patch(vms[1], "kb2", ["Critical", "Security"], "2026-09-01T00:00:00Z"),
        _patch(vms[1], "kb3", ["Updates"], "2026-01-01T00:00:00Z"),
        _patch(vms[2], "openssl", ["Security"], None),
        _patch(vms[2], "vim", ["Other"], None),
    ]
    runs = [
        _run(vms[0], "run-a", "Succeeded", "2026-10-20T02:00:00Z"),
        _run(vms[1], "run-b", "Failed", "2026-10-21T02:00:00Z"),
        _run(vms[2], "run-c", "Succeeded", "2026-10-22T02:00:00Z"),
    ]
    maintenance = [
        _row(
            id=f"{vms[0]['id']}/providers/Microsoft.Maintenance/configurationAssignments/weekly",
            name="weekly",
            type="microsoft.maintenance/configurationassignments",
            subscriptionId=SUBS[0],
            properties={
                "resourceId": vms[0]["id"],
                "maintenanceConfigurationId": f"/subscriptions/{SUBS[0]}/"
                "resourceGroups/rg-ops/providers/Microsoft.Maintenance/maintenanceConfigurations/weekly",
            },
        ),
    ]
    policy = [
        _row(
            id=f"/subscriptions/{SUBS[0]}/providers/Microsoft.PolicyInsights/policyStates/x1",
            name="x1",
            type="microsoft.policyinsights/policystates",
            subscriptionId=SUBS[0],
            properties={
                "resourceId": vms[0]["id"],
                "resourceType": "Microsoft.Compute/virtualMachines",
                "complianceState": "NonCompliant",
                "policyAssignmentId": "/a/1",
                "policyAssignmentName": "a1",
                "policyDefinitionId": "/d/1",
                "policyDefinitionReferenceId": "",
                "policyDefinitionAction": "audit",
            },
        ),
    ]
    return {
        "resources": vms,
        "patchassessmentresources": assessments + patches,
        "patchinstallationresources": runs,
        "maintenanceresources": maintenance,
        "policyresources": policy,
    }


def write_small_fleet(out: Path) -> Path:
    """Write the small fleet as an auditor-snapshot/1 directory and return it."""
    write_snapshot(
        out,
        fleet_tables(),
        source="synthetic",
        captured_at=CAPTURED_AT,
        tenant_id="tenant-0",
        scope={"subscriptions": list(SUBS)},
    )
    return out


def test_small_fleet_scans_as_designed(tmp_path: Path) -> None:
    from auditor.config import Config
    from auditor.scan import scan

    result = scan(Config(), source=f"snapshot:{write_small_fleet(tmp_path / 'fleet')}", out=tmp_path / "packs")
    summary = js(result.summary)
    assert summary["machines"] == 6
    assert (summary["compliant"], summary["non_compliant"], summary["unknown"]) == (1, 2, 3)
    assert json.loads((result.pack / "summary.json").read_text()) == summary
