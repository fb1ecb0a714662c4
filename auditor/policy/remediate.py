"""Remediation: one task per DeployIfNotExists/Modify member of each deployed assignment, polled to the end."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from auditor.jsonvalue import JsonObject, as_object
from auditor.policy.arm import PolicyArm
from auditor.policy.ids import id_key, last_segment
from auditor.policy.model import DesiredState, Resource
from auditor.policy.narrow import as_count
from auditor.policy.ownership import is_owned

TERMINAL = frozenset({"succeeded", "failed", "canceled", "cancelled", "complete", "completed"})


@dataclass(frozen=True)
class RemediationOutcome:
    """How one remediation task ended."""

    assignment_id: str
    reference_id: str | None
    name: str
    state: str
    """ARM's provisioningState (Succeeded, Failed, Canceled), or TimedOut / NotDeployed."""
    total: int = 0
    succeeded: int = 0
    failed: int = 0

    @property
    def ok(self) -> bool:
        """True for a task that finished without failed deployments."""
        return self.state.casefold() in ("succeeded", "complete", "completed") and self.failed == 0


def task_name(assignment_id: str, reference_id: str | None, now: datetime) -> str:
    """A unique, readable remediation name."""
    member = re.sub(r"[^A-Za-z0-9-]+", "-", reference_id or "policy").strip("-")
    return f"{last_segment(assignment_id)}-{member}-{now.strftime('%Y%m%dT%H%M%SZ')}"[:200]


def _outcome(
    assignment_id: str, reference_id: str | None, name: str, body: JsonObject, state: str | None = None
) -> RemediationOutcome:
    props = as_object(body.get("properties"))
    status = as_object(props.get("deploymentStatus"))
    return RemediationOutcome(
        assignment_id,
        reference_id,
        name,
        state or str(props.get("provisioningState") or "Unknown"),
        as_count(status.get("totalDeployments")),
        as_count(status.get("successfulDeployments")),
        as_count(status.get("failedDeployments")),
    )


def remediate(
    desired: DesiredState,
    deployed_assignments: Sequence[Resource],
    arm: PolicyArm,
    *,
    poll_seconds: float,
    timeout_seconds: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    now: datetime | None = None,
) -> tuple[RemediationOutcome, ...]:
    """Start a task for every remediable member of the ring's deployed assignments and wait for all of them."""
    started_at = now or datetime.now(UTC)
    deployed = {id_key(a.id): a for a in deployed_assignments}
    outcomes: list[RemediationOutcome] = []
    running: list[tuple[str, str | None, str]] = []
    for wanted in desired.assignments:
        have = deployed.get(id_key(wanted.resource.id))
        if have is None or not is_owned(have, desired.owner_id):
            outcomes.extend(RemediationOutcome(wanted.resource.id, ref, "", "NotDeployed") for ref in wanted.remediable)
            continue
        for reference_id in wanted.remediable:
            name = task_name(wanted.resource.id, reference_id, started_at)
            arm.create_remediation(desired.scope, name, have.id, reference_id)
            running.append((have.id, reference_id, name))
    deadline = clock() + timeout_seconds
    while running:
        still: list[tuple[str, str | None, str]] = []
        for assignment_id, reference_id, name in running:
            body = arm.get_remediation(desired.scope, name)
            state = str(as_object(body.get("properties")).get("provisioningState") or "")
            if state.casefold() in TERMINAL:
                outcomes.append(_outcome(assignment_id, reference_id, name, body))
            elif clock() >= deadline:
                outcomes.append(_outcome(assignment_id, reference_id, name, body, state="TimedOut"))
            else:
                still.append((assignment_id, reference_id, name))
        running = still
        if running:
            sleep(poll_seconds)
    return tuple(sorted(outcomes, key=lambda o: (o.assignment_id, o.reference_id or "")))
