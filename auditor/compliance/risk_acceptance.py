"""Apply the risk-acceptance register to a judged fleet, transparently.

An exception in force covers overdue patches of the machines it selects: a whole overdue group (classification
set) when it names no KB or package, else only the patches it names. A non-compliant machine whose every overdue
group is covered becomes `compliant_with_exception`; everything else keeps its status. Expired exceptions cover
nothing and raise a breach; exceptions about to expire and selectors that match nothing raise warnings.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from enum import StrEnum

from auditor.compliance.facts import Machine
from auditor.compliance.rules import GroupVerdict, MachineVerdict, OverduePatch, Status
from auditor.compliance.summary import ExceptionSummary, ExceptionWarning, Narrowing, Selector, StatusCounts
from auditor.compliance.thresholds import Threshold
from auditor.risk_register import ExceptionEntry, kb_number

REGISTER_EVIDENCE = "evidence/exceptions.jsonl.gz"
"""Where a pack keeps the register the scan applied (one row per exception)."""


class ExceptionState(StrEnum):
    """Where an exception stands on the as-of date (UTC)."""

    ACTIVE = "active"
    EXPIRING = "expiring"
    """In force, and expires_on is at most exception_warning_days after the as-of date."""
    EXPIRED = "expired"
    NOT_YET_ACTIVE = "not_yet_active"
    """The as-of date is before created: the risk had not been accepted yet."""

    @property
    def in_force(self) -> bool:
        """Whether the exception covers patches."""
        return self in (ExceptionState.ACTIVE, ExceptionState.EXPIRING)


def today_utc(as_of: datetime) -> date:
    """The as-of date in UTC, the day exceptions are judged on."""
    return as_of.astimezone(UTC).date()


def state_on(entry: ExceptionEntry, as_of: datetime, warning_days: int) -> ExceptionState:
    """In force from the start of `created` through the end of `expires_on` (UTC days); expiring near the end."""
    today = today_utc(as_of)
    if today < entry.created:
        return ExceptionState.NOT_YET_ACTIVE
    if today > entry.expires_on:
        return ExceptionState.EXPIRED
    if (entry.expires_on - today).days <= warning_days:
        return ExceptionState.EXPIRING
    return ExceptionState.ACTIVE


@dataclass(frozen=True)
class ExceptionOutcome:
    """What one exception did in this scan."""

    entry: ExceptionEntry
    state: ExceptionState
    days_to_expiry: int
    """expires_on minus the as-of date in days: 0 on the last day, negative once expired."""
    matched_machines: tuple[str, ...]
    """In-scope machine ids the selector matches (sorted), whatever the state."""
    covered_patches: tuple[str, ...] = ()
    """Patch keys of the overdue patches it covers (sorted; empty unless in force)."""
    excepted_machines: tuple[str, ...] = ()
    """Machines now compliant_with_exception whose overdue patches it helped cover (sorted)."""


@dataclass(frozen=True)
class Applied:
    """The fleet after the register: verdicts, groups and patches carry the exceptions that cover them."""

    verdicts: list[MachineVerdict]
    groups: list[GroupVerdict]
    patches: list[OverduePatch]
    outcomes: list[ExceptionOutcome]
    warnings: list[ExceptionWarning]


def selects(entry: ExceptionEntry, machine: Machine) -> bool:
    """Whether the selector matches: every selector key given must match; any value within a key may."""
    if entry.machine_ids and machine.machine_id.lower() not in entry.machine_ids:
        return False
    if entry.subscriptions and machine.subscription_id.lower() not in entry.subscriptions:
        return False
    if entry.resource_groups:
        name = machine.resource_group.lower()
        rg_id = f"/subscriptions/{machine.subscription_id.lower()}/resourcegroups/{name}"
        if not any(rg.rstrip("/") in (name, rg_id) for rg in entry.resource_groups):
            return False
    for key, values in entry.tags.items():
        wanted = key.lower()
        if not any(k.lower() == wanted and v.strip() in values for k, v in machine.tags.items()):
            return False
    return True


def _classes_ok(entry: ExceptionEntry, classifications: Iterable[str], sla: Mapping[str, int]) -> bool:
    # Narrowed to classifications: every enforced classification of the patch must be listed, so an exception
    # for Security patches never waives a patch that is Critical too.
    if not entry.classifications:
        return True
    enforced = [c for c in classifications if c in sla]
    return bool(enforced) and all(c in entry.classifications for c in enforced)


def _names_ok(entry: ExceptionEntry, patch: OverduePatch) -> bool:
    kb = kb_number(patch.kb_id) if patch.kb_id else None
    return (kb is not None and kb in entry.kb_ids) or patch.name.strip().lower() in entry.packages


def apply_exceptions(
    register: Iterable[ExceptionEntry],
    *,
    verdicts: list[MachineVerdict],
    groups: list[GroupVerdict],
    patches: list[OverduePatch],
    sla: Mapping[str, int],
    as_of: datetime,
    warning_days: int,
) -> Applied:
    """Judge each exception's state and reach, then mark what the ones in force cover."""
    entries = list(register)
    if not entries:
        return Applied(verdicts, groups, patches, [], [])
    states = {e.id: state_on(e, as_of, warning_days) for e in entries}
    matched = {e.id: tuple(sorted(v.machine.machine_id for v in verdicts if selects(e, v.machine))) for e in entries}
    selected: dict[str, list[ExceptionEntry]] = defaultdict(list)
    for entry in entries:
        if states[entry.id].in_force:
            for machine_id in matched[entry.id]:
                selected[machine_id].append(entry)
    new_groups, patch_ids = _cover_groups(groups, patches, selected, sla)
    new_patches = [replace(p, exceptions=patch_ids[p.patch_key]) if p.patch_key in patch_ids else p for p in patches]
    new_verdicts = _judge_machines(verdicts, new_groups, new_patches)

    covered: dict[str, set[str]] = defaultdict(set)
    for patch in new_patches:
        for ident in patch.exceptions:
            covered[ident].add(patch.patch_key)
    excepted: dict[str, set[str]] = defaultdict(set)
    for verdict in new_verdicts:
        if verdict.status is Status.COMPLIANT_WITH_EXCEPTION:
            for ident in verdict.exceptions:
                excepted[ident].add(verdict.machine.machine_id)
    today = today_utc(as_of)
    outcomes = sorted(
        (
            ExceptionOutcome(
                e,
                states[e.id],
                (e.expires_on - today).days,
                matched[e.id],
                tuple(sorted(covered[e.id])),
                tuple(sorted(excepted[e.id])),
            )
            for e in entries
        ),
        key=lambda o: (o.entry.id.lower(), o.entry.id),
    )
    return Applied(new_verdicts, new_groups, new_patches, outcomes, _warnings(outcomes, warning_days))


def _cover_groups(
    groups: list[GroupVerdict],
    patches: list[OverduePatch],
    selected: Mapping[str, list[ExceptionEntry]],
    sla: Mapping[str, int],
) -> tuple[list[GroupVerdict], dict[str, tuple[str, ...]]]:
    """Each overdue group with the exceptions that cover all of it, and each covered patch's exceptions."""
    by_group: dict[tuple[str, str], list[OverduePatch]] = defaultdict(list)
    for patch in patches:
        by_group[(patch.machine_id, patch.classifications_text)].append(patch)
    patch_ids: dict[str, tuple[str, ...]] = {}
    out: list[GroupVerdict] = []
    for verdict in groups:
        group = verdict.group
        eligible = [e for e in selected.get(group.machine_id, ()) if _classes_ok(e, group.classifications, sla)]
        if not verdict.overdue or not eligible:
            out.append(verdict)
            continue
        whole = [e.id for e in eligible if not e.narrowed_to_patches]
        members = by_group.get((group.machine_id, group.classifications_text), [])
        for patch in members:
            named = whole + [e.id for e in eligible if e.narrowed_to_patches and _names_ok(e, patch)]
            if named:
                patch_ids[patch.patch_key] = tuple(sorted(set(named)))
        # Without a whole-group exception, every overdue patch of the group must be named by one; a group whose
        # patches the detail query did not return cannot be shown to be covered.
        if whole or (members and all(p.patch_key in patch_ids for p in members)):
            ids = set(whole).union(*(patch_ids.get(p.patch_key, ()) for p in members))
            out.append(replace(verdict, covered_by=tuple(sorted(ids))))
        else:
            out.append(verdict)
    return out, patch_ids


def _judge_machines(
    verdicts: list[MachineVerdict], groups: list[GroupVerdict], patches: list[OverduePatch]
) -> list[MachineVerdict]:
    """non_compliant -> compliant_with_exception when every overdue group is covered; unknown stays unknown."""
    overdue: dict[str, list[GroupVerdict]] = defaultdict(list)
    touching: dict[str, set[str]] = defaultdict(set)
    for group in groups:
        if group.overdue:
            overdue[group.group.machine_id].append(group)
        touching[group.group.machine_id].update(group.covered_by)
    for patch in patches:
        touching[patch.machine_id].update(patch.exceptions)
    out = []
    for verdict in verdicts:
        mine = overdue.get(verdict.machine.machine_id, [])
        status = verdict.status
        if status is Status.NON_COMPLIANT and mine and all(g.covered_by for g in mine):
            status = Status.COMPLIANT_WITH_EXCEPTION
        ids = tuple(sorted(touching.get(verdict.machine.machine_id, ())))
        out.append(replace(verdict, status=status, exceptions=ids) if ids or status is not verdict.status else verdict)
    return out


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def _warnings(outcomes: list[ExceptionOutcome], warning_days: int) -> list[ExceptionWarning]:
    warnings = []
    for o in outcomes:
        e = o.entry
        if o.state is ExceptionState.EXPIRING:
            when = "on the as-of date" if o.days_to_expiry == 0 else f"{_days(o.days_to_expiry)} after the as-of date"
            warnings.append(
                ExceptionWarning(
                    e.id,
                    "expiring",
                    f"exception {e.id!r} (owner {e.owner}, ticket {e.ticket}) expires on {e.expires_on}, {when} "
                    f"(warning window {_days(warning_days)}); renew it after review or patch the machines",
                )
            )
        if not o.matched_machines:
            warnings.append(
                ExceptionWarning(
                    e.id,
                    "matches_nothing",
                    f"exception {e.id!r} matches no machine in scope; check its selector",
                )
            )
    return warnings


def expiry_checks(
    outcomes: Iterable[ExceptionOutcome], query: str = REGISTER_EVIDENCE
) -> list[tuple[Threshold, float | None]]:
    """One check per exception: days past its expiry must be 0, so an expired exception is a breach."""
    return [
        (
            Threshold(
                "exception_expired", "exception", o.entry.id, 0, "max", "days past the expiry date", "days", query
            ),
            float(max(-o.days_to_expiry, 0)),
        )
        for o in outcomes
    ]


def rules_text(*, max_days: int, warning_days: int) -> list[str]:
    """The exception rules as sentences with this run's parameters (summary.json `exceptions_rules`)."""
    return [
        "Risk-acceptance exceptions come from the register exceptions.toml (kept in the pack as "
        f"{REGISTER_EVIDENCE}). Each names an owner, a justification, a ticket, a created date and an expires_on "
        f"date at most {_days(max_days)} after created.",
        "An exception selects machines by ARM id (ignoring case), tag (key ignoring case, value exactly), "
        "subscription and resource group (ignoring case). A machine must match every kind of selector the exception "
        "gives, and any one value within each.",
        "An exception is in force from the start of its created date through the end of its expires_on date, in "
        "UTC: it is active while the as-of date is on or before expires_on and expired after it.",
        "An exception in force covers the selected machines' overdue patches: a whole overdue group (classification "
        "set) when it names no KB or package, otherwise only the overdue patches with the KB numbers or package "
        "names it lists (from the overdue_patches query). Narrowed to classifications, it covers a patch only when "
        "every SLA classification of the patch is listed.",
        "A machine whose assessment is current and whose overdue enforced patches are all covered is "
        "compliant_with_exception. It counts as compliant (in `compliant` and the compliance rate); "
        "compliant_with_exception, exception_rate and compliance_rate_without_exceptions (the rate had no exception "
        "applied) are reported beside it. A machine with any uncovered overdue patch stays non_compliant, and an "
        "exception never changes an unknown status.",
        "An expired exception covers nothing and raises a breach (rule exception_expired). An exception whose "
        f"expires_on is at most {_days(warning_days)} after the as-of date raises a warning, as does one that matches "
        "no machine; warnings are listed in exception_warnings and are not breaches.",
        "by_classification's overdue_machines, and the max_overdue_machines thresholds, count overdue patches whether "
        "or not an exception covers them.",
    ]


def exception_summary(outcome: ExceptionOutcome) -> ExceptionSummary:
    """The summary.json `exceptions` row of one exception."""
    e = outcome.entry
    return ExceptionSummary(
        id=e.id,
        owner=e.owner,
        justification=e.justification,
        ticket=e.ticket,
        created=e.created.isoformat(),
        expires_on=e.expires_on.isoformat(),
        status=outcome.state.value,
        days_to_expiry=outcome.days_to_expiry,
        selector=Selector(
            machine_ids=tuple(e.machine_ids),
            tags={k: tuple(v) for k, v in e.tags.items()},
            subscriptions=tuple(e.subscriptions),
            resource_groups=tuple(e.resource_groups),
        ),
        narrowed_to=Narrowing(
            classifications=tuple(e.classifications), kb_ids=tuple(e.kb_ids), packages=tuple(e.packages)
        ),
        matched_machines=len(outcome.matched_machines),
        matched_machine_ids=outcome.matched_machines,
        patches_covered=len(outcome.covered_patches),
        machines_excepted=len(outcome.excepted_machines),
    )


def scan_notes(warnings: Iterable[ExceptionWarning], counts: StatusCounts) -> list[str]:
    """Lines the CLI prints as warnings: the register's warnings, and the rate without exceptions whenever
    exceptions changed it, so an exception never raises the headline figure unremarked."""
    lines = [w.message for w in warnings]
    excepted = counts.compliant_with_exception
    if excepted:
        machines = "1 machine is" if excepted == 1 else f"{excepted} machines are"
        lines.append(
            f"{machines} compliant only through exceptions: compliance rate {counts.compliance_rate:.2f}% with "
            f"exceptions, {counts.compliance_rate_without_exceptions:.2f}% without"
        )
    return lines
