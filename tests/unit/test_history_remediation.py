"""History's remediation columns: the migration of older files, and patches that leave the pending list."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
from typer.testing import CliRunner

from auditor.cli.app import app
from auditor.compliance.remediation import monthly_trend
from auditor.history import HistoryStore
from auditor.reports.json import summary_text
from tests.summaries import typed

T0 = datetime(2026, 10, 5, tzinfo=UTC)
FP = {"tenant_id": "t", "scope": {"subscriptions": ["s"]}}
MACHINE = "/subscriptions/s/resourcegroups/r/providers/microsoft.compute/virtualmachines/a"
KEY = MACHINE + "/patchassessmentresults/latest/softwarepatches/openssl"

# The schema as the first release wrote it, before the remediation columns and last_seen.
OLD_SCHEMA = """
CREATE TABLE runs (
    run_key VARCHAR PRIMARY KEY, run_id VARCHAR, as_of TIMESTAMPTZ, recorded_at TIMESTAMPTZ,
    source_fingerprint VARCHAR, scope_key VARCHAR, config_sha256 VARCHAR,
    machines BIGINT, compliance_rate DOUBLE, unknown_rate DOUBLE, breaches BIGINT, complete BOOLEAN, summary JSON);
CREATE TABLE dimension_rates (run_key VARCHAR, dimension VARCHAR, key VARCHAR, machines BIGINT, compliance_rate DOUBLE);
CREATE TABLE breach_counts (run_key VARCHAR, rule VARCHAR, breaches BIGINT);
CREATE TABLE machine_status (run_key VARCHAR, machine_id VARCHAR, status VARCHAR);
CREATE TABLE patch_first_seen (patch_key VARCHAR PRIMARY KEY, machine_id VARCHAR, first_seen TIMESTAMPTZ);
"""


def summary(rate: float | None = None, p90: int | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"machines": 1, "compliance_rate": 100.0, "unknown_rate": 0.0, "breaches": 0}
    if rate is not None:
        doc["remediation"] = {"within_sla_rate": rate, "p90_days": p90, "by_classification": {}}
    return doc


def record(store: HistoryStore, as_of: datetime, *, seen: bool, status: str = "compliant", **figures: Any) -> None:
    store.record(
        run_id=as_of.isoformat(),
        as_of=as_of,
        fingerprint=FP,
        config_sha256="c",
        summary=(doc := typed(summary(**figures))),
        document=summary_text(doc),
        breaches=[],
        statuses=[(MACHINE, status)],
        sightings=[(KEY, MACHINE)] if seen else [],
        complete=True,
    )


def test_an_older_history_file_is_read_and_then_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute(OLD_SCHEMA)
    con.execute("INSERT INTO runs VALUES ('k', 'r0', ?, ?, 'f', 'scope', 'c', 3, 50.0, 0.0, 1, true, '{}')", [T0, T0])
    con.execute("INSERT INTO patch_first_seen VALUES (?, ?, ?)", [KEY, MACHINE, T0])
    con.close()
    with HistoryStore(path, read_only=True) as store:
        (old,) = store.runs()
        assert (old["run_id"], old["within_sla_rate"], old["p90_days"]) == ("r0", None, None)
        assert store.remediated() == []  # no last_seen column yet: nothing can be followed
    with HistoryStore(path) as store:
        record(store, T0 + timedelta(days=7), seen=False, rate=91.5, p90=12)
        runs = store.runs()
    assert [(r["run_id"], r["within_sla_rate"], r["p90_days"]) for r in runs] == [
        ("r0", None, None),
        ((T0 + timedelta(days=7)).isoformat(), 91.5, 12),
    ]


def test_a_patch_that_leaves_the_pending_list_is_dated_by_the_next_scan(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / "h.duckdb") as store:
        record(store, T0, seen=True, rate=80.0, p90=20)
        record(store, T0 + timedelta(days=7), seen=True, rate=85.0, p90=18)
        # The machine's assessment was not current: the patch's absence proves nothing.
        record(store, T0 + timedelta(days=14), seen=False, status="unknown")
        record(store, T0 + timedelta(days=30), seen=False, rate=90.0, p90=10)
        record(store, T0 + timedelta(days=37), seen=False, rate=92.0, p90=9)
        (row,) = store.remediated()
        assert (row["first_seen"], row["last_seen"], row["remediated_by"]) == (
            T0,
            T0 + timedelta(days=7),
            T0 + timedelta(days=30),
        )
        assert store.remediated(before=T0 + timedelta(days=30)) == []
        trend = monthly_trend(store.runs(), remediated=store.remediated())
    # October's last scan is on the 19th (no remediation figures: skipped), so the 12th speaks for it; November
    # has the scans of the 4th and 11th, and the patch left the pending list on the 4th after 30 days.
    assert trend == [
        {
            "month": "2026-10",
            "as_of": "2026-10-12T00:00:00Z",
            "within_sla_rate": 85.0,
            "p90_days": 18,
            "remediated_from_history": 0,
            "history_p90_days": None,
        },
        {
            "month": "2026-11",
            "as_of": "2026-11-11T00:00:00Z",
            "within_sla_rate": 92.0,
            "p90_days": 9,
            "remediated_from_history": 1,
            "history_p90_days": 30,
        },
    ]


def test_history_command_prints_the_monthly_trend(tmp_path: Path) -> None:
    path = tmp_path / "h.duckdb"
    with HistoryStore(path) as store:
        record(store, T0, seen=True, rate=80.0, p90=20)
        record(store, T0 + timedelta(days=30), seen=False, rate=90.0, p90=10)
    result = CliRunner().invoke(app, ["history", "--history", str(path), "--json"])
    assert result.exit_code == 0, result.output
    months = json.loads(result.stdout)["remediation"]
    assert [(m["month"], m["within_sla_rate"], m["p90_days"], m["remediated_from_history"]) for m in months] == [
        ("2026-10", 80.0, 20, 0),
        ("2026-11", 90.0, 10, 1),
    ]
    table = CliRunner().invoke(app, ["history", "--history", str(path)])
    assert "Remediation timeliness by month" in table.stdout and "90.00%" in table.stdout
