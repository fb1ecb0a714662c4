"""The policy cross-check: Azure Policy's verdicts per assignment, and where policy and the facts disagree."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial

import pyarrow as pa

from auditor.compliance import columns
from auditor.compliance.coverage import has_periodic_assessment
from auditor.compliance.facts import Machine, machine_ids
from auditor.compliance.summary import PolicyAssignment, PolicyMismatch, PolicyStates

PERIODIC_ASSESSMENT = "periodic_assessment"
SCHEDULE = "schedule"
DEFINITION_KINDS: Mapping[str, str] = {
    # Built-in Update Manager definitions (by name, i.e. the last id segment).
    "bd876905-5b84-4f73-ab2d-2e7a7c4568d9": PERIODIC_ASSESSMENT,  # audit: periodically check for missing updates
    "59efceea-0c96-497e-a4a1-4eb2290dac15": PERIODIC_ASSESSMENT,  # modify: Azure VMs
    "bfea026e-043f-4ff4-9d1b-bf301ca7ff46": PERIODIC_ASSESSMENT,  # modify: Arc-enabled servers
    "ba0df93e-e4ac-479a-aac2-134bbae39a1a": SCHEDULE,  # DINE: schedule recurring updates
    # auditor's own definitions in policies/definitions.
    "aum-periodic-assessment": PERIODIC_ASSESSMENT,
    "aum-periodic-assessment-audit": PERIODIC_ASSESSMENT,
    "aum-schedule-patching": SCHEDULE,
}
"""Policy definitions whose Compliant verdict claims something the facts can check."""
_STATE_ORDER = ("NonCompliant", "Conflict", "Unknown", "Exempt", "Compliant")


@dataclass(slots=True)  # not frozen, for speed: see facts.Machine
class PolicyState:
    """One policy state row of a machine."""

    machine_id: str
    state: str
    assignment_id: str
    assignment_name: str
    definition_name: str
    reference_id: str
    kind: str
    """periodic_assessment, schedule or other (from the definition)."""


def build_states(table: pa.Table, in_scope: Mapping[str, Machine]) -> list[PolicyState]:
    """Policy states of in-scope machines."""
    text = partial(columns.texts, table)
    found = zip(
        machine_ids(table, "resourceId", in_scope),
        columns.converted(table, "complianceState", _state),
        text("policyAssignmentId"),
        text("policyAssignmentName"),
        columns.converted(table, "policyDefinitionId", _definition),
        text("policyDefinitionReferenceId"),
        strict=True,
    )
    return [
        PolicyState(
            machine_id=machine_id,
            state=state,
            assignment_id=assignment_id,
            assignment_name=assignment_name,
            definition_name=definition,
            reference_id=reference_id,
            kind=DEFINITION_KINDS.get(definition, "other"),
        )
        for machine_id, state, assignment_id, assignment_name, definition, reference_id in found
        if machine_id in in_scope
    ]


def _state(text: str | None) -> str:
    return text or "Unknown"


def _definition(text: str | None) -> str:
    """The definition's name: the last segment of its id, lower-cased."""
    return (text or "").rstrip("/").rsplit("/", 1)[-1].lower()


def _severity(state: str) -> tuple[int, str]:
    """Sort key putting the worst state first: _STATE_ORDER, then states it does not list in sorted order."""
    return (_STATE_ORDER.index(state), "") if state in _STATE_ORDER else (len(_STATE_ORDER), state)


def policy_summary(
    states: list[PolicyState], machines: Mapping[str, Machine], scheduled: Mapping[str, set[str]]
) -> tuple[PolicyStates, tuple[PolicyMismatch, ...]]:
    """Per-assignment machine counts (a machine takes its worst state over the assignment's policies), and the
    machines Compliant for a periodic-assessment or schedule policy whose facts say otherwise."""
    # Assignment -> machine -> the machine's worst state so far: a running minimum, not a set per machine.
    worst: dict[str, dict[str, str]] = defaultdict(dict)
    names: dict[str, str] = {}
    kinds: dict[str, set[str]] = defaultdict(set)
    mismatches: list[PolicyMismatch] = []
    for state in states:
        key = state.assignment_id.lower()
        seen = worst[key].get(state.machine_id)
        worst[key][state.machine_id] = state.state if seen is None else min(seen, state.state, key=_severity)
        names[key] = state.assignment_name
        kinds[key].add(state.kind)
        if state.state != "Compliant" or state.kind == "other":
            continue
        machine = machines[state.machine_id]
        if state.kind == PERIODIC_ASSESSMENT and not has_periodic_assessment(machine):
            observed = f"assessmentMode is {machine.assessment_mode or 'not set'}"
        elif state.kind == SCHEDULE and not scheduled.get(state.machine_id):
            observed = "no maintenance configuration covers the machine"
        else:
            continue
        mismatches.append(
            PolicyMismatch(
                machine_id=state.machine_id,
                name=machine.name,
                assignment=state.assignment_name,
                policy=state.definition_name,
                kind=state.kind,
                policy_state=state.state,
                observed=observed,
            )
        )
    assignments = []
    for key in sorted(worst):
        counts = {"Compliant": 0, "NonCompliant": 0, "Exempt": 0}
        other = 0
        for machine_state in worst[key].values():
            if machine_state in counts:
                counts[machine_state] += 1
            else:
                other += 1
        assignments.append(
            PolicyAssignment(
                assignment=names[key],
                assignment_id=key,
                kinds=tuple(sorted(kinds[key])),
                machines=len(worst[key]),
                compliant=counts["Compliant"],
                non_compliant=counts["NonCompliant"],
                exempt=counts["Exempt"],
                other=other,
            )
        )
    unique = {(m.machine_id, m.assignment, m.policy): m for m in mismatches}
    ordered = tuple(unique[k] for k in sorted(unique))
    return PolicyStates(assignments=tuple(assignments), mismatches=len(ordered)), ordered
