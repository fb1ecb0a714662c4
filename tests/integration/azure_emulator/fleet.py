"""A small, seeded fleet in ARG's shapes (refdata/schemas/ARG_TABLES.md), for emulator tests and benchmarks.

Every catalog query finds rows in it, and `resources` also holds types capture leaves out (disks, NICs).
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from auditor.snapshots.format import ARG_COLUMNS, REQUIRED_TABLES, Snapshot, write_snapshot

AS_OF = datetime(2026, 11, 20, tzinfo=UTC)
_CLASSES = ["Critical", "Security", "UpdateRollup", "Definition", "Other"]


def subscription_ids(count: int, seed: int = 7) -> list[str]:
    """Deterministic subscription GUIDs."""
    rng = random.Random(seed)
    return [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(count)]


def _row(tenant: str, rid: str, kind: str, sub: str, rg: str, props: dict[str, Any], **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(ARG_COLUMNS)
    row.update(
        id=rid,
        name=rid.rsplit("/", 1)[-1],
        type=kind,
        tenantId=tenant,
        kind="",
        location="westeurope",
        resourceGroup=rg,
        subscriptionId=sub,
        managedBy="",
        properties=props,
    )
    row.update(extra)
    return row


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def build_fleet(
    out: Path,
    *,
    tenant: str,
    subscriptions: list[str],
    machines_per_subscription: int = 6,
    patches_per_machine: int = 4,
    seed: int = 1,
    heartbeats: int = 0,
) -> Snapshot:
    """Write a snapshot with VMs and Arc machines spread over `subscriptions`.

    With `heartbeats`, each machine also gets that many rows in a Log Analytics `Heartbeat` table (`la_heartbeat`:
    snapshot table names are lower case, and KQL finds `la_Heartbeat` in it since DuckDB ignores their case).
    """
    rng = random.Random(seed)
    tables: dict[str, list[dict[str, Any]]] = {name: [] for name in (*REQUIRED_TABLES, "resourcecontainers")}
    if heartbeats:
        tables["la_heartbeat"] = []
    for sub in subscriptions:
        tables["resourcecontainers"].append(
            _row(tenant, f"/subscriptions/{sub}", "microsoft.resources/subscriptions", sub, "", {"state": "Enabled"})
        )
        rg = f"rg-{sub[:4]}"
        base = f"/subscriptions/{sub}/resourceGroups/{rg}/providers"
        config_id = f"{base}/Microsoft.Maintenance/maintenanceConfigurations/weekly"
        window = {
            "startDateTime": "2026-01-03 22:00",
            "duration": "03:55",
            "timeZone": "UTC",
            "recurEvery": "1Week Saturday",
        }
        tables["resources"].append(
            _row(
                tenant,
                config_id,
                "microsoft.maintenance/maintenanceconfigurations",
                sub,
                rg,
                {
                    "maintenanceScope": "InGuestPatch",
                    "visibility": "Custom",
                    "maintenanceWindow": window,
                    "installPatches": {
                        "rebootSetting": "IfRequired",
                        "windowsParameters": {"classificationsToInclude": ["Critical", "Security"]},
                    },
                },
            )
        )
        runs = [(str(uuid.UUID(int=rng.getrandbits(128), version=4)), AS_OF - timedelta(days=d)) for d in (2, 9)]
        for run_id, start in runs:
            tables["maintenanceresources"].append(
                _row(
                    tenant,
                    f"{config_id}/providers/Microsoft.Maintenance/applyUpdates/{run_id}",
                    "microsoft.maintenance/maintenanceconfigurations/applyupdates",
                    sub,
                    rg,
                    {
                        "maintenanceConfigurationId": config_id,
                        "correlationId": run_id,
                        "status": "Completed",
                        "startDateTime": _iso(start),
                        "endDateTime": _iso(start + timedelta(minutes=95)),
                    },
                )
            )
        for n in range(machines_per_subscription):
            arc = n % 3 == 2
            linux = n % 2 == 1
            os_name = "Linux" if linux else "Windows"
            if arc:
                mid = f"{base}/Microsoft.HybridCompute/machines/arc-{sub[:4]}-{n:03d}"
                props: dict[str, Any] = {"osName": os_name.lower(), "osType": os_name, "status": "Connected"}
                kind = "microsoft.hybridcompute/machines"
            else:
                mid = f"{base}/Microsoft.Compute/virtualMachines/vm-{sub[:4]}-{n:03d}"
                settings = {
                    "patchMode": "AutomaticByPlatform",
                    "assessmentMode": rng.choice(["AutomaticByPlatform", "ImageDefault"]),
                }
                config = "linuxConfiguration" if linux else "windowsConfiguration"
                props = {
                    "storageProfile": {"osDisk": {"osType": os_name}},
                    "osProfile": {config: {"patchSettings": settings}},
                }
                kind = "microsoft.compute/virtualmachines"
                tables["resources"].append(
                    _row(
                        tenant,
                        f"{base}/Microsoft.Compute/disks/{mid.rsplit('/', 1)[-1]}-os",
                        "microsoft.compute/disks",
                        sub,
                        rg,
                        {"diskSizeGB": 128},
                    )
                )
            env = rng.choice(["prod", "Production", "dev", None])
            tables["resources"].append(
                _row(tenant, mid, kind, sub, rg, props, tags={"Environment": env} if env else {})
            )
            for beat in range(heartbeats):
                tables["la_heartbeat"].append(
                    {
                        "TimeGenerated": _iso(AS_OF - timedelta(minutes=5 * beat + n)),
                        "Computer": mid.rsplit("/", 1)[-1],
                        "OSType": os_name,
                        "ResourceId": mid.lower(),
                        "Category": "Direct Agent",
                    }
                )
            assessed = AS_OF - timedelta(days=rng.choice([1, 2, 9]))
            tables["patchassessmentresources"].append(
                _row(
                    tenant,
                    f"{mid}/patchAssessmentResults/latest",
                    f"{kind}/patchassessmentresults",
                    sub,
                    rg,
                    {
                        "status": rng.choice(["Succeeded", "Succeeded", "Failed"]),
                        "osType": os_name,
                        "lastModifiedDateTime": _iso(assessed),
                        "rebootPending": False,
                    },
                )
            )
            for p in range(rng.randint(0, patches_per_machine)):
                published = None if linux else _iso(AS_OF - timedelta(days=rng.randint(1, 60)))
                tables["patchassessmentresources"].append(
                    _row(
                        tenant,
                        f"{mid}/patchAssessmentResults/latest/softwarePatches/p{p:03d}",
                        f"{kind}/patchassessmentresults/softwarepatches",
                        sub,
                        rg,
                        {
                            "patchName": f"patch-{p}",
                            "version": f"1.{p}",
                            "publishedDateTime": published,
                            "classifications": rng.sample(_CLASSES, rng.randint(1, 2)),
                            "lastModifiedDateTime": _iso(assessed),
                        },
                    )
                )
            run = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            started = AS_OF - timedelta(days=rng.randint(1, 40), minutes=rng.randint(0, 600))
            tables["patchinstallationresources"].append(
                _row(
                    tenant,
                    f"{mid}/patchInstallationResults/{run}",
                    f"{kind}/patchinstallationresults",
                    sub,
                    rg,
                    {
                        "status": rng.choice(["Succeeded", "Failed", "CompletedWithWarnings"]),
                        "startDateTime": _iso(started),
                        "lastModifiedDateTime": _iso(started + timedelta(minutes=42)),
                        "installedPatchCount": rng.randint(0, 9),
                        "failedPatchCount": rng.randint(0, 2),
                        "pendingPatchCount": 0,
                        "maintenanceWindowExceeded": False,
                        "rebootStatus": "NotNeeded",
                        "startedBy": "Platform",
                        "errorDetails": {"code": rng.choice(["", "PatchFailed"])},
                    },
                )
            )
            # Two patches the run installed, one dated and one not (Linux packages carry no publication date);
            # derived from the run's start, not drawn from rng, so the rest of the fleet stays as it was.
            for k, classes in enumerate((["Security"], ["Critical", "Security"])):
                patch: dict[str, Any] = {
                    "installationState": "Installed",
                    "patchName": f"installed-{k}",
                    "classifications": classes,
                    "lastModifiedDateTime": _iso(started + timedelta(minutes=10 + k)),
                }
                if k == 0:
                    patch["publishedDateTime"] = _iso(started - timedelta(days=6))
                tables["patchinstallationresources"].append(
                    _row(
                        tenant,
                        f"{mid}/patchInstallationResults/{run}/softwarePatches/installed-{k}",
                        f"{kind}/patchinstallationresults/softwarepatches",
                        sub,
                        rg,
                        patch,
                    )
                )
            if rng.random() < 0.7:
                tables["maintenanceresources"].append(
                    _row(
                        tenant,
                        f"{mid}/providers/Microsoft.Maintenance/configurationAssignments/weekly",
                        "microsoft.maintenance/configurationassignments",
                        sub,
                        rg,
                        {"resourceId": mid, "maintenanceConfigurationId": config_id},
                    )
                )
                for run_id, start in runs:
                    tables["maintenanceresources"].append(
                        _row(
                            tenant,
                            f"{mid}/providers/Microsoft.Maintenance/applyUpdates/{run_id}",
                            "microsoft.maintenance/applyupdates",
                            sub,
                            rg,
                            {
                                "maintenanceConfigurationId": config_id,
                                "correlationId": run_id,
                                "resourceId": mid,
                                "status": rng.choice(["Completed", "Failed"]),
                                "maintenanceScope": "InGuestPatch",
                                "startDateTime": _iso(start),
                                "endDateTime": _iso(start + timedelta(minutes=30 + n)),
                            },
                        )
                    )
            tables["policyresources"].append(
                _row(
                    tenant,
                    f"{mid}/providers/Microsoft.PolicyInsights/policyStates/{n:04x}",
                    "microsoft.policyinsights/policystates",
                    sub,
                    rg,
                    {
                        "resourceId": mid,
                        "resourceType": kind.replace(
                            "microsoft.compute/virtualmachines", "Microsoft.Compute/virtualMachines"
                        ),
                        "complianceState": rng.choice(["Compliant", "NonCompliant"]),
                        "policyAssignmentId": f"/subscriptions/{sub}/providers/Microsoft.Authorization/"
                        "policyAssignments/periodic-assessment",
                        "policyAssignmentName": "periodic-assessment",
                        "policyDefinitionId": "/providers/Microsoft.Authorization/policyDefinitions/59efceea",
                        "policyDefinitionReferenceId": "",
                        "policyDefinitionAction": "audit",
                    },
                )
            )
    return write_snapshot(
        out,
        tables,
        source="synthetic",
        captured_at=AS_OF,
        tenant_id=tenant,
        scope={"subscriptions": subscriptions, "management_groups": []},
        extra={"seed": seed},
    )
