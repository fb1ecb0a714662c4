"""Remediation figures: nearest-rank percentiles, half-up rates and per-classification counting."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

from auditor.compliance.remediation import (
    RemediatedPatch,
    days_between,
    figures,
    judge_installed,
    nearest_rank,
    remediation_summary,
)

T = datetime(2026, 11, 1, tzinfo=UTC)


def patch(
    days: int | None, sla: int = 15, installs: int = 1, classes: tuple[str, ...] = ("Critical",)
) -> RemediatedPatch:
    return RemediatedPatch("p", "", "", classes, None, False, installs, days, sla, None, None, "")


def test_nearest_rank() -> None:
    values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert nearest_rank(values, 0.5) == 5  # rank ceil(5) = 5
    assert nearest_rank(values, 0.9) == 9  # rank ceil(9) = 9
    assert nearest_rank([4, 9, 30], 0.5) == 9  # rank ceil(1.5) = 2
    assert nearest_rank([4, 9, 30], 0.9) == 30  # rank ceil(2.7) = 3
    assert nearest_rank([7], 0.9) == 7
    assert nearest_rank([], 0.5) is None


def test_weighted_rows_equal_expanded_rows() -> None:
    grouped = [patch(3, installs=4), patch(20, installs=1), patch(10, installs=5)]
    expanded = [patch(3)] * 4 + [patch(20)] + [patch(10)] * 5
    assert figures(grouped) == figures(expanded)
    days = sorted([3] * 4 + [20] + [10] * 5)
    assert figures(grouped).p50_days == nearest_rank(days, 0.5) == 10
    assert figures(grouped).p90_days == nearest_rank(days, 0.9) == 10


def test_rate_half_up_and_null() -> None:
    # 2 of 3 within: 66.666... -> 66.67; 1 of 8: 12.5 stays; nothing dated: null.
    assert figures([patch(1), patch(2), patch(99)]).within_sla_rate == 66.67
    assert figures([patch(1)] + [patch(40)] * 7).within_sla_rate == 12.5
    undated = figures([patch(None)])
    assert (undated.installed, undated.dated, undated.within_sla_rate, undated.p50_days) == (
        1,
        0,
        None,
        None,
    )


def test_days_between_floors_and_clamps() -> None:
    published = datetime(2026, 10, 1, 12, tzinfo=UTC)
    assert days_between(published, datetime(2026, 10, 16, 11, 59, tzinfo=UTC)) == 14
    assert days_between(published, datetime(2026, 10, 16, 12, tzinfo=UTC)) == 15
    assert days_between(published, datetime(2026, 9, 30, tzinfo=UTC)) == 0


def test_a_row_counts_under_each_enforced_classification() -> None:
    both = patch(20, classes=("Critical", "Security"))
    summary = remediation_summary([both, patch(2, sla=30, classes=("Security",))])
    assert summary.figures.installed == 2
    assert summary.by_classification["Critical"].installed == 1
    assert summary.by_classification["Security"].installed == 2
    assert summary.by_classification["Security"].within_sla == 1


def _table(**columns: list[object]) -> pa.Table:
    base: dict[str, list[object]] = {
        "patchName": ["a"],
        "kbId": [""],
        "version": [""],
        "classifications": ['["Critical","UpdateRollup"]'],
        "publishedDateTime": [""],
        "days": [None],
        "installs": [1],
        "firstInstalled": ["2026-10-30T00:00:00Z"],
        "lastInstalled": ["2026-10-30T00:00:00Z"],
        "machineId": ["/subscriptions/s/resourcegroups/r/providers/microsoft.compute/virtualmachines/a"],
        "assessmentKey": ["key-a"],
        "installedDateTime": ["2026-10-30T00:00:00Z"],
    }
    base.update(columns)
    return pa.table(base)


def test_undated_row_takes_only_an_earlier_sighting() -> None:
    machine = "/subscriptions/s/resourcegroups/r/providers/microsoft.compute/virtualmachines/a"
    sla = {"Critical": 15, "Security": 30}
    seen = {"key-a": datetime(2026, 10, 10, tzinfo=UTC)}
    (dated,) = judge_installed(_table(), sla=sla, as_of=T, first_seen=seen, machines=[machine])
    assert (dated.days, dated.sla_days, dated.classifications, dated.dated_by_history) == (20, 15, ("Critical",), True)
    # A first sighting at or after T is not earlier: the age stays unknown.
    (unknown,) = judge_installed(_table(), sla=sla, as_of=T, first_seen={"key-a": T}, machines=[machine])
    assert unknown.days is None and not unknown.within_sla
    # An undated row of a machine the scan does not judge is skipped.
    assert judge_installed(_table(), sla=sla, as_of=T, first_seen=seen, machines=["other"]) == []
    # A row with no enforced classification is skipped.
    assert judge_installed(_table(classifications=['["Other"]']), sla=sla, as_of=T, first_seen=seen) == []
