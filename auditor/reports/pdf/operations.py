"""Installation health, maintenance schedules (with the concurrency heat map) and the policy cross-check, as the PDF
shows them.

Read from the typed summary. The schedule audit and failure patterns are optional sections (a pack written before
them has neither), so their views are None then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from auditor.compliance.summary import (
    ConcurrencySummary,
    ConfigurationSummary,
    FailurePatterns,
    Flag,
    HourLoad,
    PolicyAssignment,
    PolicyMismatch,
    Summary,
)
from auditor.reports.pdf.caps import TOP_GROUPS, TOP_ROWS, Capped, cap
from auditor.reports.pdf.heatmap import HeatMap, heat_map


@dataclass(frozen=True)
class PatternsView:
    """Where installations fail (or overrun their window) markedly more often than the fleet, and the rules."""

    rule: str
    window_rule: str
    fleet_failure_rate: float | None
    flags: Capped[Flag]


@dataclass(frozen=True)
class ConcurrencyView:
    """The concurrency heat map and what the figures behind it say."""

    chart: HeatMap
    limit: int
    week_start: str
    peak: HourLoad
    recommendation: str | None


@dataclass(frozen=True)
class SchedulesView:
    """Maintenance configurations (largest first, capped), the machines they miss, and the rules applied."""

    configurations: Capped[ConfigurationSummary]
    concurrency: ConcurrencyView | None
    unscheduled: int
    multiple: int
    only_expired: int
    unassigned: Capped[str]
    expired: Capped[str]
    problems: Capped[str]
    rules: list[tuple[str, str]]


@dataclass(frozen=True)
class PolicyView:
    """The policy cross-check: per-assignment counts (most non-compliant first) and the mismatches."""

    assignments: Capped[PolicyAssignment]
    mismatches: Capped[PolicyMismatch]
    mismatch_count: int


def failure_patterns(summary: Summary) -> PatternsView | None:
    """The failure-pattern block for the templates; None for a pack written before the schedule audit."""
    block: FailurePatterns | None = summary.failure_patterns
    if block is None:
        return None
    return PatternsView(block.rule, block.window_rule, block.fleet_failure_rate, cap(block.flags, TOP_ROWS))


def schedules_view(summary: Summary) -> SchedulesView | None:
    """The schedule audit for the templates; None for a pack written before it."""
    block = summary.schedules
    if block is None:
        return None
    configurations = sorted(block.configurations, key=lambda c: (-c.machines, c.key))
    rules = block.rules
    return SchedulesView(
        configurations=cap(configurations, TOP_GROUPS),
        concurrency=concurrency_view(block.concurrency),
        unscheduled=block.unscheduled_machines,
        multiple=block.multiple_configurations_machines,
        only_expired=block.only_expired_configurations_machines,
        unassigned=cap(block.unassigned_configurations, TOP_ROWS),
        expired=cap(block.expired_configurations, TOP_ROWS),
        problems=cap([f"{p.key}: {p.message}" for p in block.problems], TOP_ROWS),
        rules=[("expiry", rules.expiry), ("runs", rules.runs), ("concurrency", rules.concurrency)],
    )


def concurrency_view(block: ConcurrencySummary) -> ConcurrencyView | None:
    """The concurrency heat map and what the figures behind it say, or None without a 168-hour series."""
    try:
        monday: date | None = datetime.fromisoformat(block.week_start.replace("Z", "+00:00")).date()
    except ValueError:
        monday = None
    chart = heat_map(block.series, limit=block.limit, week_start=monday)
    if chart is None:
        return None
    return ConcurrencyView(chart, block.limit, block.week_start, block.peak, block.recommendation)


def policy_view(summary: Summary) -> PolicyView:
    """The policy cross-check (per-assignment counts and mismatches)."""
    policy = summary.policy
    return PolicyView(
        assignments=cap(sorted(policy.assignments, key=_assignment_rank), TOP_GROUPS),
        mismatches=cap(summary.policy_mismatches, TOP_GROUPS),
        mismatch_count=policy.mismatches,
    )


def _assignment_rank(row: PolicyAssignment) -> tuple[int, str]:
    # The assignments with most non-compliant machines first, so a capped list keeps the ones that matter.
    return (-row.non_compliant, row.assignment)
