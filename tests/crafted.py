"""Build small crafted snapshots for tests: each machine, assessment, patch and run spelled out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from auditor.snapshots.format import ARG_COLUMNS, Snapshot, write_snapshot
from auditor.timestamps import format_timestamp

AS_OF = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
SUB = "00000000-0000-0000-0000-000000000001"
VM_TYPE = "microsoft.compute/virtualmachines"
ARC_TYPE = "microsoft.hybridcompute/machines"
VSPHERE_TYPE = "microsoft.connectedvmwarevsphere/virtualmachines"


def machine_type(machine_id: str) -> str:
    """The ARG type of a machine, from the provider in its id."""
    lowered = machine_id.lower()
    if "/microsoft.connectedvmwarevsphere/" in lowered:
        return VSPHERE_TYPE
    return VM_TYPE if "/microsoft.compute/" in lowered else ARC_TYPE


def arg_row(**values: Any) -> dict[str, Any]:
    """A row with ARG's 16 columns; unspecified strings are '' and dynamic values null."""
    row: dict[str, Any] = {}
    for column in ARG_COLUMNS:
        row[column] = values.pop(column, None if column in _DYNAMIC else "")
    assert not values, f"unknown columns {values}"
    return row


_DYNAMIC = {"sku", "plan", "properties", "tags", "identity", "zones", "extendedLocation"}


def ts(value: datetime) -> str:
    """An ARG-style timestamp."""
    return format_timestamp(value)


def days_ago(days: float, as_of: datetime = AS_OF) -> str:
    """A timestamp `days` before the as-of time."""
    return ts(as_of - timedelta(days=days))


@dataclass
class Fleet:
    """Rows of each table, added machine by machine."""

    tables: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {
            "resources": [],
            "patchassessmentresources": [],
            "patchinstallationresources": [],
            "maintenanceresources": [],
            "policyresources": [],
        }
    )

    def machine(
        self,
        name: str,
        *,
        platform: str = "Azure",
        os: str = "Windows",
        sub: str = SUB,
        rg: str = "rg-app",
        location: str = "westeurope",
        tags: dict[str, str] | None = None,
        assessment_mode: str = "AutomaticByPlatform",
        patch_mode: str = "AutomaticByPlatform",
        image_sku: str = "2022-datacenter-g2",
        hotpatch: bool | None = None,
        image_offer: str = "WindowsServer",
        os_sku: str | None = None,
        esu: tuple[str, str] | None = None,
    ) -> str:
        """Add an Azure VM, an Arc machine or an Arc-enabled VMware vSphere VM (`platform`); returns its ARM id.

        `os_sku` is an Arc machine's reported OS (osSku); `esu` its ESU profile as (licenseAssignmentState,
        esuKeyState)."""
        if platform == "Azure":
            rid = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{name}"
            settings: dict[str, Any] = {"patchMode": patch_mode, "assessmentMode": assessment_mode}
            if hotpatch is not None:
                settings["enableHotpatching"] = hotpatch
            config_key = "windowsConfiguration" if os == "Windows" else "linuxConfiguration"
            props: dict[str, Any] = {
                "storageProfile": {
                    "osDisk": {"osType": os},
                    "imageReference": {"offer": image_offer, "sku": image_sku},
                },
                "osProfile": {config_key: {"patchSettings": settings}},
            }
            kind = VM_TYPE
        elif platform == "vSphere":
            rid = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ConnectedVMwarevSphere/virtualMachines/{name}"
            config_key = "windowsConfiguration" if os == "Windows" else "linuxConfiguration"
            patch_settings = {"patchMode": patch_mode, "assessmentMode": assessment_mode}
            props = {
                "osProfile": {"osType": os, config_key: {"patchSettings": patch_settings}},
                "powerState": "poweredOn",
            }
            kind = VSPHERE_TYPE
        else:
            rid = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.HybridCompute/machines/{name}"
            config_key = "windowsConfiguration" if os == "Windows" else "linuxConfiguration"
            props = {
                "osName": os.lower(),
                "osType": os.lower(),
                "osProfile": {
                    config_key: {"patchSettings": {"patchMode": patch_mode, "assessmentMode": assessment_mode}}
                },
            }
            if os_sku is not None:
                props["osSku"] = os_sku
            if esu is not None:
                props["licenseProfile"] = {
                    "esuProfile": {
                        "esuEligibility": "Eligible",
                        "licenseAssignmentState": esu[0],
                        "esuKeyState": esu[1],
                    }
                }
            kind = ARC_TYPE
        self.tables["resources"].append(
            arg_row(
                id=rid,
                name=name,
                type=kind,
                subscriptionId=sub,
                resourceGroup=rg,
                location=location,
                properties=props,
                tags=tags or {},
            )
        )
        return rid

    def assessment(self, machine_id: str, *, status: str = "Succeeded", last_modified: str | None = None) -> str:
        """Add the latest assessment of a machine; returns its id."""
        aid = f"{machine_id}/patchAssessmentResults/latest"
        kind = machine_type(machine_id) + "/patchassessmentresults"
        props: dict[str, Any] = {"status": status}
        props["lastModifiedDateTime"] = last_modified if last_modified is not None else days_ago(1)
        self.tables["patchassessmentresources"].append(arg_row(id=aid, name="latest", type=kind, properties=props))
        return aid

    def patch(
        self,
        machine_id: str,
        patch_id: str,
        classifications: list[str],
        *,
        published: str | None = None,
        name: str | None = None,
    ) -> str:
        """Add a pending patch under the machine's latest assessment; returns its id."""
        pid = f"{machine_id}/patchAssessmentResults/latest/softwarePatches/{patch_id}"
        kind = machine_type(machine_id) + "/patchassessmentresults/softwarepatches"
        props: dict[str, Any] = {"classifications": classifications, "patchName": name or patch_id}
        if published is not None:
            props["publishedDateTime"] = published
        self.tables["patchassessmentresources"].append(arg_row(id=pid, name=patch_id, type=kind, properties=props))
        return pid

    def run(
        self,
        machine_id: str,
        run_id: str,
        *,
        status: str,
        start: str,
        minutes: float = 30,
        error: str | None = None,
        window_exceeded: bool = False,
    ) -> None:
        """Add a patch installation run."""
        kind = machine_type(machine_id) + "/patchinstallationresults"
        started = datetime.fromisoformat(start.replace("Z", "+00:00"))
        props: dict[str, Any] = {
            "status": status,
            "startDateTime": start,
            "lastModifiedDateTime": ts(started + timedelta(minutes=minutes)),
            "maintenanceWindowExceeded": window_exceeded,
            "installedPatchCount": 3,
            "failedPatchCount": 1 if status == "Failed" else 0,
            "pendingPatchCount": 0,
        }
        if error:
            props["errorDetails"] = {"code": error, "message": error}
        self.tables["patchinstallationresources"].append(
            arg_row(id=f"{machine_id}/patchInstallationResults/{run_id}", name=run_id, type=kind, properties=props)
        )

    def installed_patch(
        self,
        machine_id: str,
        run_id: str,
        patch_id: str,
        classifications: list[str],
        *,
        installed: str,
        published: str | None = None,
        state: str = "Installed",
        kb: str = "",
    ) -> None:
        """Add a `softwarepatches` row under an installation run (the run record itself is not needed)."""
        kind = (
            VM_TYPE if "virtualmachines" in machine_id.lower() else ARC_TYPE
        ) + "/patchinstallationresults/softwarepatches"
        props: dict[str, Any] = {
            "installationState": state,
            "classifications": classifications,
            "patchName": patch_id,
            "kbId": kb,
            "lastModifiedDateTime": installed,
        }
        if published is not None:
            props["publishedDateTime"] = published
        self.tables["patchinstallationresources"].append(
            arg_row(
                id=f"{machine_id}/patchInstallationResults/{run_id}/softwarePatches/{patch_id}",
                name=patch_id,
                type=kind,
                properties=props,
            )
        )

    def assign(self, machine_id: str, config_name: str, *, sub: str = SUB) -> None:
        """A static maintenance configuration assignment."""
        self.tables["maintenanceresources"].append(
            arg_row(
                id=f"{machine_id}/providers/Microsoft.Maintenance/configurationAssignments/{config_name}",
                type="microsoft.maintenance/configurationassignments",
                subscriptionId=sub,
                properties={"resourceId": machine_id, "maintenanceConfigurationId": config_id(config_name, sub)},
            )
        )

    def dynamic_scope(
        self, name: str, config_name: str, flt: dict[str, Any], *, sub: str = SUB, rg: str | None = None
    ) -> None:
        """A dynamic-scope assignment at subscription (or resource group) level."""
        scope = f"/subscriptions/{sub}" + (f"/resourceGroups/{rg}" if rg else "")
        self.tables["maintenanceresources"].append(
            arg_row(
                id=f"{scope}/providers/Microsoft.Maintenance/configurationAssignments/{name}",
                type="microsoft.maintenance/configurationassignments",
                subscriptionId=sub,
                properties={
                    "resourceId": scope,
                    "maintenanceConfigurationId": config_id(config_name, sub),
                    "filter": flt,
                },
            )
        )

    def maintenance_configuration(
        self,
        name: str,
        *,
        recur: str = "1Week Saturday",
        start: str = "2026-01-03 22:00",
        duration: str = "03:00",
        time_zone: str = "UTC",
        expiration: str = "9999-12-31 23:59:59",
        reboot: str = "IfRequired",
        windows: list[str] | None = None,
        linux: list[str] | None = None,
        kb_include: list[str] | None = None,
        kb_exclude: list[str] | None = None,
        mask_include: list[str] | None = None,
        mask_exclude: list[str] | None = None,
        tasks: dict[str, Any] | None = None,
        sub: str = SUB,
        scope: str = "InGuestPatch",
    ) -> str:
        """Add a maintenance configuration (a `resources` row); returns its id."""
        patches: dict[str, Any] = {"rebootSetting": reboot}
        if windows is not None:
            patches["windowsParameters"] = {
                "classificationsToInclude": windows,
                "kbNumbersToInclude": kb_include or [],
                "kbNumbersToExclude": kb_exclude or [],
                "excludeKbsRequiringReboot": False,
            }
        if linux is not None:
            patches["linuxParameters"] = {
                "classificationsToInclude": linux,
                "packageNameMasksToInclude": mask_include or [],
                "packageNameMasksToExclude": mask_exclude or [],
            }
        if tasks is not None:
            patches["tasks"] = tasks
        cid = config_id(name, sub)
        window = {
            "startDateTime": start,
            "expirationDateTime": expiration,
            "duration": duration,
            "timeZone": time_zone,
            "recurEvery": recur,
        }
        self.tables["resources"].append(
            arg_row(
                id=cid,
                name=name,
                type="microsoft.maintenance/maintenanceconfigurations",
                subscriptionId=sub,
                resourceGroup="rg-maint",
                location="westeurope",
                properties={
                    "maintenanceScope": scope,
                    "maintenanceWindow": window,
                    "installPatches": patches,
                    "visibility": "Custom",
                    "namespace": "Microsoft.Maintenance",
                },
            )
        )
        return cid

    def schedule_run(
        self,
        config_name: str,
        correlation_id: str,
        *,
        status: str,
        start: str,
        minutes: float | None = 60,
        total: int = 0,
        succeeded: int = 0,
        sub: str = SUB,
    ) -> None:
        """Add one run of a schedule (`maintenanceconfigurations/applyupdates`); minutes=None leaves it open."""
        cid = config_id(config_name, sub)
        started = datetime.fromisoformat(start.replace("Z", "+00:00"))
        self.tables["maintenanceresources"].append(
            arg_row(
                id=f"{cid}/providers/Microsoft.Maintenance/applyUpdates/{started.strftime('%Y%m%d%H%M%S')}",
                name=started.strftime("%Y%m%d%H%M%S"),
                type="microsoft.maintenance/maintenanceconfigurations/applyupdates",
                subscriptionId=sub,
                properties={
                    "maintenanceConfigurationId": cid,
                    "maintenanceConfiguration": {
                        "name": config_name,
                        "properties": {"maintenanceScope": "InGuestPatch"},
                    },
                    "correlationId": correlation_id,
                    "status": status,
                    "startDateTime": start,
                    "endDateTime": None if minutes is None else ts(started + timedelta(minutes=minutes)),
                    "resourceUpdateSummary": {"total": total, "succeeded": succeeded},
                },
            )
        )

    def scheduled_run(
        self,
        machine_id: str,
        run_id: str,
        config_name: str,
        correlation_id: str,
        *,
        status: str,
        start: str,
        minutes: float = 30,
        error: str | None = None,
        window_exceeded: bool = False,
        apply_status: str | None = None,
        sub: str = SUB,
    ) -> None:
        """A run started by a schedule: its patch installation record (maintenanceRunId = the schedule run's
        correlationId) and its per-machine `applyupdates` record."""
        self.run(
            machine_id,
            run_id,
            status=status,
            start=start,
            minutes=minutes,
            error=error,
            window_exceeded=window_exceeded,
        )
        self.tables["patchinstallationresources"][-1]["properties"]["maintenanceRunId"] = correlation_id
        started = datetime.fromisoformat(start.replace("Z", "+00:00"))
        outcome = apply_status or {"Succeeded": "Completed", "CompletedWithWarnings": "Completed"}.get(status, status)
        self.tables["maintenanceresources"].append(
            arg_row(
                id=f"{machine_id}/providers/Microsoft.Maintenance/applyUpdates/{run_id}",
                name=run_id,
                type="microsoft.maintenance/applyupdates",
                subscriptionId=sub,
                properties={
                    "maintenanceConfigurationId": config_id(config_name, sub),
                    "maintenanceScope": "InGuestPatch",
                    "resourceId": machine_id,
                    "correlationId": correlation_id,
                    "status": outcome,
                    "startDateTime": start,
                    "endDateTime": None if outcome == "InProgress" else ts(started + timedelta(minutes=minutes)),
                },
            )
        )

    def policy_state(self, machine_id: str, assignment: str, state: str, *, definition_ref: str = "") -> None:
        """A policy state row for a machine."""
        kind = (
            "Microsoft.Compute/virtualMachines"
            if "virtualmachines" in machine_id.lower()
            else "Microsoft.HybridCompute/machines"
        )
        n = len(self.tables["policyresources"])
        self.tables["policyresources"].append(
            arg_row(
                id=f"/subscriptions/{SUB}/providers/Microsoft.PolicyInsights/policyStates/{n:08d}",
                type="microsoft.policyinsights/policystates",
                properties={
                    "complianceState": state,
                    "resourceId": machine_id,
                    "resourceType": kind,
                    "policyAssignmentId": f"/subscriptions/{SUB}/providers/Microsoft.Authorization/policyAssignments/{assignment}",
                    "policyAssignmentName": assignment,
                    "policyDefinitionId": "/providers/Microsoft.Authorization/policyDefinitions/x",
                    "policyDefinitionReferenceId": definition_ref,
                    "policyDefinitionAction": "audit",
                },
            )
        )

    def write(self, path: Path, captured_at: datetime = AS_OF) -> Snapshot:
        """Write as an auditor-snapshot/1 directory."""
        return write_snapshot(
            path,
            self.tables,
            source="synthetic",
            captured_at=captured_at,
            tenant_id="tenant",
            scope={"subscriptions": [SUB]},
        )


def config_id(name: str, sub: str = SUB) -> str:
    """A maintenance configuration id."""
    return (
        f"/subscriptions/{sub}/resourceGroups/rg-maint/providers/Microsoft.Maintenance/maintenanceConfigurations/{name}"
    )
