"""The PDF's view model: what each template section shows, cut to bounded top-N lists.

Everything here reads the ReportContext (the typed summary, the verdicts, the thresholds) and returns typed data
that the templates read by attribute; the wording lives in the templates. Every list is capped, so the page count and render time stay flat as the
fleet grows: full detail is in the workbook and the evidence files.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypedDict

from auditor.compliance.rules import COMPLETED_WITH_WARNINGS, GroupVerdict, MachineVerdict, OverduePatch, Status
from auditor.compliance.summary import (
    AssessmentCounts,
    ClassificationRow,
    ControlResult,
    Coverage,
    Dimension,
    FailureCode,
    InstallationGroup,
    Installations,
    KeyCount,
    Population,
    SubscriptionDimension,
    Summary,
)
from auditor.config import Config
from auditor.reports import charts
from auditor.reports.interface import QueryRecord, ReportContext
from auditor.reports.pdf.caps import TOP_BREACHES, TOP_GROUPS, TOP_MACHINES, TOP_ROWS, Capped, cap
from auditor.reports.pdf.operations import (
    PatternsView,
    PolicyView,
    SchedulesView,
    failure_patterns,
    policy_view,
    schedules_view,
)
from auditor.reports.pdf.risk_acceptance import ExceptionsView, Honesty, exceptions_view, honesty
from auditor.reports.pdf.scope import source_details, source_tables
from auditor.reports.pdf.summary_section import (
    BreachRow,
    Headline,
    ThresholdRow,
    breach_rows,
    environment_targets,
    headline,
    threshold_rows,
    trend_points,
)
from auditor.reports.pdf.timeliness import LifecycleView, TimelinessView, lifecycle_view, timeliness_view
from auditor.reports.provenance import Signatory, operator_lines, scope_lines, scope_sentence, signatories
from auditor.timestamps import format_timestamp

GroupRow = Dimension | SubscriptionDimension
"""A row of a dimension table: a group's status counts, with a subscription's name where it has one."""


@dataclass(frozen=True)
class GroupTable:
    """One dimension's table (environment, subscription, ...)."""

    title: str
    column: str
    rows: Capped[GroupRow]
    ranked: bool
    """True when the rows are the groups with the most machines not compliant rather than every group."""
    hidden_machines: int
    """Machines in the groups left out."""
    targets: Mapping[str, float]


@dataclass(frozen=True)
class MachineRow:
    """A non-compliant machine and its oldest overdue patch group."""

    name: str
    resource_id: str
    environment: str
    subscription_id: str
    os: str
    platform: str
    oldest_age_days: int | None
    oldest_classifications: tuple[str, ...]
    overdue_classifications: tuple[str, ...]
    pending_patches: int
    unknown_age_patches: int
    oldest_patch: str = ""
    """The oldest overdue patch by name (with its KB), '' when the pack has no patch-level detail."""
    oldest_patch_exceptions: tuple[str, ...] = ()
    """Exceptions covering that patch (a machine stays non-compliant while another overdue patch is uncovered)."""
    unknown_age_only: bool = False
    """Non-compliant only because of patches of unknown age (shown as "age unknown")."""


def not_compliant(row: GroupRow) -> int:
    """Machines of a group that are not compliant (non-compliant or unknown)."""
    return row.counts.non_compliant + row.counts.unknown


def group_table(
    title: str,
    column: str,
    rows: Sequence[GroupRow],
    *,
    limit: int,
    always_rank: bool = False,
    targets: Mapping[str, float] | None = None,
) -> GroupTable:
    """Rows in key order when they fit; otherwise (or when `always_rank`) the ones with most machines not compliant."""
    ranked = always_rank or len(rows) > limit
    ordered = sorted(rows, key=lambda r: (-not_compliant(r), -r.counts.machines, r.key)) if ranked else list(rows)
    shown = cap(ordered, limit)
    hidden = sum(r.counts.machines for r in ordered[limit:])
    return GroupTable(title, column, shown, ranked and shown.more > 0, hidden, targets or {})


def _age_key(verdict: MachineVerdict) -> tuple[int, int, str, str]:
    # Dated overdue patches first, oldest first; machines overdue only through undated patches follow.
    age = verdict.oldest_overdue_age_days
    return (0 if age is not None else 1, -(age or 0), verdict.machine.name.lower(), verdict.machine.machine_id)


def _unknown_key(verdict: MachineVerdict) -> tuple[int, str, str]:
    # Most patches of unknown age first.
    return (-verdict.unknown_age_patches, verdict.machine.name.lower(), verdict.machine.machine_id)


def top_machines(
    verdicts: Iterable[MachineVerdict],
    groups: Iterable[GroupVerdict],
    patches: Iterable[OverduePatch] = (),
    limit: int = TOP_MACHINES,
    unknown_age_only: frozenset[str] = frozenset(),
) -> Capped[MachineRow]:
    """The `limit` non-compliant machines with the oldest overdue patch, in one pass over verdicts, groups and the
    overdue patches (which name that patch).

    Machines non-compliant only because of patches of unknown age have no overdue age to rank by, so up to a fifth
    of the list is kept for them (those with most such patches), after the dated ones: the list never hides them.
    """
    candidates = [v for v in verdicts if v.status is Status.NON_COMPLIANT]
    unknown = [v for v in candidates if v.machine.machine_id in unknown_age_only]
    dated = [v for v in candidates if v.machine.machine_id not in unknown_age_only]
    reserved = min(len(unknown), max(limit // 5, 1)) if unknown else 0
    first = heapq.nsmallest(limit - min(reserved, limit), dated, key=_age_key)
    chosen = first + heapq.nsmallest(limit - len(first), unknown, key=_unknown_key)
    wanted = {v.machine.machine_id for v in chosen}
    oldest: dict[str, GroupVerdict] = {}
    for candidate in groups:
        machine_id = candidate.group.machine_id
        if not candidate.overdue or machine_id not in wanted:
            continue
        current = oldest.get(machine_id)
        if current is None or _group_rank(candidate) > _group_rank(current):
            oldest[machine_id] = candidate
    named = _oldest_patches(patches, wanted)
    rows = []
    for verdict in chosen:
        machine, group = verdict.machine, oldest.get(verdict.machine.machine_id)
        patch = named.get(machine.machine_id)
        rows.append(
            MachineRow(
                name=machine.name,
                resource_id=machine.resource_id,
                environment=machine.environment,
                subscription_id=machine.subscription_id,
                os=machine.os,
                platform=machine.platform,
                oldest_age_days=verdict.oldest_overdue_age_days,
                oldest_classifications=group.group.classifications if group else verdict.overdue_classifications,
                overdue_classifications=verdict.overdue_classifications,
                pending_patches=verdict.pending_patches,
                unknown_age_patches=verdict.unknown_age_patches,
                oldest_patch=patch_label(patch) if patch else "",
                oldest_patch_exceptions=patch.exceptions if patch else (),
                unknown_age_only=machine.machine_id in unknown_age_only,
            )
        )
    return Capped(rows, len(candidates))


def _oldest_patches(patches: Iterable[OverduePatch], wanted: set[str]) -> dict[str, OverduePatch]:
    """Machine id -> its oldest overdue patch, for the wanted machines only (one pass, however many patches)."""
    named: dict[str, OverduePatch] = {}
    for patch in patches:
        if patch.machine_id in wanted:
            known = named.get(patch.machine_id)
            if known is None or _patch_rank(patch) < _patch_rank(known):
                named[patch.machine_id] = patch
    return named


def _patch_rank(patch: OverduePatch) -> tuple[int, int, str, str]:
    # The oldest dated patch first, as the machine's oldest overdue age is; an undated one only when none is dated.
    age = patch.age_days
    return (0 if age is not None else 1, -(age or 0), patch.name.lower(), patch.patch_key)


def patch_label(patch: OverduePatch) -> str:
    """A patch by name, with its KB article when it has one."""
    kb = f"KB{patch.kb_id}"
    return f"{patch.name} ({kb})" if patch.kb_id and kb.lower() not in patch.name.lower() else patch.name or kb


def _group_rank(group: GroupVerdict) -> tuple[int, int]:
    # The group holding the machine's oldest dated overdue patch; an undated-only group ranks below any dated one.
    return (1 if group.oldest_age_days is not None else 0, group.oldest_age_days or 0)


def classification_chart(rows: Sequence[ClassificationRow]) -> charts.BarChart:
    """Pending patches per classification; enforced classifications (with an SLA) stand out."""
    return charts.count_bars(
        [(r.classification, r.pending_patches, "info" if r.sla_days is not None else "muted") for r in rows]
    )


@dataclass(frozen=True)
class Charts:
    """The four charts of "Compliance at a glance"."""

    environments: charts.BarChart
    classifications: charts.BarChart
    status: charts.Donut
    trend: charts.TrendChart | None


class PdfView(TypedDict):
    """Everything the templates read (report_templates/audit-pack.html.j2 and its partials)."""

    title: str
    scope: str
    scope_lines: list[tuple[str, str]]
    operator_lines: list[tuple[str, str]]
    signoff: list[Signatory]
    source_details: list[tuple[str, str]]
    source_tables: list[tuple[str, object, str]]
    as_of: str
    generated_at: str
    context: ReportContext
    config: Config
    summary: Summary
    status: str
    headline: Headline
    thresholds: Capped[ThresholdRow]
    breaches: Capped[BreachRow]
    charts: Charts
    dimensions: list[GroupTable]
    classifications: Capped[ClassificationRow]
    machines: Capped[MachineRow]
    installations: Installations
    failure_codes: Capped[FailureCode]
    installations_by_environment: Capped[InstallationGroup]
    coverage: Coverage
    patch_modes: Capped[KeyCount]
    assessment: list[tuple[str, int]]
    failure_patterns: PatternsView | None
    exceptions: ExceptionsView
    honesty: Honesty
    population: Population
    controls: tuple[ControlResult, ...]
    schedules: SchedulesView | None
    policy: PolicyView
    completed_with_warnings: str
    timeliness: TimelinessView | None
    lifecycle: LifecycleView | None
    sla: list[tuple[str, int]]
    queries: list[QueryRecord]


def _assessment(counts: AssessmentCounts) -> list[tuple[str, int]]:
    # Machines per assessment state, in summary.json's order.
    return [("none", counts.none), ("failed", counts.failed), ("stale", counts.stale), ("current", counts.current)]


def _rates(rows: Sequence[GroupRow]) -> list[tuple[str, float | None]]:
    return [(r.key, r.counts.compliance_rate) for r in rows]


def build_view(context: ReportContext) -> PdfView:
    """Everything the templates read: the typed summary itself, and the capped lists and charts drawn from it."""
    evaluation = context.evaluation
    summary = context.summary
    target = evaluation.config.thresholds.min_compliance_rate
    targets = environment_targets(context)
    trend = trend_points(context)
    installations = summary.installations
    breaches = evaluation.breaches
    return PdfView(
        title="Patch compliance audit pack",
        scope=scope_sentence(context.provenance.get("scope"), context.source),
        scope_lines=scope_lines(context.provenance.get("scope")),
        operator_lines=operator_lines(context.provenance.get("operator")),
        signoff=signatories(context.evaluation.config.report),
        source_details=source_details(context.source),
        source_tables=source_tables(context.source),
        as_of=summary.as_of or format_timestamp(evaluation.as_of),
        generated_at=format_timestamp(context.generated_at),
        context=context,
        config=evaluation.config,
        summary=summary,
        status="FAIL" if breaches else "PASS",
        headline=headline(context, trend),
        thresholds=cap(threshold_rows(context), TOP_BREACHES),
        breaches=cap(breach_rows(context), TOP_BREACHES),
        charts=Charts(
            environments=charts.rate_bars(_rates(summary.by_environment), threshold=target, targets=targets),
            classifications=classification_chart(summary.by_classification),
            status=charts.status_donut(summary.counts),
            trend=charts.trend_chart(trend, threshold=target),
        ),
        dimensions=[
            group_table("Environment", "Environment", summary.by_environment, limit=TOP_ROWS, targets=targets),
            group_table(
                "Subscription",
                "Subscription (name and id)",
                summary.by_subscription,
                limit=TOP_GROUPS,
                always_rank=True,
            ),
            group_table("Platform", "Platform", summary.by_platform, limit=TOP_ROWS),
            group_table("Operating system", "OS", summary.by_os, limit=TOP_ROWS),
        ],
        classifications=cap(summary.by_classification, TOP_ROWS),
        machines=top_machines(
            evaluation.verdicts,
            evaluation.groups,
            evaluation.overdue_patches,
            unknown_age_only=evaluation.unknown_age_only,
        ),
        installations=installations,
        failure_codes=cap(installations.figures.top_failure_codes, TOP_ROWS),
        installations_by_environment=cap(installations.by_environment, TOP_ROWS),
        coverage=summary.coverage,
        patch_modes=cap(summary.coverage.patch_mode, TOP_ROWS),
        assessment=_assessment(summary.assessment),
        failure_patterns=failure_patterns(summary),
        exceptions=exceptions_view(summary),
        honesty=honesty(summary.counts),
        population=summary.population,
        # Sections newer scans add; a re-rendered older pack has none.
        controls=summary.controls or (),
        schedules=schedules_view(summary),
        policy=policy_view(summary),
        completed_with_warnings=COMPLETED_WITH_WARNINGS,
        timeliness=timeliness_view(context),
        lifecycle=lifecycle_view(context),
        sla=sorted(evaluation.config.sla.items(), key=lambda item: (item[1], item[0])),
        queries=context.queries,
    )
