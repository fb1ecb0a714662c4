"""Failure patterns: where installation runs fail far more often than across the fleet, and what to do about it.

Failure rates are taken over the finished installation runs of the installation window, per value of each
dimension. A value is flagged by PATTERN_RULE, whose limits come from `[schedules]`; comparisons are exact
(fractions), so a rate just at a limit behaves the same on every machine.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from auditor.compliance.facts import Machine
from auditor.compliance.installs import FAILED, SUCCEEDED, Run
from auditor.compliance.metrics import rate
from auditor.compliance.schedules import NO_SCHEDULE, ConfigurationAudit, RunLink
from auditor.config import ScheduleSettings

DIMENSIONS = ("location", "os", "os_version", "platform", "environment", "configuration", "window_hour")
"""The dimensions a failure rate is broken down by, in summary order."""

PATTERN_RULE = (
    "A value of a dimension (location, OS, OS version, platform, environment, maintenance configuration, hour of "
    "the window) is flagged when it has at least {min_runs} finished installation runs in the installation window, "
    "its failure rate (failed / finished runs) is at least {min_ratio:g} times the fleet's, and it is at least "
    "{min_excess:g} percentage points above the fleet's. Finished runs are Succeeded, CompletedWithWarnings or "
    "Failed. The hour of the window counts whole hours from the schedule run's start to the run's start; runs not "
    "started by a schedule have no hour."
)
WINDOW_RULE = (
    "A maintenance configuration is flagged when it has at least {min_runs} finished installation runs and at least "
    "{flag_rate:g}% of them overran the window (maintenanceWindowExceeded)."
)


@dataclass(frozen=True)
class GroupRate:
    """Failure figures of one value of a dimension."""

    key: str
    runs: int
    """Finished runs."""
    failed: int
    failure_rate: float | None
    flagged: bool

    def to_json(self) -> dict[str, Any]:
        """Summary form."""
        return {"key": self.key, "runs": self.runs, "failed": self.failed, "failure_rate": self.failure_rate,
                "flagged": self.flagged}


@dataclass(frozen=True)
class Flag:
    """A pattern worth acting on, with what to do about it."""

    kind: str
    """`failure_rate` or `window_exceeded`."""
    dimension: str
    key: str
    runs: int
    count: int
    """Failed runs (failure_rate) or runs that overran the window (window_exceeded)."""
    rate: float | None
    reference_rate: float | None
    """The fleet's failure rate (failure_rate) or window_exceeded_flag_rate (window_exceeded)."""
    recommendation: str

    def to_json(self) -> dict[str, Any]:
        """Summary form."""
        return {"kind": self.kind, "dimension": self.dimension, "key": self.key, "runs": self.runs,
                "count": self.count, "rate": self.rate, "reference_rate": self.reference_rate,
                "recommendation": self.recommendation}


@dataclass(frozen=True)
class FailurePatterns:
    """Failure rates by dimension and the flags raised on them."""

    window_days: int
    runs: int
    failed: int
    fleet_failure_rate: float | None
    dimensions: Mapping[str, list[GroupRate]]
    flags: list[Flag]
    rule: str
    window_rule: str

    def to_summary(self) -> dict[str, Any]:
        """The summary's `failure_patterns` block."""
        return {
            "rule": self.rule,
            "window_rule": self.window_rule,
            "window_days": self.window_days,
            "runs": self.runs,
            "failed": self.failed,
            "fleet_failure_rate": self.fleet_failure_rate,
            "dimensions": {name: [g.to_json() for g in self.dimensions[name]] for name in DIMENSIONS},
            "flags": [f.to_json() for f in self.flags],
        }


def _keys(machines: Mapping[str, Machine], links: Mapping[str, RunLink]) -> dict[str, Callable[[Run], str | None]]:
    def machine(get: Callable[[Machine], str]) -> Callable[[Run], str | None]:
        return lambda run: get(machines[run.machine_id]) or None

    def hour(run: Run) -> str | None:
        link = links.get(run.id)
        return None if link is None or link.window_hour is None else f"{link.window_hour:02d}"

    def configuration(run: Run) -> str | None:
        link = links.get(run.id)
        return link.configuration if link is not None else NO_SCHEDULE

    return {
        "location": machine(lambda m: m.location or "(unknown)"),
        "os": machine(lambda m: m.os),
        "os_version": machine(lambda m: m.os_detail),
        "platform": machine(lambda m: m.platform),
        "environment": machine(lambda m: m.environment),
        "configuration": configuration,
        "window_hour": hour,
    }


def _above(failed: int, runs: int, fleet: Fraction, settings: ScheduleSettings) -> bool:
    if runs < settings.pattern_min_runs:
        return False
    group = Fraction(failed, runs)
    ratio = Fraction(repr(settings.pattern_min_ratio))
    excess = Fraction(repr(settings.pattern_min_excess_points)) / 100
    return group >= ratio * fleet and group - fleet >= excess


def _advice(dimension: str, key: str, rate_text: str) -> str:
    lead = {
        "location": f"runs in {key} fail {rate_text}; check that machines there can reach their update source "
        "(WSUS, package mirrors, proxies, network rules)",
        "os": f"{key} runs fail {rate_text}; review the failure codes of {key} machines (agent, update service, "
        "package manager)",
        "os_version": f"runs on {key} fail {rate_text}; check that version's repositories and known update issues, "
        "and consider a schedule of its own",
        "platform": f"{key} machines fail {rate_text}; check the "
        + ("Arc agent's connectivity" if key == "Arc" else "VM guest agent's health"),
        "environment": f"runs in environment {key} fail {rate_text}; review what its machines share (images, "
        "network, pre-tasks)",
        "configuration": f"runs of {key} fail {rate_text}; review its classifications, pre- and post-tasks, reboot "
        "setting and the machines it covers",
        "window_hour": f"runs starting in hour {key} of their window fail {rate_text}; too many machines start "
        "late: lengthen the window or split the scope",
    }[dimension]
    if dimension == "configuration" and key == NO_SCHEDULE:
        return f"runs not started by a schedule fail {rate_text}; put these machines on a maintenance schedule"
    return lead


def find_patterns(
    runs: Sequence[Run],
    machines: Mapping[str, Machine],
    links: Mapping[str, RunLink],
    configurations: Sequence[ConfigurationAudit] = (),
    *,
    settings: ScheduleSettings,
    window_days: int,
) -> FailurePatterns:
    """Failure rates by dimension over finished runs, flags by PATTERN_RULE and (for `configurations`, with their
    run figures) WINDOW_RULE. `links` maps installation run id -> RunLink (schedules.link_runs)."""
    finished = [r for r in runs if (r.status in SUCCEEDED or r.status in FAILED) and r.machine_id in machines]
    failed = sum(1 for r in finished if r.status in FAILED)
    fleet = Fraction(failed, len(finished)) if finished else Fraction(0)
    fleet_rate = rate(failed, len(finished))
    dimensions: dict[str, list[GroupRate]] = {}
    flags: list[Flag] = []
    for name, key_of in _keys(machines, links).items():
        counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for run in finished:
            key = key_of(run)
            if key is None:
                continue
            counts[key][0] += 1
            counts[key][1] += run.status in FAILED
        groups = []
        for key in sorted(counts):
            total, bad = counts[key]
            flagged = bool(finished) and _above(bad, total, fleet, settings)
            groups.append(GroupRate(key, total, bad, rate(bad, total), flagged))
            if flagged:
                text = f"{rate(bad, total):g}% of {total} runs against {fleet_rate:g}% fleet-wide"
                flags.append(Flag("failure_rate", name, key, total, bad, rate(bad, total), fleet_rate,
                                  _advice(name, key, text)))
        dimensions[name] = groups
    for audit_row in configurations:
        figures = audit_row.runs
        done, over, share = figures["installation_runs"], figures["window_exceeded"], figures["window_exceeded_rate"]
        limit = Fraction(repr(settings.window_exceeded_flag_rate)) / 100
        if done >= settings.pattern_min_runs and Fraction(over, done) >= limit:
            name = audit_row.configuration.name
            flags.append(Flag(
                "window_exceeded", "configuration", name, done, over, share, settings.window_exceeded_flag_rate,
                f"window for {name} is exceeded by {share:g}% of its runs; lengthen it or split the scope",
            ))
    flags.sort(key=lambda f: (f.kind, DIMENSIONS.index(f.dimension), f.key))
    return FailurePatterns(
        window_days=window_days,
        runs=len(finished),
        failed=failed,
        fleet_failure_rate=fleet_rate,
        dimensions=dimensions,
        flags=flags,
        rule=PATTERN_RULE.format(min_runs=settings.pattern_min_runs, min_ratio=settings.pattern_min_ratio,
                                 min_excess=settings.pattern_min_excess_points),
        window_rule=WINDOW_RULE.format(min_runs=settings.pattern_min_runs,
                                       flag_rate=settings.window_exceeded_flag_rate),
    )
