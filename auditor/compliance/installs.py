"""Installation health over the installation window: outcomes, durations, failure codes, window overruns."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa

from auditor.compliance import columns
from auditor.compliance.facts import Machine, machine_ids
from auditor.compliance.metrics import rate, round2
from auditor.compliance.summary import FailureCode, InstallationGroup, Installations, RunFigures
from auditor.timestamps import parse_arg_time

SUCCEEDED = frozenset({"Succeeded", "CompletedWithWarnings"})
FAILED = frozenset({"Failed"})
IN_PROGRESS = frozenset({"InProgress", "NotStarted"})
TOP_CODES = 10


@dataclass(slots=True)  # not frozen, for speed: see facts.Machine
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
    found = zip(
        columns.values(table, "id"),
        machine_ids(table, "machineId", in_scope),
        columns.texts(table, "status"),
        columns.converted(table, "startDateTime", parse_arg_time),
        columns.converted(table, "lastModifiedDateTime", parse_arg_time),
        columns.converted(table, "maintenanceWindowExceeded", _is_true),
        columns.texts(table, "errorCode"),
        columns.counts(table, "installedPatchCount"),
        columns.counts(table, "failedPatchCount"),
        columns.texts(table, "maintenanceRunId"),
        strict=True,
    )
    return [
        Run(
            id=run_id,
            machine_id=machine_id,
            status=status,
            start=start,
            end=end,
            window_exceeded=exceeded,
            error_code=error_code,
            installed=installed,
            failed_patches=failed,
            maintenance_run_id=maintenance_run_id,
        )
        for run_id, machine_id, status, start, end, exceeded, error_code, installed, failed, maintenance_run_id in found
        if machine_id in in_scope
    ]


def _is_true(text: str | None) -> bool:
    return (text or "").lower() == "true"


def run_figures(runs: Iterable[Run]) -> RunFigures:
    """runs, succeeded, failed, in_progress, success_rate, avg_duration_minutes, window_exceeded, top_failure_codes."""
    return _figures([(run, run.duration_minutes) for run in runs])


Timed = tuple[Run, float | None]
"""A run with its duration, worked out once for the overall, per-environment and per-subscription figures."""


def _figures(timed: list[Timed]) -> RunFigures:
    succeeded = failed = in_progress = exceeded = 0
    durations: list[float] = []
    codes = Counter[str]()
    for run, duration in timed:
        if run.status in SUCCEEDED:
            succeeded += 1
        elif run.status in FAILED:
            failed += 1
            codes[run.error_code or "(none)"] += 1
        elif run.status in IN_PROGRESS:
            in_progress += 1
        exceeded += run.window_exceeded
        if duration is not None:
            durations.append(duration)
    return RunFigures(
        runs=len(timed),
        succeeded=succeeded,
        failed=failed,
        in_progress=in_progress,
        success_rate=rate(succeeded, succeeded + failed),
        avg_duration_minutes=round2(sum(durations) / len(durations)) if durations else None,
        window_exceeded=exceeded,
        top_failure_codes=tuple(
            FailureCode(code=code, count=count)
            for code, count in sorted(codes.items(), key=lambda item: (-item[1], item[0]))[:TOP_CODES]
        ),
    )


def installations_summary(runs: list[Run], machines: Mapping[str, Machine], *, window_days: int) -> Installations:
    """The summary's installations block, overall and per environment and subscription."""
    timed = [(run, run.duration_minutes) for run in runs]
    by_environment: dict[str, list[Timed]] = defaultdict(list)
    by_subscription: dict[str, list[Timed]] = defaultdict(list)
    for item in timed:
        machine = machines[item[0].machine_id]
        by_environment[machine.environment].append(item)
        by_subscription[machine.subscription_id].append(item)
    with_success = machines_with_success(runs)
    without = tuple(sorted(m for m in machines if m not in with_success))
    return Installations(
        window_days=window_days,
        figures=_figures(timed),
        machines_without_success=len(without),
        machines_without_success_ids=without,
        by_environment=_per_key(by_environment),
        by_subscription=_per_key(by_subscription),
    )


def _per_key(groups: Mapping[str, list[Timed]]) -> tuple[InstallationGroup, ...]:
    return tuple(InstallationGroup(key=name, figures=_figures(groups[name])) for name in sorted(groups))


def machines_with_success(runs: Iterable[Run]) -> set[str]:
    """Machine ids with at least one successful run in the window."""
    return {r.machine_id for r in runs if r.status in SUCCEEDED}
