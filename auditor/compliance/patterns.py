"""Failure patterns: where installation runs fail far more often than across the fleet, and what to do about it.

Failure rates are taken over the finished installation runs of the installation window, per value of each
dimension. A value is flagged by PATTERN_RULE, whose limits come from `[schedules]`; comparisons are exact
(fractions), so a rate just at a limit behaves the same on every machine.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Mapping, Sequence
from fractions import Fraction
from typing import TypeVar

from auditor.compliance.facts import Machine
from auditor.compliance.installs import FAILED, SUCCEEDED, Run
from auditor.compliance.metrics import rate
from auditor.compliance.schedules import NO_SCHEDULE, ConfigurationAudit, RunLink
from auditor.compliance.summary import FailurePatterns, Flag, GroupRate
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


_MACHINE_KEYS: Mapping[str, Callable[[Machine], str]] = {
    "location": lambda m: m.location or "(unknown)",
    "os": lambda m: m.os,
    "os_version": lambda m: m.os_detail,
    "platform": lambda m: m.platform,
    "environment": lambda m: m.environment,
}
"""The dimensions that are a property of the run's machine (a run whose key is empty is left out)."""


def _configuration(link: RunLink | None) -> str | None:
    return link.configuration if link is not None else NO_SCHEDULE


def _hour(link: RunLink | None) -> str | None:
    return None if link is None or link.window_hour is None else f"{link.window_hour:02d}"


_LINK_KEYS: Mapping[str, Callable[[RunLink | None], str | None]] = {
    "configuration": _configuration,
    "window_hour": _hour,
}
"""The dimensions that come from the run's link to a schedule (None leaves the run out)."""

K = TypeVar("K", bound=Hashable)


def _of_machine(machines: Mapping[str, Machine], get: Callable[[Machine], str]) -> Callable[[str], str | None]:
    return lambda machine_id: get(machines[machine_id]) or None


def _fold(tallies: Mapping[K, list[int]], key_of: Callable[[K], str | None]) -> dict[str, list[int]]:
    """Add up [runs, failed] tallies by key."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for item, (runs, failed) in tallies.items():
        key = key_of(item)
        if key is not None:
            counts[key][0] += runs
            counts[key][1] += failed
    return counts


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
    dimensions: dict[str, tuple[GroupRate, ...]] = {}
    flags: list[Flag] = []
    # Tally runs per machine and per link once; each dimension then adds up those few tallies.
    by_machine: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_link: dict[RunLink | None, list[int]] = defaultdict(lambda: [0, 0])
    for run in finished:
        failing = run.status in FAILED
        for tally in (by_machine[run.machine_id], by_link[links.get(run.id)]):
            tally[0] += 1
            tally[1] += failing
    for name in DIMENSIONS:
        if name in _MACHINE_KEYS:
            counts = _fold(by_machine, _of_machine(machines, _MACHINE_KEYS[name]))
        else:
            counts = _fold(by_link, _LINK_KEYS[name])
        groups = []
        for key in sorted(counts):
            total, bad = counts[key]
            flagged = bool(finished) and _above(bad, total, fleet, settings)
            groups.append(GroupRate(key=key, runs=total, failed=bad, failure_rate=rate(bad, total), flagged=flagged))
            if flagged:
                text = f"{rate(bad, total):g}% of {total} runs against {fleet_rate:g}% fleet-wide"
                flags.append(
                    Flag(
                        kind="failure_rate",
                        dimension=name,
                        key=key,
                        runs=total,
                        count=bad,
                        rate=rate(bad, total),
                        reference_rate=fleet_rate,
                        recommendation=_advice(name, key, text),
                    )
                )
        dimensions[name] = tuple(groups)
    for audit_row in configurations:
        figures = audit_row.runs
        done, over, share = figures.installation_runs, figures.window_exceeded, figures.window_exceeded_rate
        limit = Fraction(repr(settings.window_exceeded_flag_rate)) / 100
        if done >= settings.pattern_min_runs and Fraction(over, done) >= limit:
            name = audit_row.configuration.name
            flags.append(
                Flag(
                    kind="window_exceeded",
                    dimension="configuration",
                    key=name,
                    runs=done,
                    count=over,
                    rate=share,
                    reference_rate=settings.window_exceeded_flag_rate,
                    recommendation=f"window for {name} is exceeded by {share:g}% of its runs; lengthen it or split "
                    "the scope",
                )
            )
    flags.sort(key=lambda f: (f.kind, DIMENSIONS.index(f.dimension), f.key))
    return FailurePatterns(
        window_days=window_days,
        runs=len(finished),
        failed=failed,
        fleet_failure_rate=fleet_rate,
        dimensions=dimensions,
        flags=tuple(flags),
        rule=PATTERN_RULE.format(
            min_runs=settings.pattern_min_runs,
            min_ratio=settings.pattern_min_ratio,
            min_excess=settings.pattern_min_excess_points,
        ),
        window_rule=WINDOW_RULE.format(
            min_runs=settings.pattern_min_runs, flag_rate=settings.window_exceeded_flag_rate
        ),
    )
