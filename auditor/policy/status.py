"""`auditor policy status`: compliance per assignment, from the latest policy states summary."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from auditor.policy.arm import PolicyArm
from auditor.policy.ids import id_key


@dataclass(frozen=True)
class AssignmentCompliance:
    """Compliance of the resources one assignment evaluates."""

    scope: str
    assignment_id: str
    owned: bool
    """True for an assignment of this ring deployed by auditor."""
    compliant: int
    non_compliant: int
    other: int
    """Resources in any other state (exempt, conflicting, unknown...)."""
    non_compliant_policies: int

    @property
    def compliance_rate(self) -> float | None:
        """100 × compliant / (compliant + non-compliant), half-up to 2 decimals; None when nothing was judged."""
        judged = self.compliant + self.non_compliant
        if judged == 0:
            return None
        rate = Decimal(100 * self.compliant) / Decimal(judged)
        return float(rate.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _counts(results: Mapping[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for detail in results.get("resourceDetails") or []:
        state = str(detail.get("complianceState", "")).casefold()
        out[state] = out.get(state, 0) + int(detail.get("count") or 0)
    return out


def compliance_status(arm: PolicyArm, scope: str, owned_ids: set[str]) -> tuple[AssignmentCompliance, ...]:
    """One row per assignment that evaluates resources under the scope."""
    rows = []
    for item in arm.summarize(scope):
        results = item.get("results") or {}
        counts = _counts(results)
        compliant, non_compliant = counts.pop("compliant", 0), counts.pop("noncompliant", 0)
        assignment_id = str(item.get("policyAssignmentId", ""))
        rows.append(
            AssignmentCompliance(
                scope,
                assignment_id,
                id_key(assignment_id) in owned_ids,
                compliant,
                non_compliant,
                sum(counts.values()),
                int(results.get("nonCompliantPolicies") or 0),
            )
        )
    return tuple(sorted(rows, key=lambda r: (not r.owned, id_key(r.assignment_id))))
