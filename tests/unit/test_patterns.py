"""The failure-pattern rule: exact limits, tiny groups, and what each dimension groups by."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import pytest

from auditor.compliance.facts import Machine
from auditor.compliance.installs import Run
from auditor.compliance.patterns import DIMENSIONS, find_patterns
from auditor.compliance.schedules import NO_SCHEDULE, UNKNOWN_SCHEDULE, RunLink
from auditor.config import ScheduleSettings
from tests.summaries import js

START = datetime(2026, 10, 20, 22, 0, tzinfo=UTC)
_ids: Iterator[int] = count()


def machine(name: str, **values: Any) -> Machine:
    fields: dict[str, Any] = {
        "machine_id": name,
        "resource_id": name,
        "name": name,
        "platform": "Azure",
        "subscription_id": "s",
        "resource_group": "rg",
        "location": "westeurope",
        "os": "Windows",
        "os_detail": "",
        "image_sku": "",
        "power_state": "",
        "environment": "Production",
        "tags": {},
        "assessment_mode": "",
        "patch_mode": "",
        "hotpatch": None,
        "bypass_safety_checks": False,
        "reboot_setting": "",
        "assessment_status": "Succeeded",
        "assessment_last_modified": None,
        "assessment_error": "",
        "reboot_pending": None,
    }
    fields.update(values)
    return Machine(**fields)


def runs(machine_id: str, total: int, failed: int, *, status: str = "Succeeded") -> list[Run]:
    """`total` finished runs of a machine, the first `failed` of them failed."""
    return [
        Run(
            f"run-{next(_ids)}",
            machine_id,
            "Failed" if i < failed else status,
            START,
            START + timedelta(minutes=30),
            False,
            "",
            1,
            0,
            "",
        )
        for i in range(total)
    ]


def fleet() -> tuple[dict[str, Machine], list[Run]]:
    """200 finished runs, 20 failed (fleet rate 10%): eastus2 at exactly 2x and +10 points, a tiny group at 100%."""
    machines = {
        "m-exact": machine("m-exact", location="eastus2"),
        "m-tiny": machine("m-tiny", location="japaneast"),
        "m-rest": machine("m-rest"),
    }
    found = runs("m-exact", 20, 4) + runs("m-tiny", 5, 5) + runs("m-rest", 175, 11, status="CompletedWithWarnings")
    return machines, found


def location_flags(settings: ScheduleSettings) -> list[str]:
    machines, found = fleet()
    result = find_patterns(found, machines, {}, settings=settings, window_days=30)
    return [f.key for f in result.flags if f.dimension == "location"]


def test_flag_at_exactly_the_limits_and_never_on_tiny_groups() -> None:
    machines, found = fleet()
    result = find_patterns(found, machines, {}, settings=ScheduleSettings(), window_days=30)
    assert (result.runs, result.failed, result.fleet_failure_rate) == (200, 20, 10.0)
    rows = {g.key: (g.runs, g.failed, g.failure_rate, g.flagged) for g in result.dimensions["location"]}
    assert rows == {
        "eastus2": (20, 4, 20.0, True),
        "japaneast": (5, 5, 100.0, False),  # 100% failed, but 5 runs cannot be a pattern
        "westeurope": (175, 11, 6.29, False),
    }
    [flag] = result.flags
    assert js(flag) == {
        "kind": "failure_rate",
        "dimension": "location",
        "key": "eastus2",
        "runs": 20,
        "count": 4,
        "rate": 20.0,
        "reference_rate": 10.0,
        "recommendation": "runs in eastus2 fail 20% of 20 runs against 10% fleet-wide; check that machines there "
        "can reach their update source (WSUS, package mirrors, proxies, network rules)",
    }


@pytest.mark.parametrize(
    ("settings", "flagged"),
    [
        (ScheduleSettings(pattern_min_runs=21), []),  # eastus2 has 20 runs
        (ScheduleSettings(pattern_min_runs=5), ["eastus2", "japaneast"]),
        (ScheduleSettings(pattern_min_ratio=2.01), []),  # 20% is exactly 2x the fleet's 10%
        (ScheduleSettings(pattern_min_excess_points=10.01), []),  # and exactly 10 points above it
        (ScheduleSettings(pattern_min_ratio=1.1, pattern_min_excess_points=0.1), ["eastus2"]),
    ],
)
def test_each_limit_comes_from_the_settings(settings: ScheduleSettings, flagged: list[str]) -> None:
    assert location_flags(settings) == flagged


def test_rule_text_states_the_limits() -> None:
    machines, found = fleet()
    settings = ScheduleSettings(
        pattern_min_runs=30, pattern_min_ratio=1.5, pattern_min_excess_points=7.5, window_exceeded_flag_rate=25
    )
    result = find_patterns(found, machines, {}, settings=settings, window_days=14)
    result = js(result)
    assert "at least 30 finished installation runs" in result["rule"]
    assert "at least 1.5 times the fleet's" in result["rule"]
    assert "at least 7.5 percentage points above" in result["rule"]
    assert result["window_rule"] == (
        "A maintenance configuration is flagged when it has at least 30 finished installation runs and at least 25% "
        "of them overran the window (maintenanceWindowExceeded)."
    )
    assert result["window_days"] == 14 and list(result["dimensions"]) == list(DIMENSIONS)


def test_no_failures_no_flags_and_unfinished_runs_do_not_count() -> None:
    machines = {"m": machine("m")}
    found = [
        *runs("m", 30, 0),
        Run("busy", "m", "InProgress", START, None, False, "", 0, 0, ""),
        Run("waiting", "m", "NotStarted", START, None, False, "", 0, 0, ""),
        Run("gone", "not-in-scope", "Failed", START, START, False, "", 0, 0, ""),
    ]
    result = find_patterns(found, machines, {}, settings=ScheduleSettings(), window_days=30)
    assert (result.runs, result.failed, result.fleet_failure_rate, list(result.flags)) == (30, 0, 0.0, [])
    empty = find_patterns([], machines, {}, settings=ScheduleSettings(), window_days=30)
    assert (empty.runs, empty.fleet_failure_rate, list(empty.dimensions["os"]), list(empty.flags)) == (
        0,
        None,
        [],
        [],
    )


def test_dimensions_key_runs_by_machine_and_schedule() -> None:
    machines = {
        "m-arc": machine("m-arc", platform="Arc", os="Linux", os_detail="Ubuntu 22.04", environment="Test"),
        "m-vm": machine("m-vm"),
    }
    found = runs("m-arc", 3, 1) + runs("m-vm", 2, 0)
    links = {
        found[0].id: RunLink("cfg-id", "cfg-weekly", 2),
        found[1].id: RunLink("cfg-id", "cfg-weekly", 0),
        found[2].id: RunLink("", UNKNOWN_SCHEDULE, None),
        found[3].id: RunLink("", NO_SCHEDULE, None),
    }
    result = find_patterns(found, machines, links, settings=ScheduleSettings(), window_days=30)

    def keys(dimension: str) -> dict[str, tuple[int, int]]:
        return {g.key: (g.runs, g.failed) for g in result.dimensions[dimension]}

    assert keys("platform") == {"Arc": (3, 1), "Azure": (2, 0)}
    assert keys("os") == {"Linux": (3, 1), "Windows": (2, 0)}
    assert keys("os_version") == {"Ubuntu 22.04": (3, 1)}  # machines without an OS version are left out
    assert keys("environment") == {"Production": (2, 0), "Test": (3, 1)}
    # A run with no link (found[4]) has no schedule either.
    assert keys("configuration") == {"(no schedule)": (2, 0), "(unknown schedule)": (1, 0), "cfg-weekly": (2, 1)}
    assert keys("window_hour") == {"00": (1, 0), "02": (1, 1)}


def test_recommendations_per_dimension() -> None:
    machines = {
        "bad": machine(
            "bad", platform="Arc", os="Linux", os_detail="RHEL 8.10", environment="Test", location="eastus2"
        ),
        "good": machine("good"),
    }
    found = runs("bad", 20, 10) + runs("good", 80, 0)
    links = {r.id: RunLink("c", "cfg-linux", 3) for r in found[:20]}
    links.update({r.id: RunLink("", NO_SCHEDULE, None) for r in found[20:]})
    result = find_patterns(found, machines, links, settings=ScheduleSettings(), window_days=30)
    advice = {(f.dimension, f.key): f.recommendation for f in result.flags}
    tail = "fail 50% of 20 runs against 10% fleet-wide"
    assert advice == {
        ("location", "eastus2"): f"runs in eastus2 {tail}; check that machines there can reach their update source "
        "(WSUS, package mirrors, proxies, network rules)",
        ("os", "Linux"): f"Linux runs {tail}; review the failure codes of Linux machines (agent, update service, "
        "package manager)",
        ("os_version", "RHEL 8.10"): f"runs on RHEL 8.10 {tail}; check that version's repositories and known update "
        "issues, and consider a schedule of its own",
        ("platform", "Arc"): f"Arc machines {tail}; check the Arc agent's connectivity",
        ("environment", "Test"): f"runs in environment Test {tail}; review what its machines share (images, network, "
        "pre-tasks)",
        ("configuration", "cfg-linux"): f"runs of cfg-linux {tail}; review its classifications, pre- and post-tasks, "
        "reboot setting and the machines it covers",
        ("window_hour", "03"): f"runs starting in hour 03 of their window {tail}; too many machines start late: "
        "lengthen the window or split the scope",
    }
    assert [f.dimension for f in result.flags] == list(DIMENSIONS)  # sorted by kind, dimension order, key
    reverse = {r.id: RunLink("", NO_SCHEDULE, None) for r in found[:20]}
    reverse.update({r.id: RunLink("g", "cfg-good", 0) for r in found[20:]})
    unscheduled = find_patterns(found, machines, reverse, settings=ScheduleSettings(), window_days=30)
    [flag] = [f for f in unscheduled.flags if f.dimension == "configuration"]
    assert flag.key == NO_SCHEDULE
    assert flag.recommendation == (
        "runs not started by a schedule fail 50% of 20 runs against 10% fleet-wide; put these machines on a "
        "maintenance schedule"
    )
