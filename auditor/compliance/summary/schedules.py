"""The `schedules` block of the summary: maintenance configurations, their runs, coverage and concurrency."""

from __future__ import annotations

from dataclasses import dataclass

from auditor.compliance.summary.operations import KeyCount


@dataclass(frozen=True, kw_only=True)
class ScheduleRules:
    """The schedule rules in words, with this run's parameters."""

    expiry: str
    """When a configuration counts as expired."""
    runs: str
    """Where run figures come from and how rates are taken."""
    concurrency: str
    """How machines scheduled per hour are counted."""


@dataclass(frozen=True, kw_only=True)
class WindowsParameters:
    """A configuration's windowsParameters."""

    classifications: tuple[str, ...]
    """Classifications to install."""
    kb_include: tuple[str, ...]
    """KB numbers always installed."""
    kb_exclude: tuple[str, ...]
    """KB numbers never installed."""
    exclude_kbs_requiring_reboot: bool | None
    """Whether KBs needing a reboot are skipped; None when unset."""


@dataclass(frozen=True, kw_only=True)
class LinuxParameters:
    """A configuration's linuxParameters."""

    classifications: tuple[str, ...]
    """Classifications to install."""
    package_include: tuple[str, ...]
    """Package name masks always installed."""
    package_exclude: tuple[str, ...]
    """Package name masks never installed."""


@dataclass(frozen=True, kw_only=True)
class Task:
    """A pre- or post-task: what runs (a runbook or function id) and where."""

    source: str
    """The runbook or function id."""
    task_scope: str
    """`Resource` (once per machine) or `Global` (once per run)."""


@dataclass(frozen=True, kw_only=True)
class DynamicScope:
    """A dynamic-scope assignment of a configuration, with its filter in words."""

    id: str
    """The assignment's id."""
    scope: str
    """The subscription or resource group it applies at."""
    filter: str
    """Its filter in words, e.g. "subscription s; OS: windows"."""


@dataclass(frozen=True, kw_only=True)
class LastRun:
    """The schedule run of a configuration that started last."""

    start: str
    """When it started (RFC 3339)."""
    status: str | None
    """Its own record's status; None when only machine records exist."""


@dataclass(frozen=True, kw_only=True)
class ConfigurationRuns:
    """A configuration's run figures over the installation window (RUNS_RULE)."""

    schedule_runs: int
    """Distinct schedule runs (correlation ids)."""
    machine_runs: int
    """Per-machine applyUpdates records."""
    succeeded: int
    """Machine runs Completed or NoUpdatesPending."""
    failed: int
    """Machine runs Failed."""
    in_progress: int
    """Machine runs not finished."""
    other: int
    """Machine runs in any other state."""
    success_rate: float | None
    """succeeded / (succeeded + failed) in %; None without finished runs."""
    avg_duration_minutes: float | None
    """Mean duration of finished machine runs."""
    max_duration_minutes: float | None
    """The longest machine run."""
    window_minutes: int | None
    """The configuration's window length; None when unreadable."""
    max_duration_share_of_window: float | None
    """The longest run as a share (%) of the window."""
    installation_runs: int
    """Finished installation runs linked to the configuration."""
    window_exceeded: int
    """Of those, runs that overran the window."""
    window_exceeded_rate: float | None
    """window_exceeded / installation_runs in %."""
    last_run: LastRun | None
    """The schedule run that started last; None without runs."""


@dataclass(frozen=True, kw_only=True)
class ConfigurationSummary:
    """One maintenance configuration: its settings, what it covers and how its runs went (counts, not ids)."""

    key: str
    """Its name."""
    id: str
    """Its id, lower-cased."""
    subscription_id: str
    """Its subscription."""
    resource_group: str
    """Its resource group."""
    scope: str
    """maintenanceScope, e.g. InGuestPatch."""
    recurrence: str
    """recurEvery as written."""
    recurrence_text: str | None
    """The recurrence in words; None when unreadable."""
    start: str
    """startDateTime as written (local time)."""
    duration: str
    """The window length as written (HH:mm)."""
    time_zone: str
    """The Windows time-zone name as written."""
    iana_time_zone: str | None
    """The IANA zone it resolves to; None when unknown."""
    expiration: str
    """expirationDateTime as written ('' for none)."""
    expired: bool | None
    """EXPIRY_RULE: None when it cannot be decided."""
    reboot_setting: str
    """rebootSetting."""
    windows: WindowsParameters | None
    """Windows parameters; None without them."""
    linux: LinuxParameters | None
    """Linux parameters; None without them."""
    pre_tasks: tuple[Task, ...]
    """Tasks run before the window."""
    post_tasks: tuple[Task, ...]
    """Tasks run after the window."""
    static_assignments: int
    """How many static assignments it has."""
    dynamic_scopes: tuple[DynamicScope, ...]
    """Its dynamic-scope assignments."""
    machines: int
    """In-scope machines it covers."""
    by_environment: tuple[KeyCount, ...]
    """Covered machines per environment, sorted."""
    by_os: tuple[KeyCount, ...]
    """Covered machines per OS, sorted."""
    by_platform: tuple[KeyCount, ...]
    """Covered machines per platform, sorted."""
    runs: ConfigurationRuns
    """Its run figures."""


@dataclass(frozen=True, kw_only=True)
class ScheduleProblemRow:
    """A part of a configuration that cannot be read."""

    key: str
    """The configuration's name."""
    field: str
    """`recurrence`, `time_zone`, `start`, `duration` or `expiration`."""
    value: str
    """The value as written."""
    message: str
    """Why it cannot be read."""


@dataclass(frozen=True, kw_only=True)
class HourLoad:
    """Machines scheduled in one hour of the as-of week."""

    hour: int
    """Hours since Monday 00:00 UTC."""
    start: str
    """The hour's start, as a label."""
    machines: int
    """Machines with a window open in it."""


@dataclass(frozen=True, kw_only=True)
class Peak:
    """An hour with more machines scheduled than the limit."""

    hour: int
    """Hours since Monday 00:00 UTC."""
    start: str
    """The hour's start, as a label."""
    machines: int
    """Machines with a window open in it."""
    configurations: tuple[str, ...]
    """The configurations with a window open then."""


@dataclass(frozen=True, kw_only=True)
class ConcurrencySummary:
    """Machines scheduled per hour of the as-of week (UTC)."""

    rule: str
    """CONCURRENCY_RULE."""
    week_start: str
    """Monday 00:00 UTC of the as-of week."""
    limit: int
    """max_concurrent_machines."""
    series: tuple[int, ...]
    """168 counts, index 0 = Monday 00:00-01:00 UTC."""
    peak: HourLoad
    """The busiest hour (the first of equals)."""
    peaks: tuple[Peak, ...]
    """Hours above the limit."""
    recommendation: str | None
    """What to do about the peaks; None without peaks."""


@dataclass(frozen=True, kw_only=True)
class ScheduleSummary:
    """The `schedules` block."""

    rules: ScheduleRules
    """The rules in words."""
    configurations: tuple[ConfigurationSummary, ...]
    """Every configuration, sorted by name then id."""
    unscheduled_machines: int
    """Machines no assignment covers."""
    multiple_configurations_machines: int
    """Machines covered by more than one configuration."""
    only_expired_configurations_machines: int
    """Machines covered only by expired configurations."""
    unassigned_configurations: tuple[str, ...]
    """Names of configurations that cover no machine, sorted."""
    expired_configurations: tuple[str, ...]
    """Names of expired configurations, sorted."""
    unknown_configuration_ids: tuple[str, ...]
    """Configuration ids named by assignments or runs but not returned by the query."""
    problems: tuple[ScheduleProblemRow, ...]
    """Parts of configurations that cannot be read."""
    concurrency: ConcurrencySummary
    """Machines scheduled per hour."""

    def worst_window_exceeded(self) -> tuple[str, float] | None:
        """(name, rate) of the configuration with the highest window-exceeded rate; ties go to the first name."""
        rated = [(c.key, rate) for c in self.configurations if (rate := c.runs.window_exceeded_rate) is not None]
        if not rated:
            return None
        return min(rated, key=lambda item: (-item[1], item[0]))
