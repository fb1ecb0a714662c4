"""The executive summary's figures: the headline the conclusion is written from, thresholds, breaches, trend.

Plain data for the templates; the sentences are written in report_templates/partials/summary.html.j2.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from auditor.reports.interface import ReportContext
from auditor.reports.json import plain as as_json


@dataclass(frozen=True)
class BreachRow:
    """A breach as the PDF shows it: figures in the unit of the threshold that raised it (%, machines, days)."""

    severity: str
    message: str
    observed: str
    limit: str
    query: str


@dataclass(frozen=True)
class ThresholdRow:
    """A configured threshold, the figure it judged and the outcome."""

    requirement: str
    observed: str
    outcome: str
    """`met`, `breached` or `not measured`."""


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


def headline(context: ReportContext, trend: Sequence[tuple[str, float | None]]) -> dict[str, Any]:
    """The figures the executive summary's conclusion is written from."""
    summary = context.summary
    target = context.evaluation.config.thresholds.min_compliance_rate
    rate = summary.compliance_rate
    targets = environment_targets(context)
    # The templates read these rows as summary.json spells them (key, compliance_rate, ...).
    environments = [
        {"key": r.key, **as_json(r.counts)} for r in summary.by_environment if r.counts.compliance_rate is not None
    ]
    below = [
        r for r in environments if (t := targets.get(str(r["key"]), target)) is not None and r["compliance_rate"] < t
    ]
    ages = [v.oldest_overdue_age_days for v in context.evaluation.verdicts if v.oldest_overdue_age_days is not None]
    classes = summary.by_classification
    previous = [(label, value) for label, value in trend[:-1] if value is not None]
    return {
        "rate": rate,
        "target": target,
        "gap": round(rate - target, 2) if rate is not None and target is not None else None,
        "met": None if rate is None or target is None else rate >= target,
        "worst_environment": min(environments, key=lambda r: (r["compliance_rate"], str(r["key"])), default=None),
        "environments_rated": len(environments),
        "below_target": below,
        "oldest_overdue_days": max(ages, default=None),
        # From the verdicts, not by_classification, which counts a patch once under each of its classifications.
        "pending_patches": sum(v.pending_patches for v in context.evaluation.verdicts),
        "enforced_overdue": [r for r in classes if r.overdue_machines],
        "previous": previous[-1] if previous and rate is not None else None,
        "delta": round(rate - previous[-1][1], 2)
        if previous and rate is not None and previous[-1][1] is not None
        else None,
        "thresholds": len(context.evaluation.threshold_checks),
    }


def trend_points(context: ReportContext) -> list[tuple[str, float | None]]:
    """(as-of date, compliance rate) of each point of the context's trend (earlier scans, then this one)."""
    return [(point.day, point.compliance_rate) for point in context.trend]
