"""Installation health over the installation window: outcomes, durations, failure codes, window overruns."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa

from auditor.compliance.facts import Machine, rows
from auditor.compliance.metrics import rate, round2
from auditor.compliance.timeparse import parse_arg_time

SUCCEEDED = frozenset({"Succeeded", "CompletedWithWarnings"})
FAILED = frozenset({"Failed"})
IN_PROGRESS = frozenset({"InProgress", "NotStarted"})
TOP_CODES = 10


@dataclass(frozen=True, slots=True)
class Run:
    """One patch installation run."""

    id: str
    machine_id: str
    status: str
    start: datetime | None
    end: datetime | None
    window_exceeded: bool
    error_code: str
    installed: int
    failed_patches: int
    maintenance_run_id: str

    @property
    def finished(self) -> bool:
        """Succeeded, completed with warnings, or failed."""
        return self.status in SUCCEEDED or self.status in FAILED

    @property
    def duration_minutes(self) -> float | None:
        """From startDateTime to lastModifiedDateTime, for finished runs."""
        if not self.finished or self.start is None or self.end is None:
            return None
        return (self.end - self.start).total_seconds() / 60


def build_runs(table: pa.Table, in_scope: Mapping[str, Machine]) -> list[Run]:
    """Runs of in-scope machines from installations rows (the query already applied the window)."""
    return [
        Run(
            id=row["id"],
            machine_id=row["machineId"],
            status=row["status"] or "",
            start=parse_arg_time(row["startDateTime"]),
            end=parse_arg_time(row["lastModifiedDateTime"]),
            window_exceeded=(row["maintenanceWindowExceeded"] or "").lower() == "true",
            error_code=row["errorCode"] or "",
            installed=int(row["installedPatchCount"] or 0),
            failed_patches=int(row["failedPatchCount"] or 0),
            maintenance_run_id=row["maintenanceRunId"] or "",
        )
        for row in rows(table)
        if row["machineId"] in in_scope
    ]


def run_figures(runs: Iterable[Run]) -> dict[str, Any]:
    """runs, succeeded, failed, in_progress, success_rate, avg_duration_minutes, window_exceeded, top_failure_codes."""
    runs = list(runs)
    succeeded = sum(1 for r in runs if r.status in SUCCEEDED)
    failed = sum(1 for r in runs if r.status in FAILED)
    durations = [d for d in (r.duration_minutes for r in runs) if d is not None]
    codes = Counter(r.error_code or "(none)" for r in runs if r.status in FAILED)
    return {
        "runs": len(runs),
        "succeeded": succeeded,
        "failed": failed,
        "in_progress": sum(1 for r in runs if r.status in IN_PROGRESS),
        "success_rate": rate(succeeded, succeeded + failed),
        "avg_duration_minutes": round2(sum(durations) / len(durations)) if durations else None,
        "window_exceeded": sum(1 for r in runs if r.window_exceeded),
        "top_failure_codes": [
            {"code": code, "count": count}
            for code, count in sorted(codes.items(), key=lambda item: (-item[1], item[0]))[:TOP_CODES]
        ],
    }


def installations_summary(
    runs: list[Run], machines: Mapping[str, Machine], *, window_days: int
) -> dict[str, Any]:
    """The summary's installations block, overall and per environment and subscription."""

    def per(key: Callable[[Machine], str]) -> list[dict[str, Any]]:
        groups: dict[str, list[Run]] = defaultdict(list)
        for run in runs:
            groups[key(machines[run.machine_id])].append(run)
        return [{"key": name, **run_figures(groups[name])} for name in sorted(groups)]

    with_success = machines_with_success(runs)
    without = sorted(m for m in machines if m not in with_success)
    return {
        "window_days": window_days,
        **run_figures(runs),
        "machines_without_success": len(without),
        "machines_without_success_ids": without,
        "by_environment": per(lambda m: m.environment),
        "by_subscription": per(lambda m: m.subscription_id),
    }


def machines_with_success(runs: Iterable[Run]) -> set[str]:
    """Machine ids with at least one successful run in the window."""
    return {r.machine_id for r in runs if r.status in SUCCEEDED}
