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
from functools import cache, partial
from operator import attrgetter

import pyarrow as pa

from auditor.compliance import columns
from auditor.compliance.facts import Machine, PatchGroup, UndatedPatch, machine_ids, parse_classifications
from auditor.timestamps import parse_arg_time

SUCCEEDED = "Succeeded"
COMPLETED_WITH_WARNINGS = (
    "An assessment that ended CompletedWithWarnings counts as failed, while an installation run that ended so "
    "counts as succeeded, on purpose: an assessment's warnings mean some of its checks did not finish, so its list "
    "of pending patches may be incomplete and cannot show a machine compliant; an installation run turns Failed as "
    "soon as one patch fails to install, so its warnings concern patches it did not attempt, and what it reports "
    "as installed was installed."
)
"""Why the two statuses of the same name are judged differently (the methodology of the PDF and workbook)."""


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


def assessment_state(
    status: str | None, last_modified: datetime | None, as_of: datetime, max_age_days: int
) -> AssessmentState:
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


# GroupVerdict, MachineVerdict and OverduePatch are plain slots dataclasses for speed, as facts.Machine explains.
@dataclass(slots=True)
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


@dataclass(slots=True)
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


@dataclass(slots=True)
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
    undated_by_group: dict[tuple[str, str], list[str]] = defaultdict(list)
    for patch in undated:
        undated_by_group[(patch.machine_id, patch.classifications_text)].append(patch.patch_key)
    # Groups share a few classification sets and publication dates: judge each once.
    sla_of = cache(partial(effective_sla, sla=sla))
    age_of = cache(partial(age_days, as_of=as_of))
    verdicts = []
    for group in groups:
        sla_days = sla_of(group.classifications)
        ages: list[int] = []
        if group.oldest_published is not None:
            ages.append(age_of(group.oldest_published))
        unknown = 0
        if group.undated:
            known = 0
            for key in undated_by_group.get((group.machine_id, group.classifications_text), ()):
                seen = first_seen.get(key)
                if seen is not None and seen < as_of:
                    ages.append(age_days(seen, as_of))
                    known += 1
            unknown = max(group.undated - known, 0)
        oldest = max(ages) if ages else None
        overdue = sla_days is not None and (unknown > 0 or (oldest is not None and oldest > sla_days))
        verdicts.append(GroupVerdict(group, sla_days, oldest, unknown if sla_days is not None else 0, overdue))
    return verdicts


def judge_patches(
    table: pa.Table,
    *,
    sla: Mapping[str, int],
    as_of: datetime,
    first_seen: Mapping[str, datetime],
    machines: Mapping[str, Machine] | None = None,
) -> list[OverduePatch]:
    """The overdue enforced patches among overdue_patches rows, each judged by its own SLA (sorted by machine, key).

    The query returns candidates older than the smallest SLA; a patch with a larger SLA may not be overdue yet.
    Undated patches are dated as judge_groups dates them, so a group is overdue exactly when one of its patches is.
    Machine ids are shared with `machines` where known.
    """

    def enforced(text: str | None) -> tuple[str, tuple[str, ...], int | None]:
        classes = parse_classifications(text)
        return text or "", classes, effective_sla(classes, sla)

    def dated(text: str | None) -> tuple[datetime | None, int | None]:
        published = parse_arg_time(text)
        return published, None if published is None else age_days(published, as_of)

    text = partial(columns.texts, table)
    found = zip(
        columns.values(table, "patchKey"),
        machine_ids(table, "machineId", machines or {}),
        text("patchName"),
        columns.converted(table, "kbId", _kb_id),
        text("version"),
        columns.converted(table, "classifications", enforced),
        columns.converted(table, "publishedDateTime", dated),
        strict=True,
    )
    out = []
    for key, machine_id, name, kb, version, (classes_text, classes, sla_days), (published, age) in found:
        if sla_days is None:
            continue
        if published is None:
            seen = first_seen.get(key)
            if seen is not None and seen < as_of:
                published, age = seen, age_days(seen, as_of)
        if not is_overdue(age, sla_days):
            continue
        out.append(
            OverduePatch(
                patch_key=key,
                machine_id=machine_id,
                name=name,
                kb_id=kb,
                version=version,
                classifications=classes,
                classifications_text=classes_text,
                published=published,
                age_days=age,
                sla_days=sla_days,
            )
        )
    out.sort(key=attrgetter("machine_id", "patch_key"))
    return out


def _kb_id(text: str | None) -> str:
    """The KB number without its `KB` prefix."""
    kb = (text or "").strip()
    return kb[2:] if kb.lower().startswith("kb") else kb


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
        mine = by_machine.get(machine.machine_id)
        overdue, pending, classes, oldest, unknown = _patch_figures(mine) if mine else _NO_PATCHES
        if state is not AssessmentState.CURRENT:
            status = Status.UNKNOWN
        elif overdue:
            status = Status.NON_COMPLIANT
        else:
            status = Status.COMPLIANT
        out.append(
            MachineVerdict(
                machine=machine,
                assessment=state,
                status=status,
                pending_patches=pending,
                overdue_classifications=classes,
                oldest_overdue_age_days=oldest,
                unknown_age_patches=unknown,
            )
        )
    return out


_Figures = tuple[bool, int, tuple[str, ...], int | None, int]
_NO_PATCHES: _Figures = (False, 0, (), None, 0)


def _patch_figures(groups: list[GroupVerdict]) -> _Figures:
    """Whether any group of a machine is overdue, its pending patches, overdue classifications (sorted), oldest
    overdue age and unknown-age patches."""
    overdue = False
    pending = unknown = 0
    classes: set[str] = set()
    oldest: int | None = None
    for verdict in groups:
        pending += verdict.group.patches
        unknown += verdict.unknown_age
        if verdict.overdue:
            overdue = True
            classes.update(verdict.group.classifications)
            # A group overdue only through undated patches may hold dated ones still within their SLA: their age
            # is not an overdue age.
            age = verdict.oldest_age_days
            if age is not None and overdue_by_known_age(verdict) and (oldest is None or age > oldest):
                oldest = age
    return overdue, pending, tuple(sorted(classes)), oldest, unknown


def overdue_by_known_age(group: GroupVerdict) -> bool:
    """Whether a group is overdue through a patch whose age is known, not only through patches of unknown age."""
    return group.sla_days is not None and group.oldest_age_days is not None and group.oldest_age_days > group.sla_days


def unknown_age_only(verdicts: Iterable[MachineVerdict], groups: Iterable[GroupVerdict]) -> set[str]:
    """Ids of the non-compliant machines that are so only because of patches of unknown age: no overdue group of
    theirs that an exception leaves uncovered holds a dated (or history-dated) patch past its SLA."""
    known = {g.group.machine_id for g in groups if g.overdue and not g.covered_by and overdue_by_known_age(g)}
    return {v.machine.machine_id for v in verdicts if v.status is Status.NON_COMPLIANT} - known
