"""Schedule audit and failure patterns on crafted snapshots: each pattern present and absent, and the edge cases of
the rules (tiny groups, time zones with daylight saving, an expiry exactly at the as-of time)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from auditor.compliance.evaluate import evaluate
from auditor.compliance.schedules import schedule_summary
from auditor.config import config_from_dict
from auditor.kql.catalog import Catalog
from auditor.reports.json import dumps
from auditor.scan import ScanResult, query_plan, scan
from auditor.snapshots.format import read_snapshot
from auditor.sources.snapshot import SnapshotSource
from tests.crafted import AS_OF, SUB, Fleet, config_id, ts
from tests.schemas import assert_valid_summary
from tests.summaries import js

SAT_1 = datetime.fromisoformat("2026-10-24T20:00:00+00:00")
"""Saturday 22:00 in Berlin while still on summer time (UTC+2)."""
SAT_2 = datetime.fromisoformat("2026-10-31T21:00:00+00:00")
"""The next Saturday 22:00 in Berlin, on winter time (UTC+1)."""
DAILY = datetime.fromisoformat("2026-10-28T05:00:00+00:00")
"""01:00 in New York (daylight time, UTC-4)."""
TASKS: dict[str, Any] = {
    "preTasks": [
        {
            "source": "/subscriptions/x/providers/Microsoft.Automation/automationAccounts/aa/runbooks/Stop-App",
            "parameters": {"ServiceName": "W3SVC"},
            "taskScope": "Resource",
        }
    ],
    "postTasks": [
        {
            "source": "/subscriptions/x/providers/Microsoft.Automation/automationAccounts/aa/runbooks/Report",
            "parameters": None,
            "taskScope": "Global",
        }
    ],
}


def at(moment: datetime, minutes: float = 0) -> str:
    return ts(moment + timedelta(minutes=minutes))


def schedule_fleet() -> Fleet:
    f = Fleet()
    prod1 = f.machine("vm-prod-1", tags={"Environment": "Production"})
    prod2 = f.machine("vm-prod-2", tags={"Environment": "Production"})
    both = f.machine("vm-both", tags={"Environment": "Dev"})
    arc = f.machine(
        "arc-lin-1", platform="Arc", os="Linux", location="eastus2", tags={"Environment": "Test", "patchGroup": "linux"}
    )
    none = f.machine("vm-none", tags={"Environment": "Production"})
    expired_only = f.machine("vm-expired-only")
    orphan = f.machine("vm-orphan")

    f.maintenance_configuration(
        "cfg-weekly-sat",
        recur="1Week Saturday",
        start="2026-01-03 22:00",
        duration="03:55",
        time_zone="W. Europe Standard Time",
        windows=["Critical", "Security"],
        kb_exclude=["KB5034439"],
        linux=["Critical"],
        mask_exclude=["kernel*"],
        tasks=TASKS,
    )
    f.maintenance_configuration(
        "cfg-daily",
        recur="Day",
        start="2026-01-01 01:00",
        duration="02:00",
        time_zone="Eastern Standard Time",
        reboot="Always",
        linux=["Critical", "Security"],
    )
    f.maintenance_configuration(
        "cfg-expired", recur="Day", start="2025-01-01 00:00", duration="01:00", expiration="2026-09-30 23:59:59"
    )
    # 07:00 in Berlin (UTC+1) is exactly the as-of time: not expired. 05:59 UTC is a minute before it: expired.
    f.maintenance_configuration("cfg-expires-now", time_zone="W. Europe Standard Time", expiration="2026-11-01 07:00")
    f.maintenance_configuration("cfg-expired-just", expiration="2026-11-01 05:59")
    # Unreadable recurrence and time zone; the expiry is 4 hours after the as-of time in an unknown zone: undecided.
    f.maintenance_configuration(
        "cfg-bad", recur="Fortnightly", time_zone="Mars Standard Time", expiration="2026-11-01 10:00"
    )

    for machine in (prod1, prod2, both):
        f.assign(machine, "cfg-weekly-sat")
    f.assign(both, "cfg-daily")
    f.dynamic_scope(
        "dyn-linux",
        "cfg-daily",
        {"osTypes": ["Linux"], "tagSettings": {"tags": {"patchGroup": ["linux"]}, "filterOperator": "All"}},
    )
    f.assign(expired_only, "cfg-expired")
    f.assign(orphan, "cfg-deleted")

    f.schedule_run("cfg-weekly-sat", "c-sat-1", status="Completed", start=at(SAT_1), minutes=240)
    f.schedule_run("cfg-weekly-sat", "c-sat-2", status="Completed", start=at(SAT_2), minutes=236)
    f.scheduled_run(prod1, "r1", "cfg-weekly-sat", "c-sat-1", status="Succeeded", start=at(SAT_1, 5), minutes=60)
    f.scheduled_run(
        prod1,
        "r2",
        "cfg-weekly-sat",
        "c-sat-2",
        status="CompletedWithWarnings",
        start=at(SAT_2, 5),
        minutes=200,
        window_exceeded=True,
    )
    f.scheduled_run(
        prod2,
        "r3",
        "cfg-weekly-sat",
        "c-sat-1",
        status="Failed",
        start=at(SAT_1, 5),
        minutes=240,
        error="MaintenanceWindowExceeded",
        window_exceeded=True,
    )
    f.scheduled_run(
        prod2,
        "r4",
        "cfg-weekly-sat",
        "c-sat-2",
        status="CompletedWithWarnings",
        start=at(SAT_2, 5),
        minutes=236,
        window_exceeded=True,
    )
    f.scheduled_run(both, "r5", "cfg-weekly-sat", "c-sat-1", status="Succeeded", start=at(SAT_1, 5), minutes=30)
    f.scheduled_run(both, "r6", "cfg-weekly-sat", "c-sat-2", status="Succeeded", start=at(SAT_2, 65), minutes=30)
    for day in range(4):
        correlation = f"c-day-{day + 1}"
        start = DAILY + timedelta(days=day)
        if day < 3:  # the last schedule run has only its per-machine record
            f.schedule_run(
                "cfg-daily", correlation, status="Failed" if day < 2 else "Completed", start=at(start), minutes=20
            )
        f.scheduled_run(
            arc,
            f"d{day + 1}",
            "cfg-daily",
            correlation,
            status="Failed" if day < 3 else "Succeeded",
            start=at(start, 10),
            minutes=20,
            error="PackageManagerFailure" if day < 3 else None,
        )
    f.run(none, "u1", status="Succeeded", start=at(AS_OF, -60 * 24 * 3))
    f.run(none, "u2", status="Succeeded", start=at(AS_OF, -60 * 24 * 4))
    return f


def run_scan(tmp_path: Path, fleet: Fleet, config: dict[str, Any] | None = None) -> ScanResult:
    fleet.write(tmp_path / "snap")
    result = scan(
        config_from_dict(config or {}),
        source=f"snapshot:{tmp_path / 'snap'}",
        out=tmp_path / "packs",
        use_history=False,
        renderers=[],
    )
    assert_valid_summary(js(result.summary))
    return result


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory) -> ScanResult:
    """The schedule fleet with small groups allowed (4 runs) and a low concurrency limit (2 machines)."""
    config = {
        "schedules": {"pattern_min_runs": 4, "max_concurrent_machines": 2},
        "thresholds": {"max_unscheduled_machines": 0, "max_window_exceeded_rate": 40.0},
    }
    return run_scan(tmp_path_factory.mktemp("tuned"), schedule_fleet(), config)


@pytest.fixture(scope="module")
def default(tmp_path_factory: pytest.TempPathFactory) -> ScanResult:
    """The schedule fleet with the default [schedules] settings."""
    return run_scan(tmp_path_factory.mktemp("default"), schedule_fleet())


def configurations(result: ScanResult) -> dict[str, dict[str, Any]]:
    return {c["key"]: c for c in js(result.summary)["schedules"]["configurations"]}


def test_configuration_settings_spelled_out(tuned: ScanResult) -> None:
    sat = configurations(tuned)["cfg-weekly-sat"]
    assert {
        k: sat[k]
        for k in (
            "key",
            "id",
            "recurrence",
            "recurrence_text",
            "start",
            "duration",
            "time_zone",
            "iana_time_zone",
            "expiration",
            "expired",
            "reboot_setting",
        )
    } == {
        "key": "cfg-weekly-sat",
        "id": config_id("cfg-weekly-sat").lower(),
        "recurrence": "1Week Saturday",
        "recurrence_text": "every week on Saturday",
        "start": "2026-01-03 22:00",
        "duration": "03:55",
        "time_zone": "W. Europe Standard Time",
        "iana_time_zone": "Europe/Berlin",
        "expiration": "9999-12-31 23:59:59",
        "expired": False,
        "reboot_setting": "IfRequired",
    }
    assert sat["windows"] == {
        "classifications": ["Critical", "Security"],
        "kb_include": [],
        "kb_exclude": ["KB5034439"],
        "exclude_kbs_requiring_reboot": False,
    }
    assert sat["linux"] == {"classifications": ["Critical"], "package_include": [], "package_exclude": ["kernel*"]}
    assert sat["pre_tasks"] == [{"source": TASKS["preTasks"][0]["source"], "task_scope": "Resource"}]
    assert sat["post_tasks"] == [{"source": TASKS["postTasks"][0]["source"], "task_scope": "Global"}]
    daily = configurations(tuned)["cfg-daily"]
    assert (daily["windows"], daily["pre_tasks"], daily["reboot_setting"]) == (None, [], "Always")


def test_assignments_and_coverage(tuned: ScanResult) -> None:
    configs = configurations(tuned)
    sat, daily = configs["cfg-weekly-sat"], configs["cfg-daily"]
    assert (sat["static_assignments"], sat["dynamic_scopes"], sat["machines"]) == (3, [], 3)
    assert sat["by_environment"] == [{"key": "Dev", "machines": 1}, {"key": "Production", "machines": 2}]
    assert sat["by_os"] == [{"key": "Windows", "machines": 3}]
    assert sat["by_platform"] == [{"key": "Azure", "machines": 3}]
    assert (daily["static_assignments"], daily["machines"]) == (1, 2)
    assert daily["dynamic_scopes"] == [
        {
            "id": f"/subscriptions/{SUB}/providers/Microsoft.Maintenance/configurationAssignments/dyn-linux",
            "scope": f"/subscriptions/{SUB}",
            "filter": f"subscription {SUB}; OS: linux; tags (all): patchGroup = linux",
        }
    ]
    assert daily["by_platform"] == [{"key": "Arc", "machines": 1}, {"key": "Azure", "machines": 1}]
    schedules = js(tuned.summary)["schedules"]
    assert schedules["unscheduled_machines"] == 1  # vm-none
    assert schedules["multiple_configurations_machines"] == 1  # vm-both
    assert schedules["only_expired_configurations_machines"] == 1  # vm-expired-only
    assert schedules["unassigned_configurations"] == ["cfg-bad", "cfg-expired-just", "cfg-expires-now"]
    assert schedules["unknown_configuration_ids"] == [config_id("cfg-deleted").lower()]


def test_expiry_rule_edges(tuned: ScanResult) -> None:
    expired = {key: c["expired"] for key, c in configurations(tuned).items()}
    assert expired == {
        "cfg-bad": None,  # unknown zone and within 14 hours of the as-of time
        "cfg-daily": False,
        "cfg-expired": True,
        "cfg-expired-just": True,  # a minute before the as-of time
        "cfg-expires-now": False,  # exactly at the as-of time
        "cfg-weekly-sat": False,
    }
    assert js(tuned.summary)["schedules"]["expired_configurations"] == ["cfg-expired", "cfg-expired-just"]
    assert "exactly at the as-of time is not expired" in js(tuned.summary)["schedules"]["rules"]["expiry"]


def test_unreadable_schedules_are_reported(tuned: ScanResult) -> None:
    problems = js(tuned.summary)["schedules"]["problems"]
    assert [(p["key"], p["field"], p["value"]) for p in problems] == [
        ("cfg-bad", "recurrence", "Fortnightly"),
        ("cfg-bad", "time_zone", "Mars Standard Time"),
    ]
    assert problems[1]["message"] == "'Mars Standard Time' is not a known Windows time-zone name"
    bad = configurations(tuned)["cfg-bad"]
    assert (bad["recurrence_text"], bad["iana_time_zone"]) == (None, None)


def test_runs_per_configuration(tuned: ScanResult) -> None:
    sat = configurations(tuned)["cfg-weekly-sat"]["runs"]
    assert sat == {
        "schedule_runs": 2,
        "machine_runs": 6,
        "succeeded": 5,
        "failed": 1,
        "in_progress": 0,
        "other": 0,
        "success_rate": 83.33,
        "avg_duration_minutes": 132.67,  # (60 + 200 + 240 + 236 + 30 + 30) / 6
        "max_duration_minutes": 240.0,
        "window_minutes": 235,
        "max_duration_share_of_window": 102.13,
        "installation_runs": 6,
        "window_exceeded": 3,
        "window_exceeded_rate": 50.0,
        "last_run": {"start": "2026-10-31T21:00:00Z", "status": "Completed"},
    }
    daily = configurations(tuned)["cfg-daily"]["runs"]
    assert (
        daily["schedule_runs"],
        daily["machine_runs"],
        daily["success_rate"],
        daily["avg_duration_minutes"],
        daily["max_duration_share_of_window"],
        daily["window_exceeded_rate"],
    ) == (4, 4, 25.0, 20.0, 16.67, 0.0)
    # The last schedule run has no schedule record: its earliest machine start, and no status.
    assert daily["last_run"] == {"start": "2026-10-31T05:10:00Z", "status": None}
    idle = configurations(tuned)["cfg-expired"]["runs"]
    assert (idle["schedule_runs"], idle["success_rate"], idle["window_exceeded_rate"], idle["last_run"]) == (
        0,
        None,
        None,
        None,
    )


def test_failure_patterns_present(tuned: ScanResult) -> None:
    patterns = js(tuned.summary)["failure_patterns"]
    assert (patterns["runs"], patterns["failed"], patterns["fleet_failure_rate"]) == (12, 4, 33.33)
    dims = patterns["dimensions"]
    assert [(g["key"], g["runs"], g["failed"], g["failure_rate"], g["flagged"]) for g in dims["location"]] == [
        ("eastus2", 4, 3, 75.0, True),
        ("westeurope", 8, 1, 12.5, False),
    ]
    assert [(g["key"], g["runs"], g["failed"]) for g in dims["configuration"]] == [
        ("(no schedule)", 2, 0),
        ("cfg-daily", 4, 3),
        ("cfg-weekly-sat", 6, 1),
    ]
    # Hours from the window's start: Saturday runs start 5 minutes in, except one 65 minutes in; daily runs 10.
    assert [(g["key"], g["runs"], g["failed"], g["flagged"]) for g in dims["window_hour"]] == [
        ("00", 9, 4, False),
        ("01", 1, 0, False),
    ]
    assert [(g["key"], g["runs"]) for g in dims["os_version"]] == [("WindowsServer 2022-datacenter-g2", 8)]
    flags = [(f["kind"], f["dimension"], f["key"], f["runs"], f["count"], f["rate"]) for f in patterns["flags"]]
    assert flags == [
        ("failure_rate", "location", "eastus2", 4, 3, 75.0),
        ("failure_rate", "os", "Linux", 4, 3, 75.0),
        ("failure_rate", "platform", "Arc", 4, 3, 75.0),
        ("failure_rate", "environment", "Test", 4, 3, 75.0),
        ("failure_rate", "configuration", "cfg-daily", 4, 3, 75.0),
        ("window_exceeded", "configuration", "cfg-weekly-sat", 6, 3, 50.0),
    ]
    assert patterns["flags"][-1]["recommendation"] == (
        "window for cfg-weekly-sat is exceeded by 50% of its runs; lengthen it or split the scope"
    )
    assert "at least 4 finished installation runs" in patterns["rule"]


def test_failure_patterns_absent_for_tiny_groups(default: ScanResult) -> None:
    patterns = js(default.summary)["failure_patterns"]
    assert patterns["fleet_failure_rate"] == 33.33
    assert patterns["flags"] == []  # 75% in eastus2 and 50% overruns, but no group reaches 20 runs
    assert not any(g["flagged"] for groups in patterns["dimensions"].values() for g in groups)
    assert "at least 20 finished installation runs" in patterns["rule"]


def test_concurrency_in_utc_across_daylight_saving(tuned: ScanResult) -> None:
    concurrency = js(tuned.summary)["schedules"]["concurrency"]
    assert concurrency["week_start"] == "2026-10-26T00:00:00Z"
    series = concurrency["series"]
    # cfg-daily: 01:00 New York daylight time = 05:00-07:00 UTC every day, 2 machines (the Sunday 01:00 is the
    # first of the two 01:00s on the day New York falls back). cfg-weekly-sat: Saturday 22:00 Berlin winter time
    # = 21:00-00:55 UTC, 3 machines. cfg-expired's windows ended in September.
    expected = [0] * 168
    for day in range(7):
        expected[24 * day + 5] = expected[24 * day + 6] = 2
    for hour in (141, 142, 143, 144):
        expected[hour] = 3
    assert series == expected
    assert concurrency["peak"] == {"hour": 141, "start": "2026-10-31T21:00:00Z", "machines": 3}
    assert [p["hour"] for p in concurrency["peaks"]] == [141, 142, 143, 144]
    assert concurrency["peaks"][0]["configurations"] == ["cfg-weekly-sat"]
    assert concurrency["recommendation"] == (
        "4 hour(s) of the week have more than 2 machines scheduled (peak 3 at 2026-10-31T21:00:00Z); stagger the "
        "start times of cfg-weekly-sat or split their scopes"
    )


def test_no_peaks_under_the_default_limit(default: ScanResult) -> None:
    concurrency = js(default.summary)["schedules"]["concurrency"]
    assert (concurrency["limit"], concurrency["peaks"], concurrency["recommendation"]) == (500, [], None)


def test_thresholds(tuned: ScanResult, default: ScanResult) -> None:
    breaches = {b.rule: b for b in tuned.breaches}
    unscheduled = breaches["max_unscheduled_machines"]
    assert (unscheduled.dimension, unscheduled.key, unscheduled.observed, unscheduled.threshold) == (
        "overall",
        None,
        1,
        0,
    )
    assert unscheduled.message == (
        "machines covered by no maintenance configuration must be at most 0 machines; observed 1 machine"
    )
    window = breaches["max_window_exceeded_rate"]
    assert (window.dimension, window.key, window.observed, window.threshold) == (
        "configuration",
        "cfg-weekly-sat",
        50.0,
        40.0,
    )
    assert window.message == (
        "window-exceeded rate of configuration cfg-weekly-sat must be at most 40.00%; observed 50.00%"
    )
    assert window.query == "installations@v1"
    assert not {"max_unscheduled_machines", "max_window_exceeded_rate"} & {b.rule for b in default.breaches}


def test_thresholds_pass(tmp_path: Path) -> None:
    config = {"thresholds": {"max_unscheduled_machines": 1, "max_window_exceeded_rate": 50.0}}
    result = run_scan(tmp_path, schedule_fleet(), config)
    assert not {"max_unscheduled_machines", "max_window_exceeded_rate"} & {b.rule for b in result.breaches}


def test_deterministic_and_absent_without_schedules(tmp_path: Path, tuned: ScanResult) -> None:
    again = run_scan(
        tmp_path / "again",
        schedule_fleet(),
        {
            "schedules": {"pattern_min_runs": 4, "max_concurrent_machines": 2},
            "thresholds": {"max_unscheduled_machines": 0, "max_window_exceeded_rate": 40.0},
        },
    )
    assert dumps(js(again.summary)["schedules"]) == dumps(js(tuned.summary)["schedules"])
    assert dumps(js(again.summary)["failure_patterns"]) == dumps(js(tuned.summary)["failure_patterns"])
    f = Fleet()
    f.machine("vm-lonely")
    bare = run_scan(tmp_path / "bare", f, {"thresholds": {"max_window_exceeded_rate": 10.0}})
    schedules = js(bare.summary)["schedules"]
    assert (schedules["configurations"], schedules["unscheduled_machines"], schedules["concurrency"]["series"]) == (
        [],
        1,
        [0] * 168,
    )
    assert js(bare.summary)["failure_patterns"]["flags"] == []
    assert not bare.breaches or all(b.rule != "max_window_exceeded_rate" for b in bare.breaches)


def test_evaluation_exposes_the_audit(tmp_path: Path) -> None:
    schedule_fleet().write(tmp_path / "snap")
    source = SnapshotSource(read_snapshot(tmp_path / "snap"))
    catalog = Catalog()
    config = config_from_dict({"schedules": {"pattern_min_runs": 4}})
    try:
        tables = {
            qid: source.run(catalog.get(qid)[0].render(params)).table for qid, params in query_plan(config, AS_OF)
        }
    finally:
        source.close()
    evaluation = evaluate(tables, config=config, as_of=AS_OF, query_refs={})
    audit, patterns = evaluation.schedule_audit, evaluation.failure_patterns
    assert audit is not None and patterns is not None
    machine = f"/subscriptions/{SUB}/resourcegroups/rg-app/providers/microsoft.compute/virtualmachines/"
    assert audit.unscheduled == [machine + "vm-none"]
    assert audit.multiple == [machine + "vm-both"]
    assert audit.only_expired == [machine + "vm-expired-only"]
    sat = next(a for a in audit.configurations if a.configuration.name == "cfg-weekly-sat")
    assert sat.machines == tuple(machine + n for n in ("vm-both", "vm-prod-1", "vm-prod-2"))
    assert sat.static_targets == sat.machines and sat.static_assignments == 3
    assert sat.window is not None and sat.window.recurrence.weekdays == (5,)
    hours = {rid.rsplit("/", 1)[-1]: link.window_hour for rid, link in audit.run_links.items()}
    assert hours == {
        "r1": 0,
        "r2": 0,
        "r3": 0,
        "r4": 0,
        "r5": 0,
        "r6": 1,
        "d1": 0,
        "d2": 0,
        "d3": 0,
        "d4": 0,
        "u1": None,
        "u2": None,
    }
    assert audit.concurrency.series[141] == 3
    assert [f.key for f in patterns.flags] == ["eastus2", "Linux", "Arc", "Test", "cfg-daily", "cfg-weekly-sat"]
    assert evaluation.summary.schedules == schedule_summary(audit)
