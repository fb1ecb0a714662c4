"""One synthetic machine: where it lives, how it is tagged and configured, and its patch installation history.

A machine is drawn from its own generator (`derive(seed, "machine", index)`), so machine 17 is the same whatever
the fleet size. The traits are correlated the way they are in real tenants: scheduled machines mostly have the
patch-mode prerequisites, deallocated or disconnected machines stop patching and stop being assessed, one location
and a few flaky machines fail more often, and an overly short maintenance window overruns.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from dataclasses import dataclass

from auditor.snapshots._fleet_catalog import (
    APPS,
    ARC_LINUX_IMAGES,
    ARC_TYPE,
    ARC_WINDOWS_IMAGES,
    COST_CENTERS,
    ENV_CODES,
    ENV_KEYS,
    ENV_SPELLINGS,
    HOSTILE_APP_TAG,
    HOSTILE_OWNER_TAG,
    OWNERS,
    PATCH_GROUPS,
    PRODUCTS,
    ROLES_LINUX,
    ROLES_WINDOWS,
    VM_LINUX_IMAGES,
    VM_TYPE,
    VM_WINDOWS_IMAGES,
    VSPHERE_TYPE,
    Product,
)
from auditor.snapshots._fleet_plan import DynamicAssignment, FleetPlan, ResourceGroup, Subscription
from auditor.snapshots._fleet_runs import Run, build_runs
from auditor.snapshots._fleet_schedules import MaintenanceConfig
from auditor.snapshots._fleet_util import DAY, Weighted, derive, unique_string

_ENVS = Weighted([("Production", 4), ("Development", 3), ("Test", 2), ("Staging", 1)])
_WIN_MODES = Weighted([("AutomaticByPlatform", 30), ("AutomaticByOS", 35), ("Manual", 15), (None, 20)])
_LINUX_MODES = Weighted([("AutomaticByPlatform", 30), ("ImageDefault", 55), (None, 15)])
_ARC_WIN_MODES = Weighted([("AutomaticByPlatform", 30), ("AutomaticByOS", 30), ("Manual", 15), ("ImageDefault", 25)])
_ARC_LINUX_MODES = Weighted([("AutomaticByPlatform", 35), ("ImageDefault", 65)])
_REBOOTS = Weighted([("IfRequired", 70), ("Never", 15), ("Always", 15)])
_VM_STATES = Weighted([("running", 92), ("deallocated", 8)])
_ARC_STATES = Weighted([("Connected", 88), ("Disconnected", 9), ("Expired", 3)])
_STATIC_PROD = Weighted([("cfg-monthly-prod", 50), ("cfg-weekly-sat", 42), ("cfg-expired-legacy", 8)])
_STATIC_DEV = Weighted([("cfg-daily-dev", 80), ("cfg-weekly-sat", 20)])
_STATIC_OTHER = Weighted([("cfg-weekly-sat", 60), ("cfg-daily-dev", 30), ("cfg-expired-legacy", 10)])


@dataclass(slots=True)
class Machine:
    """Everything the table writers need about one machine; its rows are built from this on demand."""

    index: int
    arc: bool
    sub: Subscription
    rg: ResourceGroup
    name: str
    id: str
    patch_base: str
    """The machine id as the patch tables spell it (for some machines in a different case, as ARG does)."""
    location: str
    product: Product
    env: str
    tags: dict[str, str]
    patch_mode: str | None
    """None: the VM has no patchSettings at all."""
    assessment_mode: str | None
    hotpatch: bool
    bypass: bool | None
    reboot_setting: str | None
    state: str
    """`running`/`deallocated` for VMs, `Connected`/`Disconnected`/`Expired` for Arc machines."""
    offline_since: int | None
    static: MaintenanceConfig | None
    static_name: str
    static_config_ref: str
    """The configuration id as the assignment spells it."""
    dynamic: tuple[DynamicAssignment, ...]
    wsus: bool
    flaky: bool
    runs: list[Run]
    prior_patch: int
    """When the machine was last patched before its recorded installation history."""
    patched: list[tuple[frozenset[str] | None, list[int]]]
    """Per classification set installed (None = all), sorted start times of successful runs."""
    vsphere: bool = False
    """An Arc-enabled VMware vSphere VM (arc is True too: it is patched through the same Arc agent)."""

    @property
    def arm_type(self) -> str:
        return VSPHERE_TYPE if self.vsphere else ARC_TYPE if self.arc else VM_TYPE

    @property
    def os(self) -> str:
        return self.product.os

    @property
    def scheduled(self) -> bool:
        """Covered by any maintenance configuration, static or dynamic (what the DINE policy checks)."""
        return self.static is not None or bool(self.dynamic)

    def patched_before(self, at: int, classifications: tuple[str, ...]) -> int:
        """When a patch with these classifications was last installed by a run started at or before `at`."""
        best = self.prior_patch
        for classes, starts in self.patched:
            if classes is not None and not any(c in classes for c in classifications):
                continue
            pos = bisect_right(starts, at)
            if pos and starts[pos - 1] > best:
                best = starts[pos - 1]
        return best


def _case_variant(rng: random.Random, machine_id: str, rg: str) -> str:
    """ARG writes some patch rows with the machine id in a different case; the auditor must compare with =~."""
    if rng.random() >= 0.15:
        return machine_id
    style = rng.randrange(4)
    if style == 0:
        return machine_id.replace("/resourceGroups/", "/resourcegroups/")
    if style == 1:
        return machine_id.replace(f"/resourceGroups/{rg}/", f"/resourceGroups/{rg.lower()}/")
    if style == 2:
        for provider in (
            "/providers/Microsoft.Compute/virtualMachines/",
            "/providers/Microsoft.HybridCompute/machines/",
        ):
            machine_id = machine_id.replace(provider, provider.lower())
        return machine_id
    return machine_id.lower()


def _tags(rng: random.Random, plan: FleetPlan, index: int, env: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    key = ENV_KEYS.pick(rng)
    if key:
        tags[key] = ENV_SPELLINGS[env].pick(rng)
    if key or rng.random() < 0.5:  # else: a machine with no tags at all
        if rng.random() < 0.7:
            tags["owner"] = OWNERS.pick(rng)
        if rng.random() < 0.55:
            tags["costCenter" if rng.random() < 0.85 else "CostCenter"] = COST_CENTERS.pick(rng)
        if rng.random() < 0.6:
            tags["app"] = APPS.pick(rng)
        if rng.random() < 0.45:
            tags["patchGroup"] = PATCH_GROUPS.pick(rng)
    if index == plan.hostile_app:
        tags["app"] = HOSTILE_APP_TAG
    if index == plan.hostile_owner:
        tags["owner"] = HOSTILE_OWNER_TAG
    return tags


def _name(rng: random.Random, index: int, arc: bool, product: Product, env: str, rg: ResourceGroup) -> str:
    roles = ROLES_WINDOWS if product.os == "Windows" else ROLES_LINUX
    role = rng.choice(roles)
    if arc:
        site = rg.name.rsplit("-", 1)[-1][:3].upper()
        if product.os == "Windows":
            return f"{site}-{role.upper()}{index:05d}"
        return f"{site.lower()}-{role}-{index:05d}"
    prefix = "vm" if product.os == "Windows" else "lnx"
    return f"{prefix}-{role}-{ENV_CODES[env]}-{index:05d}"


def _static(rng: random.Random, plan: FleetPlan, env: str, os: str) -> MaintenanceConfig | None:
    if rng.random() >= 0.45:
        return None
    if os == "Linux" and env != "Development" and rng.random() < 0.3:
        return plan.config("cfg-weekly-sun-linux")
    table = _STATIC_PROD if env == "Production" else _STATIC_DEV if env == "Development" else _STATIC_OTHER
    return plan.config(table.pick(rng))


def _patch_settings(
    rng: random.Random, arc: bool, product: Product, scheduled: bool
) -> tuple[str | None, str | None, bool, bool | None, str | None]:
    """(patchMode, assessmentMode, enableHotpatching, bypassPlatformSafetyChecksOnUserSchedule, rebootSetting)."""
    if arc:
        modes = _ARC_WIN_MODES if product.os == "Windows" else _ARC_LINUX_MODES
        assessment = None if rng.random() < 0.05 else "AutomaticByPlatform" if rng.random() < 0.55 else "ImageDefault"
        return modes.pick(rng), assessment, False, None, None
    if scheduled and rng.random() < 0.85:
        mode: str | None = "AutomaticByPlatform"
        bypass: bool | None = True
    else:
        mode = (_WIN_MODES if product.os == "Windows" else _LINUX_MODES).pick(rng)
        bypass = False if mode == "AutomaticByPlatform" else None
    if mode is None:
        return None, None, False, None, None
    automatic = rng.random() < (0.8 if mode == "AutomaticByPlatform" else 0.5)
    assessment = "AutomaticByPlatform" if automatic else "ImageDefault"
    hotpatch = product.azure_edition and mode == "AutomaticByPlatform" and rng.random() < 0.75
    reboot = _REBOOTS.pick(rng) if mode == "AutomaticByPlatform" else None
    return mode, assessment, hotpatch, bypass, reboot


def _prior_patch(rng: random.Random, now: int, mode: str | None, offline_since: int | None) -> int:
    """When the machine was last patched outside the recorded installation history."""
    if mode == "AutomaticByOS":
        prior = now - int(rng.uniform(0.5, 14) * DAY)
    elif mode == "AutomaticByPlatform":
        prior = now - int(rng.uniform(20, 70) * DAY)
    else:
        band = rng.random()
        days = rng.uniform(15, 60) if band < 0.3 else rng.uniform(60, 150) if band < 0.7 else rng.uniform(150, 400)
        prior = now - int(days * DAY)
    if offline_since is not None:
        prior = min(prior, offline_since - int(rng.uniform(0, 10) * DAY))
    return prior


class MachineFactory:
    """Builds machine `index` of a planned fleet; cheap to call 100,000 times."""

    def __init__(self, plan: FleetPlan, *, vsphere_share: float = 0.0) -> None:
        self.plan = plan
        self.vsphere_share = vsphere_share
        """The share of Arc machines that are Arc-enabled vSphere VMs (0: none, and no extra random draws)."""
        self._subs = Weighted([(s, s.weight) for s in plan.subscriptions])
        self._groups = {
            (s.id, arc): Weighted([(g, g.weight) for g in s.groups if g.hosts_machines and g.arc == arc])
            for s in plan.subscriptions
            for arc in (False, True)
        }

    def build(self, index: int) -> Machine:
        """Draw machine `index` from its own generator."""
        plan = self.plan
        rng = derive(plan.seed, "machine", index)
        arc = rng.random() < 0.25
        # Its own generator, so that fleets without vSphere VMs stay byte-identical.
        vsphere = arc and self.vsphere_share > 0 and derive(plan.seed, "vsphere", index).random() < self.vsphere_share
        sub = self._subs.pick(rng)
        rg = self._groups[(sub.id, arc)].pick(rng)
        windows = rng.random() < 0.6
        images = (
            (ARC_WINDOWS_IMAGES if windows else ARC_LINUX_IMAGES)
            if arc
            else (VM_WINDOWS_IMAGES if windows else VM_LINUX_IMAGES)
        )
        product = PRODUCTS[images.pick(rng)]
        env = sub.env if rng.random() < 0.85 else _ENVS.pick(rng)
        location = rg.location
        if not arc and rng.random() < 0.1:
            location = rng.choice(("westeurope", "northeurope", "eastus", "eastus2", "uksouth"))
        name = _name(rng, index, arc, product, env, rg)
        provider = VSPHERE_TYPE if vsphere else ARC_TYPE if arc else VM_TYPE
        machine_id = f"/subscriptions/{sub.id}/resourceGroups/{rg.name}/providers/{provider}/{name}"
        tags = _tags(rng, plan, index, env)
        static = _static(rng, plan, env, product.os)
        arm_type = VSPHERE_TYPE if vsphere else ARC_TYPE if arc else VM_TYPE
        dynamic = tuple(d for d in plan.dynamic if d.covers(sub, rg.name, arm_type, product.os, location, tags))
        mode, assessment, hotpatch, bypass, reboot = _patch_settings(rng, arc, product, bool(static or dynamic))
        state = (_ARC_STATES if arc else _VM_STATES).pick(rng)
        offline_since = None
        if state not in ("running", "Connected"):
            days = rng.uniform(50, 120) if state == "Expired" else rng.uniform(1, 40)
            offline_since = plan.now - int(days * DAY)
        static_name, static_ref = "", ""
        if static is not None:
            static_ref = static.id.replace("/resourceGroups/", "/resourcegroups/") if rng.random() < 0.2 else static.id
            by_policy = static.name == "cfg-monthly-prod" and rng.random() < 0.5
            static_name = f"{unique_string(static.id.lower())}-AzPolicy" if by_policy else static.name
        machine = Machine(
            index=index,
            arc=arc,
            sub=sub,
            rg=rg,
            name=name,
            id=machine_id,
            patch_base=_case_variant(rng, machine_id, rg.name),
            location=location,
            product=product,
            env=env,
            tags=tags,
            patch_mode=mode,
            assessment_mode=assessment,
            hotpatch=hotpatch,
            bypass=bypass,
            reboot_setting=reboot,
            state=state,
            offline_since=offline_since,
            static=static,
            static_name=static_name,
            static_config_ref=static_ref,
            dynamic=dynamic,
            wsus=product.os == "Windows" and rng.random() < 0.3,
            flaky=rng.random() < 0.08,
            runs=[],
            prior_patch=0,
            patched=[],
            vsphere=vsphere,
        )
        machine.prior_patch = _prior_patch(rng, plan.now, mode, offline_since)
        machine.runs = build_runs(plan, machine, derive(plan.seed, "runs", index))
        machine.patched = _patched(machine.runs)
        return machine


def _patched(runs: list[Run]) -> list[tuple[frozenset[str] | None, list[int]]]:
    groups: dict[frozenset[str] | None, list[int]] = {}
    for run in runs:
        if run.status in ("Succeeded", "CompletedWithWarnings") and run.installed:
            groups.setdefault(run.classes, []).append(run.start)
    return [(classes, sorted(starts)) for classes, starts in groups.items()]
