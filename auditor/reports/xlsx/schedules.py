"""The schedule sheets: maintenance configurations as audited, and how many machines each hour of the week has
scheduled (with a native chart against the limit).

Both come from summary.json's `schedules` block, added by the schedule audit; packs written before it have none,
and then the sheets are left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.chart.series import SeriesLabel
from openpyxl.workbook import Workbook

from auditor.reports.interface import ReportContext
from auditor.reports.xlsx.groups import records
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


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _joined(value: Any, sep: str = ", ") -> str | None:
    return sep.join(str(item) for item in value) or None if isinstance(value, list) else None


def _counts(value: Any) -> str | None:
    return "; ".join(f"{r.get('key')} {r.get('machines')}" for r in records(value)) or None


def _tasks(value: Any) -> str | None:
    return (
        "; ".join(
            f"{t.get('source')} ({t.get('task_scope')})" if t.get("task_scope") else str(t.get("source"))
            for t in records(value)
        )
        or None
    )


def _expired(value: Any) -> Any:
    return "unknown" if value is None else value


def schedule_row(config: Mapping[str, Any], problems: Mapping[str, list[str]]) -> list[Any]:
    """One maintenance configuration as a row."""
    runs = _mapping(config.get("runs"))
    last = _mapping(runs.get("last_run"))
    windows, linux = _mapping(config.get("windows")), _mapping(config.get("linux"))
    scopes = "\n".join(
        str(_mapping(s).get("filter") or _mapping(s).get("scope") or "") for s in records(config.get("dynamic_scopes"))
    )
    reboot_kbs = windows.get("exclude_kbs_requiring_reboot")
    return [
        config.get("key"),
        config.get("recurrence_text") or config.get("recurrence"),
        config.get("start"),
        config.get("duration"),
        config.get("time_zone"),
        config.get("expiration"),
        _expired(config.get("expired")),
        config.get("reboot_setting"),
        _joined(windows.get("classifications")),
        _joined(windows.get("kb_include")),
        _joined(windows.get("kb_exclude")),
        reboot_kbs,
        _joined(linux.get("classifications")),
        _joined(linux.get("package_include")),
        _joined(linux.get("package_exclude")),
        _tasks(config.get("pre_tasks")),
        _tasks(config.get("post_tasks")),
        config.get("static_assignments"),
        scopes or None,
        config.get("machines"),
        _counts(config.get("by_environment")),
        _counts(config.get("by_os")),
        _counts(config.get("by_platform")),
        runs.get("schedule_runs"),
        runs.get("machine_runs"),
        runs.get("failed"),
        runs.get("success_rate"),
        runs.get("avg_duration_minutes"),
        runs.get("max_duration_minutes"),
        runs.get("window_minutes"),
        runs.get("max_duration_share_of_window"),
        runs.get("installation_runs"),
        runs.get("window_exceeded"),
        runs.get("window_exceeded_rate"),
        last.get("start"),
        last.get("status"),
        "\n".join(problems.get(str(config.get("key")), [])) or None,
        config.get("id"),
    ]


def schedule_mark(config: Mapping[str, Any]) -> Highlight | None:
    """Expired configurations in red; configurations that cover no machine in amber."""
    if config.get("expired") is True:
        return HIGHLIGHT_BAD
    if config.get("machines") == 0:
        return HIGHLIGHT_WARN
    return None


def schedule_counts(audit: Mapping[str, Any]) -> str:
    """The audit's machine and configuration counts as a sentence ('' when it has none)."""
    counts = [
        f"{audit[key]:,} {label}"
        for key, label in (
            ("unscheduled_machines", "machines have no schedule"),
            ("multiple_configurations_machines", "have more than one"),
            ("only_expired_configurations_machines", "have only expired ones"),
        )
        if isinstance(audit.get(key), int)
    ]
    for key, label in (
        ("expired_configurations", "expired"),
        ("unassigned_configurations", "assigned to nothing"),
        ("unknown_configuration_ids", "named by assignments or runs but not found"),
    ):
        names = audit.get(key)
        if isinstance(names, list) and names:
            counts.append(f"{_n(len(names), 'configuration')} {label}")
    return f" {'; '.join(counts)}." if counts else ""


def write_schedules(workbook: Workbook, context: ReportContext, suffix: str) -> Table | None:
    """Schedules: every maintenance configuration, its window, what it covers and how its runs went."""
    audit = context.summary.get("schedules")
    if not isinstance(audit, Mapping):
        return None
    problems: dict[str, list[str]] = {}
    for problem in records(audit.get("problems")):
        problems.setdefault(str(problem.get("key")), []).append(str(problem.get("message") or ""))
    configs = records(audit.get("configurations"))
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
    block = _mapping(_mapping(context.summary.get("schedules")).get("concurrency"))
    series = block.get("series")
    if not isinstance(series, list):
        return None
    limit = block.get("limit")
    monday = _week_start(block.get("week_start"))
    audit = context.evaluation.schedule_audit
    active = audit.concurrency.active if audit is not None else ()
    rows = []
    for hour, machines in enumerate(series):
        start = monday + timedelta(hours=hour) if monday is not None else None
        names = ", ".join(active[hour]) if hour < len(active) else None
        over = isinstance(machines, int) and isinstance(limit, int) and machines > limit
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
    advice = block.get("recommendation")
    told = f" {advice[:1].upper()}{advice[1:]}." if isinstance(advice, str) and advice else " No hour exceeds it."
    limit_text = _n(limit, "machine") if isinstance(limit, int) else "not set"
    table = write_table(
        workbook,
        CONCURRENCY,
        columns,
        rows,
        total=len(rows),
        caption=f"Machines with a maintenance window open in each hour of the as-of week (168 hours from "
        f"{block.get('week_start')}). The limit is {limit_text} (max_concurrent_machines); hours above it "
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


def summary_rules(summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(name, sentence) of the rules other summary blocks state about themselves, for the About sheet."""
    rules: list[tuple[str, str]] = []
    schedules = _mapping(_mapping(summary.get("schedules")).get("rules"))
    rules += [(f"Schedules: {key}", text) for key, text in schedules.items() if isinstance(text, str)]
    found = _mapping(summary.get("failure_patterns"))
    for key, name in (("rule", "Failure patterns"), ("window_rule", "Window overruns")):
        if isinstance(found.get(key), str):
            rules.append((name, found[key]))
    exceptions = summary.get("exceptions_rules")
    if isinstance(exceptions, list):
        rules += [("Exceptions", text) for text in exceptions if isinstance(text, str)]
    return rules
