"""What the PDF's remediation and OS lifecycle section reads: figures per classification, the distribution of days
to install, the monthly trend from history, and the operating systems against their end of support."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from auditor.compliance.lifecycle import OsCount
from auditor.compliance.lifecycle import rule_statements as lifecycle_rules
from auditor.compliance.remediation import MonthTrend, RemediatedPatch, monthly_trend, rule_statements
from auditor.compliance.summary import LifecycleSummary, RemediationFigures
from auditor.digests import scope_key
from auditor.reports.interface import ReportContext
from auditor.reports.pdf.caps import TOP_ROWS, Capped, cap

BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0-7 days", 0, 7),
    ("8-15 days", 8, 15),
    ("16-30 days", 16, 30),
    ("31-60 days", 31, 60),
    ("over 60 days", 61, None),
)
"""Days-to-install bands of the distribution table (inclusive bounds)."""
TOP_LATE = 15
"""Patches installed past their SLA that the PDF lists; the workbook's Remediation sheet has every row."""


@dataclass(frozen=True)
class TimelinessRow:
    """One row of the distribution table: a classification (or all enforced ones), its figures and its bands."""

    classification: str
    figures: RemediationFigures
    bands: list[int]
    """Installed rows per BUCKETS band, then those of unknown age."""


@dataclass(frozen=True)
class TimelinessView:
    """The remediation block the templates read."""

    figures: RemediationFigures
    rows: list[TimelinessRow]
    bands: list[str]
    late: Capped[RemediatedPatch]
    trend: list[MonthTrend]
    window_days: int
    rules: list[str]


@dataclass(frozen=True)
class LifecycleView:
    """The OS lifecycle block the templates read."""

    summary: LifecycleSummary
    rows: Capped[OsCount]
    unknown: Capped[tuple[str, int]]
    last_checked: str
    rules: list[str]


def distribution(patches: Iterable[RemediatedPatch], classification: str | None = None) -> list[int]:
    """Installed rows per BUCKETS band, then those of unknown age (of one classification, or all)."""
    counts = [0] * (len(BUCKETS) + 1)
    for patch in patches:
        if classification is not None and classification not in patch.classifications:
            continue
        if patch.days is None:
            counts[-1] += patch.installs
            continue
        for index, (_, low, high) in enumerate(BUCKETS):
            if patch.days >= low and (high is None or patch.days <= high):
                counts[index] += patch.installs
                break
    return counts


def timeliness_view(context: ReportContext) -> TimelinessView | None:
    """The remediation block for the templates (None when the pack predates installed_patches)."""
    block = context.summary.remediation
    if block is None:
        return None
    patches = context.evaluation.remediated or []
    rows = [TimelinessRow("All enforced", block.figures, distribution(patches))]
    rows += [
        TimelinessRow(name, figures, distribution(patches, name))
        for name, figures in sorted(block.by_classification.items())
    ]
    slowest = sorted(
        (p for p in patches if p.days is not None and p.days > p.sla_days),
        key=lambda p: (-(p.days or 0), p.name, p.machine_id),
    )
    return TimelinessView(
        figures=block.figures,
        rows=rows,
        bands=[label for label, _, _ in BUCKETS] + ["unknown"],
        late=cap(slowest, TOP_LATE),
        trend=monthly_trend(context.history, scope=scope_key(context.source), latest=context.summary),
        window_days=context.evaluation.config.installation_window_days,
        rules=rule_statements(context.evaluation.config.installation_window_days, context.evaluation.config.sla),
    )


def lifecycle_view(context: ReportContext) -> LifecycleView | None:
    """The OS lifecycle block for the templates (None when the pack predates machine_lifecycle)."""
    found = context.evaluation.lifecycle
    if found is None:
        return None
    return LifecycleView(
        summary=found.to_summary(),
        rows=cap(found.by_os, TOP_ROWS),
        unknown=cap(found.unknown_descriptions, TOP_ROWS),
        last_checked=found.last_checked,
        rules=lifecycle_rules(found.last_checked),
    )
