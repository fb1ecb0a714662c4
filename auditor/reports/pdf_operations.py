"""Installation health, maintenance schedules and the policy cross-check, as the PDF shows them.

These summary.json blocks are newer than its required keys and may gain fields, so everything here reads with
`.get()`, skips rows of an unexpected shape, and returns None for a block the scan did not produce.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from auditor.reports.pdf_caps import TOP_GROUPS, TOP_ROWS, cap


def _mappings(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def failure_patterns(summary: Mapping[str, Any]) -> dict[str, Any] | None:
    """Where installations fail (or overrun their window) markedly more often than the fleet, and the rule."""
    block = summary.get("failure_patterns")
    if not isinstance(block, Mapping):
        return None
    return {
        "rule": str(block.get("rule") or ""),
        "window_rule": str(block.get("window_rule") or ""),
        "fleet_failure_rate": block.get("fleet_failure_rate"),
        "flags": cap(_mappings(block.get("flags")), TOP_ROWS),
    }


def schedules_view(summary: Mapping[str, Any]) -> dict[str, Any] | None:
    """Maintenance configurations (largest first, capped), the machines they miss, and the rules applied."""
    block = summary.get("schedules")
    if not isinstance(block, Mapping):
        return None
    configurations = sorted(
        _mappings(block.get("configurations")), key=lambda c: (-int(c.get("machines") or 0), str(c.get("key") or ""))
    )
    rules = block.get("rules")
    return {
        "configurations": cap(configurations, TOP_GROUPS),
        "unscheduled": block.get("unscheduled_machines"),
        "multiple": block.get("multiple_configurations_machines"),
        "only_expired": block.get("only_expired_configurations_machines"),
        "unassigned": cap([str(n) for n in block.get("unassigned_configurations") or []], TOP_ROWS),
        "expired": cap([str(n) for n in block.get("expired_configurations") or []], TOP_ROWS),
        "problems": cap([str(p) for p in block.get("problems") or []], TOP_ROWS),
        "rules": [(str(k), str(v)) for k, v in rules.items() if isinstance(v, str)] if isinstance(rules, Mapping) else [],
    }


def policy_view(summary: Mapping[str, Any]) -> dict[str, Any] | None:
    """The policy cross-check (per-assignment counts and mismatches), or None when the scan has none.

    Read with `.get()` throughout: the block is newer than summary.json's required keys and may gain fields.
    """
    policy, mismatches = summary.get("policy"), summary.get("policy_mismatches")
    if not isinstance(policy, Mapping) and not isinstance(mismatches, list):
        return None
    policy = policy if isinstance(policy, Mapping) else {}
    assignments = [a for a in policy.get("assignments") or [] if isinstance(a, Mapping)]
    rows = [m for m in mismatches or [] if isinstance(m, Mapping)]
    count = policy.get("mismatches")
    return {
        "assignments": cap(sorted(assignments, key=_assignment_rank), TOP_GROUPS),
        "mismatches": cap(rows, TOP_GROUPS),
        "mismatch_count": count if isinstance(count, int) else len(rows),
    }


def _assignment_rank(row: Mapping[str, Any]) -> tuple[int, str]:
    # The assignments with most non-compliant machines first, so a capped list keeps the ones that matter.
    return (-int(row.get("non_compliant") or 0), str(row.get("assignment") or ""))
