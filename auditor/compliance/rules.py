"""The normative compliance rules of DESIGN.md: assessment state, patch age, SLA, overdue and machine status.

Pure functions over facts; nothing here reads a source or writes a report.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from auditor.compliance.facts import Machine, PatchGroup, UndatedPatch

SUCCEEDED = "Succeeded"


class AssessmentState(StrEnum):
    """How usable a machine's latest assessment is."""

    NONE = "none"
    FAILED = "failed"
    STALE = "stale"
    CURRENT = "current"


class Status(StrEnum):
    """A machine's compliance status."""

    COMPLIANT = "compliant"
    NON_COMPLIANT = "non_compliant"
    UNKNOWN = "unknown"


def assessment_state(status: str | None, last_modified: datetime | None, as_of: datetime, max_age_days: int) -> AssessmentState:
    """`none` without a row; `failed` unless the status is exactly Succeeded; `stale` when older than the limit.

    An assessment is stale when lastModifiedDateTime is strictly before T - max_age_days; one with no
    lastModifiedDateTime cannot be shown to be fresh and is stale too.
    """
    if status is None:
        return AssessmentState.NONE
    if status != SUCCEEDED:
        return AssessmentState.FAILED
    if last_modified is None or last_modified < as_of - timedelta(days=max_age_days):
        return AssessmentState.STALE
    return AssessmentState.CURRENT


def age_days(published: datetime, as_of: datetime) -> int:
    """floor((T - published) / 1 day)."""
    return math.floor((as_of - published) / timedelta(days=1))


def effective_sla(classifications: Iterable[str], sla: Mapping[str, int]) -> int | None:
    """The smallest SLA among a patch's classifications; None when none is enforced."""
    days = [sla[name] for name in classifications if name in sla]
    return min(days) if days else None


def is_overdue(age: int | None, sla_days: int) -> bool:
    """Overdue when the age is greater than the SLA; an unknown age counts as overdue (conservative)."""
    return age is None or age > sla_days


@dataclass(frozen=True, slots=True)
class GroupVerdict:
    """The SLA judgement of one pending-patch group."""

    group: PatchGroup
    sla_days: int | None
    """The group's (and each of its patches') SLA, None when not enforced."""
    oldest_age_days: int | None
    """Age of the oldest patch whose age is known (dated, or dated by history)."""
    unknown_age: int
    """Patches whose age is unknown (no publishedDateTime and no earlier scan saw them)."""
    overdue: bool


@dataclass(frozen=True, slots=True)
class MachineVerdict:
    """A machine with its judged state."""

    machine: Machine
    assessment: AssessmentState
    status: Status
    pending_patches: int
    overdue_classifications: tuple[str, ...]
    """Classifications of the overdue enforced patches (sorted)."""
    oldest_overdue_age_days: int | None
    unknown_age_patches: int


def judge_groups(
    groups: Iterable[PatchGroup],
    undated: Iterable[UndatedPatch],
    *,
    sla: Mapping[str, int],
    as_of: datetime,
    first_seen: Mapping[str, datetime],
) -> list[GroupVerdict]:
    """Apply the SLA rule to each group. Undated patches are dated by `first_seen` (patch key -> first as-of)."""
    undated_by_group: dict[tuple[str, str], list[UndatedPatch]] = defaultdict(list)
    for patch in undated:
        undated_by_group[(patch.machine_id, patch.classifications_text)].append(patch)
    verdicts = []
    for group in groups:
        sla_days = effective_sla(group.classifications, sla)
        ages: list[int] = []
        if group.oldest_published is not None:
            ages.append(age_days(group.oldest_published, as_of))
        unknown = 0
        if group.undated:
            known = 0
            for patch in undated_by_group.get((group.machine_id, group.classifications_text), ()):
                seen = first_seen.get(patch.patch_key)
                if seen is not None and seen < as_of:
                    ages.append(age_days(seen, as_of))
                    known += 1
            unknown = max(group.undated - known, 0)
        oldest = max(ages) if ages else None
        overdue = sla_days is not None and (unknown > 0 or (oldest is not None and oldest > sla_days))
        verdicts.append(GroupVerdict(group, sla_days, oldest, unknown if sla_days is not None else 0, overdue))
    return verdicts


def judge_machines(
    machines: Iterable[Machine],
    groups: Iterable[GroupVerdict],
    *,
    as_of: datetime,
    max_assessment_age_days: int,
) -> list[MachineVerdict]:
    """Machine status: compliant, non_compliant (an overdue enforced patch) or unknown (assessment not current)."""
    by_machine: dict[str, list[GroupVerdict]] = defaultdict(list)
    for verdict in groups:
        by_machine[verdict.group.machine_id].append(verdict)
    out = []
    for machine in machines:
        state = assessment_state(
            machine.assessment_status, machine.assessment_last_modified, as_of, max_assessment_age_days
        )
        mine = by_machine.get(machine.machine_id, [])
        overdue = [g for g in mine if g.overdue]
        if state is not AssessmentState.CURRENT:
            status = Status.UNKNOWN
        elif overdue:
            status = Status.NON_COMPLIANT
        else:
            status = Status.COMPLIANT
        overdue_ages = [g.oldest_age_days for g in overdue if g.oldest_age_days is not None]
        out.append(
            MachineVerdict(
                machine=machine,
                assessment=state,
                status=status,
                pending_patches=sum(g.group.patches for g in mine),
                overdue_classifications=tuple(sorted({c for g in overdue for c in g.group.classifications})),
                oldest_overdue_age_days=max(overdue_ages) if overdue_ages else None,
                unknown_age_patches=sum(g.unknown_age for g in mine),
            )
        )
    return out
