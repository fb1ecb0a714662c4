"""XlsxRenderer: the Excel audit pack (audit-pack.xlsx), written with openpyxl in write-only (streaming) mode.

Every sheet streams, so memory stays flat as the fleet grows; the big sheets' rows go through RowWriter (rows.py).
The file is deterministic: workbook properties come from the as-of time and the tool, and every zip member carries
the as-of time (archive.py), so rendering the same context twice gives the same bytes.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from openpyxl.workbook import Workbook

from auditor.reports.interface import RenderError, ReportContext
from auditor.reports.xlsx.about import ABOUT, write_about
from auditor.reports.xlsx.archive import save_workbook
from auditor.reports.xlsx.controls import CONTROLS, write_controls
from auditor.reports.xlsx.fleet import INSTALLATIONS, MACHINES, write_installations, write_machines
from auditor.reports.xlsx.groups import (
    BY_CLASSIFICATION,
    BY_ENVIRONMENT,
    BY_PLATFORM_OS,
    BY_SUBSCRIPTION,
    subscription_names,
    write_by_classification,
    write_by_environment,
    write_by_platform_os,
    write_by_subscription,
)
from auditor.reports.xlsx.lifecycle import LIFECYCLE, REMEDIATION, write_lifecycle, write_remediation
from auditor.reports.xlsx.overdue import OVERDUE, write_overdue
from auditor.reports.xlsx.patterns import FAILURE_PATTERNS, write_failure_patterns
from auditor.reports.xlsx.population import POPULATION, write_population
from auditor.reports.xlsx.records import (
    BREACHES,
    COVERAGE,
    POLICY,
    POLICY_MISMATCHES,
    QUERIES,
    write_breaches,
    write_coverage,
    write_policy,
    write_policy_mismatches,
    write_queries,
)
from auditor.reports.xlsx.risk_acceptance import EXCEPTIONS, write_exceptions
from auditor.reports.xlsx.schedules import CONCURRENCY, SCHEDULES, write_concurrency, write_schedules
from auditor.reports.xlsx.style import Styles, naive_utc
from auditor.reports.xlsx.summary_sheet import add_charts, write_summary

Writer = Callable[[Workbook, ReportContext, str], Any]


def sheet_plan(context: ReportContext) -> list[tuple[str, str, Writer]]:
    """(title, what it holds, writer) of every sheet after the Summary, in workbook order."""
    names = subscription_names(context)
    summary = context.summary
    plan: list[tuple[str, str, Writer]] = [
        (
            BY_ENVIRONMENT,
            "Compliance per environment against its target, with installation health.",
            write_by_environment,
        ),
        (BY_SUBSCRIPTION, "Compliance per subscription (name and id).", write_by_subscription),
        (BY_CLASSIFICATION, "Pending patches, SLAs and overdue machines per classification.", write_by_classification),
        (BY_PLATFORM_OS, "Compliance per platform (Azure VM or Arc) and operating system.", write_by_platform_os),
        (
            MACHINES,
            "One row per machine: every fact, its status and a portal link.",
            lambda wb, ctx, suffix: write_machines(wb, ctx, names, suffix),
        ),
        (
            OVERDUE,
            "Every overdue enforced patch: machine, patch, KB, age against its SLA, covering exceptions.",
            write_overdue,
        ),
        (INSTALLATIONS, "Every patch installation run in the installation window.", write_installations),
        (COVERAGE, "Periodic assessment, schedules, patch orchestration and hotpatch.", write_coverage),
    ]
    plan.append(
        (
            POPULATION,
            "Rows read -> machines -> judged or unknown and why, per platform, power and connection state.",
            write_population,
        )
    )
    # Sections that packs written before the schedule audit lack get their sheets only when present.
    if summary.schedules is not None:
        plan.append(
            (
                SCHEDULES,
                "Maintenance configurations: windows, what they install, coverage and runs.",
                write_schedules,
            )
        )
        if summary.schedules.concurrency.series:
            plan.append(
                (CONCURRENCY, "Machines scheduled in each hour of the week against the limit.", write_concurrency)
            )
    if summary.failure_patterns is not None:
        plan.append(
            (
                FAILURE_PATTERNS,
                "Installation failure rates by dimension against the fleet's, flags and what to do.",
                write_failure_patterns,
            )
        )
    if summary.remediation is not None:
        plan.append(
            (
                REMEDIATION,
                "Every installed enforced patch: days from publication to installation against its SLA.",
                write_remediation,
            )
        )
    if summary.lifecycle is not None:
        plan.append(
            (LIFECYCLE, "Machines per operating system against its end of support, with ESU licences.", write_lifecycle)
        )
    plan += [
        (POLICY, "Azure Policy's verdicts per assignment.", write_policy),
        (POLICY_MISMATCHES, "Machines policy calls Compliant while their facts disagree.", write_policy_mismatches),
        (EXCEPTIONS, "Risk-acceptance exceptions: owners, expiry, reach and warnings.", write_exceptions),
    ]
    if summary.controls is not None:
        plan.append(
            (
                CONTROLS,
                "Framework controls (PCI DSS, ISO 27001, NIST, SOC 2, CIS): status and the figures behind it.",
                write_controls,
            )
        )
    plan += [
        (BREACHES, "Every threshold, its requirement in words and whether it was breached.", write_breaches),
        (QUERIES, "Every query: version, sha256, rows and the full KQL text.", write_queries),
        (
            ABOUT,
            "Provenance, the config and its sha256, and the rules in words.",
            lambda wb, ctx, _suffix: write_about(wb, ctx),
        ),
    ]
    return plan


def build_workbook(context: ReportContext, workbook: Workbook | None = None) -> Workbook:
    """The whole workbook, streamed sheet by sheet (ready to save once), into `workbook` if given (a new
    write-only workbook otherwise)."""
    workbook = workbook if workbook is not None else Workbook(write_only=True)
    Styles(workbook)
    stamp = naive_utc(context.evaluation.as_of)
    props = workbook.properties
    props.creator = props.lastModifiedBy = f"auditor {context.tool_version}"
    props.created = props.modified = stamp
    props.title = f"Patch compliance audit pack, as of {context.summary.as_of}"
    props.subject = "Azure Update Manager patch compliance"
    plan = sheet_plan(context)
    layout = write_summary(workbook, context, [(title, about) for title, about, _ in plan])
    suffix = " INCOMPLETE DATA: see the Summary." if context.problems else ""
    written = {title: writer(workbook, context, suffix) for title, _, writer in plan}
    limits = context.evaluation.config.thresholds
    add_charts(
        layout,
        written.get(BY_ENVIRONMENT),
        show_target=limits.min_compliance_rate is not None or bool(limits.by_environment),
    )
    return workbook


def discard_streams(workbook: Workbook) -> None:
    """Close and delete every half-written sheet stream of a write-only workbook that failed.

    openpyxl streams each sheet through two generators into a temporary file. Left to the garbage collector
    after an error, each one prints "Exception ignored in: <generator ...>" and a traceback on stderr, after
    the one-line error the user was given; closed here, in order, they end silently.
    """
    for sheet in getattr(workbook, "_sheets", []):
        writer = getattr(sheet, "_writer", None)
        streams = [getattr(sheet, "_rows", None), getattr(writer, "xf", None)]
        for stream in streams:
            if stream is not None:
                with contextlib.suppress(Exception):
                    stream.close()
        temporary = getattr(writer, "out", None)
        if isinstance(temporary, str):
            with contextlib.suppress(OSError):
                os.remove(temporary)


class XlsxRenderer:
    """Writes audit-pack.xlsx."""

    filename = "audit-pack.xlsx"

    def render(self, context: ReportContext, path: Path) -> None:
        """Write the workbook to `path`."""
        workbook = Workbook(write_only=True)
        try:
            try:
                save_workbook(build_workbook(context, workbook), path, context.evaluation.as_of)
            except BaseException:
                discard_streams(workbook)
                raise
        except OSError as exc:
            raise RenderError(f"cannot write {path.name}: {exc.strerror or exc}", "check free disk space") from exc
