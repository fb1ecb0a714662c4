"""The monthly review: what every scan recorded in one calendar month says, side by side.

Pure functions over the summaries history recorded (HistoryStore.summaries) and the patches history saw leave the
pending list (HistoryStore.remediated); nothing here reads a source, a history file or writes a report.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from auditor.compliance.remediation import days_between, nearest_rank

PERIOD_FORMAT = "auditor-period/1"
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def month_bounds(period: str) -> tuple[datetime, datetime]:
    """[first instant, first instant of the next month) of a `YYYY-MM` period; ValueError when malformed."""
    match = _MONTH.match(period)
    if not match:
        raise ValueError(f"period {period!r} is not a month written YYYY-MM")
    year, month = int(match.group(1)), int(match.group(2))
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def _scan_row(scan: Mapping[str, Any]) -> dict[str, Any]:
    summary = scan["summary"]
    installs = summary.get("installations") or {}
    remediation = summary.get("remediation") or {}
    lifecycle = summary.get("lifecycle") or {}
    return {
        "as_of": scan["as_of"],
        "run_id": scan["run_id"],
        "scope_key": scan.get("scope_key"),
        "complete": scan["complete"],
        "machines": summary.get("machines"),
        "compliant": summary.get("compliant"),
        "non_compliant": summary.get("non_compliant"),
        "unknown": summary.get("unknown"),
        "compliance_rate": summary.get("compliance_rate"),
        "compliance_rate_without_exceptions": summary.get("compliance_rate_without_exceptions"),
        "breaches": summary.get("breaches", 0),
        "breach_rules": dict(scan.get("breach_rules") or {}),
        "installation_runs": installs.get("runs"),
        "installation_succeeded": installs.get("succeeded"),
        "installation_failed": installs.get("failed"),
        "installation_success_rate": installs.get("success_rate"),
        "remediation_installed": remediation.get("installed"),
        "within_sla_rate": remediation.get("within_sla_rate"),
        "p90_days": remediation.get("p90_days"),
        "end_of_support_without_esu": lifecycle.get("end_of_support_without_esu"),
    }


def _environments(scans: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per environment: its rate at each scan (None where a scan did not see it), lowest, highest and last."""
    names = sorted({row["key"] for scan in scans for row in scan["summary"].get("by_environment", [])})
    out = []
    for name in names:
        rates: list[float | None] = []
        for scan in scans:
            found = [r for r in scan["summary"].get("by_environment", []) if r["key"] == name]
            rates.append(found[0]["compliance_rate"] if found else None)
        known = [r for r in rates if r is not None]
        out.append(
            {
                "key": name,
                "rates": rates,
                "lowest": min(known) if known else None,
                "highest": max(known) if known else None,
                "last": rates[-1] if rates else None,
            }
        )
    return out


def _failure_causes(scans: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Failure codes of the month's last scan (its window covers the month's runs; adding scans would count a run
    once per scan that saw it), with how many of the month's scans reported each."""
    if not scans:
        return []
    last = (scans[-1]["summary"].get("installations") or {}).get("top_failure_codes") or []
    seen: dict[str, int] = {}
    for scan in scans:
        for item in (scan["summary"].get("installations") or {}).get("top_failure_codes") or []:
            seen[item["code"]] = seen.get(item["code"], 0) + 1
    return [{"code": item["code"], "runs": item["count"], "scans_reporting": seen[item["code"]]} for item in last]


def _exceptions(scans: Sequence[Mapping[str, Any]], start: datetime, end: datetime) -> dict[str, list[dict[str, Any]]]:
    """Exceptions opened (created) in the month, those a scan warned were expiring, and those expired by a scan
    of the month or whose expiry date fell in it; each once, as the last scan that listed it described it."""
    first_day, last_day = start.date().isoformat(), end.date().isoformat()
    latest: dict[str, dict[str, Any]] = {}
    expiring: set[str] = set()
    expired: set[str] = set()
    for scan in scans:
        summary = scan["summary"]
        for item in summary.get("exceptions") or []:
            latest[item["id"]] = item
            if item.get("status") == "expired":
                expired.add(item["id"])
            expires = str(item.get("expires_on", ""))
            if first_day <= expires < last_day and expires < scan["as_of"][:10]:
                expired.add(item["id"])
        for warning in summary.get("exception_warnings") or []:
            if warning.get("kind") == "expiring":
                expiring.add(warning["exception"])

    def entry(key: str) -> dict[str, Any]:
        item = latest[key]
        return {name: item.get(name) for name in ("id", "owner", "ticket", "created", "expires_on", "status")}

    opened = sorted(k for k, item in latest.items() if first_day <= str(item.get("created", "")) < last_day)
    return {
        "opened": [entry(k) for k in opened],
        "expiring": [entry(k) for k in sorted(expiring - expired) if k in latest],
        "expired": [entry(k) for k in sorted(expired)],
    }


def _remediated(rows: Iterable[Mapping[str, Any]], start: datetime, end: datetime) -> dict[str, Any]:
    """Patches history saw leave the pending list during the month: count and days from first sighting."""
    days = sorted(days_between(r["first_seen"], r["remediated_by"]) for r in rows if start <= r["remediated_by"] < end)
    return {"patches": len(days), "p50_days": nearest_rank(days, 0.5), "p90_days": nearest_rank(days, 0.9)}


def build_review(
    period: str, scans: Sequence[Mapping[str, Any]], remediated: Iterable[Mapping[str, Any]] = ()
) -> dict[str, Any]:
    """The period summary (auditor-period/1) of the scans as of within the month, oldest first."""
    start, end = month_bounds(period)
    last = scans[-1]["summary"] if scans else {}
    return {
        "format": PERIOD_FORMAT,
        "period": period,
        "from": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "until": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "scans": [_scan_row(scan) for scan in scans],
        "complete": all(scan["complete"] for scan in scans),
        "by_environment": _environments(scans),
        "remediation": {
            "last_scan": last.get("remediation"),
            "left_pending_list": _remediated(remediated, start, end),
        },
        "installations": {
            "last_scan": {
                key: (last.get("installations") or {}).get(key)
                for key in ("window_days", "runs", "succeeded", "failed", "success_rate")
            },
            "failure_causes": _failure_causes(scans),
        },
        "exceptions": _exceptions(scans, start, end),
        "breaches": [
            {"as_of": scan["as_of"], "breaches": scan["summary"].get("breaches", 0), "rules": scan.get("breach_rules")}
            for scan in scans
        ],
    }
