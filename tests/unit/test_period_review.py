"""The monthly review's figures from recorded summaries: months, environments, exceptions and failure causes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from auditor.compliance.period import build_review, month_bounds


def test_month_bounds() -> None:
    assert month_bounds("2026-12") == (datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    for bad in ("2026-13", "2026-1", "26-11", "2026-11-01"):
        with pytest.raises(ValueError, match="YYYY-MM"):
            month_bounds(bad)


def exception(key: str, created: str, expires: str, status: str) -> dict[str, Any]:
    return {"id": key, "owner": "o", "ticket": "t", "created": created, "expires_on": expires, "status": status}


def scan(as_of: str, envs: dict[str, float], exceptions: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "machines": 10,
        "compliance_rate": 90.0,
        "breaches": 1,
        "by_environment": [{"key": k, "compliance_rate": v} for k, v in envs.items()],
        "exceptions": exceptions,
        **extra,
    }
    return {"run_id": as_of, "as_of": as_of, "scope_key": "s", "complete": True, "breach_rules": {}, "summary": summary}


def test_review_of_three_scans() -> None:
    old = exception("EX-1", "2026-09-01", "2027-01-31", "active")
    opened = exception("EX-2", "2026-11-05", "2027-02-01", "active")
    lapsing = exception("EX-3", "2026-08-01", "2026-11-12", "expiring")
    lapsed = {**lapsing, "status": "expired"}
    later = exception("EX-4", "2026-08-01", "2026-11-28", "expiring")
    warn = {
        "exception_warnings": [{"exception": "EX-3", "kind": "expiring"}, {"exception": "EX-4", "kind": "expiring"}]
    }
    fail1 = {"installations": {"top_failure_codes": [{"code": "A", "count": 5}, {"code": "B", "count": 2}]}}
    fail2 = {"installations": {"top_failure_codes": [{"code": "A", "count": 7}], "runs": 40, "success_rate": 80.0}}
    scans = [
        scan("2026-11-02T00:00:00Z", {"Prod": 90.0}, [old, lapsing], **warn, **fail1),
        scan("2026-11-09T00:00:00Z", {"Prod": 95.0, "Dev": 50.0}, [old, opened, lapsing, later], **warn),
        scan("2026-11-16T00:00:00Z", {"Prod": 97.5}, [old, opened, lapsed, later], **fail2),
    ]
    review = build_review("2026-11", scans)
    assert review["by_environment"] == [
        {"key": "Dev", "rates": [None, 50.0, None], "lowest": 50.0, "highest": 50.0, "last": None},
        {"key": "Prod", "rates": [90.0, 95.0, 97.5], "lowest": 90.0, "highest": 97.5, "last": 97.5},
    ]
    ids = {kind: [e["id"] for e in review["exceptions"][kind]] for kind in ("opened", "expiring", "expired")}
    # EX-3 was warned of, then expired: it is reported once, as expired. EX-4 expires after the last scan.
    assert ids == {"opened": ["EX-2"], "expiring": ["EX-4"], "expired": ["EX-3"]}
    # Failure causes come from the last scan's window (no double counting), with how many scans reported each.
    assert review["installations"]["failure_causes"] == [{"code": "A", "runs": 7, "scans_reporting": 2}]
    assert review["installations"]["last_scan"]["success_rate"] == 80.0
    assert review["remediation"]["left_pending_list"] == {"patches": 0, "p50_days": None, "p90_days": None}
    assert [b["breaches"] for b in review["breaches"]] == [1, 1, 1]


def test_remediations_outside_the_month_are_left_out() -> None:
    rows = [
        {"first_seen": datetime(2026, 10, 1, tzinfo=UTC), "remediated_by": datetime(2026, 11, 9, tzinfo=UTC)},
        {"first_seen": datetime(2026, 11, 2, tzinfo=UTC), "remediated_by": datetime(2026, 11, 16, tzinfo=UTC)},
        {"first_seen": datetime(2026, 11, 2, tzinfo=UTC), "remediated_by": datetime(2026, 12, 1, tzinfo=UTC)},
    ]
    review = build_review("2026-11", [scan("2026-11-16T00:00:00Z", {}, [])], rows)
    assert review["remediation"]["left_pending_list"] == {"patches": 2, "p50_days": 14, "p90_days": 39}
