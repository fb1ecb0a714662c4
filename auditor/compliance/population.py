"""Scope and population: how the resource rows a scan read became machines, and which machines could be judged.

An auditor sampling a population first reconciles it: rows read -> distinct machines -> judged or unknown, and why
each unknown one could not be judged. Power and connection state explain most unknowns (a deallocated VM or a
disconnected Arc server runs no assessment), so each state carries its own judged/unknown split.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable

from auditor.compliance.rules import AssessmentState, MachineVerdict, Status
from auditor.compliance.summary import Population, PopulationGroup, UnknownReasons

POWER_STATES = ("deallocated", "running", "stopped", "unknown")
"""Azure VM power states as the population counts them (sorted, as summary lists are)."""
CONNECTION_STATES = ("Connected", "Disconnected", "Expired", "unknown")
"""Arc machine connection states (`properties.status`), in ARM's spelling, plus `unknown` for anything else."""
UNKNOWN_REASONS = (AssessmentState.NONE, AssessmentState.FAILED, AssessmentState.STALE)
"""Why a machine's status is unknown: its assessment is missing, failed or stale."""

# ARG reports transitional codes while a VM changes state; each counts as the state it is moving to, since that is
# what decides whether the VM can run an assessment in the coming days.
_POWER_CODES = {
    "powerstate/running": "running",
    "powerstate/starting": "running",
    "powerstate/stopped": "stopped",
    "powerstate/stopping": "stopped",
    "powerstate/deallocated": "deallocated",
    "powerstate/deallocating": "deallocated",
}
_CONNECTION = {state.lower(): state for state in CONNECTION_STATES[:3]}


def power_state(code: str) -> str:
    """A VM's power state from `properties.extended.instanceView.powerState.code` (case ignored); `unknown` when
    ARG has no code for it or the code is not one of Azure's."""
    return _POWER_CODES.get(code.strip().lower(), "unknown")


def connection_state(status: str) -> str:
    """An Arc machine's connection state from `properties.status` (case ignored); `unknown` otherwise."""
    return _CONNECTION.get(status.strip().lower(), "unknown")


def _split(verdicts: Iterable[MachineVerdict]) -> tuple[int, int, UnknownReasons]:
    """(machines, judged, unknown reasons) over some machines."""
    machines = judged = 0
    reasons: Counter[str] = Counter()
    for verdict in verdicts:
        machines += 1
        if verdict.status is Status.UNKNOWN:
            reasons[verdict.assessment.value] += 1
        else:
            judged += 1
    return machines, judged, UnknownReasons(**{reason.value: reasons[reason.value] for reason in UNKNOWN_REASONS})


def _by(
    verdicts: Iterable[MachineVerdict], key: Callable[[MachineVerdict], str], keys: Iterable[str] = ()
) -> tuple[PopulationGroup, ...]:
    """One group per key value, sorted by key; every one of `keys` is listed, even with no machine."""
    groups: dict[str, list[MachineVerdict]] = defaultdict(list)
    for name in keys:
        groups[name] = []
    for verdict in verdicts:
        groups[key(verdict)].append(verdict)
    out = []
    for name in sorted(groups):
        machines, judged, reasons = _split(groups[name])
        out.append(
            PopulationGroup(
                key=name, machines=machines, judged=judged, unknown=machines - judged, unknown_reasons=reasons
            )
        )
    return tuple(out)


def population_summary(resource_rows: int, verdicts: list[MachineVerdict]) -> Population:
    """summary.json's `population`.

    `resource_rows` is the number of machine_facts rows read: one per VM or Arc resource row and latest
    assessment, so a machine ARG lists twice (an id in two spellings, or two assessment rows) is one machine.
    `by_power_state` covers the Azure VMs and `by_connection_state` the Arc machines; both list every state.
    """
    vms = [v for v in verdicts if v.machine.platform == "Azure"]
    arc = [v for v in verdicts if v.machine.platform == "Arc"]
    machines, judged, reasons = _split(verdicts)
    return Population(
        resource_rows=resource_rows,
        rows_folded=resource_rows - len(verdicts),
        machines=machines,
        judged=judged,
        unknown=machines - judged,
        unknown_reasons=reasons,
        by_platform=_by(verdicts, lambda v: v.machine.platform),
        by_power_state=_by(vms, lambda v: power_state(v.machine.power_state), POWER_STATES),
        by_connection_state=_by(arc, lambda v: connection_state(v.machine.power_state), CONNECTION_STATES),
    )
