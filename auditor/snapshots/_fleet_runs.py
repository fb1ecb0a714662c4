"""Patch installation runs of one synthetic machine: scheduled, platform-initiated and user-initiated.

Failures carry a signal for later analysis: machines in eastus2 cannot reach their update service, RHEL 8 package
managers break, a few flaky machines fail again and again, and cfg-weekly-sun-linux's window is too short.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from auditor.snapshots._fleet_plan import FleetPlan
from auditor.snapshots._fleet_schedules import HISTORY_DAYS, MaintenanceConfig, Occurrence
from auditor.snapshots._fleet_util import DAY, HOUR, MINUTE, Weighted, guid

if TYPE_CHECKING:
    from auditor.snapshots._fleet_machines import Machine

MAX_RUNS = 6
FAILURE_LOCATION = "eastus2"
"""Machines here fail far more often: their WSUS server / package mirror is unreachable."""
PLATFORM_CLASSES = frozenset({"Critical", "Security"})
"""What automatic guest patching (AutomaticByPlatform without a schedule) installs."""


@dataclass(slots=True)
class Run:
    """One `patchinstallationresults` record (and, when scheduled, one per-machine applyUpdates record)."""

    run_id: str
    start: int
    end: int
    """lastModifiedDateTime; for an InProgress run, a moment just before captured_at."""
    status: str
    started_by: str
    config: MaintenanceConfig | None
    occurrence: Occurrence | None
    classes: frozenset[str] | None
    """Classifications this run installs; None = all."""
    exceeded: bool = False
    installed: int = 0
    failed: int = 0
    pending: int = 0
    not_selected: int = 0
    excluded: int = 0
    reboot_status: str = "NotNeeded"
    error: tuple[str, str, str, str] | None = None
    """(code, message, detail code, detail message)."""


_GENERAL_CAUSES = Weighted(
    [
        ("PatchInstallationFailed", 55),
        ("RebootFailed", 16),
        ("VMAgentNotResponding", 12),
        ("ServiceOrPackageManager", 17),
    ]
)
"""Causes of a failed run; InstallationTimedOut is decided earlier, because it fixes the run's duration."""
_HRESULTS = ("0x80070643", "0x800f0922", "0x80073712", "0x8024200B")


def _error(code: str, os: str, package_manager: str, rng: random.Random, pending: int) -> tuple[str, str, str, str]:
    if code == "PatchInstallationFailed":
        if os == "Windows":
            detail = f"Installation of one update failed with HRESULT {rng.choice(_HRESULTS)}."
            return code, "One or more updates failed to install.", "KBInstallFailed", detail
        detail = {
            "APT": "dpkg returned an error code (1) while configuring a package.",
            "YUM": "Transaction check error: file conflicts between attempted installs.",
        }.get(package_manager, "zypper exited with code 8 (ZYPPER_EXIT_ERR_COMMIT).")
        return code, "One or more updates failed to install.", "PackageInstallFailed", detail
    if code == "UpdateServiceUnavailable":
        return (
            code,
            "The update service could not be reached.",
            "WindowsUpdateUnreachable",
            "Windows Update returned 0x8024402C: the update server name could not be resolved.",
        )
    if code == "PackageManagerFailure":
        detail = {
            "APT": "Failed to fetch https://azure.archive.ubuntu.com/ubuntu/dists/jammy-updates/InRelease: "
            "could not connect.",
            "YUM": "Failed to download metadata for repo 'rhui-rhel-8-for-x86_64-baseos-rhui-rpms'.",
        }.get(package_manager, "Repository 'SLE-Module-Basesystem15-SP5-Updates' is invalid.")
        return code, "The package manager reported an error.", "RepositoryUnreachable", detail
    if code == "VMAgentNotResponding":
        return (
            code,
            "The guest agent did not respond within the expected time.",
            "GuestAgentStatusUnavailable",
            "No heartbeat from the agent for 30 minutes; the operation was not started.",
        )
    if code == "RebootFailed":
        return (
            code,
            "The machine did not report back after the reboot.",
            "RebootTimeout",
            "The machine did not come back within 15 minutes of the reboot.",
        )
    if code == "InstallationTimedOut":
        return (
            code,
            "The installation operation timed out.",
            "OperationTimedOut",
            "The operation exceeded its maximum duration and was cancelled.",
        )
    return (
        "MaintenanceWindowExceeded",
        "The maintenance window was exceeded before all updates were installed.",
        "MaintenanceWindowExceeded",
        f"{pending} updates were not installed before the window closed.",
    )


def _failure_cause(rng: random.Random, machine: Machine) -> str:
    windows = machine.os == "Windows"
    service = "UpdateServiceUnavailable" if windows else "PackageManagerFailure"
    if machine.location == FAILURE_LOCATION and rng.random() < 0.75:
        return service
    if machine.product.key == "rhel8" and rng.random() < 0.6:
        return "PackageManagerFailure"
    cause = _GENERAL_CAUSES.pick(rng)
    return service if cause == "ServiceOrPackageManager" else cause


def _duration(rng: random.Random, windows: bool) -> int:
    minutes = 15 + rng.expovariate(1 / 40) if windows else 5 + rng.expovariate(1 / 12)
    return int(min(240, max(5, minutes)) * MINUTE)


def _settle(rng: random.Random, plan: FleetPlan, machine: Machine, run: Run, gap_days: float) -> None:
    """Decide status, counts, reboot and error of a run that has a start, and maybe a schedule."""
    now = plan.now
    windows = machine.os == "Windows"
    config = run.config
    planned = _duration(rng, windows)
    window = config.spec.minutes * MINUTE if config else 0
    if config:
        planned = min(planned, window - 5 * MINUTE)
    cap = 1 + min(18, max(0, int(gap_days / 2.5)))
    if not windows:
        cap = int(cap * 1.5) + 1
    p_fail = 0.04 + (0.2 if machine.location == FAILURE_LOCATION else 0)
    p_fail += (0.07 if machine.product.key == "rhel8" else 0) + (0.3 if machine.flaky else 0)
    exceeded_rate = config.spec.exceeded if config else 0.02
    cause = ""
    roll = rng.random()
    exceeded = rng.random() < exceeded_rate
    if exceeded:
        planned = (window or 180 * MINUTE) + rng.randint(0, 10 * MINUTE)
    elif roll < p_fail and rng.random() < 0.1:
        cause = "InstallationTimedOut"
        planned = window or 180 * MINUTE
    if run.start + planned > now:
        run.status = "InProgress"
        run.installed, run.pending = rng.randint(0, cap // 2), rng.randint(1, 8)
        run.reboot_status = "Started" if rng.random() < 0.3 else "NotNeeded"
        run.end = min(now, max(run.start + MINUTE, now - rng.randint(0, 300)))
        return
    if exceeded:
        run.exceeded = True
        run.status = "Failed" if rng.random() < 0.45 else "CompletedWithWarnings"
        run.installed, run.pending = rng.randint(0, cap), rng.randint(1, 8)
        run.failed = rng.randint(0, 2) if run.status == "Failed" else 0
        cause = "MaintenanceWindowExceeded"
    elif cause:
        run.status = "Failed"
        run.pending = rng.randint(1, 10)
    elif roll < p_fail:
        run.status = "Failed"
        cause = _failure_cause(rng, machine)
        if cause in ("PatchInstallationFailed", "PackageManagerFailure") and rng.random() < 0.7:
            run.installed, run.failed = rng.randint(0, cap // 2), rng.randint(1, 4)
        elif cause == "RebootFailed":
            run.installed = rng.randint(1, cap + 1)
        else:
            run.pending = rng.randint(1, 10)
            planned = min(planned, rng.randint(5, 35) * MINUTE)
    elif roll < p_fail + 0.08:
        run.status = "CompletedWithWarnings"
        run.installed, run.pending = rng.randint(1, cap + 1), rng.randint(1, 3)
    elif roll < p_fail + 0.09:
        run.status = "NotStarted"
        run.pending = rng.randint(1, 6)
        planned = rng.randint(1, 3) * MINUTE
    else:
        run.status = "Succeeded"
        run.installed = rng.randint(0, cap)
    run.end = run.start + planned
    if cause:
        run.error = _error(cause, machine.os, machine.product.package_manager, rng, run.pending)
    if run.status != "NotStarted":
        limited = run.classes is not None and len(run.classes) < 5
        run.not_selected = rng.randint(0, 6) if limited else rng.randint(0, 1)
        if config and config.spec.excludes(machine.os):
            run.excluded = rng.randint(0, 2)
        if cause == "RebootFailed":
            run.reboot_status = "Failed"
        elif run.installed:
            setting = (config.spec.reboot if config else machine.reboot_setting) or "IfRequired"
            run.reboot_status = {"Never": "Required", "Always": "Completed"}.get(
                setting, "Completed" if rng.random() < 0.55 else "NotNeeded"
            )


def _offline_run(rng: random.Random, run: Run, now: int) -> bool:
    """A scheduled run on a deallocated/disconnected machine: mostly no record at all, else an agent failure."""
    roll = rng.random()
    if roll < 0.6:
        return False
    run.status = "Failed" if roll < 0.85 else "NotStarted"
    run.pending = rng.randint(1, 8)
    run.end = min(now, run.start + rng.randint(1, 30) * MINUTE)
    if run.status == "Failed":
        run.error = _error("VMAgentNotResponding", "", "", rng, 0)
    return True


def _schedules(machine: Machine) -> list[MaintenanceConfig]:
    """The schedules that actually run on the machine.

    An Azure VM is only patched by a schedule when patchMode is AutomaticByPlatform and
    bypassPlatformSafetyChecksOnUserSchedule is true; otherwise its assignment is silently ignored.
    """
    configs: list[MaintenanceConfig] = []
    if machine.static is not None and not machine.static.expired:
        configs.append(machine.static)
    for dyn in machine.dynamic:
        if not dyn.config.expired and all(c.name != dyn.config.name for c in configs):
            configs.append(dyn.config)
    if not machine.arc and not (machine.patch_mode == "AutomaticByPlatform" and machine.bypass):
        return []
    return configs


def _config_classes(config: MaintenanceConfig, os: str) -> frozenset[str]:
    return frozenset(config.spec.classes(os) or ())


def build_runs(plan: FleetPlan, machine: Machine, rng: random.Random) -> list[Run]:
    """The machine's installation runs in the history window, oldest first, at most six."""
    now = plan.now
    runs: list[Run] = []
    offline = machine.offline_since
    schedules = _schedules(machine)
    for config in schedules:
        classes = _config_classes(config, machine.os)
        for occ in config.occurrences:
            if rng.random() < 0.08:
                continue
            start = occ.start + rng.randint(5, 300)
            run = Run(guid(rng), start, start, "", "Platform", config, occ, classes)
            if offline is not None and start > offline:
                if _offline_run(rng, run, now):
                    runs.append(run)
                continue
            runs.append(run)
    cutoff = offline if offline is not None else now
    earliest = now - HISTORY_DAYS * DAY
    if not machine.arc and not schedules and machine.patch_mode == "AutomaticByPlatform":
        for _ in range(rng.choice((1, 1, 2, 3))):
            start = earliest + rng.randint(0, HISTORY_DAYS - 1) * DAY + rng.randint(1 * HOUR, 5 * HOUR)
            if start < cutoff - HOUR:
                runs.append(Run(guid(rng), start, start, "", "Platform", None, None, PLATFORM_CLASSES))
    if rng.random() < 0.22:
        start = rng.randint(earliest, now - 3 * HOUR)
        if start < cutoff:
            runs.append(Run(guid(rng), start, start, "", "User", None, None, None))
    if offline is None and rng.random() < 0.07:
        start = now - rng.randint(5 * MINUTE, 40 * MINUTE)
        runs.append(Run(guid(rng), start, start, "", "User", None, None, None))
    runs.sort(key=lambda r: r.start)
    runs = runs[-MAX_RUNS:]
    previous = machine.prior_patch
    for run in runs:
        if not run.status:
            _settle(rng, plan, machine, run, (run.start - previous) / DAY)
        previous = run.start
    return runs
