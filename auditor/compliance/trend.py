"""The compliance trend a pack shows: earlier scans of the same estate, then this one. Worked out once per context
(`ReportContext.trend`), so the PDF and the workbook always draw the same points."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypedDict


class HistoryRun(TypedDict, total=False):
    """An earlier scan as the history store lists it and the pack's history evidence keeps it."""

    run_id: str
    """The scan's run id."""
    as_of: str
    """Its as-of time (RFC 3339, UTC)."""
    machines: int | None
    """Machines in its scope."""
    compliance_rate: float | None
    """Its compliance rate (%)."""
    unknown_rate: float | None
    """Its share (%) of machines with unknown status."""
    breaches: int | None
    """Thresholds it breached."""
    complete: bool | None
    """Whether its data was complete."""
    scope_key: str | None
    """Which estate it scanned (tenant and scopes)."""


@dataclass(frozen=True)
class TrendPoint:
    """One scan on the trend."""

    as_of: str
    """The scan's as-of time (RFC 3339, UTC)."""
    compliance_rate: float | None
    """Its compliance rate (%); None for an empty fleet."""
    machines: int | None
    """Machines in its scope; None when the history entry does not say."""

    @property
    def day(self) -> str:
        """The as-of date alone, as charts label it."""
        return self.as_of[:10]


def trend_points(history: Iterable[HistoryRun], *, scope: str, current: TrendPoint) -> tuple[TrendPoint, ...]:
    """The earlier scans a trend may show, oldest first, then `current`.

    An earlier scan counts only when it is complete (an audit trend must not mix in, unremarked, a run whose data
    was incomplete), is of the same estate (its scope key, where it records one, equals `scope`) and is strictly
    earlier than `current`. Of several runs at one as-of time the last recorded wins.
    """
    earlier: dict[str, TrendPoint] = {}
    for scan in history:
        when = str(scan.get("as_of") or "")
        if not when or when >= current.as_of or scan.get("complete") is False or scan.get("scope_key", scope) != scope:
            continue
        rate, machines = scan.get("compliance_rate"), scan.get("machines")
        earlier[when] = TrendPoint(
            when,
            float(rate) if isinstance(rate, int | float) else None,
            machines if isinstance(machines, int) else None,
        )
    return (*(earlier[when] for when in sorted(earlier)), current)
