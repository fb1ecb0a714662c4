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
from typing import Any

from auditor.compliance.facts import Machine, PatchGroup, UndatedPatch, parse_classifications
from auditor.compliance.timeparse import parse_arg_time

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
    COMPLIANT_WITH_EXCEPTION = "compliant_with_exception"
    """Non-compliant only through overdue patches that active exceptions cover; counts as compliant in the rate."""

    @property
    def counts_as_compliant(self) -> bool:
        """Whether the status counts as compliant in a compliance rate."""
        return self in (Status.COMPLIANT, Status.COMPLIANT_WITH_EXCEPTION)


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
    covered_by: tuple[str, ...] = ()
    """Ids of the active exceptions that cover every overdue patch of the group (empty when not covered)."""


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
    exceptions: tuple[str, ...] = ()
    """Ids of the active exceptions that cover some of the machine's overdue patches (sorted)."""


@dataclass(frozen=True, slots=True)
class OverduePatch:
    """One overdue enforced patch, from the overdue_patches detail query."""

    patch_key: str
    """tolower(id) of the softwarepatches row."""
    machine_id: str
    name: str
    kb_id: str
    """KB number without the `KB` prefix (Windows); empty for Linux packages."""
    version: str
    classifications: tuple[str, ...]
    classifications_text: str
    """The set as the query returned it (joins the patch to its PatchGroup)."""
    published: datetime | None
    """publishedDateTime, or the first-seen date from history for an undated patch; None when unknown."""
    age_days: int | None
    """None when the age is unknown (counted as overdue)."""
    sla_days: int
    exceptions: tuple[str, ...] = ()
    """Ids of the active exceptions that cover this patch (sorted; empty when none does)."""


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


def judge_patches(
    rows: Iterable[Mapping[str, Any]],
    *,
    sla: Mapping[str, int],
    as_of: datetime,
    first_seen: Mapping[str, datetime],
) -> list[OverduePatch]:
    """The overdue enforced patches among overdue_patches rows, each judged by its own SLA (sorted by machine, key).

    The query returns candidates older than the smallest SLA; a patch with a larger SLA may not be overdue yet.
    Undated patches are dated as judge_groups dates them, so a group is overdue exactly when one of its patches is.
    """
    out = []
    for row in rows:
        text = row["classifications"] or ""
        classes = parse_classifications(text)
        sla_days = effective_sla(classes, sla)
        if sla_days is None:
            continue
        published = parse_arg_time(row["publishedDateTime"])
        if published is None:
            seen = first_seen.get(row["patchKey"])
            published = seen if seen is not None and seen < as_of else None
        age = age_days(published, as_of) if published is not None else None
        if not is_overdue(age, sla_days):
            continue
        kb = (row["kbId"] or "").strip()
        out.append(OverduePatch(
            patch_key=row["patchKey"], machine_id=row["machineId"], name=row["patchName"] or "",
            kb_id=kb[2:] if kb.lower().startswith("kb") else kb, version=row["version"] or "",
            classifications=classes, classifications_text=text, published=published, age_days=age, sla_days=sla_days,
        ))
    return sorted(out, key=lambda p: (p.machine_id, p.patch_key))


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
