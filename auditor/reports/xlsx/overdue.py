"""The Overdue patches sheet: every overdue enforced patch, one row each, streamed like the Machines sheet.

The rows are Evaluation.overdue_patches (the overdue_patches query, judged patch by patch), with the machine's
status and the exceptions that cover each patch, so a reader sees exactly what an exception waived. A pack written
before that query existed has only per-group figures; it gets the older one-row-per-group sheet instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from openpyxl.workbook import Workbook

from auditor.compliance.rules import GroupVerdict, Status
from auditor.reports.interface import ReportContext
from auditor.reports.xlsx.fleet import PortalLinks, evidence_of, links_note
from auditor.reports.xlsx.sheet import Column, Table, flag_text, write_table
from auditor.reports.xlsx.style import BAD, safe

OVERDUE = "Overdue patches"
DETAIL_QUERY = "overdue_patches"
PATCH_COLUMNS = [
    Column("Machine", 26, text=True),
    Column("Machine status", 16),
    Column("Environment", 16, text=True),
    Column("Subscription ID", 38, text=True),
    Column("Patch", 40, text=True),
    Column("KB", 10, text=True),
    Column("Version", 16, text=True),
    Column("Classifications", 22, text=True),
    Column("Published (UTC)", 20),
    Column("Age (days)", 9),
    Column("SLA (days)", 9),
    Column("Days past SLA", 9),
    Column("Covered by exceptions", 18, text=True),
    Column("Machine resource ID (opens the Azure portal)", 70),
]


def has_patch_detail(context: ReportContext) -> bool:
    """Whether the scan ran the patch-level query (packs written before it carry per-group figures only)."""
    return bool(context.evaluation.overdue_patches) or any(q.id == DETAIL_QUERY for q in context.queries)


def write_overdue(workbook: Workbook, context: ReportContext, caption_suffix: str) -> Table:
    """Overdue patches: one row per overdue enforced patch (or per group, for packs without the detail)."""
    if not has_patch_detail(context):
        return write_overdue_groups(workbook, context, caption_suffix)
    evaluation = context.evaluation
    patches = evaluation.overdue_patches
    verdicts = {v.machine.machine_id: v for v in evaluation.verdicts}
    link = PortalLinks(context)

    def rows(ws: Any) -> Iterator[list[Any]]:
        for patch in patches:
            verdict = verdicts.get(patch.machine_id)
            m = verdict.machine if verdict is not None else None
            age, sla = patch.age_days, patch.sla_days
            yield [
                m.name if m else patch.machine_id.rsplit("/", 1)[-1],
                verdict.status._value_ if verdict else "",
                m.environment if m else "",
                m.subscription_id if m else "",
                patch.name,
                f"KB{patch.kb_id}" if patch.kb_id else "",
                patch.version,
                ", ".join(patch.classifications),
                patch.published,
                age,
                sla,
                age - sla if age is not None else None,
                ", ".join(patch.exceptions),
                link(ws, m.resource_id if m else patch.machine_id),
            ]

    machines = len({p.machine_id for p in patches})
    covered = sum(1 for p in patches if p.exceptions)
    table = write_table(
        workbook,
        OVERDUE,
        PATCH_COLUMNS,
        rows,
        caption=(
            f"{len(patches):,} overdue enforced patches on {machines:,} machines, one row per patch, judged by the "
            f"patch's own SLA; {covered:,} are covered by an exception, which waives them for the machine's status "
            "but not for By classification. A patch of unknown age (undated, and seen by no earlier scan) counts as "
            f"past its SLA and has no age.{links_note(len(patches))}{caption_suffix}"
        ),
        total=len(patches),
        evidence=evidence_of(context, DETAIL_QUERY),
        freeze_columns=1,
        prepared=True,
        empty="No machine has an overdue patch.",
    )
    flag_text(table, "Machine status", Status.NON_COMPLIANT.value, BAD)
    return table


GROUP_COLUMNS = [
    Column("Name", 26),
    Column("Environment", 16),
    Column("Subscription ID", 38),
    Column("Classifications", 22),
    Column("Pending patches", 10),
    Column("Oldest age (days)", 10),
    Column("SLA (days)", 9),
    Column("Days past SLA", 10),
    Column("Patches of unknown age", 12),
    Column("Resource ID (opens the Azure portal)", 70),
]


def overdue_groups(context: ReportContext) -> list[GroupVerdict]:
    """The overdue pending-patch groups of non-compliant machines, in machine id order."""
    status = {v.machine.machine_id: v.status for v in context.evaluation.verdicts}
    return [
        g for g in context.evaluation.groups if g.overdue and status.get(g.group.machine_id) is Status.NON_COMPLIANT
    ]


def write_overdue_groups(workbook: Workbook, context: ReportContext, caption_suffix: str) -> Table:
    """The older sheet: per non-compliant machine and classification set, the patches past their SLA."""
    groups = overdue_groups(context)
    machines = {v.machine.machine_id: v.machine for v in context.evaluation.verdicts}
    link = PortalLinks(context)

    def rows(ws: Any) -> Iterator[list[Any]]:
        for verdict in groups:
            m = machines[verdict.group.machine_id]
            age, sla = verdict.oldest_age_days, verdict.sla_days
            past = age - sla if age is not None and sla is not None and age > sla else None
            yield [
                safe(ws, m.name),
                safe(ws, m.environment),
                safe(ws, m.subscription_id),
                safe(ws, ", ".join(verdict.group.classifications)),
                verdict.group.patches,
                age,
                sla,
                past,
                verdict.unknown_age,
                link(ws, m.resource_id),
            ]

    return write_table(
        workbook,
        OVERDUE,
        GROUP_COLUMNS,
        rows,
        caption=(
            f"Pending patches past their SLA on the {len({g.group.machine_id for g in groups}):,} non-compliant "
            f"machines, one row per machine and classification set (this pack predates the patch-level query). A "
            f"patch of unknown age counts as past its SLA.{links_note(len(groups))}{caption_suffix}"
        ),
        total=len(groups),
        evidence=evidence_of(context, "pending_patches"),
        freeze_columns=1,
        prepared=True,
        empty="No machine has an overdue patch.",
    )
