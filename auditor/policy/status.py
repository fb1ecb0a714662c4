"""`auditor policy status`: compliance per assignment, from the latest policy states summary."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from auditor.jsonvalue import JsonObject, as_array, as_object
from auditor.policy.arm import PolicyArm
from auditor.policy.ids import id_key
from auditor.policy.narrow import as_count


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


def _counts(results: JsonObject) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in as_array(results.get("resourceDetails")):
        detail = as_object(item)
        state = str(detail.get("complianceState", "")).casefold()
        out[state] = out.get(state, 0) + as_count(detail.get("count"))
    return out


def compliance_status(arm: PolicyArm, scope: str, owned_ids: set[str]) -> tuple[AssignmentCompliance, ...]:
    """One row per assignment that evaluates resources under the scope."""
    rows = []
    for item in arm.summarize(scope):
        results = as_object(item.get("results"))
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
                as_count(results.get("nonCompliantPolicies")),
            )
        )
    return tuple(sorted(rows, key=lambda r: (not r.owned, id_key(r.assignment_id))))
