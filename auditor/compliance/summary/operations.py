"""The operational parts of the summary: installation runs, coverage and Azure Policy states."""

from __future__ import annotations

from dataclasses import dataclass, field

from auditor.compliance.summary.shape import INLINE


@dataclass(frozen=True, kw_only=True)
class FailureCode:
    """An installation error code and how many failed runs gave it."""

    code: str
    """The error code, `(none)` when a failed run carries none."""
    count: int
    """Failed runs with this code."""


@dataclass(frozen=True, kw_only=True)
class RunFigures:
    """Installation runs of the window, over some machines."""

    runs: int
    """Installation runs."""
    succeeded: int
    """Succeeded runs (including CompletedWithWarnings)."""
    failed: int
    """Failed runs."""
    in_progress: int
    """Runs not finished yet."""
    success_rate: float | None
    """succeeded / (succeeded + failed) in %; None with no finished run."""
    avg_duration_minutes: float | None
    """Mean duration of the runs with a start and an end; None without any."""
    window_exceeded: int
    """Runs that Update Manager flagged maintenanceWindowExceeded."""
    top_failure_codes: tuple[FailureCode, ...]
    """The most frequent error codes of failed runs, most frequent first."""


@dataclass(frozen=True, kw_only=True)
class InstallationGroup:
    """Installation figures of one environment or subscription."""

    key: str
    """The environment name or subscription id."""
    figures: RunFigures = field(metadata=INLINE)
    """Its run figures (written in place)."""


@dataclass(frozen=True, kw_only=True)
class Installations:
    """The `installations` block: runs of the installation window."""

    window_days: int
    """installation_window_days: how far back runs are counted."""
    figures: RunFigures = field(metadata=INLINE)
    """Fleet-wide run figures (written in place)."""
    machines_without_success: int
    """In-scope machines with no successful run in the window."""
    machines_without_success_ids: tuple[str, ...]
    """Their ids, sorted."""
    by_environment: tuple[InstallationGroup, ...]
    """Per environment, sorted by key."""
    by_subscription: tuple[InstallationGroup, ...]
    """Per subscription, sorted by key."""


@dataclass(frozen=True, kw_only=True)
class Share:
    """Machines with some property, and their share of the fleet."""

    machines: int
    """Machines with the property."""
    rate: float | None
    """Their share (%) of all machines; None for an empty fleet."""


@dataclass(frozen=True, kw_only=True)
class ScheduledShare:
    """Machines covered by a maintenance configuration."""

    machines: int
    """Machines at least one configuration covers."""
    rate: float | None
    """Their share (%) of all machines; None for an empty fleet."""
    multiple_schedules: int
    """Machines covered by more than one configuration."""


@dataclass(frozen=True, kw_only=True)
class KeyCount:
    """A label and how many machines carry it."""

    key: str
    """The label (a patch-mode label, an environment, an OS, ...)."""
    machines: int
    """Machines with it."""


@dataclass(frozen=True, kw_only=True)
class Hotpatch:
    """Hotpatch on the machines that can use it (Windows Server Azure Edition VMs)."""

    eligible: int
    """Machines that can use hotpatch."""
    enabled: int
    """Eligible machines with hotpatch on."""
    disabled: int
    """Eligible machines with hotpatch off."""


@dataclass(frozen=True, kw_only=True)
class Coverage:
    """The `coverage` block: how the fleet is set up for patching."""

    periodic_assessment_enabled: Share
    """Machines with assessmentMode AutomaticByPlatform."""
    scheduled: ScheduledShare
    """Machines covered by a maintenance configuration."""
    patch_mode: tuple[KeyCount, ...]
    """Machines per Update Manager patch-orchestration label, sorted by label."""
    hotpatch: Hotpatch
    """Hotpatch on eligible machines."""


@dataclass(frozen=True, kw_only=True)
class PolicyAssignment:
    """Machine counts of one policy assignment (a machine takes its worst state over the assignment's policies)."""

    assignment: str
    """The assignment's name."""
    assignment_id: str
    """Its id, lower-cased."""
    kinds: tuple[str, ...]
    """What its policies check (`periodic_assessment`, `schedule`, `other`), sorted."""
    machines: int
    """Machines with a state under it."""
    compliant: int
    """Machines Compliant for all its policies."""
    non_compliant: int
    """Machines NonCompliant for at least one."""
    exempt: int
    """Machines Exempt (and not NonCompliant)."""
    other: int
    """Machines in any other state."""


@dataclass(frozen=True, kw_only=True)
class PolicyStates:
    """The `policy` block."""

    assignments: tuple[PolicyAssignment, ...]
    """Per assignment, sorted by id."""
    mismatches: int
    """How many policy_mismatches there are."""


@dataclass(frozen=True, kw_only=True)
class PolicyMismatch:
    """A machine Compliant for a periodic-assessment or schedule policy whose facts say otherwise."""

    machine_id: str
    """The machine's id."""
    name: str
    """The machine's name."""
    assignment: str
    """The assignment's name."""
    policy: str
    """The policy definition's name."""
    kind: str
    """`periodic_assessment` or `schedule`."""
    policy_state: str
    """The state Azure Policy reports (Compliant)."""
    observed: str
    """What the machine's facts show instead."""
