"""The streamed sheets that grow with the fleet: Machines and Installations (Overdue patches is in xlsx_overdue).

Rows are built straight from the evaluation and appended one at a time, so memory stays bounded however large
the fleet (the portal links openpyxl holds until a sheet ends stop at Excel's limit of links a sheet). This is the
hot path of the workbook: values go in plain, and only links and risky text get cell objects of their own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

from openpyxl.workbook import Workbook

from auditor.compliance.coverage import has_periodic_assessment, patch_mode_label
from auditor.compliance.installs import machines_with_success
from auditor.compliance.metrics import round2
from auditor.compliance.rules import Status
from auditor.reports.interface import ReportContext
from auditor.reports.xlsx.rows import Link
from auditor.reports.xlsx.sheet import Column, Table, flag_text, write_table
from auditor.reports.xlsx.style import BAD, WARN, link_cell, needs_text_cell, safe

PORTALS = {"AzureUSGovernment": "https://portal.azure.us/", "AzureChina": "https://portal.azure.cn/"}
"""Portal hosts of the sovereign clouds; every other cloud name opens the public portal."""
PUBLIC_PORTAL = "https://portal.azure.com/"
_URL_SAFE = re.compile(r"[A-Za-z0-9/_.~()-]*")
"""Ids made only of these (nearly all ARM ids) need no percent-encoding, which costs more than the rest of a row."""
_PLAIN_ID = re.compile(r"[A-Za-z0-9/_.~()][A-Za-z0-9/_.~()-]{0,1023}")
"""An id that needs neither percent-encoding nor a text cell (no risky first character, no illegal character, far
below Excel's cell limit): one match decides the fast path of a row's link."""
MACHINES = "Machines"
INSTALLATIONS = "Installations"


def portal_url(resource_id: str, tenant: str, portal: str = PUBLIC_PORTAL) -> str:
    """The Azure portal page of a resource, in the tenant that holds it when the tenant is known.

    The id is percent-encoded, so data can add path segments to the portal page but never change its host.
    """
    return portal_prefix(tenant, portal) + portal_path(resource_id)


def portal_prefix(tenant: str, portal: str = PUBLIC_PORTAL) -> str:
    """The part of every portal URL in one tenant that comes before the resource id."""
    return f"{portal}#@{quote(tenant, safe='')}/resource" if tenant else f"{portal}#resource"


def portal_path(resource_id: str) -> str:
    """A resource id as the path of a portal URL (percent-encoded where it needs to be)."""
    return resource_id if _URL_SAFE.fullmatch(resource_id) else quote(resource_id, safe="/-_.~()")


def tenant_of(context: ReportContext) -> str:
    """The tenant from the source fingerprint ('' when the source does not name one)."""
    tenant = context.source.get("tenant_id")
    return tenant if isinstance(tenant, str) else ""


def portal_of(context: ReportContext) -> str:
    """The portal host of the source's cloud."""
    return PORTALS.get(str(context.source.get("cloud", "")), PUBLIC_PORTAL)


MAX_LINKS = 65_530
"""Excel's limit on hyperlinks in one worksheet; rows past it show the resource id without a link."""


class PortalLinks:
    """Cells that show a resource id and open it in the Azure portal, up to Excel's limit of links in a sheet.

    Make one per sheet. Stopping at the limit also bounds memory: openpyxl holds every link of a sheet until it
    writes the sheet's end.
    """

    def __init__(self, context: ReportContext) -> None:
        self.prefix = portal_prefix(tenant_of(context), portal_of(context))
        self.left = MAX_LINKS

    def __call__(self, ws: Any, resource_id: str) -> Any:
        """The cell for a resource id: linked while links are left, plain (safe) text after.

        Plain ids become a Link, which only a RowWriter (a prepared table) can write; risky ones a pinned text cell.
        """
        if not resource_id:
            return None
        plain = _PLAIN_ID.fullmatch(resource_id) is not None
        if self.left <= 0:
            return resource_id if plain else safe(ws, resource_id)
        self.left -= 1
        if plain:
            return Link(resource_id, self.prefix + resource_id)
        url = self.prefix + portal_path(resource_id)
        return link_cell(ws, resource_id, url=url) if needs_text_cell(resource_id) else Link(resource_id, url)


def links_note(rows: int) -> str:
    """The caption's note when a sheet has more rows than Excel allows links ('' otherwise)."""
    if rows <= MAX_LINKS:
        return ""
    return (
        f" Excel allows {MAX_LINKS:,} links a sheet, so rows after the first {MAX_LINKS:,} show the resource id "
        "without a portal link."
    )


def evidence_of(context: ReportContext, query_id: str) -> str:
    """The evidence file in the pack that holds a query's rows (for the note under a cut sheet)."""
    for record in context.queries:
        if record.id == query_id:
            return record.evidence
    return f"evidence/{query_id}@v*.jsonl.gz"


def tags_text(tags: Mapping[str, str]) -> str:
    """Tags as `key=value; key=value`, sorted by key, so a filter can search them."""
    return "; ".join([f"{key}={value}" for key, value in sorted(tags.items())])


def machine_columns(with_names: bool) -> list[Column]:
    """The Machines sheet's columns: identity, status, every fact, then the portal link."""
    names = [Column("Subscription", 28, text=True)] if with_names else []
    return [
        Column("Name", 26, text=True),
        Column("Status", 25),  # wide enough for compliant_with_exception
        Column("Environment", 16, text=True),
        *names,
        Column("Subscription ID", 38, text=True),
        Column("Resource group", 22, text=True),
        Column("Location", 14, text=True),
        Column("Platform", 10, text=True),
        Column("OS", 10, text=True),
        Column("OS detail", 26, text=True),
        Column("Image SKU", 22, text=True),
        Column("Power state", 18, text=True),
        Column("Assessment", 12),
        Column("Assessment status", 16, text=True),
        Column("Last assessed (UTC)", 20),
        Column("Assessment error", 18, text=True),
        Column("Pending patches", 10),
        Column("Overdue classifications", 22, text=True),
        Column("Oldest overdue age (days)", 12),
        Column("Patches of unknown age", 12),
        Column("Patch orchestration", 28),
        Column("Patch mode", 20, text=True),
        Column("Assessment mode", 20, text=True),
        Column("Periodic assessment", 12),
        Column("Maintenance schedules", 13),
        Column("Successful installation in window", 14),
        Column("Hotpatch", 10),
        Column("Bypass safety checks", 12),
        Column("Reboot setting", 14, text=True),
        Column("Reboot pending", 10),
        Column("Tags", 40, text=True),
        Column("Resource ID (opens the Azure portal)", 70),
    ]


def machine_rows(ws: Any, context: ReportContext, names: Mapping[str, str]) -> Iterator[list[Any]]:
    """One row per machine, in machine id order (the columns of `machine_columns`; its texts not yet made safe)."""
    evaluation = context.evaluation
    schedules = evaluation.schedules
    installed = machines_with_success(evaluation.runs)
    link = PortalLinks(context)
    with_names = bool(names)
    for verdict in evaluation.verdicts:
        m = verdict.machine
        row = [
            m.name,
            verdict.status._value_,
            m.environment,
            m.subscription_id,
            m.resource_group,
            m.location,
            m.platform,
            m.os,
            m.os_detail,
            m.image_sku,
            m.power_state,
            verdict.assessment._value_,
            m.assessment_status or "",
            m.assessment_last_modified,
            m.assessment_error,
            verdict.pending_patches,
            ", ".join(verdict.overdue_classifications),
            verdict.oldest_overdue_age_days,
            verdict.unknown_age_patches,
            patch_mode_label(m),
            m.patch_mode,
            m.assessment_mode,
            has_periodic_assessment(m),
            len(schedules.get(m.machine_id, ())),
            m.machine_id in installed,
            m.hotpatch,
            m.bypass_safety_checks,
            m.reboot_setting,
            m.reboot_pending,
            tags_text(m.tags),
            link(ws, m.resource_id),
        ]
        if with_names:
            row.insert(3, names.get(m.subscription_id, m.subscription_id))
        yield row


def write_machines(workbook: Workbook, context: ReportContext, names: Mapping[str, str], caption_suffix: str) -> Table:
    """The Machines sheet: one row per machine with every fact and its status."""
    total = len(context.evaluation.verdicts)
    table = write_table(
        workbook,
        MACHINES,
        machine_columns(bool(names)),
        lambda ws: machine_rows(ws, context, names),
        caption=f"{total:,} machines, one row each.{links_note(total)}{caption_suffix}",
        total=total,
        evidence=evidence_of(context, "machine_facts"),
        freeze_columns=1,
        prepared=True,
        empty="No machines in scope.",
    )
    flag_text(table, "Status", Status.NON_COMPLIANT.value, BAD)
    flag_text(table, "Status", Status.UNKNOWN.value, WARN)
    return table


INSTALLATION_COLUMNS = [
    Column("Machine", 26, text=True),
    Column("Environment", 16, text=True),
    Column("Subscription ID", 38, text=True),
    Column("Status", 16, text=True),
    Column("Started (UTC)", 20),
    Column("Last modified (UTC)", 20),
    Column("Duration (minutes)", 11),
    Column("Window exceeded", 10),
    Column("Patches installed", 10),
    Column("Patches failed", 10),
    Column("Error code", 20, text=True),
    Column("Maintenance run ID", 30, text=True),
    Column("Installation ID", 60, text=True),
    Column("Machine resource ID (opens the Azure portal)", 70),
]


def write_installations(workbook: Workbook, context: ReportContext, caption_suffix: str) -> Table:
    """Installations: every patch installation run of the window, one row each."""
    evaluation = context.evaluation
    machines = {v.machine.machine_id: v.machine for v in evaluation.verdicts}
    link = PortalLinks(context)
    window = evaluation.config.installation_window_days

    def rows(ws: Any) -> Iterator[list[Any]]:
        for run in evaluation.runs:
            m = machines.get(run.machine_id)
            duration = run.duration_minutes
            yield [
                m.name if m else "",
                m.environment if m else "",
                m.subscription_id if m else "",
                run.status,
                run.start,
                run.end,
                round2(duration) if duration is not None else None,
                run.window_exceeded,
                run.installed,
                run.failed_patches,
                run.error_code,
                run.maintenance_run_id,
                run.id,
                link(ws, m.resource_id) if m else safe(ws, run.machine_id),
            ]

    table = write_table(
        workbook,
        INSTALLATIONS,
        INSTALLATION_COLUMNS,
        rows,
        caption=(
            f"Patch installation runs that started in the {window} days before the as-of time."
            f"{links_note(len(evaluation.runs))}{caption_suffix}"
        ),
        total=len(evaluation.runs),
        evidence=evidence_of(context, "installations"),
        freeze_columns=1,
        prepared=True,
        empty="No installation run started in the window.",
    )
    flag_text(table, "Status", "Failed", BAD)
    return table
