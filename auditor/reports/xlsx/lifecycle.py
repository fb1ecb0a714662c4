"""The Remediation and OS lifecycle sheets: installed enforced patches against their SLA, and operating systems
against their vendors' end of support."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from openpyxl.workbook import Workbook

from auditor.compliance import lifecycle, remediation
from auditor.compliance.summary import RemediationFigures
from auditor.reports.interface import ReportContext
from auditor.reports.xlsx.fleet import evidence_of
from auditor.reports.xlsx.sheet import Column, Table, flag_text, write_table
from auditor.reports.xlsx.style import BAD, WARN, safe

REMEDIATION = "Remediation"
LIFECYCLE = "OS lifecycle"

REMEDIATION_COLUMNS = [
    Column("Patch", 40),
    Column("KB", 10),
    Column("Version", 16),
    Column("Enforced classifications", 22),
    Column("Published (UTC)", 20),
    Column("Dated by", 14),
    Column("Installs", 9),
    Column("First installed (UTC)", 20),
    Column("Last installed (UTC)", 20),
    Column("Days to install", 9),
    Column("SLA (days)", 9),
    Column("Within SLA", 10),
    Column("Machine (undated rows)", 70),
]


def _dated_by(patch: remediation.RemediatedPatch) -> str:
    if patch.days is None:
        return "unknown"
    return "history" if patch.dated_by_history else "publication"


def write_remediation(workbook: Workbook, context: ReportContext, caption_suffix: str) -> Table:
    """Every installed enforced patch: its days from publication (or first sighting) to installation, and SLA."""
    patches = context.evaluation.remediated or []
    block = context.summary.remediation
    figures = (
        block.figures
        if block is not None
        else RemediationFigures(installed=0, dated=0, within_sla=0, within_sla_rate=None, p50_days=None, p90_days=None)
    )

    def rows(ws: Any) -> Iterator[list[Any]]:
        for patch in patches:
            within = "unknown" if patch.days is None else ("yes" if patch.within_sla else "no")
            yield [
                safe(ws, patch.name),
                safe(ws, f"KB{patch.kb_id}") if patch.kb_id else None,
                safe(ws, patch.version) if patch.version else None,
                safe(ws, ", ".join(patch.classifications)),
                patch.published,
                _dated_by(patch),
                patch.installs,
                patch.first_installed,
                patch.last_installed,
                patch.days,
                patch.sla_days,
                within,
                safe(ws, patch.machine_id) if patch.machine_id else None,
            ]

    rate = figures.within_sla_rate
    table = write_table(
        workbook,
        REMEDIATION,
        REMEDIATION_COLUMNS,
        rows,
        caption=(
            f"{figures.installed:,} installed enforced patch rows in the "
            f"{context.evaluation.config.installation_window_days}-day installation window, "
            f"{figures.within_sla:,} of {figures.dated:,} dated rows within their SLA"
            f"{'' if rate is None else f' ({rate:.2f}%)'}. Dated patches are summarised: one row per patch, "
            "publication date and days, with the number of machines' rows it stands for (Installs); undated "
            "(Linux) patches are one row each, dated by the first scan in history that saw them pending, or of "
            f"unknown age.{caption_suffix}"
        ),
        total=len(patches),
        evidence=evidence_of(context, remediation.QUERY),
        freeze_columns=1,
        prepared=True,
        empty="No enforced patch was installed in the window.",
    )
    flag_text(table, "Within SLA", "no", BAD)
    flag_text(table, "Within SLA", "unknown", WARN)
    return table


LIFECYCLE_COLUMNS = [
    Column("Operating system", 36),
    Column("Machines", 10),
    Column("End of support", 14),
    Column("Past end of support", 12),
    Column("Active ESU licences", 12),
    Column("Past end without ESU", 12),
]


def write_lifecycle(workbook: Workbook, context: ReportContext, caption_suffix: str) -> Table:
    """Machines per operating system with its end-of-support date, ESU licences and what the table did not know."""
    found = context.evaluation.lifecycle
    rows_by_os = found.by_os if found else []
    unknown = found.unknown_descriptions if found else []

    def rows(ws: Any) -> Iterator[list[Any]]:
        for row in rows_by_os:
            yield [
                safe(ws, row.os),
                row.machines,
                None if row.end_of_support is None else row.end_of_support.isoformat(),
                "yes" if row.past_end else ("unknown" if row.end_of_support is None else "no"),
                row.esu_active,
                row.machines - row.esu_active if row.past_end else 0,
            ]
        for text, machines in unknown:
            yield [safe(ws, f"{lifecycle.UNKNOWN_OS} reported: {text}"), machines, None, "unknown", None, None]

    checked = found.last_checked if found else ""
    table = write_table(
        workbook,
        LIFECYCLE,
        LIFECYCLE_COLUMNS,
        rows,
        caption=(
            f"{found.end_of_support if found else 0:,} machines run an operating system past its vendor's end of "
            f"support, {found.end_of_support_without_esu if found else 0:,} of them without an active Extended "
            f"Security Update licence; {found.unknown_os if found else 0:,} run an OS the lifecycle table does not "
            f"know (counted, not guessed; listed below by what they report). The table was last checked on "
            f"{checked or 'an unknown date'} against the vendors' lifecycle pages.{caption_suffix}"
        ),
        total=len(rows_by_os) + len(unknown),
        evidence=evidence_of(context, lifecycle.QUERY),
        freeze_columns=1,
        prepared=True,
        empty="No machine in scope.",
    )
    flag_text(table, "Past end of support", "yes", BAD)
    flag_text(table, "Past end of support", "unknown", WARN)
    return table
