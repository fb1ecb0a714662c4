"""The group sheets: By environment, By subscription, By classification, By platform & OS.

Every figure is read from the typed summary, so the workbook and summary.json can never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from openpyxl.workbook import Workbook

from auditor.compliance.summary import InstallationGroup, RunFigures, StatusCounts
from auditor.config import Config
from auditor.reports.interface import ReportContext
from auditor.reports.xlsx.sheet import Column, Table, fit, flag_against, write_table
from auditor.reports.xlsx.style import WARN, Styles

BY_ENVIRONMENT = "By environment"
BY_SUBSCRIPTION = "By subscription"
BY_CLASSIFICATION = "By classification"
BY_PLATFORM_OS = "By platform & OS"

RATE = "Compliance rate"
RATE_WITHOUT = "Rate without exceptions"
STATUS_COLUMNS = [
    Column("Machines", 11, Styles.COUNT),
    Column("Compliant", 11, Styles.COUNT),
    Column("Non-compliant", 11, Styles.COUNT),
    Column("Unknown", 11, Styles.COUNT),
    Column(RATE, 12, Styles.RATE),
    Column(RATE_WITHOUT, 12, Styles.RATE),
    Column("Compliant only through an exception", 13, Styles.COUNT),
]
"""Every group's status figures; the rate without exceptions always stands beside the rate."""
EXCEPTION_NOTE = (
    " Compliant counts machines compliant only through an exception; the rate without exceptions stands "
    "beside each rate, amber where it would be below the target."
)
INSTALL_COLUMNS = [
    Column("Installation runs", 11, Styles.COUNT),
    Column("Failed runs", 10, Styles.COUNT),
    Column("Installation success rate", 12, Styles.RATE),
]


def environment_target(config: Config, environment: str) -> tuple[float | None, str]:
    """The compliance rate an environment is held to, and where that target comes from."""
    limits = config.thresholds
    if environment in limits.by_environment:
        return limits.by_environment[environment], "environment threshold"
    if limits.min_compliance_rate is not None:
        return limits.min_compliance_rate, "overall threshold"
    return None, "none set"


def subscription_names(context: ReportContext) -> dict[str, str]:
    """Subscription id -> display name, where the data carries names (from the snapshot's resourcecontainers);
    without them, reports show the id alone."""
    return {row.key.lower(): row.name for row in context.summary.by_subscription if row.name and row.key}


def without_exceptions(counts: StatusCounts) -> tuple[float | None, int]:
    """(rate without exceptions, machines compliant only through one) of some status counts."""
    return counts.compliance_rate_without_exceptions, counts.compliant_with_exception


def _status(counts: StatusCounts) -> list[Any]:
    return [
        counts.machines,
        counts.compliant,
        counts.non_compliant,
        counts.unknown,
        counts.compliance_rate,
        *without_exceptions(counts),
    ]


def _installs(by_key: Mapping[str, RunFigures], key: str) -> list[Any]:
    row = by_key.get(key)
    return [None, None, None] if row is None else [row.runs, row.failed, row.success_rate]


def _installs_by(groups: Sequence[InstallationGroup]) -> dict[str, RunFigures]:
    return {row.key: row.figures for row in groups}


def _table(
    workbook: Workbook, title: str, columns: Sequence[Column], rows: list[list[Any]], caption: str, empty: str
) -> Table:
    return write_table(workbook, title, fit(columns, rows), rows, caption=caption, total=len(rows), empty=empty)


def write_by_environment(workbook: Workbook, context: ReportContext, suffix: str) -> Table:
    """Compliance per environment against each environment's target, with installation health."""
    config = context.evaluation.config
    installs = _installs_by(context.summary.installations.by_environment)
    rows = []
    for row in context.summary.by_environment:
        target, source = environment_target(config, row.key)
        rows.append([row.key, *_status(row.counts), target, source, *_installs(installs, row.key)])
    columns = [
        Column("Environment", 30),
        *STATUS_COLUMNS,
        Column("Target", 10, Styles.RATE),
        Column("Target from", 22),
        *INSTALL_COLUMNS,
    ]
    caption = (
        f"Compliance by the '{config.environment_tag}' tag, mapped through the environment aliases; "
        f"rates below their target are highlighted.{EXCEPTION_NOTE}{suffix}"
    )
    table = _table(workbook, BY_ENVIRONMENT, columns, rows, caption, "No machines in scope.")
    flag_against(table, RATE, "Target")
    flag_against(table, RATE_WITHOUT, "Target", dxf=WARN)
    flag_against(table, "Installation success rate", config.thresholds.min_installation_success_rate)
    return table


def write_by_subscription(workbook: Workbook, context: ReportContext, suffix: str) -> Table:
    """Compliance per subscription (name and id) against the overall target."""
    config = context.evaluation.config
    names = subscription_names(context)
    installs = _installs_by(context.summary.installations.by_subscription)
    target = config.thresholds.min_compliance_rate
    rows = []
    for row in context.summary.by_subscription:
        key = row.key
        rows.append([names.get(key.lower(), key), key, *_status(row.counts), target, *_installs(installs, key)])
    columns = [
        Column("Subscription", 36),
        Column("Subscription ID", 38),
        *STATUS_COLUMNS,
        Column("Target", 10, Styles.RATE),
        *INSTALL_COLUMNS,
    ]
    note = "" if names else " Subscription names are not in this scan's data, so the id is shown."
    table = _table(
        workbook,
        BY_SUBSCRIPTION,
        columns,
        rows,
        f"Compliance per subscription against the overall target.{note}{EXCEPTION_NOTE}{suffix}",
        "No machines in scope.",
    )
    flag_against(table, RATE, target)
    flag_against(table, RATE_WITHOUT, target, dxf=WARN)
    flag_against(table, "Installation success rate", config.thresholds.min_installation_success_rate)
    return table


def write_by_classification(workbook: Workbook, context: ReportContext, suffix: str) -> Table:
    """Pending patches per classification, with each classification's SLA and overdue machines."""
    limits = context.evaluation.config.thresholds.max_overdue_machines
    rows = [
        [
            row.classification,
            row.sla_days,
            row.pending_patches,
            row.machines_affected,
            row.overdue_machines,
            limits.get(row.classification),
        ]
        for row in context.summary.by_classification
    ]
    columns = [
        Column("Classification", 16),
        Column("SLA (days)", 9, Styles.COUNT),
        Column("Pending patches", 11, Styles.COUNT),
        Column("Machines affected", 11, Styles.COUNT),
        Column("Machines with an overdue patch", 14, Styles.COUNT),
        Column("Most machines allowed overdue", 14, Styles.COUNT),
    ]
    caption = (
        "Pending patches of every in-scope machine, whatever its assessment state; a patch counts under each "
        f"of its classifications. Overdue is judged only where a classification has an SLA.{suffix}"
    )
    table = _table(workbook, BY_CLASSIFICATION, columns, rows, caption, "No pending patches.")
    flag_against(table, "Machines with an overdue patch", "Most machines allowed overdue", kind="max")
    return table


def write_by_platform_os(workbook: Workbook, context: ReportContext, suffix: str) -> Table:
    """Compliance per platform (Azure VM or Arc) and per operating system, in one filterable table."""
    target = context.evaluation.config.thresholds.min_compliance_rate
    rows = [
        [dimension, row.key, *_status(row.counts), target]
        for dimension, group in (("Platform", context.summary.by_platform), ("OS", context.summary.by_os))
        for row in group
    ]
    columns = [Column("Dimension", 10), Column("Value", 20), *STATUS_COLUMNS, Column("Target", 10, Styles.RATE)]
    table = _table(
        workbook,
        BY_PLATFORM_OS,
        columns,
        rows,
        f"Compliance per platform (Azure = virtual machine, Arc = Arc-enabled server) and per OS."
        f"{EXCEPTION_NOTE}{suffix}",
        "No machines in scope.",
    )
    flag_against(table, RATE, target)
    flag_against(table, RATE_WITHOUT, target, dxf=WARN)
    return table
