"""The callable core of `auditor policy`: each CLI command is one call here."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from auditor.policy.arm import PolicyArm, read_deployed
from auditor.policy.config import PolicySettings
from auditor.policy.deploy import Applied, DeployResult, RetryPolicy, apply_plan
from auditor.policy.desired import desired_state
from auditor.policy.gate import GateResult, SummaryReader, check_gate, enforce_gate
from auditor.policy.ids import id_key
from auditor.policy.load import load_tree
from auditor.policy.model import DesiredState
from auditor.policy.plan import Plan, check_saved, make_plan, read_plan
from auditor.policy.remediate import RemediationOutcome, remediate
from auditor.policy.status import AssignmentCompliance, compliance_status
from auditor.policy.validate import require_valid, validate_tree


def prepare(settings: PolicySettings, ring: str, now: datetime | None = None) -> DesiredState:
    """Load and validate the policies/ tree, then build what `ring` wants. Invalid files stop here."""
    tree = load_tree(settings.resolved_policies_dir())
    report = validate_tree(
        tree,
        rings=settings.rings,
        definition_scope=settings.definition_scope,
        max_exemption_days=settings.max_exemption_days,
        now=now,
    )
    require_valid(report)
    return desired_state(tree, settings, ring)


def _plan(
    settings: PolicySettings, ring: str, arm: PolicyArm, prune: bool, now: datetime | None
) -> tuple[DesiredState, Plan]:
    desired = prepare(settings, ring, now)
    return desired, make_plan(desired, read_deployed(arm, desired), prune=prune, now=now)


def plan_ring(
    settings: PolicySettings, ring: str, arm: PolicyArm, *, prune: bool = False, now: datetime | None = None
) -> Plan:
    """What deploy would do for `ring`; exemption expiries are judged at `now` (default: the current time)."""
    return _plan(settings, ring, arm, prune, now)[1]


class DeployHooks(Protocol):
    """How deploy reports progress and asks for confirmation (the CLI prints with rich)."""

    def gate(self, result: GateResult | None) -> None:
        """The gate check, before anything else."""

    def plan(self, plan: Plan) -> None:
        """The plan about to be applied."""

    def confirm(self, plan: Plan) -> bool:
        """Whether to apply a plan that has changes."""
        ...

    def applied(self, step: Applied) -> None:
        """One change made."""


@dataclass(frozen=True)
class DeployOutcome:
    """What `deploy_ring` did."""

    gate: GateResult | None
    plan: Plan
    result: DeployResult | None
    """None when there was nothing to do or the user declined."""
    declined: bool = False
    remediations: tuple[RemediationOutcome, ...] = ()


def retry_policy(settings: PolicySettings) -> RetryPolicy:
    """Role-assignment backoff from config."""
    return RetryPolicy(settings.principal_retry_attempts, settings.principal_retry_delay_seconds)


def deploy_ring(
    settings: PolicySettings,
    ring: str,
    arm: PolicyArm,
    *,
    hooks: DeployHooks,
    reader: SummaryReader | None,
    prune: bool = False,
    plan_file: Path | None = None,
    force: bool = False,
    with_remediation: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    now: datetime | None = None,
) -> DeployOutcome:
    """Check the gate, plan (against a saved plan if given), confirm, apply, and optionally remediate."""
    gate = check_gate(settings, ring, reader, now)
    hooks.gate(gate)
    enforce_gate(gate, force=force)
    desired, plan = _plan(settings, ring, arm, prune, now)
    if plan_file is not None:
        check_saved(read_plan(plan_file), plan, plan_file)
    hooks.plan(plan)
    result = None
    if plan.has_changes:
        if not hooks.confirm(plan):
            return DeployOutcome(gate, plan, None, declined=True)
        result = apply_plan(plan, arm, retry=retry_policy(settings), sleep=sleep, on_applied=hooks.applied)
    outcomes: tuple[RemediationOutcome, ...] = ()
    if with_remediation:
        outcomes = _remediate(settings, desired, arm, sleep, clock, now)
    return DeployOutcome(gate, plan, result, remediations=outcomes)


def _remediate(
    settings: PolicySettings,
    desired: DesiredState,
    arm: PolicyArm,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    now: datetime | None,
) -> tuple[RemediationOutcome, ...]:
    deployed = arm.list_at("policyAssignment", desired.scope)
    return remediate(
        desired,
        deployed,
        arm,
        poll_seconds=settings.remediation_poll_seconds,
        timeout_seconds=settings.remediation_timeout_minutes * 60,
        sleep=sleep,
        clock=clock,
        now=now,
    )


def remediate_ring(
    settings: PolicySettings,
    ring: str,
    arm: PolicyArm,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    now: datetime | None = None,
) -> tuple[RemediationOutcome, ...]:
    """Remediate every DeployIfNotExists/Modify member of the ring's assignments and wait for the tasks."""
    return _remediate(settings, prepare(settings, ring, now), arm, sleep, clock, now)


def status(settings: PolicySettings, rings: list[str], arm: PolicyArm) -> tuple[AssignmentCompliance, ...]:
    """Compliance per assignment at each ring's scope."""
    rows: list[AssignmentCompliance] = []
    for ring in rings:
        desired = prepare(settings, ring)
        owned = {id_key(a.resource.id) for a in desired.assignments}
        rows.extend(compliance_status(arm, desired.scope, owned))
    return tuple(rows)


class HistoryFile:
    """The scan history file as a SummaryReader; a missing file reads as "no scan yet"."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def latest_summary(self, scope_key: str | None = None) -> Mapping[str, object] | None:
        """The latest complete scan's summary.json (of one estate, if scope_key is given)."""
        if not self.path.is_file():
            return None
        from auditor.history import HistoryStore

        with HistoryStore(self.path, read_only=True) as store:
            return store.latest_summary(scope_key)


def open_history(path: Path | None) -> SummaryReader:
    """The history at `path`, or at the default location (AUDITOR_STATE_DIR or the user state directory)."""
    if path is None:
        from auditor.history import default_path

        path = default_path()
    return HistoryFile(path)
