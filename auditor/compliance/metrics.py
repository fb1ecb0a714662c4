"""Fleet figures: compliance rates by dimension and pending patches by classification."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal

from auditor.compliance.rules import GroupVerdict, MachineVerdict, Status
from auditor.compliance.summary import ClassificationRow, Dimension, StatusCounts

_CENT = Decimal("0.01")


def rate(part: int, whole: int) -> float | None:
    """100 x part / whole, rounded half-up to 2 decimals; None for an empty group."""
    if whole == 0:
        return None
    return float((Decimal(100 * part) / Decimal(whole)).quantize(_CENT, rounding=ROUND_HALF_UP))


def round2(value: float) -> float:
    """Half-up rounding to 2 decimals (averages and durations)."""
    return float(Decimal(repr(value)).quantize(_CENT, rounding=ROUND_HALF_UP))


def status_counts(verdicts: Iterable[MachineVerdict]) -> StatusCounts:
    """Machines, compliant, non_compliant, unknown, compliance_rate and the exception figures over some machines.

    `compliant` includes the machines compliant only through exceptions (so rates stay comparable with packs
    that had none); `compliant_with_exception` counts those alone, `compliance_rate_without_exceptions` is the rate
    had no exception applied, and `exception_rate` is the share of machines compliant only through exceptions.
    """
    counts = dict.fromkeys(Status, 0)
    for verdict in verdicts:
        counts[verdict.status] += 1
    total = sum(counts.values())
    excepted = counts[Status.COMPLIANT_WITH_EXCEPTION]
    return StatusCounts(
        machines=total,
        compliant=counts[Status.COMPLIANT] + excepted,
        non_compliant=counts[Status.NON_COMPLIANT],
        unknown=counts[Status.UNKNOWN],
        compliance_rate=rate(counts[Status.COMPLIANT] + excepted, total),
        compliant_with_exception=excepted,
        compliance_rate_without_exceptions=rate(counts[Status.COMPLIANT], total),
        exception_rate=rate(excepted, total),
    )


def grouped(verdicts: Iterable[MachineVerdict], key: Callable[[MachineVerdict], str]) -> dict[str, StatusCounts]:
    """Status counts per key value, in key order."""
    groups: dict[str, list[MachineVerdict]] = defaultdict(list)
    for verdict in verdicts:
        groups[key(verdict)].append(verdict)
    return {name: status_counts(groups[name]) for name in sorted(groups)}


def by_dimension(verdicts: Iterable[MachineVerdict], key: Callable[[MachineVerdict], str]) -> tuple[Dimension, ...]:
    """Status counts per key value, sorted by key."""
    return tuple(Dimension(key=name, counts=counts) for name, counts in grouped(verdicts, key).items())


DIMENSIONS: Mapping[str, Callable[[MachineVerdict], str]] = {
    "by_environment": lambda v: v.machine.environment,
    "by_subscription": lambda v: v.machine.subscription_id,
    "by_platform": lambda v: v.machine.platform,
    "by_os": lambda v: v.machine.os,
}
"""The summary's dimensions and how each machine is keyed in them."""


def by_classification(
    groups: Iterable[GroupVerdict], sla: Mapping[str, int], in_scope: set[str]
) -> tuple[ClassificationRow, ...]:
    """Pending patches per classification over all in-scope machines, whatever their assessment state.

    Each patch counts once under every classification it has. overdue_machines counts machines with at least one
    overdue patch of the classification (judged by the patch's own SLA); it is None where the classification has
    no SLA.
    """
    pending: dict[str, int] = defaultdict(int)
    affected: dict[str, set[str]] = defaultdict(set)
    overdue: dict[str, set[str]] = defaultdict(set)
    for verdict in groups:
        group = verdict.group
        if group.machine_id not in in_scope:
            continue
        for name in group.classifications:
            pending[name] += group.patches
            affected[name].add(group.machine_id)
            if verdict.overdue:
                overdue[name].add(group.machine_id)
    return tuple(
        ClassificationRow(
            classification=name,
            pending_patches=pending[name],
            machines_affected=len(affected[name]),
            overdue_machines=len(overdue[name]) if name in sla else None,
            sla_days=sla.get(name),
        )
        for name in sorted(pending)
    )
