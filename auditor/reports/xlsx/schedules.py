"""The schedule sheets: maintenance configurations as audited, and how many machines each hour of the week has
scheduled (with a native chart against the limit).

Both come from the summary's `schedules` block, added by the schedule audit; packs written before it have none,
and then the sheets are left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.chart.series import SeriesLabel
from openpyxl.workbook import Workbook

from auditor.compliance.summary import ConfigurationSummary, KeyCount, ScheduleSummary, Summary, Task
from auditor.reports.interface import ReportContext
from auditor.reports.xlsx.sheet import Column, Table, fit, flag_against, write_table
from auditor.reports.xlsx.style import HIGHLIGHT_BAD, HIGHLIGHT_WARN, Highlight, Styles, naive_utc

SCHEDULES = "Schedules"
CONCURRENCY = "Concurrency"
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

SCHEDULE_COLUMNS = [
    Column("Configuration", 28),
    Column("Recurrence", 28),
    Column("Start (local)", 17),
    Column("Duration", 9),
    Column("Time zone", 22),
    Column("Expires (local)", 19),
    Column("Expired", 9),
    Column("Reboot", 12),
    Column("Windows classifications", 36, Styles.WRAP),
    Column("KBs included", 20, Styles.WRAP),
    Column("KBs excluded", 20, Styles.WRAP),
    Column("Exclude KBs requiring reboot", 11),
    Column("Linux classifications", 28, Styles.WRAP),
    Column("Packages included", 20, Styles.WRAP),
    Column("Packages excluded", 20, Styles.WRAP),
    Column("Pre-tasks", 30, Styles.WRAP),
    Column("Post-tasks", 30, Styles.WRAP),
    Column("Static assignments", 11, Styles.COUNT),
    Column("Dynamic scopes", 60, Styles.WRAP),
    Column("Machines", 10, Styles.COUNT),
    Column("Machines by environment", 30, Styles.WRAP),
    Column("Machines by OS", 20, Styles.WRAP),
    Column("Machines by platform", 20, Styles.WRAP),
    Column("Schedule runs", 10, Styles.COUNT),
    Column("Machine runs", 10, Styles.COUNT),
    Column("Failed runs", 10, Styles.COUNT),
    Column("Run success rate", 11, Styles.RATE),
    Column("Average run (minutes)", 11, Styles.COUNT),
    Column("Longest run (minutes)", 11, Styles.COUNT),
    Column("Window (minutes)", 11, Styles.COUNT),
    Column("Longest run as share of window", 12, Styles.RATE),
    Column("Installation runs", 11, Styles.COUNT),
    Column("Window exceeded", 10, Styles.COUNT),
    Column("Window exceeded rate", 11, Styles.RATE),
    Column("Last run start (UTC)", 21),
    Column("Last run status", 16),
    Column("Could not be read", 40, Styles.WRAP),
    Column("Configuration ID", 80),
]


def _n(count: int, word: str) -> str:
    return f"{count:,} {word if count == 1 else word + 's'}"


def _joined(values: Sequence[str], sep: str = ", ") -> str | None:
    return sep.join(values) or None


def _counts(rows: Sequence[KeyCount]) -> str | None:
    return "; ".join(f"{r.key} {r.machines}" for r in rows) or None


def _tasks(tasks: Sequence[Task]) -> str | None:
    return "; ".join(f"{t.source} ({t.task_scope})" if t.task_scope else t.source for t in tasks) or None


def schedule_row(config: ConfigurationSummary, problems: Mapping[str, list[str]]) -> list[Any]:
    """One maintenance configuration as a row."""
    runs, last = config.runs, config.runs.last_run
    windows, linux = config.windows, config.linux
    scopes = "\n".join(s.filter or s.scope for s in config.dynamic_scopes)
    return [
        config.key,
        config.recurrence_text or config.recurrence,
        config.start,
        config.duration,
        config.time_zone,
        config.expiration,
        "unknown" if config.expired is None else config.expired,
        config.reboot_setting,
        _joined(windows.classifications) if windows else None,
        _joined(windows.kb_include) if windows else None,
        _joined(windows.kb_exclude) if windows else None,
        windows.exclude_kbs_requiring_reboot if windows else None,
        _joined(linux.classifications) if linux else None,
        _joined(linux.package_include) if linux else None,
        _joined(linux.package_exclude) if linux else None,
        _tasks(config.pre_tasks),
        _tasks(config.post_tasks),
        config.static_assignments,
        scopes or None,
        config.machines,
        _counts(config.by_environment),
        _counts(config.by_os),
        _counts(config.by_platform),
        runs.schedule_runs,
        runs.machine_runs,
        runs.failed,
        runs.success_rate,
        runs.avg_duration_minutes,
        runs.max_duration_minutes,
        runs.window_minutes,
        runs.max_duration_share_of_window,
        runs.installation_runs,
        runs.window_exceeded,
        runs.window_exceeded_rate,
        last.start if last else None,
        last.status if last else None,
        "\n".join(problems.get(config.key, [])) or None,
        config.id,
    ]


def schedule_mark(config: ConfigurationSummary) -> Highlight | None:
    """Expired configurations in red; configurations that cover no machine in amber."""
    if config.expired is True:
        return HIGHLIGHT_BAD
    if config.machines == 0:
        return HIGHLIGHT_WARN
    return None


def schedule_counts(audit: ScheduleSummary) -> str:
    """The audit's machine and configuration counts as a sentence."""
    counts = [
        f"{audit.unscheduled_machines:,} machines have no schedule",
        f"{audit.multiple_configurations_machines:,} have more than one",
        f"{audit.only_expired_configurations_machines:,} have only expired ones",
    ]
    for names, label in (
        (audit.expired_configurations, "expired"),
        (audit.unassigned_configurations, "assigned to nothing"),
        (audit.unknown_configuration_ids, "named by assignments or runs but not found"),
    ):
        if names:
            counts.append(f"{_n(len(names), 'configuration')} {label}")
    return f" {'; '.join(counts)}."


def write_schedules(workbook: Workbook, context: ReportContext, suffix: str) -> Table | None:
    """Schedules: every maintenance configuration, its window, what it covers and how its runs went."""
    audit = context.summary.schedules
    if audit is None:
        return None
    problems: dict[str, list[str]] = {}
    for problem in audit.problems:
        problems.setdefault(problem.key, []).append(problem.message)
    configs = audit.configurations
    rows = [schedule_row(config, problems) for config in configs]
    table = write_table(
        workbook,
        SCHEDULES,
        fit(SCHEDULE_COLUMNS, rows),
        rows,
        total=len(rows),
        caption=f"Maintenance configurations: their windows, what they install, the machines they "
        f"cover and their runs.{schedule_counts(audit)} Expired configurations are red, "
        f"configurations that cover no machine amber.{suffix}",
        empty="No maintenance configuration was found.",
        marks=[schedule_mark(config) for config in configs],
    )
    limits = context.evaluation.config.thresholds
    flag_against(table, "Run success rate", limits.min_installation_success_rate)
    flag_against(table, "Window exceeded rate", limits.max_window_exceeded_rate, kind="max")
    return table


def _week_start(text: Any) -> datetime | None:
    try:
        return naive_utc(datetime.fromisoformat(str(text).replace("Z", "+00:00")))
    except ValueError:
        return None


def write_concurrency(workbook: Workbook, context: ReportContext, suffix: str) -> Table | None:
    """Concurrency: machines scheduled in each hour of the as-of week against the limit, and a chart of it."""
    if context.summary.schedules is None:
        return None
    block = context.summary.schedules.concurrency
    series, limit = block.series, block.limit
    monday = _week_start(block.week_start)
    audit = context.evaluation.schedule_audit
    active = audit.concurrency.active if audit is not None else ()
    rows = []
    for hour, machines in enumerate(series):
        start = monday + timedelta(hours=hour) if monday is not None else None
        names = ", ".join(active[hour]) if hour < len(active) else None
        over = machines > limit
        rows.append([hour, f"{DAYS[hour // 24 % 7]} {hour % 24:02d}:00", start, machines, limit, over, names or None])
    columns = [
        Column("Hour of the week", 9, Styles.COUNT),
        Column("Day and hour (UTC)", 12),
        Column("Starts (UTC)", 20, Styles.DATE),
        Column("Machines scheduled", 11, Styles.COUNT),
        Column("Limit", 9, Styles.COUNT),
        Column("Above the limit", 9),
        Column("Configurations with a window open", 40, Styles.WRAP),
    ]
    advice = block.recommendation
    told = f" {advice[:1].upper()}{advice[1:]}." if advice else " No hour exceeds it."
    limit_text = _n(limit, "machine")
    table = write_table(
        workbook,
        CONCURRENCY,
        columns,
        rows,
        total=len(rows),
        caption=f"Machines with a maintenance window open in each hour of the as-of week (168 hours from "
        f"{block.week_start}). The limit is {limit_text} (max_concurrent_machines); hours above it "
        f"are red.{told}{suffix}",
        empty="No hours.",
    )
    flag_against(table, "Machines scheduled", "Limit", kind="max")
    _concurrency_chart(table)
    return table


def _concurrency_chart(table: Table) -> None:
    """Machines scheduled per hour as columns, the limit as a line; labelled once a day."""
    if table.rows == 0:
        return
    bar = BarChart()
    bar.type = "col"
    bar.gapWidth = 10
    bar.title = "Machines scheduled per hour of the week (UTC)"
    bar.add_data(Reference(range_string=table.ref("Machines scheduled")))
    bar.series[0].tx = SeriesLabel(v="Machines scheduled")
    bar.set_categories(Reference(range_string=table.ref("Day and hour (UTC)")))
    line = LineChart()
    line.add_data(Reference(range_string=table.ref("Limit")))
    line.series[0].tx = SeriesLabel(v="Limit")
    line.series[0].smooth = False
    bar += line
    for axis in (bar.x_axis, bar.y_axis):
        axis.delete = False  # openpyxl 3.1 otherwise leaves the axes out
    bar.x_axis.tickLblSkip = bar.x_axis.tickMarkSkip = 24
    bar.y_axis.scaling.min = 0
    bar.legend.position = "b"
    bar.height, bar.width = 9, 24
    table.ws.add_chart(bar, "I2")


def summary_rules(summary: Summary) -> list[tuple[str, str]]:
    """(name, sentence) of the rules other summary blocks state about themselves, for the About sheet."""
    rules: list[tuple[str, str]] = []
    if summary.schedules is not None:
        stated = summary.schedules.rules
        rules += [
            ("Schedules: expiry", stated.expiry),
            ("Schedules: runs", stated.runs),
            ("Schedules: concurrency", stated.concurrency),
        ]
    found = summary.failure_patterns
    if found is not None:
        rules += [
            (name, text) for name, text in (("Failure patterns", found.rule), ("Window overruns", found.window_rule))
        ]
    rules += [("Exceptions", text) for text in summary.exceptions_rules]
    return rules
