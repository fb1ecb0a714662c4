"""The monthly review: what every scan recorded in one calendar month says, side by side.

Pure functions over the summaries history recorded (HistoryStore.summaries) and the patches history saw leave the
pending list (HistoryStore.remediated); nothing here reads a source, a history file or writes a report.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TypedDict

from auditor.compliance.remediation import RemediatedRow, days_between, nearest_rank
from auditor.jsonvalue import JsonObject, JsonValue, as_object, objects
from auditor.timestamps import format_seconds

PERIOD_FORMAT = "auditor-period/1"
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class RecordedScan(TypedDict):
    """A scan as the history recorded it (HistoryStore.summaries), or as a period pack's evidence keeps it."""

    run_id: str
    as_of: str
    """RFC 3339, UTC."""
    scope_key: str | None
    complete: bool
    breach_rules: dict[str, int]
    """Breaches per rule."""
    summary: JsonObject
    """Its summary.json as written then: any version's, so read with the narrowing helpers below."""


class ScanRow(TypedDict):
    """One scan of the month, as the review lists it."""

    as_of: str
    run_id: str
    scope_key: str | None
    complete: bool
    machines: int | None
    compliant: int | None
    non_compliant: int | None
    unknown: int | None
    compliance_rate: float | None
    compliance_rate_without_exceptions: float | None
    breaches: int | None
    breach_rules: dict[str, int]
    installation_runs: int | None
    installation_succeeded: int | None
    installation_failed: int | None
    installation_success_rate: float | None
    remediation_installed: int | None
    within_sla_rate: float | None
    p90_days: int | None
    end_of_support_without_esu: int | None


class EnvironmentRates(TypedDict):
    """An environment's rate at each scan of the month (None where a scan did not see it)."""

    key: str
    rates: list[float | None]
    lowest: float | None
    highest: float | None
    last: float | None


class FailureCause(TypedDict):
    """An error code of the month's last scan, and how many of the month's scans reported it."""

    code: str
    runs: int | None
    scans_reporting: int


class ExceptionEntry(TypedDict):
    """An exception as the last scan that listed it described it."""

    id: str
    owner: str | None
    ticket: str | None
    created: str | None
    expires_on: str | None
    status: str | None


class PeriodExceptions(TypedDict):
    """Exceptions opened, warned as expiring, and expired in the month."""

    opened: list[ExceptionEntry]
    expiring: list[ExceptionEntry]
    expired: list[ExceptionEntry]


class LeftPending(TypedDict):
    """Patches history saw leave the pending list in the month, and the days from their first sighting."""

    patches: int
    p50_days: int | None
    p90_days: int | None


class RemediationReview(TypedDict):
    """The last scan's remediation block (as it recorded it) and what history saw remediated."""

    last_scan: JsonObject | None
    left_pending_list: LeftPending


class LastInstallations(TypedDict):
    """The installation figures of the month's last scan."""

    window_days: int | None
    runs: int | None
    succeeded: int | None
    failed: int | None
    success_rate: float | None


class InstallationsReview(TypedDict):
    """The last scan's installation figures and the month's failure causes."""

    last_scan: LastInstallations
    failure_causes: list[FailureCause]


class BreachesAt(TypedDict):
    """The breaches of one scan of the month."""

    as_of: str
    breaches: int | None
    rules: dict[str, int]


PeriodReview = TypedDict(
    "PeriodReview",
    {
        "format": str,
        "period": str,
        "from": str,
        "until": str,
        "scans": list[ScanRow],
        "complete": bool,
        "by_environment": list[EnvironmentRates],
        "remediation": RemediationReview,
        "installations": InstallationsReview,
        "exceptions": PeriodExceptions,
        "breaches": list[BreachesAt],
    },
)
"""period-summary.json (auditor-period/1). Functional syntax: `from` is a Python keyword."""


def _count(value: JsonValue) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(value: JsonValue) -> float | None:
    # An int stays an int, so the review writes a figure exactly as the summary recorded it.
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _text(value: JsonValue) -> str | None:
    return value if isinstance(value, str) else None


def month_bounds(period: str) -> tuple[datetime, datetime]:
    """[first instant, first instant of the next month) of a `YYYY-MM` period; ValueError when malformed."""
    match = _MONTH.match(period)
    if not match:
        raise ValueError(f"period {period!r} is not a month written YYYY-MM")
    year, month = int(match.group(1)), int(match.group(2))
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def _scan_row(scan: RecordedScan) -> ScanRow:
    summary = scan["summary"]
    installs = as_object(summary.get("installations"))
    remediation = as_object(summary.get("remediation"))
    lifecycle = as_object(summary.get("lifecycle"))
    return ScanRow(
        as_of=scan["as_of"],
        run_id=scan["run_id"],
        scope_key=scan["scope_key"],
        complete=scan["complete"],
        machines=_count(summary.get("machines")),
        compliant=_count(summary.get("compliant")),
        non_compliant=_count(summary.get("non_compliant")),
        unknown=_count(summary.get("unknown")),
        compliance_rate=_number(summary.get("compliance_rate")),
        compliance_rate_without_exceptions=_number(summary.get("compliance_rate_without_exceptions")),
        breaches=_count(summary.get("breaches", 0)),
        breach_rules=dict(scan["breach_rules"]),
        installation_runs=_count(installs.get("runs")),
        installation_succeeded=_count(installs.get("succeeded")),
        installation_failed=_count(installs.get("failed")),
        installation_success_rate=_number(installs.get("success_rate")),
        remediation_installed=_count(remediation.get("installed")),
        within_sla_rate=_number(remediation.get("within_sla_rate")),
        p90_days=_count(remediation.get("p90_days")),
        end_of_support_without_esu=_count(lifecycle.get("end_of_support_without_esu")),
    )


def _environment_rates(scan: RecordedScan) -> dict[str, float | None]:
    """Environment -> its rate in one scan (the first row of a key wins, as it always has)."""
    rates: dict[str, float | None] = {}
    for row in objects(scan["summary"].get("by_environment")):
        key = _text(row.get("key"))
        if key is not None and key not in rates:
            rates[key] = _number(row.get("compliance_rate"))
    return rates


def _environments(scans: Sequence[RecordedScan]) -> list[EnvironmentRates]:
    """Per environment: its rate at each scan (None where a scan did not see it), lowest, highest and last."""
    per_scan = [_environment_rates(scan) for scan in scans]
    out = []
    for name in sorted({key for rates in per_scan for key in rates}):
        rates = [found.get(name) for found in per_scan]
        known = [r for r in rates if r is not None]
        out.append(
            EnvironmentRates(
                key=name,
                rates=rates,
                lowest=min(known) if known else None,
                highest=max(known) if known else None,
                last=rates[-1] if rates else None,
            )
        )
    return out


def _failure_codes(scan: RecordedScan) -> list[tuple[str, int | None]]:
    """(code, failed runs) of a scan's top failure codes."""
    installs = as_object(scan["summary"].get("installations"))
    codes = (
        (_text(item.get("code")), _count(item.get("count"))) for item in objects(installs.get("top_failure_codes"))
    )
    return [(code, count) for code, count in codes if code is not None]


def _failure_causes(scans: Sequence[RecordedScan]) -> list[FailureCause]:
    """Failure codes of the month's last scan (its window covers the month's runs; adding scans would count a run
    once per scan that saw it), with how many of the month's scans reported each."""
    if not scans:
        return []
    seen: dict[str, int] = {}
    for scan in scans:
        for code, _ in _failure_codes(scan):
            seen[code] = seen.get(code, 0) + 1
    return [FailureCause(code=code, runs=runs, scans_reporting=seen[code]) for code, runs in _failure_codes(scans[-1])]


def _exceptions(scans: Sequence[RecordedScan], start: datetime, end: datetime) -> PeriodExceptions:
    """Exceptions opened (created) in the month, those a scan warned were expiring, and those expired by a scan
    of the month or whose expiry date fell in it; each once, as the last scan that listed it described it."""
    first_day, last_day = start.date().isoformat(), end.date().isoformat()
    latest: dict[str, JsonObject] = {}
    expiring: set[str] = set()
    expired: set[str] = set()
    for scan in scans:
        summary = scan["summary"]
        for item in objects(summary.get("exceptions")):
            key = _text(item.get("id"))
            if key is None:
                continue
            latest[key] = item
            if item.get("status") == "expired":
                expired.add(key)
            expires = _text(item.get("expires_on")) or ""
            if first_day <= expires < last_day and expires < scan["as_of"][:10]:
                expired.add(key)
        for warning in objects(summary.get("exception_warnings")):
            warned = _text(warning.get("exception"))
            if warning.get("kind") == "expiring" and warned is not None:
                expiring.add(warned)

    def entry(key: str) -> ExceptionEntry:
        item = latest[key]
        return ExceptionEntry(
            id=key,
            owner=_text(item.get("owner")),
            ticket=_text(item.get("ticket")),
            created=_text(item.get("created")),
            expires_on=_text(item.get("expires_on")),
            status=_text(item.get("status")),
        )

    opened = sorted(k for k, item in latest.items() if first_day <= (_text(item.get("created")) or "") < last_day)
    return PeriodExceptions(
        opened=[entry(k) for k in opened],
        expiring=[entry(k) for k in sorted(expiring - expired) if k in latest],
        expired=[entry(k) for k in sorted(expired)],
    )


def _remediated(rows: Iterable[RemediatedRow], start: datetime, end: datetime) -> LeftPending:
    """Patches history saw leave the pending list during the month: count and days from first sighting."""
    days = sorted(days_between(r["first_seen"], r["remediated_by"]) for r in rows if start <= r["remediated_by"] < end)
    return LeftPending(patches=len(days), p50_days=nearest_rank(days, 0.5), p90_days=nearest_rank(days, 0.9))


def build_review(period: str, scans: Sequence[RecordedScan], remediated: Iterable[RemediatedRow] = ()) -> PeriodReview:
    """The period summary (auditor-period/1) of the scans as of within the month, oldest first."""
    start, end = month_bounds(period)
    last: JsonObject = scans[-1]["summary"] if scans else {}
    installs = as_object(last.get("installations"))
    remediation = last.get("remediation")
    return {
        "format": PERIOD_FORMAT,
        "period": period,
        "from": format_seconds(start),
        "until": format_seconds(end),
        "scans": [_scan_row(scan) for scan in scans],
        "complete": all(scan["complete"] for scan in scans),
        "by_environment": _environments(scans),
        "remediation": RemediationReview(
            last_scan=remediation if isinstance(remediation, dict) else None,
            left_pending_list=_remediated(remediated, start, end),
        ),
        "installations": InstallationsReview(
            last_scan=LastInstallations(
                window_days=_count(installs.get("window_days")),
                runs=_count(installs.get("runs")),
                succeeded=_count(installs.get("succeeded")),
                failed=_count(installs.get("failed")),
                success_rate=_number(installs.get("success_rate")),
            ),
            failure_causes=_failure_causes(scans),
        ),
        "exceptions": _exceptions(scans, start, end),
        "breaches": [
            BreachesAt(
                as_of=scan["as_of"], breaches=_count(scan["summary"].get("breaches", 0)), rules=scan["breach_rules"]
            )
            for scan in scans
        ],
    }
