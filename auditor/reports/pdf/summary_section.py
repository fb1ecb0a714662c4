"""The executive summary's figures: the headline the conclusion is written from, thresholds, breaches, trend.

Plain data for the templates; the sentences are written in report_templates/partials/summary.html.j2.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from auditor.compliance.risk_acceptance import EXPIRY_RULE
from auditor.compliance.rules import Status
from auditor.compliance.summary import ClassificationRow
from auditor.compliance.thresholds import configured as thresholds_configured
from auditor.reports.interface import ReportContext


@dataclass(frozen=True)
class BreachRow:
    """A breach as the PDF shows it: figures in the unit of the threshold that raised it (%, machines, days)."""

    severity: str
    message: str
    observed: str
    limit: str
    query: str
    queries: tuple[str, ...] = ()
    """Every query the figure rests on."""


@dataclass(frozen=True)
class ThresholdRow:
    """A configured threshold, the figure it judged and the outcome."""

    requirement: str
    observed: str
    outcome: str
    """`met`, `breached` or `not measured`."""


@dataclass(frozen=True)
class RatedGroup:
    """An environment with a compliance rate (an empty one has none)."""

    key: str
    compliance_rate: float


@dataclass(frozen=True)
class Headline:
    """The figures the executive summary's conclusion is written from."""

    rate: float | None
    target: float | None
    gap: float | None
    """Percentage points above (positive) or below the target."""
    met: bool | None
    """Whether the rate meets the target; None without either."""
    worst_environment: RatedGroup | None
    environments_rated: int
    below_target: list[RatedGroup]
    """Rated environments below their own target (else the overall one), in key order."""
    oldest_overdue_days: int | None
    pending_patches: int
    """summary.json's own figure (by_classification counts a patch once under each of its classifications)."""
    unknown_age_only: int
    longest_sla: int | None
    enforced_overdue: list[ClassificationRow]
    previous: tuple[str, float | None] | None
    """(as-of date, rate) of the previous scan on the trend."""
    delta: float | None
    thresholds: int
    threshold_breaches: int
    expired_exceptions: int
    thresholds_configured: bool
    """False when nothing could have breached: a reader must not take "0 breaches" for a pass then."""


def measure(value: float, unit: str) -> str:
    """A threshold figure in its unit: `35.53%`, `255 machines`, `1 day`."""
    if unit == "%":
        return f"{value:.2f}%"
    count = f"{int(value):,}" if float(value).is_integer() else f"{value:,.2f}"
    word = {"machines": "machine", "days": "day"}.get(unit)
    if word is None:
        return f"{count} {unit}".rstrip()
    return f"{count} {word if value == 1 else unit}"


def breach_rows(context: ReportContext) -> list[BreachRow]:
    """breaches.json's rows, each figure in its threshold's unit (a rate, machines or days)."""
    units = {(t.rule, t.dimension, t.key): t.unit for t, _ in context.evaluation.threshold_checks}
    rows = []
    for breach in context.evaluation.breaches:
        unit = units.get((breach.rule, breach.dimension, breach.key), "%")
        rows.append(
            BreachRow(
                breach.severity,
                breach.message,
                measure(breach.observed, unit),
                measure(breach.threshold, unit),
                breach.query,
                breach.queries or (breach.query,),
            )
        )
    return rows


def threshold_rows(context: ReportContext) -> list[ThresholdRow]:
    """Every configured threshold with its observed figure and outcome."""
    rows = []
    for threshold, observed in context.evaluation.threshold_checks:
        if observed is None:
            text, outcome = "n/a", "not measured"
        else:
            text = measure(observed, threshold.unit)
            outcome = "breached" if threshold.evaluate(observed) is not None else "met"
        rows.append(ThresholdRow(threshold.requirement(), text, outcome))
    return rows


def environment_targets(context: ReportContext) -> dict[str, float]:
    """Each environment's own compliance target, where the config sets one."""
    return dict(context.evaluation.config.thresholds.by_environment)


def headline(context: ReportContext, trend: Sequence[tuple[str, float | None]]) -> Headline:
    """The figures the executive summary's conclusion is written from."""
    summary = context.summary
    target = context.evaluation.config.thresholds.min_compliance_rate
    rate = summary.compliance_rate
    targets = environment_targets(context)
    environments = [
        RatedGroup(r.key, r.counts.compliance_rate)
        for r in summary.by_environment
        if r.counts.compliance_rate is not None
    ]
    below = [r for r in environments if (t := targets.get(r.key, target)) is not None and r.compliance_rate < t]
    # Only non-compliant machines: an unknown machine's patches are not judged, and an excepted machine's overdue
    # patches are covered, so neither may name "the oldest overdue patch" of the conclusion.
    ages = [
        v.oldest_overdue_age_days
        for v in context.evaluation.verdicts
        if v.status is Status.NON_COMPLIANT and v.oldest_overdue_age_days is not None
    ]
    # Per-exception expiry checks are not configured thresholds: count them apart.
    configured = [t for t, _ in context.evaluation.threshold_checks if t.rule != EXPIRY_RULE]
    breaches = context.evaluation.breaches
    expired = sum(1 for b in breaches if b.rule == EXPIRY_RULE)
    sla = context.evaluation.config.sla
    previous = [(label, value) for label, value in trend[:-1] if value is not None]
    return Headline(
        rate=rate,
        target=target,
        gap=round(rate - target, 2) if rate is not None and target is not None else None,
        met=None if rate is None or target is None else rate >= target,
        worst_environment=min(environments, key=lambda r: (r.compliance_rate, r.key), default=None),
        environments_rated=len(environments),
        below_target=below,
        oldest_overdue_days=max(ages, default=None),
        pending_patches=summary.pending_patches,
        unknown_age_only=summary.non_compliant_unknown_age_only,
        longest_sla=max(sla.values(), default=None),
        enforced_overdue=[r for r in summary.by_classification if r.overdue_machines],
        previous=previous[-1] if previous and rate is not None else None,
        delta=round(rate - previous[-1][1], 2)
        if previous and rate is not None and previous[-1][1] is not None
        else None,
        thresholds=len(configured),
        threshold_breaches=len(breaches) - expired,
        expired_exceptions=expired,
        thresholds_configured=thresholds_configured(context.evaluation.config.thresholds),
    )


def trend_points(context: ReportContext) -> list[tuple[str, float | None]]:
    """(as-of date, compliance rate) of each point of the context's trend (earlier scans, then this one)."""
    return [(point.day, point.compliance_rate) for point in context.trend]
