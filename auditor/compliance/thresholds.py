"""Thresholds as objects that evaluate a figure and say in words what they require; breaches they raise."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, TypedDict

from auditor.compliance.summary import Summary
from auditor.config import Thresholds


class BreachRow(TypedDict):
    """A row of breaches.json's `breaches` (Breach.to_json)."""

    rule: str
    dimension: str
    key: str | None
    observed: float
    threshold: float
    severity: str
    message: str
    query: str
    queries: list[str]


@dataclass(frozen=True)
class Breach:
    """One threshold a scan failed (a row of breaches.json)."""

    rule: str
    dimension: str
    key: str | None
    observed: float
    threshold: float
    severity: str
    message: str
    query: str
    """id@vN of the query the figure came from (the first of `queries`; kept for readers of older packs)."""
    queries: tuple[str, ...] = ()
    """id@vN of every query the figure rests on."""

    def to_json(self) -> BreachRow:
        """The breaches.json row; `queries` names `query` at least."""
        return BreachRow(
            rule=self.rule,
            dimension=self.dimension,
            key=self.key,
            observed=self.observed,
            threshold=self.threshold,
            severity=self.severity,
            message=self.message,
            query=self.query,
            queries=list(self.queries or (self.query,)),
        )


@dataclass(frozen=True)
class Threshold:
    """A limit on one figure: `min` (figure must be at least the limit) or `max` (at most)."""

    rule: str
    dimension: str
    key: str | None
    limit: float
    kind: Literal["min", "max"]
    figure: str
    """What is measured, in words (e.g. "compliance rate")."""
    unit: Literal["%", "machines", "days"]
    query: str
    severity: str = "high"
    queries: tuple[str, ...] = ()
    """Every query the figure rests on (`query` is the one named first); empty means `query` alone."""

    def _fmt(self, value: float) -> str:
        if self.unit == "%":
            return f"{value:.2f}%"
        # "1 machine", "1 day": the unit names are plurals.
        return f"{value:g} {self.unit[:-1] if value == 1 else self.unit}"

    def requirement(self) -> str:
        """The rule in words, e.g. "compliance rate of environment Production must be at least 98.00%"."""
        scope = f" of {self.dimension} {self.key}" if self.key is not None else ""
        word = "at least" if self.kind == "min" else "at most"
        return f"{self.figure}{scope} must be {word} {self._fmt(self.limit)}"

    def evaluate(self, observed: float | None) -> Breach | None:
        """A Breach when the figure is on the wrong side of the limit; None when it passes or cannot be measured."""
        if observed is None:
            return None
        failed = observed < self.limit if self.kind == "min" else observed > self.limit
        if not failed:
            return None
        return Breach(
            rule=self.rule,
            dimension=self.dimension,
            key=self.key,
            observed=observed,
            threshold=self.limit,
            severity=self.severity,
            message=f"{self.requirement()}; observed {self._fmt(observed)}",
            query=self.query,
            queries=self.queries or (self.query,),
        )


def configured(config: Thresholds) -> bool:
    """Whether `[thresholds]` sets any limit at all (without one, only an expired exception can breach)."""
    return any(value not in (None, {}) for value in config.model_dump().values())


NO_THRESHOLDS = (
    "no thresholds configured: nothing in this scan can breach, whatever its figures; "
    "set limits in [thresholds] of a config (--config, see samples/auditor.toml)"
)
"""The warning of a scan without thresholds, on stderr and in the pack."""


def build_thresholds(
    config: Thresholds, summary: Summary, refs: Mapping[str, str]
) -> list[tuple[Threshold, float | None]]:
    """Every configured threshold paired with the figure it judges, taken from the summary."""
    pairs: list[tuple[Threshold, float | None]] = []
    facts = refs.get("machine_facts", "machine_facts")

    def rests_on(*ids: str) -> tuple[str, ...]:
        # The queries a figure is computed from, as run (a pack predating one simply lacks it).
        return tuple(refs[i] for i in ids if i in refs)

    judged = rests_on("pending_patches", "machine_facts", "overdue_patches")
    if config.min_compliance_rate is not None:
        pairs.append(
            (
                Threshold(
                    "min_compliance_rate",
                    "overall",
                    None,
                    config.min_compliance_rate,
                    "min",
                    "compliance rate",
                    "%",
                    refs.get("pending_patches", facts),
                    queries=judged,
                ),
                summary.compliance_rate,
            )
        )
    envs = {row.key: row.counts.compliance_rate for row in summary.by_environment}
    for env, limit in sorted(config.by_environment.items()):
        pairs.append(
            (
                Threshold(
                    "min_compliance_rate",
                    "environment",
                    env,
                    limit,
                    "min",
                    "compliance rate",
                    "%",
                    refs.get("pending_patches", facts),
                    queries=judged,
                ),
                envs.get(env),
            )
        )
    if config.max_unknown_rate is not None:
        pairs.append(
            (
                Threshold(
                    "max_unknown_rate",
                    "overall",
                    None,
                    config.max_unknown_rate,
                    "max",
                    "share of machines with unknown status",
                    "%",
                    facts,
                    "medium",
                    queries=rests_on("machine_facts"),
                ),
                summary.unknown_rate,
            )
        )
    if config.min_installation_success_rate is not None:
        pairs.append(
            (
                Threshold(
                    "min_installation_success_rate",
                    "overall",
                    None,
                    config.min_installation_success_rate,
                    "min",
                    "installation success rate",
                    "%",
                    refs.get("installations", "installations"),
                    "medium",
                    queries=rests_on("installations", "machine_facts"),
                ),
                summary.installations.figures.success_rate,
            )
        )
    if config.min_periodic_assessment_coverage is not None:
        pairs.append(
            (
                Threshold(
                    "min_periodic_assessment_coverage",
                    "overall",
                    None,
                    config.min_periodic_assessment_coverage,
                    "min",
                    "periodic assessment coverage",
                    "%",
                    facts,
                    "medium",
                    queries=rests_on("machine_facts"),
                ),
                summary.coverage.periodic_assessment_enabled.rate,
            )
        )
    if config.min_schedule_coverage is not None:
        pairs.append(
            (
                Threshold(
                    "min_schedule_coverage",
                    "overall",
                    None,
                    config.min_schedule_coverage,
                    "min",
                    "maintenance schedule coverage",
                    "%",
                    refs.get("maintenance_assignments", facts),
                    "medium",
                    queries=rests_on("maintenance_assignments", "machine_facts"),
                ),
                summary.coverage.scheduled.rate,
            )
        )
    overdue = {row.classification: row.overdue_machines for row in summary.by_classification}
    for name, limit in sorted(config.max_overdue_machines.items()):
        pairs.append(
            (
                Threshold(
                    "max_overdue_machines",
                    "classification",
                    name,
                    limit,
                    "max",
                    "machines with an overdue patch",
                    "machines",
                    refs.get("pending_patches", facts),
                    queries=rests_on("pending_patches", "machine_facts", "overdue_patches"),
                ),
                overdue.get(name, 0),
            )
        )
    schedules = summary.schedules
    if config.max_unscheduled_machines is not None:
        pairs.append(
            (
                Threshold(
                    "max_unscheduled_machines",
                    "overall",
                    None,
                    config.max_unscheduled_machines,
                    "max",
                    "machines covered by no maintenance configuration",
                    "machines",
                    refs.get("maintenance_assignments", facts),
                    "medium",
                    queries=rests_on("maintenance_assignments", "maintenance_configurations", "machine_facts"),
                ),
                schedules.unscheduled_machines if schedules else None,
            )
        )
    if config.max_window_exceeded_rate is not None:
        # Judged on the worst configuration (highest rate; ties go to the first name); unmeasured without runs.
        worst = schedules.worst_window_exceeded() if schedules else None
        pairs.append(
            (
                Threshold(
                    "max_window_exceeded_rate",
                    "configuration",
                    worst[0] if worst else None,
                    config.max_window_exceeded_rate,
                    "max",
                    "window-exceeded rate",
                    "%",
                    refs.get("installations", "installations"),
                    "medium",
                    queries=rests_on("installations", "maintenance_runs", "maintenance_configurations"),
                ),
                worst[1] if worst else None,
            )
        )
    if config.max_end_of_support_machines is not None:
        lifecycle = summary.lifecycle
        pairs.append(
            (
                Threshold(
                    "max_end_of_support_machines",
                    "overall",
                    None,
                    config.max_end_of_support_machines,
                    "max",
                    "machines past their OS's end of support without an active ESU licence",
                    "machines",
                    refs.get("machine_lifecycle", "machine_lifecycle"),
                ),
                lifecycle.end_of_support_without_esu if lifecycle else None,
            )
        )
    return pairs


def evaluate_thresholds(pairs: list[tuple[Threshold, float | None]]) -> list[Breach]:
    """The breaches, in the order the thresholds were declared."""
    return [b for t, observed in pairs if (b := t.evaluate(observed)) is not None]
