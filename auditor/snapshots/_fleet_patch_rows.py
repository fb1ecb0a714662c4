"""ARG rows of the synthetic fleet for `patchassessmentresources` and `patchinstallationresources`.

Assessment summaries and their `softwarepatches` are built together, so `availablePatchCountByClassification`
always agrees with the patch rows: every patch row counts once under each of its classifications.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from auditor.jsonvalue import JsonObject
from auditor.snapshots._fleet_machines import Machine
from auditor.snapshots._fleet_patches import PatchDef, ProductCatalog
from auditor.snapshots._fleet_plan import FleetPlan
from auditor.snapshots._fleet_rows import Ticker
from auditor.snapshots._fleet_runs import Run
from auditor.snapshots._fleet_util import DAY, MINUTE, Weighted, arg_row, derive, guid, ts
from auditor.snapshots.format import ArgRow

MAX_PENDING = 25
STALE_DAYS = 7
_STATUSES = Weighted([("Succeeded", 90), ("Failed", 5.5), ("InProgress", 2), ("CompletedWithWarnings", 2.5)])
_COUNT_KEYS = {
    "Critical": "critical",
    "Security": "security",
    "UpdateRollup": "updateRollup",
    "FeaturePack": "featurePack",
    "ServicePack": "servicePack",
    "Definition": "definition",
    "Tools": "tools",
    "Updates": "updates",
    "Other": "other",
}
_WINDOWS_ERRORS = (
    ("UpdateServiceUnavailable", "Windows Update could not be searched: 0x8024402C."),
    ("VMAgentNotResponding", "The guest agent did not respond; the assessment was not run."),
    ("AssessmentTimedOut", "The assessment did not complete within 60 minutes."),
)
_LINUX_ERRORS = (
    ("PackageManagerFailure", "The package manager could not refresh its repositories."),
    ("VMAgentNotResponding", "The guest agent did not respond; the assessment was not run."),
    ("AssessmentTimedOut", "The assessment did not complete within 60 minutes."),
)


def _assessment_age(rng: random.Random, machine: Machine, now: int, status: str) -> int:
    """Seconds between the assessment's lastModifiedDateTime and captured_at."""
    if status == "InProgress":
        return rng.randint(1 * MINUTE, 30 * MINUTE)
    if machine.offline_since is not None:
        return now - machine.offline_since + rng.randint(0, DAY)
    roll = rng.random()
    if roll < 0.06:
        return int(rng.uniform(STALE_DAYS + 0.2, 30) * DAY)
    if roll < 0.08:
        return int(rng.uniform(STALE_DAYS - 0.1, STALE_DAYS + 0.1) * DAY)
    if machine.assessment_mode == "AutomaticByPlatform":
        return int(rng.uniform(0.05, 1.0) * DAY)
    return int(rng.uniform(0.1, 3.0) * DAY)


def _pending(rng: random.Random, machine: Machine, catalog: ProductCatalog, at: int) -> list[PatchDef]:
    stuck = rng.random() < (0.35 if machine.flaky else 0.08)
    oldest_stuck = at - 120 * DAY
    pending: list[PatchDef] = []
    for applicability, patch in catalog.candidates(at):
        if applicability < 1.0 and rng.random() >= applicability:
            continue
        if patch.published > machine.patched_before(at, patch.classifications):
            pending.append(patch)
        elif stuck and patch.published > oldest_stuck and rng.random() < 0.1:
            pending.append(patch)  # installed and failed again and again
    return pending[:MAX_PENDING]


def _counts(windows: bool, patches: list[PatchDef]) -> JsonObject:
    """`availablePatchCountByClassification`: every classification of every patch counted once."""
    keys = list(_COUNT_KEYS.values()) if windows else ["security", "other"]
    counts = dict.fromkeys(keys, 0)
    for patch in patches:
        for classification in patch.classifications:
            counts[_COUNT_KEYS[classification]] += 1
    return dict(counts)  # a JsonObject: dict is invariant, so dict[str, int] is not


def _patch_properties(patch: PatchDef, windows: bool, modified: str) -> JsonObject:
    if windows:
        return {
            "patchName": patch.name,
            "kbId": patch.kb,
            "classifications": list(patch.classifications),
            "msrcSeverity": patch.msrc,
            "publishedDateTime": ts(patch.published),
            "lastModifiedDateTime": modified,
            "rebootBehavior": patch.reboot,
            "rebootRequired": patch.reboot == "AlwaysRequiresReboot",
            "patchId": patch.patch_id,
        }
    return {
        "patchName": patch.name,
        "version": patch.version,
        "classifications": list(patch.classifications),
        "lastModifiedDateTime": modified,
        "patchId": patch.patch_id,
    }


def assessment_rows(
    plan: FleetPlan, catalogs: dict[str, ProductCatalog], machines: list[Machine], each: Ticker
) -> Iterator[ArgRow]:
    """For most machines a `latest` assessment summary followed by its pending `softwarepatches`."""
    now, tenant = plan.now, plan.tenant_id
    for machine in each(machines):
        rng = derive(plan.seed, "assessment", machine.index)
        online = machine.offline_since is None
        if rng.random() >= (0.93 if online else 0.55):
            continue
        status = _STATUSES.pick(rng)
        at = now - _assessment_age(rng, machine, now, status)
        windows = machine.os == "Windows"
        patches: list[PatchDef] = []
        if status in ("Succeeded", "CompletedWithWarnings"):
            patches = _pending(rng, machine, catalogs[machine.product.catalog], at)
        error: JsonObject | None = None
        if status == "Failed":
            code, message = rng.choice(_WINDOWS_ERRORS if windows else _LINUX_ERRORS)
            error = {"code": code, "message": message}
        elif status == "CompletedWithWarnings":
            error = {"code": "AssessmentCompletedWithWarnings", "message": "Some update sources could not be searched."}
        mtype = machine.arm_type.lower()
        assessment_id = f"{machine.patch_base}/patchAssessmentResults/latest"
        name = guid(rng)
        modified = ts(at)
        started_by = "Platform" if machine.assessment_mode == "AutomaticByPlatform" and rng.random() < 0.9 else "User"
        yield arg_row(
            rid=assessment_id,
            name=name,
            rtype=f"{mtype}/patchassessmentresults",
            tenant_id=tenant,
            location=machine.location,
            resource_group=machine.rg.name,
            subscription_id=machine.sub.id,
            properties={
                "assessmentActivityId": name,
                "status": status,
                "rebootPending": bool(patches) and windows and rng.random() < 0.25,
                "patchServiceUsed": ("WU-WSUS" if machine.wsus else "WU")
                if windows
                else machine.product.package_manager,
                "osType": machine.os,
                "startDateTime": ts(at - rng.randint(30, 6 * MINUTE)),
                "lastModifiedDateTime": modified,
                "startedBy": started_by,
                "errorDetails": error,
                "availablePatchCountByClassification": _counts(windows, patches),
            },
        )
        for patch in patches:
            yield arg_row(
                rid=f"{assessment_id}/softwarePatches/{patch.patch_id}",
                name=patch.name,
                rtype=f"{mtype}/patchassessmentresults/softwarepatches",
                tenant_id=tenant,
                location=machine.location,
                resource_group=machine.rg.name,
                subscription_id=machine.sub.id,
                properties=_patch_properties(patch, windows, modified),
            )


def installation_rows(
    plan: FleetPlan, catalogs: dict[str, ProductCatalog], machines: list[Machine], each: Ticker
) -> Iterator[ArgRow]:
    """Every installation run, followed by the patches it installed and, for failed runs, those that failed."""
    tenant = plan.tenant_id
    for machine in each(machines):
        if not machine.runs:
            continue
        rng = derive(plan.seed, "installation", machine.index)
        # A stream of its own, so adding the installed rows left every other row of the fleet as it was.
        installed_rng = derive(plan.seed, "installed", machine.index)
        windows = machine.os == "Windows"
        mtype = machine.arm_type.lower()
        service = ("WU-WSUS" if machine.wsus else "WU") if windows else machine.product.package_manager
        for run in machine.runs:
            run_id = f"{machine.patch_base}/patchInstallationResults/{run.run_id}"
            error: JsonObject | None = None
            if run.error is not None:
                code, message, detail_code, detail = run.error
                error = {"code": code, "message": message, "details": [{"code": detail_code, "message": detail}]}
            modified = ts(run.end)
            yield arg_row(
                rid=run_id,
                name=run.run_id,
                rtype=f"{mtype}/patchinstallationresults",
                tenant_id=tenant,
                location=machine.location,
                resource_group=machine.rg.name,
                subscription_id=machine.sub.id,
                properties={
                    "installationActivityId": run.run_id,
                    "maintenanceWindowExceeded": run.exceeded,
                    "lastModifiedDateTime": modified,
                    "notSelectedPatchCount": run.not_selected,
                    "installedPatchCount": run.installed,
                    "excludedPatchCount": run.excluded,
                    "pendingPatchCount": run.pending,
                    "failedPatchCount": run.failed,
                    "patchServiceUsed": service,
                    "startDateTime": ts(run.start),
                    "rebootStatus": run.reboot_status,
                    "startedBy": run.started_by,
                    "status": run.status,
                    "osType": machine.os,
                    "errorDetails": error,
                    "maintenanceRunId": run.occurrence.correlation_id if run.occurrence else None,
                },
            )
            failed: list[PatchDef] = []
            if run.failed:
                candidates = catalogs[machine.product.catalog].candidates(run.start)
                failed = [patch for _, patch in rng.sample(candidates, min(run.failed, 3, len(candidates)))]
            failed_ids = {patch.patch_id for patch in failed}
            for patch, at in _installed(installed_rng, machine, catalogs[machine.product.catalog], run):
                if patch.patch_id not in failed_ids:  # one row per patch and run, as ARG keys them
                    yield _patch_row(machine, tenant, f"{run_id}/softwarePatches", patch, ts(at), "Installed")
            for patch in failed:
                yield _patch_row(machine, tenant, f"{run_id}/softwarePatches", patch, modified, "Failed")


def _patch_row(machine: Machine, tenant: str, parent: str, patch: PatchDef, modified: str, state: str) -> ArgRow:
    """One `patchinstallationresults/softwarepatches` row of a run."""
    props = _patch_properties(patch, machine.os == "Windows", modified)
    props["installationState"] = state
    return arg_row(
        rid=f"{parent}/{patch.patch_id}",
        name=patch.name,
        rtype=f"{machine.arm_type.lower()}/patchinstallationresults/softwarepatches",
        tenant_id=tenant,
        location=machine.location,
        resource_group=machine.rg.name,
        subscription_id=machine.sub.id,
        properties=props,
    )


MAX_INSTALLED_ROWS = 8
"""Installed patch rows per run: enough for realistic publish-to-install delays without bloating big fleets."""


def _installed(rng: random.Random, machine: Machine, catalog: ProductCatalog, run: Run) -> list[tuple[PatchDef, int]]:
    """The patches a finished run installed, each with its own lastModifiedDateTime within the run.

    They are the applicable releases of the run's classifications published since the machine's previous
    installation of that kind, so the delay from publication to installation follows the machine's schedule
    (a weekly window installs within days of Patch Tuesday, a neglected machine weeks later).
    """
    if run.installed <= 0 or run.status == "InProgress":
        return []
    chosen: list[PatchDef] = []
    for applicability, patch in catalog.candidates(run.start):
        if run.classes is not None and not any(c in run.classes for c in patch.classifications):
            continue
        if applicability < 1.0 and rng.random() >= applicability:
            continue
        if patch.published <= machine.patched_before(run.start - 1, patch.classifications):
            continue
        chosen.append(patch)
    chosen = chosen[: min(run.installed, MAX_INSTALLED_ROWS)]
    span = max(run.end - run.start, len(chosen) + 1)
    return [(patch, run.start + span * (k + 1) // (len(chosen) + 1)) for k, patch in enumerate(chosen)]
