"""Schedule audit: maintenance configurations, what they cover, how their runs went, and how many machines each
hour of the week has scheduled.

Inputs are the maintenance_configurations and maintenance_runs query tables, the machines, the assignments and
schedules_by_machine from coverage.py, and the installation runs; nothing else, so a pack replays exactly.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache, partial

import pyarrow as pa

from auditor.compliance import columns
from auditor.compliance import recurrence as rec
from auditor.compliance.coverage import Assignment, DynamicFilter
from auditor.compliance.facts import Machine
from auditor.compliance.installs import FAILED as RUN_FAILED
from auditor.compliance.installs import SUCCEEDED as RUN_SUCCEEDED
from auditor.compliance.installs import Run
from auditor.compliance.metrics import rate, round2
from auditor.compliance.summary import (
    ConfigurationRuns,
    ConfigurationSummary,
    DynamicScope,
    KeyCount,
    LastRun,
    LinuxParameters,
    ScheduleProblemRow,
    ScheduleRules,
    ScheduleSummary,
    Task,
    WindowsParameters,
)
from auditor.config import ScheduleSettings
from auditor.jsonvalue import JsonValue
from auditor.timestamps import format_timestamp, parse_arg_time

APPLY_SUCCEEDED = frozenset({"completed", "noupdatespending", "succeeded"})
APPLY_FAILED = frozenset({"failed"})
APPLY_IN_PROGRESS = frozenset({"inprogress", "pending", "retrynow", "retrylater", "notstarted"})
NO_SCHEDULE = "(no schedule)"
UNKNOWN_SCHEDULE = "(unknown schedule)"
_END = datetime.max.replace(tzinfo=UTC)
_HOUR = timedelta(hours=1)
MAX_ZONE_OFFSET = timedelta(hours=14)
"""No time zone is further than this from UTC, so some expiries are certain even in an unknown zone."""

EXPIRY_RULE = (
    "A configuration has expired when its expirationDateTime, read in its own time zone, is before the as-of time; "
    "an expiry exactly at the as-of time is not expired, and no expiry means it never expires. With an unknown time "
    "zone the expiry is decided only when it is more than 14 hours from the as-of time, else it is reported as unknown."
)
RUNS_RULE = (
    "Runs come from the applyUpdates records of the installation window: machine runs (per machine) and schedule "
    "runs (distinct correlation ids). Success rate is Completed or NoUpdatesPending / (those + Failed). Window "
    "overruns are the installation runs linked to the configuration by maintenanceRunId that Update Manager flagged "
    "maintenanceWindowExceeded, over its finished linked installation runs."
)


@dataclass(frozen=True)
class MaintenanceConfiguration:
    """One maintenance configuration as written (a maintenance_configurations row)."""

    configuration_id: str
    """Lower-cased id: the key assignments and runs refer to."""
    id: str
    name: str
    subscription_id: str
    resource_group: str
    scope: str
    """maintenanceScope, e.g. InGuestPatch."""
    start: str
    expiration: str
    duration: str
    time_zone: str
    recur_every: str
    reboot_setting: str
    windows: WindowsParameters | None
    """None without windowsParameters."""
    linux: LinuxParameters | None
    """None without linuxParameters."""
    pre_tasks: tuple[Task, ...]
    post_tasks: tuple[Task, ...]


def _json(text: str) -> JsonValue:
    if not text:
        return None
    try:
        value: JsonValue = json.loads(text)
    except json.JSONDecodeError:
        return text
    return value


def _names(text: str) -> tuple[str, ...]:
    value = _json(text)
    if isinstance(value, str):
        value = [value]
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def _tasks(text: str) -> tuple[Task, ...]:
    value = _json(text)
    items = value if isinstance(value, list) else []
    return tuple(
        Task(source=str(item.get("source") or ""), task_scope=str(item.get("taskScope") or ""))
        for item in items
        if isinstance(item, dict)
    )


def build_configurations(table: pa.Table) -> list[MaintenanceConfiguration]:
    """Configurations from maintenance_configurations rows, sorted by name then id."""
    found: dict[str, MaintenanceConfiguration] = {}
    for row in columns.text_rows(table):
        windows = linux = None
        if any(
            row[k]
            for k in ("windowsClassifications", "kbNumbersToInclude", "kbNumbersToExclude", "excludeKbsRequiringReboot")
        ):
            flag = row["excludeKbsRequiringReboot"].lower()
            windows = WindowsParameters(
                classifications=_names(row["windowsClassifications"]),
                kb_include=_names(row["kbNumbersToInclude"]),
                kb_exclude=_names(row["kbNumbersToExclude"]),
                exclude_kbs_requiring_reboot={"true": True, "false": False}.get(flag),
            )
        if any(row[k] for k in ("linuxClassifications", "packageNameMasksToInclude", "packageNameMasksToExclude")):
            linux = LinuxParameters(
                classifications=_names(row["linuxClassifications"]),
                package_include=_names(row["packageNameMasksToInclude"]),
                package_exclude=_names(row["packageNameMasksToExclude"]),
            )
        config = MaintenanceConfiguration(
            configuration_id=row["configurationId"],
            id=row["id"],
            name=row["name"],
            subscription_id=row["subscriptionId"].lower(),
            resource_group=row["resourceGroup"],
            scope=row["maintenanceScope"],
            start=row["startDateTime"],
            expiration=row["expirationDateTime"],
            duration=row["duration"],
            time_zone=row["timeZone"],
            recur_every=row["recurEvery"],
            reboot_setting=row["rebootSetting"],
            windows=windows,
            linux=linux,
            pre_tasks=_tasks(row["preTasks"]),
            post_tasks=_tasks(row["postTasks"]),
        )
        found.setdefault(config.configuration_id, config)
    return sorted(found.values(), key=lambda c: (c.name, c.configuration_id))


@dataclass(frozen=True)
class ScheduleProblem:
    """A part of a configuration that cannot be read, so the figures that need it leave the configuration out."""

    configuration: str
    field: str
    """`recurrence`, `time_zone`, `start`, `duration` or `expiration`."""
    value: str
    message: str


def read_window(config: MaintenanceConfiguration) -> tuple[rec.Window | None, list[ScheduleProblem]]:
    """The configuration's window, or None with the reasons it cannot be read."""
    problems = []

    def problem(name: str, value: str, message: str) -> None:
        problems.append(ScheduleProblem(config.name, name, value, message))

    recurrence = None
    try:
        recurrence = rec.parse_recurrence(config.recur_every)
    except rec.RecurrenceError as error:
        problem("recurrence", config.recur_every, str(error))
    zone = rec.resolve_zone(config.time_zone)
    if zone is None:
        problem("time_zone", config.time_zone, f"{config.time_zone!r} is not a known Windows time-zone name")
    first = rec.parse_local(config.start)
    if first is None:
        problem("start", config.start, "startDateTime is not 'yyyy-MM-dd HH:mm'")
    minutes = rec.parse_duration(config.duration)
    if minutes is None:
        problem("duration", config.duration, "duration is not a non-zero 'HH:mm'")
    expires_local = rec.parse_local(config.expiration) if config.expiration else None
    if config.expiration and expires_local is None:
        problem("expiration", config.expiration, "expirationDateTime is not 'yyyy-MM-dd HH:mm'")
    if problems or recurrence is None or zone is None or first is None or minutes is None:
        return None, problems
    expires = rec.to_utc(expires_local, zone) if expires_local is not None else None
    return rec.Window(first, minutes, recurrence, zone, expires), []


def is_expired(config: MaintenanceConfiguration, as_of: datetime) -> bool | None:
    """EXPIRY_RULE: True, False, or None when the expiry cannot be decided."""
    if not config.expiration:
        return False
    local = rec.parse_local(config.expiration)
    if local is None:
        return None
    zone = rec.resolve_zone(config.time_zone)
    if zone is not None:
        expires = rec.to_utc(local, zone)
        return expires is not None and expires < as_of
    naive = local.replace(tzinfo=UTC)
    if naive.year >= datetime.max.year:
        return False
    if naive.year <= datetime.min.year:
        return True
    if naive + MAX_ZONE_OFFSET < as_of:
        return True
    return None if naive - MAX_ZONE_OFFSET < as_of else False


_TYPE_WORDS = {"microsoft.compute/virtualmachines": "Azure VMs", "microsoft.hybridcompute/machines": "Arc machines"}


def describe_scope(assignment: Assignment) -> str:
    """A dynamic scope in words, e.g. "subscription s, resource group rg; OS: windows; tags (any): tier = gold"."""
    parts = assignment.target.strip("/").split("/")
    where = f"subscription {parts[1]}" + (f", resource group {parts[3]}" if len(parts) >= 4 else "")
    flt = assignment.filter or DynamicFilter()
    words = [where]
    if flt.resource_types:
        words.append("types: " + ", ".join(_TYPE_WORDS.get(t, t) for t in flt.resource_types))
    if flt.resource_groups:
        words.append("resource groups: " + ", ".join(flt.resource_groups))
    if flt.locations:
        words.append("locations: " + ", ".join(flt.locations))
    if flt.os_types:
        words.append("OS: " + ", ".join(flt.os_types))
    if flt.tags:
        tags = ", ".join(f"{k} = {' or '.join(v) if v else '(no values listed)'}" for k, v in sorted(flt.tags.items()))
        words.append(f"tags ({flt.operator.lower()}): {tags}")
    return "; ".join(words) if len(words) > 1 else f"every machine in {where}"


@dataclass(frozen=True)
class RunGroup:
    """A maintenance_runs row: applyUpdates records of one schedule run and status, per machine or per schedule."""

    level: str
    """`machine` (one record per machine) or `schedule` (one record per schedule run)."""
    configuration_id: str
    correlation_id: str
    status: str
    runs: int
    finished: int
    total_minutes: float
    max_minutes: float | None
    first_start: datetime | None
    last_end: datetime | None


def build_run_groups(table: pa.Table) -> list[RunGroup]:
    """RunGroups from maintenance_runs rows."""
    text = partial(columns.texts, table)
    found = zip(
        text("level"),
        text("configurationId"),
        text("correlationId"),
        text("status"),
        columns.counts(table, "runs"),
        columns.counts(table, "finished"),
        columns.reals(table, "totalMinutes"),
        columns.reals(table, "maxMinutes"),
        text("firstStart"),
        text("lastEnd"),
        strict=True,
    )
    return [
        RunGroup(
            level=level,
            configuration_id=configuration_id.lower(),
            correlation_id=correlation_id.lower(),
            status=status,
            runs=runs,
            finished=finished,
            total_minutes=total or 0.0,
            max_minutes=longest,
            first_start=parse_arg_time(first),
            last_end=parse_arg_time(last),
        )
        for level, configuration_id, correlation_id, status, runs, finished, total, longest, first, last in found
    ]


@dataclass(frozen=True)
class RunLink:
    """Where an installation run belongs: its configuration (or NO_SCHEDULE / UNKNOWN_SCHEDULE) and the hour of
    the window it started in (0 = the first hour; None when it has no known window start)."""

    configuration_id: str
    configuration: str
    window_hour: int | None


def link_runs(runs: Iterable[Run], groups: Sequence[RunGroup], names: Mapping[str, str]) -> dict[str, RunLink]:
    """Installation run id -> RunLink, through maintenanceRunId = the schedule run's correlationId. The window
    opens at the schedule run's startDateTime, else at the earliest machine start recorded for that run."""
    owner: dict[str, str] = {}
    opened: dict[str, datetime] = {}
    # Schedule-level records first: they name the window's own start; machine records only fill gaps.
    for level in ("schedule", "machine"):
        starts: dict[str, datetime] = {}
        mine = [g for g in groups if g.level == level]
        for group in sorted(mine, key=lambda g: (g.configuration_id, g.correlation_id, g.status)):
            owner.setdefault(group.correlation_id, group.configuration_id)
            if group.first_start is not None and group.first_start < starts.get(group.correlation_id, _END):
                starts[group.correlation_id] = group.first_start
        for correlation, start in starts.items():
            opened.setdefault(correlation, start)
    # Runs share a few links (a configuration and an hour); RunLink is frozen, so they can share the objects too.
    link = cache(RunLink)
    named = {c: names.get(c, c.rsplit("/", 1)[-1]) for c in set(owner.values())}
    links: dict[str, RunLink] = {}
    for run in runs:
        correlation = run.maintenance_run_id.lower()
        if not correlation:
            links[run.id] = link("", NO_SCHEDULE, None)
            continue
        if correlation not in owner:
            links[run.id] = link("", UNKNOWN_SCHEDULE, None)
            continue
        config_id = owner[correlation]
        window_start = opened.get(correlation)
        hour = None
        if window_start is not None and run.start is not None:
            hour = max(0, int((run.start - window_start) // _HOUR))
        links[run.id] = link(config_id, named[config_id], hour)
    return links


def run_figures(groups: Sequence[RunGroup], linked: Sequence[Run], window_minutes: int | None) -> ConfigurationRuns:
    """A configuration's run figures (RUNS_RULE)."""
    machine = [g for g in groups if g.level == "machine"]
    status = Counter[str]()
    for group in machine:
        key = group.status.lower()
        kind = (
            "succeeded"
            if key in APPLY_SUCCEEDED
            else "failed"
            if key in APPLY_FAILED
            else ("in_progress" if key in APPLY_IN_PROGRESS else "other")
        )
        status[kind] += group.runs
    finished = sum(g.finished for g in machine)
    longest = max((g.max_minutes for g in machine if g.max_minutes is not None), default=None)
    done = [r for r in linked if r.status in RUN_SUCCEEDED or r.status in RUN_FAILED]
    exceeded = sum(1 for r in done if r.window_exceeded)
    # The last run is the schedule run that started last: its own record's start and status, else (no schedule
    # record) its earliest machine start and no status.
    runs_at: dict[str, tuple[datetime, str | None]] = {}
    for group in sorted(groups, key=lambda g: (g.level != "schedule", g.status)):
        if group.first_start is None:
            continue
        known = runs_at.get(group.correlation_id)
        if group.level == "schedule" and (known is None or known[1] is None):
            runs_at[group.correlation_id] = (group.first_start, group.status)
        elif known is None or (known[1] is None and group.first_start < known[0]):
            runs_at[group.correlation_id] = (group.first_start, None)
    last: LastRun | None = None
    if runs_at:
        correlation = max(runs_at, key=lambda c: (runs_at[c][0], c))
        last = LastRun(start=format_timestamp(runs_at[correlation][0]), status=runs_at[correlation][1])
    return ConfigurationRuns(
        schedule_runs=len({g.correlation_id for g in groups}),
        machine_runs=sum(g.runs for g in machine),
        succeeded=status["succeeded"],
        failed=status["failed"],
        in_progress=status["in_progress"],
        other=status["other"],
        success_rate=rate(status["succeeded"], status["succeeded"] + status["failed"]),
        avg_duration_minutes=round2(sum(g.total_minutes for g in machine) / finished) if finished else None,
        max_duration_minutes=round2(longest) if longest is not None else None,
        window_minutes=window_minutes,
        max_duration_share_of_window=round2(100 * longest / window_minutes)
        if longest is not None and window_minutes
        else None,
        installation_runs=len(done),
        window_exceeded=exceeded,
        window_exceeded_rate=rate(exceeded, len(done)),
        last_run=last,
    )


@dataclass(frozen=True)
class ConfigurationAudit:
    """One configuration: its settings, what it covers and how its runs went."""

    configuration: MaintenanceConfiguration
    window: rec.Window | None
    expired: bool | None
    machines: tuple[str, ...]
    """Ids of the in-scope machines it covers, sorted."""
    static_targets: tuple[str, ...]
    """Lower-cased machine ids its static assignments name (in scope or not), sorted."""
    dynamic_scopes: tuple[DynamicScope, ...]
    by_environment: Mapping[str, int]
    by_os: Mapping[str, int]
    by_platform: Mapping[str, int]
    runs: ConfigurationRuns
    """run_figures()."""

    @property
    def static_assignments(self) -> int:
        """How many static assignments it has."""
        return len(self.static_targets)


@dataclass(frozen=True)
class ScheduleAudit:
    """The schedule audit of a scan."""

    configurations: list[ConfigurationAudit]
    """Sorted by name, then id."""
    unscheduled: list[str]
    """Machines no assignment covers."""
    multiple: list[str]
    """Machines covered by more than one configuration."""
    only_expired: list[str]
    """Machines covered only by configurations that have expired."""
    unknown_configuration_ids: list[str]
    """Configuration ids that assignments or runs name but the maintenance_configurations query did not return."""
    problems: list[ScheduleProblem]
    concurrency: rec.Concurrency
    run_links: Mapping[str, RunLink] = field(default_factory=dict)
    """Installation run id -> its configuration and hour of the window (for failure patterns)."""


def configuration_summary(audit: ConfigurationAudit) -> ConfigurationSummary:
    """A configuration as the summary lists it (compact: counts, not machine ids)."""
    c = audit.configuration
    try:
        words: str | None = rec.parse_recurrence(c.recur_every).describe()
    except rec.RecurrenceError:
        words = None
    zone = rec.resolve_zone(c.time_zone)
    return ConfigurationSummary(
        key=c.name,
        id=c.configuration_id,
        subscription_id=c.subscription_id,
        resource_group=c.resource_group,
        scope=c.scope,
        recurrence=c.recur_every,
        recurrence_text=words,
        start=c.start,
        duration=c.duration,
        time_zone=c.time_zone,
        iana_time_zone=zone.key if zone is not None else None,
        expiration=c.expiration,
        expired=audit.expired,
        reboot_setting=c.reboot_setting,
        windows=c.windows,
        linux=c.linux,
        pre_tasks=c.pre_tasks,
        post_tasks=c.post_tasks,
        static_assignments=audit.static_assignments,
        dynamic_scopes=audit.dynamic_scopes,
        machines=len(audit.machines),
        by_environment=_counts(audit.by_environment),
        by_os=_counts(audit.by_os),
        by_platform=_counts(audit.by_platform),
        runs=audit.runs,
    )


def _counts(counter: Mapping[str, int]) -> tuple[KeyCount, ...]:
    return tuple(KeyCount(key=key, machines=counter[key]) for key in sorted(counter))


def schedule_summary(audit: ScheduleAudit) -> ScheduleSummary:
    """The summary's `schedules` block."""
    return ScheduleSummary(
        rules=ScheduleRules(expiry=EXPIRY_RULE, runs=RUNS_RULE, concurrency=rec.CONCURRENCY_RULE),
        configurations=tuple(configuration_summary(a) for a in audit.configurations),
        unscheduled_machines=len(audit.unscheduled),
        multiple_configurations_machines=len(audit.multiple),
        only_expired_configurations_machines=len(audit.only_expired),
        unassigned_configurations=tuple(sorted(a.configuration.name for a in audit.configurations if not a.machines)),
        expired_configurations=tuple(sorted(a.configuration.name for a in audit.configurations if a.expired)),
        unknown_configuration_ids=tuple(audit.unknown_configuration_ids),
        problems=tuple(
            ScheduleProblemRow(key=p.configuration, field=p.field, value=p.value, message=p.message)
            for p in audit.problems
        ),
        concurrency=rec.concurrency_summary(audit.concurrency),
    )


def audit_schedules(
    configurations_table: pa.Table,
    runs_table: pa.Table,
    *,
    machines: Sequence[Machine],
    assignments: Sequence[Assignment],
    covered: Mapping[str, set[str]],
    runs: Sequence[Run],
    as_of: datetime,
    settings: ScheduleSettings,
) -> ScheduleAudit:
    """Audit every maintenance configuration against the machines, assignments and runs of the scan."""
    configs = build_configurations(configurations_table)
    known = {c.configuration_id for c in configs}
    groups = build_run_groups(runs_table)
    links = link_runs(runs, groups, {c.configuration_id: c.name for c in configs})
    by_id = {m.machine_id: m for m in machines}
    members: dict[str, list[str]] = defaultdict(list)
    for machine_id in sorted(covered):
        for config_id in covered[machine_id]:
            members[config_id].append(machine_id)
    groups_of: dict[str, list[RunGroup]] = defaultdict(list)
    for group in groups:
        groups_of[group.configuration_id].append(group)
    assigned: dict[str, list[Assignment]] = defaultdict(list)
    for assignment in assignments:
        assigned[assignment.configuration_id].append(assignment)
    linked: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        linked[links[run.id].configuration_id].append(run)
    audits, problems = [], []
    for config in configs:
        window, trouble = read_window(config)
        problems.extend(trouble)
        cid = config.configuration_id
        covered_here = [by_id[m] for m in members.get(cid, ()) if m in by_id]
        mine = assigned.get(cid, [])
        audits.append(
            ConfigurationAudit(
                configuration=config,
                window=window,
                expired=is_expired(config, as_of),
                machines=tuple(m.machine_id for m in covered_here),
                static_targets=tuple(sorted(a.target for a in mine if not a.dynamic)),
                dynamic_scopes=tuple(
                    DynamicScope(id=a.id, scope=a.target, filter=describe_scope(a)) for a in mine if a.dynamic
                ),
                by_environment=Counter(m.environment for m in covered_here),
                by_os=Counter(m.os for m in covered_here),
                by_platform=Counter(m.platform for m in covered_here),
                runs=run_figures(groups_of.get(cid, []), linked.get(cid, []), rec.parse_duration(config.duration)),
            )
        )
    expired = {a.configuration.configuration_id for a in audits if a.expired}
    named = {a.configuration_id for a in assignments} | {g.configuration_id for g in groups}
    return ScheduleAudit(
        configurations=audits,
        unscheduled=sorted(m for m, configs in covered.items() if not configs),
        multiple=sorted(m for m, configs in covered.items() if len(configs) > 1),
        only_expired=sorted(m for m, configs in covered.items() if configs and configs <= expired),
        unknown_configuration_ids=sorted(c for c in named - known if c),
        problems=problems,
        concurrency=rec.concurrency(
            {a.configuration.configuration_id: (a.configuration.name, a.window) for a in audits if a.window},
            covered,
            as_of=as_of,
            limit=settings.max_concurrent_machines,
        ),
        run_links=links,
    )
