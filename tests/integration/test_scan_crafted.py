"""End-to-end scans of crafted snapshots: every rule observed through summary.json."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from auditor.config import config_from_dict
from auditor.errors import ExitCode
from auditor.scan import scan
from tests.crafted import AS_OF, Fleet, days_ago, ts
from tests.schemas import assert_valid_summary
from tests.summaries import js

CONFIG = {"environment_aliases": {"Production": ["prod", "prd"]}}


def crafted(tmp_path: Path) -> Path:
    f = Fleet()
    # compliant: current assessment, patch exactly at its SLA (age 15 for Critical)
    a = f.machine("vm-a", tags={"Environment": "prod"})
    f.assessment(a.lower())  # the patch table spells the id in another case
    f.patch(a, "kb1", ["Critical"], published=ts(AS_OF - timedelta(days=15, hours=12)))
    # non-compliant: Critical+Security patch aged 20 (SLA 15); tag key spelled differently
    b = f.machine("vm-b", tags={"environment": "PRD"})
    f.assessment(b)
    f.patch(b, "kb2", ["Security", "Critical"], published=days_ago(20))
    f.patch(b, "kb3", ["Other"], published=days_ago(300))
    # stale assessment -> unknown, though its patches are overdue
    c = f.machine("vm-c", tags={"Environment": "Dev"})
    f.assessment(c, last_modified=ts(AS_OF - timedelta(days=7, seconds=1)))
    f.patch(c, "kb4", ["Critical"], published=days_ago(40))
    # failed assessment -> unknown
    d = f.machine("vm-d", platform="Arc", os="Linux", tags={})
    f.assessment(d, status="Failed")
    # no assessment -> unknown
    f.machine("vm-e", os="Linux", tags={"Environment": "Dev"})
    # Linux machine with an undated Security patch and no history: unknown age counts as overdue
    g = f.machine("vm-g", platform="Arc", os="Linux", tags={"Environment": "prod"})
    f.assessment(g)
    f.patch(g, "openssl_3", ["Security"])
    # assessment exactly at the stale boundary is current
    h = f.machine("vm-h", tags={"Environment": "Staging"})
    f.assessment(h, last_modified=ts(AS_OF - timedelta(days=7)))
    # a patch of a machine not in resources is out of scope
    f.patch(
        "/subscriptions/x/resourceGroups/r/providers/Microsoft.Compute/virtualMachines/gone",
        "kb9",
        ["Critical"],
        published=days_ago(90),
    )
    f.write(tmp_path / "snap")
    return tmp_path / "snap"


def run(tmp_path: Path, config: dict | None = None, **kwargs: object) -> tuple[dict, Path, object]:
    kwargs.setdefault("formats", ["json"])  # figures only: the workbook and PDF have tests of their own
    result = scan(
        config_from_dict(config or CONFIG), source=f"snapshot:{crafted(tmp_path)}", out=tmp_path / "packs", **kwargs
    )  # type: ignore[arg-type]
    summary = json.loads((result.pack / "summary.json").read_text())
    assert summary == js(result.summary)
    assert_valid_summary(summary)
    return summary, result.pack, result


def test_statuses_and_rates(tmp_path: Path) -> None:
    summary, _, result = run(tmp_path)
    assert (summary["machines"], summary["compliant"], summary["non_compliant"], summary["unknown"]) == (7, 2, 2, 3)
    assert summary["compliance_rate"] == 28.57
    assert summary["as_of"] == "2026-11-01T06:00:00Z"
    assert summary["assessment"] == {"none": 1, "failed": 1, "stale": 1, "current": 4}
    assert summary["unknown_age_patches"] == 1
    envs = {row["key"]: row for row in summary["by_environment"]}
    assert sorted(envs) == ["(untagged)", "Dev", "Production", "Staging"]
    assert (envs["Production"]["machines"], envs["Production"]["compliant"], envs["Production"]["non_compliant"]) == (
        3,
        1,
        2,
    )
    assert envs["Production"]["compliance_rate"] == 33.33
    assert envs["Dev"]["unknown"] == 2 and envs["Dev"]["compliance_rate"] == 0.0
    assert envs["Staging"]["compliance_rate"] == 100.0
    assert [row["key"] for row in summary["by_platform"]] == ["Arc", "Azure"]
    assert {row["key"]: row["machines"] for row in summary["by_os"]} == {"Linux": 3, "Windows": 4}
    assert result.exit_code is ExitCode.OK  # type: ignore[attr-defined]


def test_by_classification_counts_every_classification_of_a_patch(tmp_path: Path) -> None:
    summary, _, _ = run(tmp_path)
    rows = {row["classification"]: row for row in summary["by_classification"]}
    assert [row["classification"] for row in summary["by_classification"]] == sorted(rows)
    # kb1 (a), kb2 (b) and kb4 (c, stale but counted); the out-of-scope machine's patch is not
    assert rows["Critical"] == {
        "classification": "Critical",
        "pending_patches": 3,
        "machines_affected": 3,
        "overdue_machines": 2,
        "sla_days": 15,
    }
    # kb2 is Security too, and overdue by its own (Critical) SLA; openssl_3 has unknown age
    assert rows["Security"]["pending_patches"] == 2
    assert rows["Security"]["overdue_machines"] == 2
    assert rows["Other"]["overdue_machines"] is None and rows["Other"]["pending_patches"] == 1


def test_sla_map_replaces_default(tmp_path: Path) -> None:
    summary, _, _ = run(tmp_path, {**CONFIG, "sla": {"Other": 100}})
    rows = {row["classification"]: row for row in summary["by_classification"]}
    assert rows["Critical"]["overdue_machines"] is None
    assert rows["Other"]["overdue_machines"] == 1
    # vm-b is non-compliant only through its 300-day-old Other patch; vm-g's Security patch is no longer enforced
    assert (summary["compliant"], summary["non_compliant"]) == (3, 1)


def test_same_input_gives_byte_identical_summary(tmp_path: Path) -> None:
    snap = crafted(tmp_path)
    config = config_from_dict(CONFIG)
    first = scan(config, source=f"snapshot:{snap}", out=tmp_path / "one", formats=["json"])
    second = scan(config, source=f"snapshot:{snap}", out=tmp_path / "two", formats=["json"])
    assert first.pack != second.pack
    assert (first.pack / "summary.json").read_bytes() == (second.pack / "summary.json").read_bytes()
    assert (first.pack / "breaches.json").read_bytes() == (second.pack / "breaches.json").read_bytes()


def test_as_of_moves_the_rules(tmp_path: Path) -> None:
    summary, _, _ = run(tmp_path, as_of=AS_OF + timedelta(days=30))
    # every assessment is now stale
    assert summary["unknown"] == 7 and summary["compliance_rate"] == 0.0
    assert summary["as_of"] == "2026-12-01T06:00:00Z"


def test_pack_holds_evidence_for_every_query(tmp_path: Path) -> None:
    summary, pack, _ = run(tmp_path)
    names = sorted(p.name for p in (pack / "evidence").iterdir())
    assert names == sorted(
        [
            *(f"{q['id']}@v{q['version']}.jsonl.gz" for q in summary["queries"]),
            "controls.jsonl.gz",
            "first_seen.jsonl.gz",
            "history.jsonl.gz",
        ]
    )
    rows = {q["id"]: q["rows"] for q in summary["queries"]}
    assert rows["machine_facts"] == 7
    assert not list((tmp_path / "packs").glob(".auditor-partial-*"))


def test_breaches_and_fail_on_breach(tmp_path: Path) -> None:
    config = {
        **CONFIG,
        "thresholds": {
            "min_compliance_rate": 90,
            "by_environment": {"Staging": 99, "Production": 50},
            "max_overdue_machines": {"critical": 1},
        },
    }
    summary, pack, result = run(tmp_path, config, fail_on_breach=True)
    breaches = json.loads((pack / "breaches.json").read_text())["breaches"]
    assert summary["breaches"] == 3
    assert [(b["rule"], b["dimension"], b["key"], b["observed"], b["threshold"]) for b in breaches] == [
        ("min_compliance_rate", "overall", None, 28.57, 90.0),
        ("min_compliance_rate", "environment", "Production", 33.33, 50.0),
        ("max_overdue_machines", "classification", "Critical", 2, 1),
    ]
    assert breaches[0]["query"] == "pending_patches@v2"
    assert breaches[0]["message"] == "compliance rate must be at least 90.00%; observed 28.57%"
    assert result.exit_code is ExitCode.FINDINGS  # type: ignore[attr-defined]


@pytest.mark.parametrize("flag", [False, None])
def test_breaches_without_fail_on_breach_exit_zero(tmp_path: Path, flag: bool | None) -> None:
    _, _, result = run(tmp_path, {**CONFIG, "thresholds": {"min_compliance_rate": 90}}, fail_on_breach=flag)
    assert result.exit_code is ExitCode.OK  # type: ignore[attr-defined]


@pytest.mark.slow
def test_history_dates_undated_patches_from_earlier_scans_only(tmp_path: Path) -> None:
    snap = crafted(tmp_path)
    config = config_from_dict(CONFIG)
    history = tmp_path / "history.duckdb"
    first = scan(config, source=f"snapshot:{snap}", out=tmp_path / "p", history=history, formats=["json"])
    again = scan(config, source=f"snapshot:{snap}", out=tmp_path / "p", history=history, formats=["json"])
    # the same as-of never dates a patch from itself: vm-g stays non-compliant (unknown age)
    assert first.summary == again.summary and js(first.summary)["unknown_age_patches"] == 1
    later = scan(
        config,
        source=f"snapshot:{snap}",
        out=tmp_path / "p",
        history=history,
        as_of=AS_OF + timedelta(days=5),
        formats=["json"],
    )
    # vm-g's Security patch was first seen 5 days earlier: within its 30-day SLA; all else went stale? no: 5 days
    assert js(later.summary)["unknown_age_patches"] == 0
    rows = json_rows(later.pack / "evidence" / "first_seen.jsonl.gz")
    assert [r["firstSeen"] for r in rows] == ["2026-11-01T06:00:00Z"]
    from auditor.history import HistoryStore

    with HistoryStore(history) as store:
        runs = store.runs()
    assert [r["as_of"] for r in runs] == [
        "2026-11-01T06:00:00Z",
        "2026-11-06T06:00:00Z",
    ]  # re-scan replaced, not doubled


def test_no_history_leaves_no_file(tmp_path: Path) -> None:
    history = tmp_path / "h.duckdb"
    result = scan(
        config_from_dict(CONFIG),
        source=f"snapshot:{crafted(tmp_path)}",
        out=tmp_path / "p",
        history=history,
        use_history=False,
        formats=["json"],
    )
    assert not history.exists() and js(result.summary)["machines"] == 7


def json_rows(path: Path) -> list[dict]:
    import gzip

    with gzip.open(path, "rt") as handle:
        return [json.loads(line) for line in handle]


@pytest.mark.slow
def test_history_trend_in_reports_is_earlier_scans_of_the_same_estate(tmp_path: Path) -> None:
    from auditor.digests import scope_key
    from auditor.history import HistoryStore

    snap = crafted(tmp_path)
    config = config_from_dict(CONFIG)
    history = tmp_path / "history.duckdb"
    for days in (0, 10, 20):
        scan(
            config,
            source=f"snapshot:{snap}",
            out=tmp_path / "p",
            history=history,
            as_of=AS_OF + timedelta(days=days),
            formats=["json"],
        )
    with HistoryStore(history) as store:
        everything = store.runs()
        scope = everything[0]["scope_key"]
        before = store.runs(scope=scope, before=AS_OF + timedelta(days=20))
        other = store.runs(scope=scope_key({"tenant_id": "elsewhere"}))
    assert [r["as_of"] for r in before] == ["2026-11-01T06:00:00Z", "2026-11-11T06:00:00Z"]
    assert len(everything) == 3 and other == []


@pytest.mark.parametrize("classifications", [["Critical", "Security"], ["Security"], ["Other", "Security", "Updates"]])
def test_undated_rows_taken_from_overdue_patches_equal_the_undated_query(
    tmp_path: Path, classifications: list[str]
) -> None:
    from auditor.compliance.facts import undated_table
    from auditor.kql.catalog import Catalog
    from auditor.package_data import sample_fleet
    from auditor.snapshots.format import read_snapshot
    from auditor.sources.snapshot import SnapshotSource

    catalog = Catalog()
    params = {"classifications": classifications, "as_of": AS_OF, "min_sla_days": 7}
    found = []
    for snapshot in (read_snapshot(crafted(tmp_path)), read_snapshot(sample_fleet())):
        source = SnapshotSource(snapshot)
        try:
            overdue = source.run(catalog.get("overdue_patches")[0].render(params)).table
            undated = source.run(catalog.get("undated_patches")[0].render({"classifications": classifications})).table
        finally:
            source.close()
        derived = undated_table({"overdue_patches": overdue})
        # undated_patches also projects the id Resource Graph pages by; the rows are the same.
        assert derived.equals(undated.select(derived.column_names)), (derived.num_rows, undated.num_rows)
        found.append(undated.num_rows)
    assert found[1] > 100  # the sample has undated patches in each of these classification sets
