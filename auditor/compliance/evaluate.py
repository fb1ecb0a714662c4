"""Evaluate a scan from its query results alone: facts -> rules -> figures -> thresholds.

This is what makes a pack replayable: the same tables (from a source or from a pack's evidence), config, as-of
time and first-seen dates always give the same Evaluation and so the same summary.json.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import pyarrow as pa

from auditor.compliance import controls as control_checks
from auditor.compliance import (
    coverage,
    facts,
    installs,
    lifecycle,
    metrics,
    patterns,
    policy,
    population,
    remediation,
    risk_acceptance,
    rules,
    thresholds,
)
from auditor.compliance.risk_acceptance import ExceptionOutcome
from auditor.compliance.schedules import ScheduleAudit, audit_schedules, schedule_summary
from auditor.compliance.summary import (
    SUMMARY_FORMAT,
    AssessmentCounts,
    ExceptionWarning,
    FailurePatterns,
    QuerySummary,
    SubscriptionDimension,
    Summary,
)
from auditor.config import Config
from auditor.control_mapping import ControlDefinition
from auditor.risk_register import ExceptionEntry
from auditor.timestamps import format_timestamp

__all__ = ["REQUIRED_QUERIES", "SUMMARY_FORMAT", "Evaluation", "evaluate"]

REQUIRED_QUERIES = (
    # Longest first at fleet scale: a snapshot runs two at a time, and a long query started last runs alone.
    "machine_facts",
    "policy_states",
    "installations",
    "installed_patches",
    "overdue_patches",
    "pending_patches",
    "maintenance_runs",
    "maintenance_assignments",
    "maintenance_configurations",
    "subscriptions",
    "machine_lifecycle",
)


@dataclass(frozen=True)
class Evaluation:
    """Everything a scan concluded; renderers read this, never the sources."""

    as_of: datetime
    config: Config
    verdicts: list[rules.MachineVerdict]
    groups: list[rules.GroupVerdict]
    runs: list[installs.Run]
    schedules: Mapping[str, set[str]]
    summary: Summary
    """What summary.json says (written by auditor.reports.json)."""
    breaches: list[thresholds.Breach]
    threshold_checks: list[tuple[thresholds.Threshold, float | None]] = field(default_factory=list)
    schedule_audit: ScheduleAudit | None = None
    """Maintenance configurations, their coverage and runs, and concurrency (None when the pack predates them)."""
    failure_patterns: FailurePatterns | None = None
    """Failure rates by dimension and the flags raised on them (None when the pack predates them)."""
    overdue_patches: list[rules.OverduePatch] = field(default_factory=list)
    """Every overdue enforced patch (overdue_patches query), sorted by machine and patch key, with the exceptions
    covering it (empty when the pack predates the query)."""
    exceptions: list[ExceptionOutcome] = field(default_factory=list)
    """Each exception of the register with its state and reach, sorted by id (empty without a register)."""
    exception_warnings: list[ExceptionWarning] = field(default_factory=list)
    """Exceptions about to expire, and selectors that match no machine."""
    unknown_age_only: frozenset[str] = frozenset()
    """Ids of the non-compliant machines that are so only because of patches of unknown age."""
    remediated: list[remediation.RemediatedPatch] | None = None
    """The installed enforced patches with their days and SLA (None when the pack predates installed_patches)."""
    lifecycle: lifecycle.Lifecycle | None = None
    """The fleet's operating systems against their end of support (None when the pack predates machine_lifecycle)."""


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector (restoring its state after). Evaluating a fleet builds millions of objects
    that live on and form no cycles, and the collector's repeated full passes over that growing heap would cost
    over two seconds on 100,000 machines."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@_collector_paused()
def evaluate(
    tables: Mapping[str, pa.Table],
    *,
    config: Config,
    as_of: datetime,
    query_refs: Mapping[str, str],
    first_seen: Mapping[str, datetime] | None = None,
    queries: Iterable[QuerySummary] = (),
    register: Iterable[ExceptionEntry] | None = None,
    scope: Mapping[str, Any] | None = None,
    controls: Iterable[ControlDefinition] | None = None,
    consume: bool = False,
) -> Evaluation:
    """Judge a fleet. `tables` maps query id -> rows; `query_refs` maps query id -> id@vN (for breaches).

    `register` is the risk-acceptance register (exceptions.toml) applied to the verdicts. `scope` (manifest.json's:
    what the scan covered, and on a live scan the subscriptions left out) is reported as summary.json's `scope`.
    `controls` are the framework controls judged from the finished figures (summary.json has `controls` only when
    they are given).

    With `consume`, each table is removed from `tables` (then a dict) once it has been judged: a caller that hands
    over its only references frees the query rows while the rest of the fleet is judged, instead of holding them
    beside everything built from them (at 100,000 machines, about 600 MiB of rows).
    """
    done = _releaser(tables, consume)
    resource_rows = tables["machine_facts"].num_rows
    machines = facts.build_machines(
        tables["machine_facts"], environment_tag=config.environment_tag, environment_aliases=config.environment_aliases
    )
    done("machine_facts")
    by_id = {m.machine_id: m for m in machines}
    groups = rules.judge_groups(
        facts.build_patch_groups(tables["pending_patches"], by_id),
        # Only history (first_seen) can date an undated patch; without it the rows change nothing.
        facts.build_undated(facts.undated_table(tables), by_id) if first_seen else [],
        sla=config.sla,
        as_of=as_of,
        first_seen=first_seen or {},
    )
    done("pending_patches", "undated_patches")
    verdicts = rules.judge_machines(
        machines, groups, as_of=as_of, max_assessment_age_days=config.max_assessment_age_days
    )
    # Packs written before the detail query carry no overdue_patches table; only whole-group exceptions apply there.
    overdue = tables.get("overdue_patches")
    patches = (
        []
        if overdue is None
        else rules.judge_patches(overdue, sla=config.sla, as_of=as_of, first_seen=first_seen or {}, machines=by_id)
    )
    del overdue  # the last reference here, so that done() can free it
    done("overdue_patches")
    applied = risk_acceptance.apply_exceptions(
        register or (),
        verdicts=verdicts,
        groups=groups,
        patches=patches,
        sla=config.sla,
        as_of=as_of,
        warning_days=config.exception_warning_days,
    )
    verdicts, groups = applied.verdicts, applied.groups
    unknown_age_only = frozenset(rules.unknown_age_only(verdicts, groups))
    runs = installs.build_runs(tables["installations"], by_id)
    done("installations")
    assignments = coverage.build_assignments(tables["maintenance_assignments"])
    schedules = coverage.schedules_by_machine(machines, assignments)

    audit: ScheduleAudit | None = None
    found: FailurePatterns | None = None
    # Packs written before the schedule audit carry neither table; they replay without it.
    if "maintenance_configurations" in tables and "maintenance_runs" in tables:
        audit = audit_schedules(
            tables["maintenance_configurations"],
            tables["maintenance_runs"],
            machines=machines,
            assignments=assignments,
            covered=schedules,
            runs=runs,
            as_of=as_of,
            settings=config.schedules,
        )
        found = patterns.find_patterns(
            runs,
            by_id,
            audit.run_links,
            audit.configurations,
            settings=config.schedules,
            window_days=config.installation_window_days,
        )
    # Packs written before these queries carry no such tables; they replay without the figures.
    remediated: list[remediation.RemediatedPatch] | None = None
    if remediation.QUERY in tables:
        remediated = remediation.judge_installed(
            tables[remediation.QUERY], sla=config.sla, as_of=as_of, first_seen=first_seen or {}, machines=by_id
        )
        done(remediation.QUERY)
    os_lifecycle: lifecycle.Lifecycle | None = None
    if lifecycle.QUERY in tables:
        os_lifecycle = lifecycle.assess_lifecycle(tables[lifecycle.QUERY], as_of=as_of)
    overall = metrics.status_counts(verdicts)
    names = facts.subscription_names(tables.get("subscriptions"))
    policy_states, mismatches = policy.policy_summary(
        policy.build_states(tables["policy_states"], by_id), by_id, schedules
    )
    done("policy_states")
    judged = Summary(
        format=SUMMARY_FORMAT,
        as_of=format_timestamp(as_of),
        counts=overall,
        unknown_rate=metrics.rate(overall.unknown, overall.machines),
        assessment=_assessment_counts(verdicts),
        unknown_age_patches=sum(v.unknown_age_patches for v in verdicts),
        non_compliant_unknown_age_only=len(unknown_age_only),
        # Each pending patch row once (by_classification counts a patch under each of its classifications).
        pending_patches=sum(v.pending_patches for v in verdicts),
        population=population.population_summary(resource_rows, verdicts),
        by_environment=metrics.by_dimension(verdicts, metrics.DIMENSIONS["by_environment"]),
        by_subscription=tuple(
            SubscriptionDimension(key=key, name=names.get(key, ""), counts=counts)
            for key, counts in metrics.grouped(verdicts, metrics.DIMENSIONS["by_subscription"]).items()
        ),
        by_platform=metrics.by_dimension(verdicts, metrics.DIMENSIONS["by_platform"]),
        by_os=metrics.by_dimension(verdicts, metrics.DIMENSIONS["by_os"]),
        by_classification=metrics.by_classification(groups, config.sla, set(by_id)),
        installations=installs.installations_summary(runs, by_id, window_days=config.installation_window_days),
        coverage=coverage.coverage_summary(machines, schedules),
        policy=policy_states,
        policy_mismatches=mismatches,
        schedules=schedule_summary(audit) if audit is not None else None,
        failure_patterns=found,
        remediation=remediation.remediation_summary(remediated) if remediated is not None else None,
        lifecycle=os_lifecycle.to_summary() if os_lifecycle is not None else None,
        exceptions=tuple(risk_acceptance.exception_summary(o) for o in applied.outcomes),
        exception_warnings=tuple(applied.warnings),
        exceptions_rules=tuple(
            risk_acceptance.rules_text(max_days=config.max_exception_days, warning_days=config.exception_warning_days)
        ),
        thresholds_configured=thresholds.configured(config.thresholds),
        # Thresholds judge the figures above; the count of what they found is filled in below.
        breaches=0,
        queries=tuple(queries),
        # Packs written before scope was recorded replay without it, byte for byte.
        scope=dict(scope) if scope is not None else None,
    )
    checks = thresholds.build_thresholds(config.thresholds, judged, query_refs) + risk_acceptance.expiry_checks(
        applied.outcomes
    )
    breaches = thresholds.evaluate_thresholds(checks)
    summary = replace(judged, breaches=len(breaches))
    # Last, so every figure (and any section added before this line) is there for the mappings to read.
    if controls is not None:
        summary = replace(summary, controls=tuple(control_checks.evaluate_controls(controls, summary, config)))
    return Evaluation(
        as_of,
        config,
        verdicts,
        groups,
        runs,
        schedules,
        summary,
        breaches,
        checks,
        audit,
        found,
        overdue_patches=applied.patches,
        exceptions=applied.outcomes,
        exception_warnings=applied.warnings,
        unknown_age_only=unknown_age_only,
        remediated=remediated,
        lifecycle=os_lifecycle,
    )


def _releaser(tables: Mapping[str, pa.Table], consume: bool) -> Callable[..., None]:
    """done(*names): the tables `names` are judged; with `consume`, remove them from `tables`."""
    if not consume:
        return lambda *_names: None
    if not isinstance(tables, MutableMapping):
        raise TypeError("evaluate(consume=True) removes judged tables from `tables`: pass a dict")
    owned = tables

    def done(*names: str) -> None:
        for name in names:
            owned.pop(name, None)

    return done


def _assessment_counts(verdicts: list[rules.MachineVerdict]) -> AssessmentCounts:
    counts = dict.fromkeys((s.value for s in rules.AssessmentState), 0)
    for verdict in verdicts:
        counts[verdict.assessment.value] += 1
    return AssessmentCounts(**counts)
