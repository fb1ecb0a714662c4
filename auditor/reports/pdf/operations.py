"""Installation health, maintenance schedules (with the concurrency heat map) and the policy cross-check, as the PDF
shows them.

These summary.json blocks are newer than its required keys and may gain fields, so everything here reads with
`.get()`, skips rows of an unexpected shape, and returns None for a block the scan did not produce.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from auditor.reports.pdf.caps import TOP_GROUPS, TOP_ROWS, cap
from auditor.reports.pdf.heatmap import heat_map


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
        "concurrency": concurrency_view(block.get("concurrency")),
        "unscheduled": block.get("unscheduled_machines"),
        "multiple": block.get("multiple_configurations_machines"),
        "only_expired": block.get("only_expired_configurations_machines"),
        "unassigned": cap([str(n) for n in block.get("unassigned_configurations") or []], TOP_ROWS),
        "expired": cap([str(n) for n in block.get("expired_configurations") or []], TOP_ROWS),
        "problems": cap(
            [
                f"{p.get('key')}: {p.get('message')}" if isinstance(p, Mapping) else str(p)
                for p in block.get("problems") or []
            ],
            TOP_ROWS,
        ),
        "rules": [(str(k), str(v)) for k, v in rules.items() if isinstance(v, str)]
        if isinstance(rules, Mapping)
        else [],
    }


def concurrency_view(block: Any) -> dict[str, Any] | None:
    """The concurrency heat map and what the figures behind it say, or None without a 168-hour series."""
    if not isinstance(block, Mapping) or not isinstance(block.get("series"), list):
        return None
    series = [int(v) if isinstance(v, int | float) else 0 for v in block["series"]]
    limit = block.get("limit")
    limit = int(limit) if isinstance(limit, int | float) else max(series, default=0)
    try:
        monday: date | None = datetime.fromisoformat(str(block.get("week_start")).replace("Z", "+00:00")).date()
    except ValueError:
        monday = None
    chart = heat_map(series, limit=limit, week_start=monday)
    if chart is None:
        return None
    peak = block.get("peak") if isinstance(block.get("peak"), Mapping) else {}
    return {
        "chart": chart,
        "limit": limit,
        "week_start": block.get("week_start"),
        "peak": peak,
        "peaks": len(_mappings(block.get("peaks"))),
        "recommendation": block.get("recommendation"),
        "rule": block.get("rule"),
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
