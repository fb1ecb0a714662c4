"""Exceptions on a crafted fleet: selectors, narrowing, expiry, the figures with and without them, and replay."""

from __future__ import annotations

import gzip
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from auditor.cli.app import main
from auditor.compliance.evaluate import Evaluation, evaluate
from auditor.compliance.thresholds import Breach
from auditor.config import Config, load_config
from auditor.kql.catalog import Catalog
from auditor.risk_register import validate_register
from auditor.scan import query_plan, scan
from auditor.snapshots.format import read_snapshot
from auditor.sources.snapshot import SnapshotSource
from tests.crafted import AS_OF, SUB, Fleet, days_ago
from tests.integration.test_replay import assert_replays_identically, json_only
from tests.schemas import assert_valid_summary
from tests.summaries import js

OTHER_SUB = "00000000-0000-0000-0000-0000000000a2"
NAMES = ("vm-erp-1", "vm-erp-2", "vm-legacy", "vm-linux", "vm-stale", "vm-clean", "vm-mixed")


def _kb(fleet: Fleet, number: str) -> None:
    fleet.tables["patchassessmentresources"][-1]["properties"]["kbId"] = number


def exception_fleet() -> tuple[Fleet, dict[str, str]]:
    """Seven machines; the default SLA (Critical 15, Security 30) makes five non-compliant, one unknown."""
    f = Fleet()
    ids = {
        "vm-erp-1": f.machine("vm-erp-1", tags={"Environment": "Production", "App": "erp"}),
        "vm-erp-2": f.machine("vm-erp-2", tags={"Environment": "Production", "app": "erp"}),
        "vm-legacy": f.machine("vm-legacy", rg="RG-Legacy", tags={"Environment": "Production"}),
        "vm-linux": f.machine("vm-linux", os="Linux", sub=OTHER_SUB, tags={"Environment": "Dev", "App": "erp"}),
        "vm-stale": f.machine("vm-stale", tags={"Environment": "Production", "App": "erp"}),
        "vm-clean": f.machine("vm-clean", tags={"Environment": "Dev"}),
        "vm-mixed": f.machine("vm-mixed"),
    }
    for name, rid in ids.items():
        f.assessment(rid, last_modified=days_ago(10) if name == "vm-stale" else None)
    f.patch(ids["vm-erp-1"], "kb1", ["Critical"], published=days_ago(20), name="2026-10 Cumulative Update")
    _kb(f, "5031361")
    f.patch(ids["vm-erp-1"], "kb2", ["Critical"], published=days_ago(20), name="2026-10 Servicing Stack Update")
    _kb(f, "5031362")
    f.patch(ids["vm-erp-2"], "sec", ["Security"], published=days_ago(40))
    f.patch(ids["vm-legacy"], "sec", ["Security"], published=days_ago(40))
    f.patch(ids["vm-legacy"], "crit", ["Critical"], published=days_ago(20))
    f.patch(ids["vm-linux"], "openssl", ["Security"], name="openssl")  # undated: age unknown, so overdue
    f.patch(ids["vm-linux"], "curl", ["Security"], name="curl")
    f.patch(ids["vm-stale"], "crit", ["Critical"], published=days_ago(20))
    f.patch(ids["vm-clean"], "sec", ["Security"], published=days_ago(20))  # older than 15 days, within its 30
    f.patch(ids["vm-mixed"], "both", ["Critical", "Security"], published=days_ago(20))
    return f, ids


@pytest.fixture(scope="module")
def fleet_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("exceptions") / "snap"
    exception_fleet()[0].write(path)
    return path


@pytest.fixture(scope="module")
def ids() -> dict[str, str]:
    return exception_fleet()[1]


@pytest.fixture(scope="module")
def tables(fleet_dir: Path) -> dict[str, pa.Table]:
    source = SnapshotSource(read_snapshot(fleet_dir))
    catalog = Catalog()
    try:
        return {qid: source.run(catalog.get(qid)[0].render(p)).table for qid, p in query_plan(Config(), AS_OF)}
    finally:
        source.close()


def entry(ident: str = "EX-1", **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": ident,
        "owner": "app-team@contoso.com",
        "justification": "vendor freeze",
        "ticket": "CHG-1",
        "created": "2026-10-01",
        "expires_on": "2026-12-31",
    }
    return {**base, **fields}


def judge(tables: dict[str, pa.Table], *entries: dict[str, Any], as_of: datetime = AS_OF) -> Evaluation:
    register = validate_register({"exception": list(entries)}, max_days=180, source="exceptions.toml")
    return evaluate(tables, config=Config(), as_of=as_of, query_refs={}, register=register)


def statuses(evaluation: Evaluation) -> dict[str, str]:
    return {v.machine.name: v.status.value for v in evaluation.verdicts}


BASELINE = {
    "vm-erp-1": "non_compliant",
    "vm-erp-2": "non_compliant",
    "vm-legacy": "non_compliant",
    "vm-linux": "non_compliant",
    "vm-stale": "unknown",
    "vm-clean": "compliant",
    "vm-mixed": "non_compliant",
}


def test_without_a_register_nothing_changes(tables: dict[str, pa.Table]) -> None:
    evaluation = evaluate(tables, config=Config(), as_of=AS_OF, query_refs={})
    assert statuses(evaluation) == BASELINE
    s = js(evaluation.summary)
    assert (s["compliant"], s["compliant_with_exception"], s["compliance_rate"]) == (1, 0, 14.29)
    assert (s["compliance_rate_without_exceptions"], s["exception_rate"]) == (14.29, 0.0)
    assert (s["exceptions"], s["exception_warnings"]) == ([], [])
    assert len(s["exceptions_rules"]) == 7
    assert_valid_summary(s)


def test_overdue_patch_detail(tables: dict[str, pa.Table]) -> None:
    detail = [
        (p.machine_id.rsplit("/", 1)[1], p.name, p.kb_id, p.age_days, p.sla_days, p.classifications)
        for p in judge(tables).overdue_patches
    ]
    # Sorted by machine id (rg-app before rg-legacy, the other subscription last), then patch key. vm-clean's
    # Security patch is older than the smallest SLA but within its own 30 days: not overdue.
    assert detail == [
        ("vm-erp-1", "2026-10 Cumulative Update", "5031361", 20, 15, ("Critical",)),
        ("vm-erp-1", "2026-10 Servicing Stack Update", "5031362", 20, 15, ("Critical",)),
        ("vm-erp-2", "sec", "", 40, 30, ("Security",)),
        ("vm-mixed", "both", "", 20, 15, ("Critical", "Security")),
        ("vm-stale", "crit", "", 20, 15, ("Critical",)),
        ("vm-legacy", "crit", "", 20, 15, ("Critical",)),
        ("vm-legacy", "sec", "", 40, 30, ("Security",)),
        ("vm-linux", "curl", "", None, 30, ("Security",)),
        ("vm-linux", "openssl", "", None, 30, ("Security",)),
    ]


@pytest.mark.parametrize(
    ("selector", "matched"),
    [
        ({"machine_ids": ["ERP-1"]}, ["vm-erp-1"]),  # the id is spelt in upper case below
        ({"tags": {"APP": "erp"}}, ["vm-erp-1", "vm-erp-2", "vm-stale", "vm-linux"]),  # sorted by machine id
        ({"tags": {"app": "ERP"}}, []),  # values match exactly
        ({"tags": {"app": ["crm", "erp"], "environment": "Production"}}, ["vm-erp-1", "vm-erp-2", "vm-stale"]),
        ({"subscriptions": [OTHER_SUB.upper()]}, ["vm-linux"]),
        ({"subscriptions": [SUB], "tags": {"App": "erp"}}, ["vm-erp-1", "vm-erp-2", "vm-stale"]),
        ({"resource_groups": ["rg-legacy"]}, ["vm-legacy"]),
        ({"resource_groups": [f"/subscriptions/{SUB}/resourceGroups/RG-LEGACY"]}, ["vm-legacy"]),
        ({"resource_groups": [f"/subscriptions/{OTHER_SUB}/resourceGroups/RG-Legacy"]}, []),
    ],
    ids=[
        "machine-id-any-case",
        "tag-key-any-case",
        "tag-value-exact",
        "tag-values-and-keys",
        "subscription",
        "subscription-and-tag",
        "resource-group-name",
        "resource-group-id",
        "resource-group-other-sub",
    ],
)
def test_selectors(
    tables: dict[str, pa.Table], ids: dict[str, str], selector: dict[str, Any], matched: list[str]
) -> None:
    if "machine_ids" in selector:
        selector = {"machine_ids": [ids["vm-erp-1"].upper()]}
    evaluation = judge(tables, entry(**selector))
    row = js(evaluation.summary)["exceptions"][0]
    assert [m.rsplit("/", 1)[1] for m in row["matched_machine_ids"]] == matched
    assert row["matched_machines"] == len(matched)
    # Every matched machine with an overdue patch is now compliant_with_exception; unknown stays unknown.
    expected = {**BASELINE, **{n: "compliant_with_exception" for n in matched if BASELINE[n] == "non_compliant"}}
    assert statuses(evaluation) == expected
    warnings = js(evaluation.summary)["exception_warnings"]
    assert warnings == (
        []
        if matched
        else [
            {
                "exception": "EX-1",
                "kind": "matches_nothing",
                "message": "exception 'EX-1' matches no machine in scope; check its selector",
            }
        ]
    )


def test_rates_with_and_without_exceptions(tables: dict[str, pa.Table]) -> None:
    evaluation = judge(tables, entry(tags={"App": "erp"}))
    s = js(evaluation.summary)
    assert (s["machines"], s["compliant"], s["non_compliant"], s["unknown"]) == (7, 4, 2, 1)
    assert (s["compliant_with_exception"], s["compliance_rate"]) == (3, 57.14)
    assert (s["compliance_rate_without_exceptions"], s["exception_rate"]) == (14.29, 42.86)
    envs = {row["key"]: row for row in s["by_environment"]}
    figures = (
        "machines",
        "compliant",
        "non_compliant",
        "unknown",
        "compliant_with_exception",
        "compliance_rate",
        "compliance_rate_without_exceptions",
        "exception_rate",
    )
    assert [envs["Production"][k] for k in figures] == [4, 2, 1, 1, 2, 50.0, 0.0, 50.0]
    assert [envs["Dev"][k] for k in figures] == [2, 2, 0, 0, 1, 100.0, 50.0, 50.0]
    assert [envs["(untagged)"][k] for k in figures] == [1, 0, 1, 0, 0, 0.0, 0.0, 0.0]
    subs = {row["key"]: row for row in s["by_subscription"]}
    assert (subs[OTHER_SUB]["compliant_with_exception"], subs[OTHER_SUB]["compliance_rate"]) == (1, 100.0)
    # An overdue patch stays overdue: by_classification counts machines whether or not an exception covers them.
    overdue = {row["classification"]: row["overdue_machines"] for row in s["by_classification"]}
    assert overdue == {"Critical": 4, "Security": 4}
    row = s["exceptions"][0]
    assert (row["status"], row["days_to_expiry"], row["patches_covered"], row["machines_excepted"]) == (
        "active",
        60,
        6,
        3,
    )
    assert_valid_summary(s)


def test_narrowed_to_kb_covers_only_the_named_patches(tables: dict[str, pa.Table], ids: dict[str, str]) -> None:
    one = judge(tables, entry("EX-KB", machine_ids=[ids["vm-erp-1"]], kb_ids=["KB5031361"]))
    assert statuses(one)["vm-erp-1"] == "non_compliant"  # KB5031362 is overdue too and not named
    assert js(one.summary)["exceptions"][0]["patches_covered"] == 1
    covered = {p.kb_id: p.exceptions for p in one.overdue_patches if p.machine_id == ids["vm-erp-1"].lower()}
    assert covered == {"5031361": ("EX-KB",), "5031362": ()}
    group = next(g for g in one.groups if g.group.machine_id == ids["vm-erp-1"].lower())
    assert group.overdue and group.covered_by == ()
    both = judge(tables, entry("EX-KB", machine_ids=[ids["vm-erp-1"]], kb_ids=["kb5031361", "5031362"]))
    assert statuses(both)["vm-erp-1"] == "compliant_with_exception"
    assert js(both.summary)["exceptions"][0]["patches_covered"] == 2
    # Two narrowed exceptions may share a group between them.
    split = judge(
        tables,
        entry("EX-A", machine_ids=[ids["vm-erp-1"]], kb_ids=["5031361"]),
        entry("EX-B", tags={"App": "erp"}, kb_ids=["5031362"]),
    )
    verdict = next(v for v in split.verdicts if v.machine.name == "vm-erp-1")
    assert (verdict.status.value, verdict.exceptions) == ("compliant_with_exception", ("EX-A", "EX-B"))
    assert [(r["id"], r["patches_covered"], r["machines_excepted"]) for r in js(split.summary)["exceptions"]] == [
        ("EX-A", 1, 1),
        ("EX-B", 1, 1),
    ]


def test_narrowed_to_packages(tables: dict[str, pa.Table]) -> None:
    one = judge(tables, entry("EX-PKG", subscriptions=[OTHER_SUB], packages=["OpenSSL"]))
    assert statuses(one)["vm-linux"] == "non_compliant"
    assert js(one.summary)["exceptions"][0]["patches_covered"] == 1
    both = judge(tables, entry("EX-PKG", subscriptions=[OTHER_SUB], packages=["openssl", "curl"]))
    assert statuses(both)["vm-linux"] == "compliant_with_exception"
    assert js(both.summary)["exceptions"][0]["narrowed_to"] == {
        "classifications": [],
        "kb_ids": [],
        "packages": ["openssl", "curl"],
    }


def test_narrowed_to_classifications(tables: dict[str, pa.Table], ids: dict[str, str]) -> None:
    security = judge(tables, entry("EX-C", resource_groups=["RG-Legacy"], classifications=["security"]))
    assert statuses(security)["vm-legacy"] == "non_compliant"  # its Critical group is not covered
    assert js(security.summary)["exceptions"][0]["patches_covered"] == 1
    assert (
        judge(
            tables, entry("EX-C", resource_groups=["RG-Legacy"], classifications=["Security", "Critical"])
        ).summary.counts.compliant_with_exception
        == 1
    )
    # A patch that is Critical and Security is waived only by an exception listing both.
    mixed = {"machine_ids": [ids["vm-mixed"]]}
    only = judge(tables, entry("EX-M", **mixed, classifications=["Security"]))
    assert statuses(only)["vm-mixed"] == "non_compliant" and js(only.summary)["exceptions"][0]["patches_covered"] == 0
    assert statuses(judge(tables, entry("EX-M", **mixed, classifications=["Critical", "Security"])))["vm-mixed"] == (
        "compliant_with_exception"
    )


def test_an_exception_never_turns_unknown_into_compliance(tables: dict[str, pa.Table], ids: dict[str, str]) -> None:
    evaluation = judge(tables, entry(machine_ids=[ids["vm-stale"]]))
    verdict = next(v for v in evaluation.verdicts if v.machine.name == "vm-stale")
    assert (verdict.status.value, verdict.exceptions) == ("unknown", ("EX-1",))
    row = js(evaluation.summary)["exceptions"][0]
    assert (row["patches_covered"], row["machines_excepted"], js(evaluation.summary)["unknown"]) == (1, 0, 1)


@pytest.mark.parametrize(
    ("created", "expires_on", "status", "days", "effect", "warning"),
    [
        ("2026-10-01", "2026-11-01", "expiring", 0, True, "expires on 2026-11-01, on the as-of date"),
        ("2026-10-01", "2026-10-31", "expired", -1, False, None),
        ("2026-10-01", "2026-11-15", "expiring", 14, True, "expires on 2026-11-15, 14 days after the as-of date"),
        ("2026-10-01", "2026-11-16", "active", 15, True, None),
        ("2026-11-02", "2026-12-01", "not_yet_active", 30, False, None),
        ("2026-11-01", "2026-11-30", "active", 29, True, None),
    ],
    ids=[
        "expires-on-the-as-of-date",
        "expired-yesterday",
        "expiring-in-14-days",
        "active-15-days",
        "not-yet-active",
        "created-on-the-as-of-date",
    ],
)
def test_expiry(
    tables: dict[str, pa.Table],
    ids: dict[str, str],
    created: str,
    expires_on: str,
    status: str,
    days: int,
    effect: bool,
    warning: str | None,
) -> None:
    evaluation = judge(tables, entry("EX-7", machine_ids=[ids["vm-erp-1"]], created=created, expires_on=expires_on))
    row = js(evaluation.summary)["exceptions"][0]
    assert (row["status"], row["days_to_expiry"], row["patches_covered"]) == (status, days, 2 if effect else 0)
    assert statuses(evaluation)["vm-erp-1"] == ("compliant_with_exception" if effect else "non_compliant")
    messages = [w["message"] for w in js(evaluation.summary)["exception_warnings"]]
    if warning is None:
        assert messages == []
    else:
        assert messages == [
            f"exception 'EX-7' (owner app-team@contoso.com, ticket CHG-1) {warning} (warning window "
            "14 days); renew it after review or patch the machines"
        ]
    expired = [b for b in evaluation.breaches if b.rule == "exception_expired"]
    if status == "expired":
        assert expired == [
            Breach(
                rule="exception_expired",
                dimension="exception",
                key="EX-7",
                observed=1.0,
                threshold=0.0,
                severity="high",
                message="days past the expiry date of exception EX-7 must be at most 0 days; observed 1 day",
                query="evidence/exceptions.jsonl.gz",
            )
        ]
        assert js(evaluation.summary)["breaches"] == 1
    else:
        assert expired == [] and js(evaluation.summary)["breaches"] == 0
    checks = [(t.requirement(), observed) for t, observed in evaluation.threshold_checks]
    assert checks == [
        ("days past the expiry date of exception EX-7 must be at most 0 days", 1.0 if status == "expired" else 0.0)
    ]


def test_active_through_the_end_of_its_expiry_day(tables: dict[str, pa.Table], ids: dict[str, str]) -> None:
    expires = entry("EX-7", machine_ids=[ids["vm-erp-1"]], expires_on="2026-11-01")
    last = judge(tables, expires, as_of=datetime(2026, 11, 1, 23, 59, 59, tzinfo=UTC))
    after = judge(tables, expires, as_of=datetime(2026, 11, 2, tzinfo=UTC))
    assert (js(last.summary)["exceptions"][0]["status"], statuses(last)["vm-erp-1"]) == (
        "expiring",
        "compliant_with_exception",
    )
    assert (js(after.summary)["exceptions"][0]["status"], statuses(after)["vm-erp-1"]) == ("expired", "non_compliant")


def test_summary_row_of_an_exception(tables: dict[str, pa.Table], ids: dict[str, str]) -> None:
    row = js(
        judge(
            tables,
            entry(
                "EX-9",
                machine_ids=[ids["vm-erp-1"].upper()],
                tags={"App": "erp"},
                justification=" legacy ERP ",
                ticket="RISK-9",
            ),
        ).summary
    )["exceptions"][0]
    assert row == {
        "id": "EX-9",
        "owner": "app-team@contoso.com",
        "justification": "legacy ERP",
        "ticket": "RISK-9",
        "created": "2026-10-01",
        "expires_on": "2026-12-31",
        "status": "active",
        "days_to_expiry": 60,
        "selector": {
            "machine_ids": [ids["vm-erp-1"].lower()],
            "tags": {"App": ["erp"]},
            "subscriptions": [],
            "resource_groups": [],
        },
        "narrowed_to": {"classifications": [], "kb_ids": [], "packages": []},
        "matched_machines": 1,
        "matched_machine_ids": [ids["vm-erp-1"].lower()],
        "patches_covered": 2,
        "machines_excepted": 1,
    }


REGISTER = """
[[exception]]
id = "EX-1"
owner = "erp-team@contoso.com"
justification = "ERP vendor freeze"
ticket = "CHG-1"
created = 2026-10-01
expires_on = 2026-11-10
tags = { App = "erp" }
kb_ids = ["KB5031361", "KB5031362"]

[[exception]]
id = "EX-2"
owner = "platform-team@contoso.com"
justification = "legacy"
ticket = "RISK-2"
created = 2026-06-01
expires_on = 2026-10-20
resource_groups = ["RG-Legacy"]
"""


def _config_dir(tmp_path: Path, register: str) -> Path:
    folder = tmp_path / "cfg"
    folder.mkdir()
    (folder / "auditor.toml").write_text("[thresholds]\nmin_compliance_rate = 10\n")
    (folder / "exceptions.toml").write_text(register)
    return folder / "auditor.toml"


def test_scan_stores_the_register_and_replays_byte_identically(fleet_dir: Path, tmp_path: Path) -> None:
    config = load_config(_config_dir(tmp_path, REGISTER))
    result = scan(
        config, source=f"snapshot:{fleet_dir}", out=tmp_path / "packs", use_history=False, renderers=json_only()
    )
    s = js(result.summary)
    assert (s["compliant_with_exception"], s["compliance_rate"], s["compliance_rate_without_exceptions"]) == (
        1,
        28.57,
        14.29,
    )
    assert [b.rule for b in result.breaches] == ["exception_expired"]
    assert result.warnings == [
        "exception 'EX-1' (owner erp-team@contoso.com, ticket CHG-1) expires on 2026-11-10, 9 days after the as-of "
        "date (warning window 14 days); renew it after review or patch the machines",
        "1 machine is compliant only through exceptions: compliance rate 28.57% with exceptions, 14.29% without",
    ]
    with gzip.open(result.pack / "evidence" / "exceptions.jsonl.gz", "rt") as handle:
        stored = [json.loads(line) for line in handle]
    assert [(r["id"], r["kb_ids"], r["expires_on"]) for r in stored] == [
        ("EX-1", '["5031361","5031362"]', "2026-11-10"),
        ("EX-2", "[]", "2026-10-20"),
    ]
    # The replay reads the register from the pack, not from the file.
    (tmp_path / "cfg" / "exceptions.toml").unlink()
    assert_replays_identically(result.pack, tmp_path / "replayed", json_only())


def test_a_pack_without_a_register_has_no_register_evidence(fleet_dir: Path, tmp_path: Path) -> None:
    result = scan(
        Config(), source=f"snapshot:{fleet_dir}", out=tmp_path / "packs", use_history=False, renderers=json_only()
    )
    assert not (result.pack / "evidence" / "exceptions.jsonl.gz").exists()
    assert js(result.summary)["exceptions"] == [] and result.warnings == []


def _cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["auditor", *args])
    monkeypatch.setenv("COLUMNS", "250")
    with pytest.raises(SystemExit) as exited:
        main()
    captured = capsys.readouterr()
    return int(exited.value.code or 0), captured.out, captured.err


def test_cli_refuses_a_bad_register_before_scanning(
    fleet_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config_dir(tmp_path, REGISTER.replace('owner = "platform-team@contoso.com"\n', ""))
    monkeypatch.setattr(SnapshotSource, "run", lambda *_: pytest.fail("queried a source with a bad register"))
    code, _, err = _cli(
        monkeypatch,
        capsys,
        "scan",
        "--source",
        f"snapshot:{fleet_dir}",
        "--config",
        str(config),
        "--out",
        str(tmp_path / "packs"),
        "--no-history",
    )
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 2 and "Traceback" not in err
    assert lines[0] == f"error: {config.parent / 'exceptions.toml'}: exception 'EX-2': missing required key 'owner'"
    assert lines[1] == "hint: see samples/exceptions.toml for every key and its meaning"
    assert not (tmp_path / "packs").exists()


def test_cli_prints_the_register_warnings(
    fleet_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config_dir(tmp_path, REGISTER)
    code, out, err = _cli(
        monkeypatch,
        capsys,
        "scan",
        "--source",
        f"snapshot:{fleet_dir}",
        "--config",
        str(config),
        "--out",
        str(tmp_path / "packs"),
        "--no-history",
    )
    assert code == 0, err
    assert "warning: exception 'EX-1' (owner erp-team@contoso.com, ticket CHG-1) expires on 2026-11-10" in err
    assert (
        "warning: 1 machine is compliant only through exceptions: compliance rate 28.57% with exceptions, 14.29% without"
        in err
    )
    assert "breach days past the expiry date of exception EX-2 must be at most 0 days; observed 12 days" in out
