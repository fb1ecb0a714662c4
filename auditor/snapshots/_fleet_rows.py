"""ARG rows of the synthetic fleet for `resources`, `resourcecontainers`, `maintenanceresources` and
`policyresources`. Each function is a generator over the machines, so no table is held in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from auditor.jsonvalue import JsonObject
from auditor.snapshots._fleet_catalog import ARC_AGENT_VERSIONS, VM_SIZES
from auditor.snapshots._fleet_machines import Machine
from auditor.snapshots._fleet_plan import MANAGEMENT_GROUP, FleetPlan, PolicyAssignment
from auditor.snapshots._fleet_runs import Run
from auditor.snapshots._fleet_util import DAY, HOUR, arg_row, derive, guid, ts
from auditor.snapshots.format import ArgRow

Ticker = Callable[[Iterable[Machine]], Iterator[Machine]]
"""Wraps the machine list so that iterating it reports progress."""

_POWER = {
    "running": ("PowerState/running", "VM running"),
    "deallocated": ("PowerState/deallocated", "VM deallocated"),
    "stopped": ("PowerState/stopped", "VM stopped"),
}


def _power_state(plan: FleetPlan, machine: Machine) -> tuple[str, str] | None:
    """The VM's power state code and display text as ARG's extended instance view shows them; None when ARG has
    none for the VM (it lags behind a VM that was just created, moved or failed to provision).

    A machine the fleet plan takes offline is deallocated or, for about a quarter, stopped from inside the guest
    (still allocated and billed, equally unpatched). Both come from a stream of their own, so drawing them changes
    no other row of the fleet.
    """
    rng = derive(plan.seed, "power", machine.index)
    if machine.state == "deallocated" and rng.random() < 0.25:
        return _POWER["stopped"]
    if machine.state == "running" and rng.random() < 0.006:
        return None
    return _POWER[machine.state]


def resource_container_rows(plan: FleetPlan) -> Iterator[ArgRow]:
    """Subscriptions and resource groups, for display names in reports."""
    for sub in plan.subscriptions:
        yield arg_row(
            rid=f"/subscriptions/{sub.id}",
            name=sub.name,
            rtype="microsoft.resources/subscriptions",
            tenant_id=plan.tenant_id,
            subscription_id=sub.id,
            properties={
                "displayName": sub.name,
                "state": "Enabled",
                "subscriptionPolicies": {
                    "locationPlacementId": "Public_2014-09-01",
                    "quotaId": "EnterpriseAgreement_2014-09-01",
                    "spendingLimit": "Off",
                },
            },
            tags={"costCenter": "CC-1042"} if sub.env == "Production" else {},
        )
        for group in sub.groups:
            yield arg_row(
                rid=f"/subscriptions/{sub.id}/resourceGroups/{group.name}",
                name=group.name,
                rtype="microsoft.resources/subscriptions/resourcegroups",
                tenant_id=plan.tenant_id,
                location=group.location,
                resource_group=group.name,
                subscription_id=sub.id,
                properties={"provisioningState": "Succeeded"},
                tags={},
            )


def _patch_settings(machine: Machine) -> JsonObject | None:
    if machine.arc:
        settings: JsonObject = {"patchMode": machine.patch_mode}
        if machine.assessment_mode is not None:
            settings["assessmentMode"] = machine.assessment_mode
        return settings
    if machine.patch_mode is None:
        return None
    settings = {"patchMode": machine.patch_mode, "assessmentMode": machine.assessment_mode}
    if machine.product.azure_edition:
        settings["enableHotpatching"] = machine.hotpatch
    if machine.patch_mode == "AutomaticByPlatform":
        settings["automaticByPlatformSettings"] = {
            "rebootSetting": machine.reboot_setting,
            "bypassPlatformSafetyChecksOnUserSchedule": machine.bypass,
        }
    return settings


def _vm_properties(plan: FleetPlan, machine: Machine) -> tuple[JsonObject, list[str] | None]:
    rng = derive(plan.seed, "vm", machine.index)
    product = machine.product
    windows = product.os == "Windows"
    settings = _patch_settings(machine)
    if windows:
        config: JsonObject = {
            "provisionVMAgent": True,
            "enableAutomaticUpdates": machine.patch_mode != "Manual",
        }
        computer = machine.name.replace("vm-", "").replace("-", "").upper()[:15]
    else:
        config = {"disablePasswordAuthentication": True, "provisionVMAgent": True}
        computer = machine.name
    if settings is not None:
        config["patchSettings"] = settings
    power = _power_state(plan, machine)
    props: JsonObject = {
        "vmId": guid(rng),
        "hardwareProfile": {"vmSize": VM_SIZES.pick(rng)},
        "storageProfile": {
            "imageReference": {
                "publisher": product.publisher,
                "offer": product.offer,
                "sku": product.sku,
                "version": "latest" if rng.random() < 0.6 else product.image_version,
            },
            "osDisk": {
                "osType": product.os,
                "name": f"{machine.name}_OsDisk_1",
                "createOption": "FromImage",
                "caching": "ReadWrite",
                "managedDisk": {"storageAccountType": "Premium_LRS"},
                "diskSizeGB": 127 if windows else 64,
            },
        },
        "osProfile": {
            "computerName": computer,
            "adminUsername": "azureadmin",
            ("windowsConfiguration" if windows else "linuxConfiguration"): config,
            "allowExtensionOperations": True,
        },
        "networkProfile": {
            "networkInterfaces": [
                {
                    "id": f"/subscriptions/{machine.sub.id}/resourceGroups/{machine.rg.name}/providers/"
                    f"Microsoft.Network/networkInterfaces/{machine.name}-nic"
                }
            ]
        },
        "provisioningState": "Succeeded",
        "timeCreated": ts(plan.now - rng.randint(60 * DAY, 1500 * DAY)),
    }
    if power is not None:
        props["extended"] = {"instanceView": {"powerState": {"code": power[0], "displayStatus": power[1]}}}
    zones = [str(rng.randint(1, 3))] if rng.random() < 0.3 else None
    return props, zones


def _arc_properties(plan: FleetPlan, machine: Machine) -> tuple[JsonObject, JsonObject]:
    rng = derive(plan.seed, "arc", machine.index)
    product = machine.product
    os_name = product.os.lower()
    changed = machine.offline_since if machine.offline_since is not None else plan.now - rng.randint(HOUR, 30 * DAY)
    settings = _patch_settings(machine)
    props: JsonObject = {
        "provisioningState": "Succeeded",
        "status": machine.state,
        "lastStatusChange": ts(changed),
        "agentVersion": ARC_AGENT_VERSIONS.pick(rng),
        "machineFqdn": f"{machine.name.lower()}.corp.contoso.com",
        "osName": os_name,
        "osType": os_name,
        "osSku": product.arc_sku,
        "osVersion": product.os_version,
        "vmId": guid(rng),
        "osProfile": {
            "computerName": machine.name,
            ("windowsConfiguration" if product.os == "Windows" else "linuxConfiguration"): {"patchSettings": settings},
        },
        "detectedProperties": {"manufacturer": "VMware, Inc.", "model": "VMware7,1"},
    }
    if product.key == "ws2012r2":
        assigned = rng.random() < 0.7
        props["licenseProfile"] = {
            "esuProfile": {
                "esuEligibility": "Eligible",
                "licenseAssignmentState": "Assigned" if assigned else "NotAssigned",
                "serverType": "Standard",
                "esuKeyState": "Active" if assigned else "Inactive",
            }
        }
    identity: JsonObject = {"type": "SystemAssigned", "principalId": guid(rng), "tenantId": plan.tenant_id}
    return props, identity


def _vsphere_properties(plan: FleetPlan, machine: Machine) -> JsonObject:
    """An Arc-enabled VMware vSphere VM (Microsoft.ConnectedVMwarevSphere/virtualMachines): the OS and the patch
    settings under osProfile, the power state in powerState."""
    rng = derive(plan.seed, "vsphere-vm", machine.index)
    product = machine.product
    return {
        "provisioningState": "Succeeded",
        "powerState": "poweredOn" if machine.offline_since is None else "poweredOff",
        "uuid": guid(rng),
        "osProfile": {
            "computerName": machine.name,
            "osType": product.os,
            "osName": product.offer,
            ("windowsConfiguration" if product.os == "Windows" else "linuxConfiguration"): {
                "patchSettings": _patch_settings(machine)
            },
        },
    }


def resource_rows(plan: FleetPlan, machines: list[Machine], each: Ticker) -> Iterator[ArgRow]:
    """Maintenance configurations, then every machine (Azure VM or Arc)."""
    for config in plan.configs:
        yield arg_row(
            rid=config.id,
            name=config.name,
            rtype="microsoft.maintenance/maintenanceconfigurations",
            tenant_id=plan.tenant_id,
            location=config.location,
            resource_group=config.resource_group,
            subscription_id=config.subscription_id,
            properties={
                "maintenanceScope": "InGuestPatch",
                "maintenanceWindow": config.maintenance_window(),
                "installPatches": config.install_patches(),
                "visibility": "Custom",
                "namespace": "Microsoft.Maintenance",
                "extensionProperties": {"InGuestPatchMode": "User"},
            },
            tags={"owner": "platform-team@contoso.com", "Environment": "Production"},
        )
    for machine in each(machines):
        if machine.vsphere:
            props, identity, zones = _vsphere_properties(plan, machine), None, None
        elif machine.arc:
            props, identity = _arc_properties(plan, machine)
            zones = None
        else:
            props, zones = _vm_properties(plan, machine)
            identity = None
        yield arg_row(
            rid=machine.id,
            name=machine.name,
            rtype=machine.arm_type.lower(),
            tenant_id=plan.tenant_id,
            location=machine.location,
            resource_group=machine.rg.name,
            subscription_id=machine.sub.id,
            properties=props,
            tags=machine.tags,
            identity=identity,
            zones=zones,
        )


_APPLY_STATUS = {
    "Succeeded": "Completed",
    "CompletedWithWarnings": "Completed",
    "Failed": "Failed",
    "InProgress": "InProgress",
    "NotStarted": "RetryLater",
}
_SUMMARY_KEY = {
    "Completed": "succeeded",
    "NoUpdatesPending": "succeeded",
    "Failed": "failed",
    "InProgress": "inProgress",
    "RetryLater": "notStarted",
}


def _no_runs() -> dict[str, int]:
    """A schedule run's `resourceUpdateSummary` counts before any machine's run, and the latest end under `end`."""
    return {"total": 0, "succeeded": 0, "failed": 0, "inProgress": 0, "notStarted": 0, "end": 0}


def _apply_status(run: Run) -> str:
    if run.status == "Succeeded" and not (run.installed or run.pending or run.failed):
        return "NoUpdatesPending"
    return _APPLY_STATUS[run.status]


def maintenance_rows(plan: FleetPlan, machines: list[Machine], each: Ticker) -> Iterator[ArgRow]:
    """Dynamic-scope and static configuration assignments, per-machine and per-schedule applyUpdates records."""
    tenant = plan.tenant_id
    for dyn in plan.dynamic:
        filt: JsonObject = {
            "resourceTypes": list(dyn.resource_types),
            "resourceGroups": [dyn.resource_group] if dyn.resource_group else [],
            "osTypes": list(dyn.os_types),
            "locations": list(dyn.locations),
            "tagSettings": {"tags": {k: list(v) for k, v in dyn.tags.items()}, "filterOperator": dyn.operator},
        }
        yield arg_row(
            rid=dyn.id,
            name=dyn.name,
            rtype="microsoft.maintenance/configurationassignments",
            tenant_id=tenant,
            resource_group=dyn.resource_group,
            subscription_id=dyn.subscription.id,
            properties={"maintenanceConfigurationId": dyn.config.id, "resourceId": dyn.scope_id, "filter": filt},
        )
    used: dict[str, bool] = {d.config.name: True for d in plan.dynamic}
    summaries: dict[tuple[str, str], dict[str, int]] = {}
    for machine in each(machines):
        if machine.static is not None:
            used[machine.static.name] = True
            yield arg_row(
                rid=f"{machine.id}/providers/Microsoft.Maintenance/configurationAssignments/{machine.static_name}",
                name=machine.static_name,
                rtype="microsoft.maintenance/configurationassignments",
                tenant_id=tenant,
                location=machine.location,
                resource_group=machine.rg.name,
                subscription_id=machine.sub.id,
                properties={"resourceId": machine.id, "maintenanceConfigurationId": machine.static_config_ref},
            )
        for run in machine.runs:
            if run.occurrence is None or run.config is None:
                continue
            status = _apply_status(run)
            summary = summaries.setdefault((run.config.name, run.occurrence.run_name), _no_runs())
            summary["total"] += 1
            summary[_SUMMARY_KEY[status]] += 1
            summary["end"] = max(summary["end"], run.end)
            yield arg_row(
                rid=f"{machine.id}/providers/Microsoft.Maintenance/applyUpdates/{run.occurrence.run_name}",
                name=run.occurrence.run_name,
                rtype="microsoft.maintenance/applyupdates",
                tenant_id=tenant,
                location=machine.location,
                resource_group=machine.rg.name,
                subscription_id=machine.sub.id,
                properties={
                    "maintenanceConfigurationId": run.config.id,
                    "maintenanceScope": "InGuestPatch",
                    "resourceId": machine.id,
                    "correlationId": run.occurrence.correlation_id,
                    "status": status,
                    "startDateTime": ts(run.start),
                    "endDateTime": None if status == "InProgress" else ts(run.end),
                },
            )
    for config in plan.configs:
        if config.name not in used:
            continue
        for occ in config.occurrences:
            counts = summaries.get((config.name, occ.run_name)) or _no_runs()
            end = counts.pop("end") or occ.start + 2 * 60
            if counts["inProgress"]:
                status, end_text = "InProgress", None
            else:
                status = "Failed" if counts["total"] and counts["failed"] == counts["total"] else "Completed"
                end_text = ts(end)
            yield arg_row(
                rid=f"{config.id}/providers/Microsoft.Maintenance/applyUpdates/{occ.run_name}",
                name=occ.run_name,
                rtype="microsoft.maintenance/maintenanceconfigurations/applyupdates",
                tenant_id=tenant,
                location=config.location,
                resource_group=config.resource_group,
                subscription_id=config.subscription_id,
                properties={
                    "maintenanceConfigurationId": config.id,
                    "maintenanceConfiguration": {
                        "name": config.name,
                        "properties": {"maintenanceScope": "InGuestPatch"},
                    },
                    "correlationId": occ.correlation_id,
                    "status": status,
                    "startDateTime": ts(occ.start),
                    "endDateTime": end_text,
                    "resourceUpdateSummary": dict(counts),  # a JsonObject: dict is invariant, so dict[str, int] is not
                },
            )


def _policy_truth(policy: PolicyAssignment, machine: Machine) -> bool | None:
    """What the policy would say if evaluated now; None when it does not apply to the machine."""
    if policy.rule == "assessment":
        return machine.assessment_mode == "AutomaticByPlatform"
    if policy.rule == "schedule":
        return machine.scheduled
    if machine.arc or machine.product.key != "ws2022-ae":
        return None
    return machine.hotpatch


def policy_rows(plan: FleetPlan, machines: list[Machine], each: Ticker) -> Iterator[ArgRow]:
    """One policy state per machine and applicable assignment, with a few Exempt and a few stale Compliant."""
    tenant = plan.tenant_id
    for machine in each(machines):
        rng = derive(plan.seed, "policy", machine.index)
        for policy in plan.policies:
            truth = _policy_truth(policy, machine)
            if truth is None:
                continue
            state = "Compliant" if truth else "NonCompliant"
            roll = rng.random()
            if roll < 0.012:
                state = "Exempt"
            elif not truth and policy.rule != "hotpatch" and roll < 0.052:
                # A stale evaluation: the policy says Compliant but the machine disagrees.
                state = "Compliant"
            name = guid(rng)
            resource_id = machine.id.lower() if rng.random() < 0.1 else machine.id
            yield arg_row(
                rid=f"/subscriptions/{machine.sub.id}/providers/Microsoft.PolicyInsights/policyStates/{name}",
                name=name,
                rtype="microsoft.policyinsights/policystates",
                tenant_id=tenant,
                resource_group=machine.rg.name,
                subscription_id=machine.sub.id,
                properties={
                    "timestamp": ts(plan.now - rng.randint(1 * HOUR, 40 * HOUR)),
                    "resourceId": resource_id,
                    "resourceType": machine.arm_type,
                    "resourceLocation": machine.location,
                    "resourceGroup": machine.rg.name,
                    "policyAssignmentId": policy.id,
                    "policyAssignmentName": policy.name,
                    "policyAssignmentScope": policy.scope,
                    "policyDefinitionId": policy.definition_id,
                    "policyDefinitionName": policy.definition_id.rsplit("/", 1)[1],
                    "policyDefinitionVersion": policy.definition_version,
                    "policyDefinitionReferenceId": "",
                    "policyDefinitionAction": policy.action,
                    "policySetDefinitionId": "",
                    "complianceState": state,
                    "isCompliant": state == "Compliant",
                    "managementGroupIds": f"{MANAGEMENT_GROUP},{tenant}",
                },
            )
