"""The risk-acceptance register as the PDF shows it: every exception with its state, reach and warnings, and the
figures with and without exceptions side by side.

Read from summary.json with `.get()`: the block is newer than the required keys. A pack written before exceptions
existed applied none, so its rate without exceptions is its rate.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from auditor.reports.pdf.caps import TOP_ROWS, cap

STATE_ORDER = ("expired", "expiring", "not_yet_active", "active")
"""Capped lists keep the exceptions that need action first."""
MAX_JUSTIFICATION = 240
"""Characters of a justification the PDF prints; the workbook's Exceptions sheet has every word."""


def _mappings(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def honesty(row: Mapping[str, Any]) -> dict[str, Any]:
    """A group's (or the fleet's) rate with exceptions, without them, and the machines only exceptions made compliant."""
    if "compliance_rate_without_exceptions" not in row:
        return {"rate": row.get("compliance_rate"), "without": row.get("compliance_rate"), "excepted": 0}
    return {
        "rate": row.get("compliance_rate"),
        "without": row.get("compliance_rate_without_exceptions"),
        "excepted": row.get("compliant_with_exception") or 0,
    }


def clip(value: Any, limit: int = MAX_JUSTIFICATION) -> str:
    """Text cut at a word boundary to at most `limit` characters, with an ellipsis when cut."""
    text = "" if value is None else str(value)
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:.") + "…"


def _rank(row: Mapping[str, Any]) -> tuple[int, str]:
    status = str(row.get("status"))
    return (STATE_ORDER.index(status) if status in STATE_ORDER else len(STATE_ORDER), str(row.get("id")))


def exceptions_view(summary: Mapping[str, Any]) -> dict[str, Any] | None:
    """The register (expired and expiring first), its warnings and rules; None when the scan applied no register."""
    register = summary.get("exceptions")
    if not isinstance(register, list):
        return None
    rows = _mappings(register)
    warnings = _mappings(summary.get("exception_warnings"))
    by_id: dict[str, list[str]] = {}
    for warning in warnings:
        by_id.setdefault(str(warning.get("exception")), []).append(str(warning.get("kind", "")).replace("_", " "))
    shown = cap(sorted(rows, key=_rank), TOP_ROWS)
    return {
        "rows": shown,
        "clipped": any(len(str(row.get("justification") or "")) > MAX_JUSTIFICATION for row in shown.rows),
        "states": Counter(str(row.get("status")) for row in rows),
        "warned": by_id,
        "warnings": cap(warnings, TOP_ROWS),
        "rules": [str(text) for text in summary.get("exceptions_rules") or [] if isinstance(text, str)],
        "figures": honesty(summary),
    }
