"""The schedule sheets: maintenance configurations as audited, and installation failure patterns.

Both come from summary.json blocks added by the schedule audit; packs written before it have neither, and then
the sheets are left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from openpyxl.workbook import Workbook

from auditor.reports.interface import ReportContext
from auditor.reports.xlsx_groups import records
from auditor.reports.xlsx_sheet import Column, Table, fit, flag_against, flag_text, write_table
from auditor.reports.xlsx_style import BAD, Styles

SCHEDULES = "Schedules"
FAILURE_PATTERNS = "Failure patterns"

SCHEDULE_COLUMNS = [
    Column("Configuration", 28), Column("Recurrence", 28), Column("Start", 17), Column("Duration", 9),
    Column("Time zone", 22), Column("Expires", 19), Column("Expired", 9), Column("Reboot", 12),
    Column("Machines", 10, Styles.COUNT), Column("Static assignments", 11, Styles.COUNT),
    Column("Dynamic scopes", 60), Column("Machines by environment", 40), Column("Schedule runs", 10, Styles.COUNT),
    Column("Machine runs", 10, Styles.COUNT), Column("Failed runs", 10, Styles.COUNT),
    Column("Run success rate", 11, Styles.RATE), Column("Window exceeded rate", 11, Styles.RATE),
    Column("Last run start", 21), Column("Last run status", 16), Column("Windows classifications", 40),
    Column("Linux classifications", 30), Column("Configuration ID", 80),
]


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _joined(value: Any) -> str | None:
    return ", ".join(str(item) for item in value) if isinstance(value, list) else None


def schedule_row(config: Mapping[str, Any]) -> list[Any]:
    """One maintenance configuration as a row."""
    runs, last = _mapping(config.get("runs")), _mapping(_mapping(config.get("runs")).get("last_run"))
    scopes = "; ".join(str(_mapping(s).get("filter") or _mapping(s).get("scope") or "")
                       for s in records(config.get("dynamic_scopes")))
    environments = "; ".join(f"{r.get('key')} {r.get('machines')}" for r in records(config.get("by_environment")))
    return [
        config.get("key"), config.get("recurrence_text") or config.get("recurrence"), config.get("start"),
        config.get("duration"), config.get("time_zone"), config.get("expiration"), config.get("expired"),
        config.get("reboot_setting"), config.get("machines"), config.get("static_assignments"), scopes or None,
        environments or None, runs.get("schedule_runs"), runs.get("machine_runs"), runs.get("failed"),
        runs.get("success_rate"), runs.get("window_exceeded_rate"), last.get("start"), last.get("status"),
        _joined(_mapping(config.get("windows")).get("classifications")),
        _joined(_mapping(config.get("linux")).get("classifications")), config.get("id"),
    ]


def write_schedules(workbook: Workbook, context: ReportContext, suffix: str) -> Table | None:
    """Schedules: every maintenance configuration, its window, what it covers and how its runs went."""
    audit = context.summary.get("schedules")
    if not isinstance(audit, Mapping):
        return None
    rows = [schedule_row(config) for config in records(audit.get("configurations"))]
    counts = [
        f"{audit[key]:,} {label}" for key, label in (
            ("unscheduled_machines", "machines have no schedule"),
            ("multiple_configurations_machines", "have more than one"),
            ("only_expired_configurations_machines", "have only expired ones"),
        ) if isinstance(audit.get(key), int)
    ]
    told = f" {'; '.join(counts)}." if counts else ""
    table = write_table(workbook, SCHEDULES, fit(SCHEDULE_COLUMNS, rows), rows, total=len(rows),
                        caption=f"Maintenance configurations: their windows, the machines they cover and their runs."
                                f"{told}{suffix}",
                        empty="No maintenance configuration was found.")
    flag_text(table, "Expired", True, BAD)
    limits = context.evaluation.config.thresholds
    flag_against(table, "Run success rate", limits.min_installation_success_rate)
    return table


def write_failure_patterns(workbook: Workbook, context: ReportContext, suffix: str) -> Table | None:
    """Failure patterns: installation failure rates per value of each dimension, and which are flagged."""
    found = context.summary.get("failure_patterns")
    if not isinstance(found, Mapping):
        return None
    rows = [
        [str(dimension).replace("_", " ").capitalize(), row.get("key"), row.get("runs"), row.get("failed"),
         row.get("failure_rate"), row.get("flagged")]
        for dimension, values in _mapping(found.get("dimensions")).items()
        for row in records(values)
    ]
    columns = [Column("Dimension", 24), Column("Value", 40), Column("Finished runs", 10, Styles.COUNT),
               Column("Failed", 10, Styles.COUNT), Column("Failure rate", 10, Styles.RATE), Column("Flagged", 9)]
    fleet = found.get("fleet_failure_rate")
    fleet_text = f" The fleet's failure rate is {fleet:.2f}%." if isinstance(fleet, int | float) else ""
    table = write_table(workbook, FAILURE_PATTERNS, fit(columns, rows), rows, total=len(rows),
                        caption=f"Installation failures by dimension; the rule that flags a value is on the About "
                                f"sheet.{fleet_text}{suffix}",
                        empty="No installation run finished in the window.")
    flag_text(table, "Flagged", True, BAD)
    return table


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
