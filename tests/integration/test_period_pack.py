"""`auditor report --period`: a verified, signed monthly review pack from a history of several scans."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from auditor.config import config_from_dict
from auditor.evidence.verify import verify_pack
from auditor.reports.json import BreachesRenderer, SummaryRenderer
from auditor.scan import scan
from tests.crafted import AS_OF
from tests.integration.test_remediation_crafted import fleet

MONTH_SCANS = [AS_OF + timedelta(days=d) for d in (2, 9, 16)]
"""Three scans as of November 2026 (AS_OF is 2026-11-01T06:00Z); one of October and one of December frame them."""


def auditor(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run(
        [sys.executable, "-m", "auditor", *args], capture_output=True, text=True, env=env, timeout=300
    )


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("period")
    store = root / "history.duckdb"
    config = config_from_dict({"thresholds": {"min_compliance_rate": 99.0}})
    for when in [AS_OF - timedelta(days=3), *MONTH_SCANS, AS_OF + timedelta(days=31)]:
        snap = root / f"snap-{when:%Y%m%d}"
        fleet().write(snap, captured_at=when)
        scan(
            config,
            source=f"snapshot:{snap}",
            out=root / "packs",
            history=store,
            use_history=True,
            renderers=[SummaryRenderer(), BreachesRenderer()],
        )
    return store


@pytest.fixture(scope="module")
def one_scan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A history with one scan in the month: enough for the period checks that fail before any pack is read."""
    root = tmp_path_factory.mktemp("one-scan")
    fleet().write(root / "snap", captured_at=MONTH_SCANS[0])
    scan(
        config_from_dict({}),
        source=f"snapshot:{root / 'snap'}",
        out=root / "packs",
        history=root / "history.duckdb",
        use_history=True,
        renderers=[SummaryRenderer()],
    )
    return root / "history.duckdb"


@pytest.mark.slow
def test_period_pack_is_verified_and_signed(history: Path, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    assert auditor("keygen", "--out", str(keys)).returncode == 0
    done = auditor(
        "report",
        "--period",
        "2026-11",
        "--history",
        str(history),
        "--out",
        str(tmp_path / "out"),
        "--sign-key",
        str(keys / "auditor-signing.key"),
    )
    assert done.returncode == 0, done.stderr
    (pack,) = [p for p in (tmp_path / "out").iterdir() if p.name.startswith("period-2026-11-")]
    assert {p.name for p in pack.iterdir()} >= {
        "manifest.json",
        "manifest.sig",
        "period-summary.json",
        "period-review.xlsx",
        "period-review.pdf",
        "evidence",
    }
    report = verify_pack(pack, keys / "auditor-signing.pub")
    assert report.intact and report.signature == "trusted", report.findings
    verified = auditor("verify", str(pack), "--public-key", str(keys / "auditor-signing.pub"))
    assert verified.returncode == 0, verified.stdout + verified.stderr

    review = json.loads((pack / "period-summary.json").read_text())
    assert review["format"] == "auditor-period/1" and review["period"] == "2026-11"
    assert [s["as_of"] for s in review["scans"]] == [w.strftime("%Y-%m-%dT%H:%M:%SZ") for w in MONTH_SCANS]
    # The crafted fleet's assessments are a day before 1 November: current at the first scan (nothing pending,
    # all compliant), stale by the second and third (all unknown), which breaches the 99% minimum.
    assert [(s["machines"], s["compliance_rate"], s["unknown"]) for s in review["scans"]] == [
        (3, 100.0, 0),
        (3, 0.0, 3),
        (3, 0.0, 3),
    ]
    assert [(b["breaches"], b["rules"]) for b in review["breaches"]] == [
        (0, {}),
        (1, {"min_compliance_rate": 1}),
        (1, {"min_compliance_rate": 1}),
    ]
    assert review["by_environment"] == [
        {"key": "(untagged)", "rates": [100.0, 0.0, 0.0], "lowest": 0.0, "highest": 100.0, "last": 0.0}
    ]
    assert review["remediation"]["last_scan"]["installed"] >= 1
    manifest = json.loads((pack / "manifest.json").read_text())
    assert manifest["period"]["period"] == "2026-11" and len(manifest["source"]["scans"]) == 3
    assert {e["path"]: e["rows"] for e in manifest["evidence"]} == {
        "evidence/period_scans.jsonl.gz": 3,
        "evidence/period_remediated.jsonl.gz": 0,
    }

    # The review re-derives byte for byte from the pack's own evidence; it is not a scan to re-render.
    public = str(keys / "auditor-signing.pub")
    replayed = auditor("verify", str(pack), "--replay", "--public-key", public)
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    rerender = auditor("report", str(pack), "--out", str(tmp_path / "again"), "--public-key", public)
    assert rerender.returncode == 2 and "is a monthly review" in rerender.stderr
    assert "Traceback" not in rerender.stderr

    # Tampering with the review is caught like any pack's.
    (pack / "period-summary.json").write_text(json.dumps({**review, "period": "2026-10"}))
    tampered = auditor("verify", str(pack))
    assert tampered.returncode == 1 and "period-summary.json" in tampered.stdout + tampered.stderr


@pytest.mark.parametrize(
    ("period", "needle"),
    [("2026-13", "is not a month written YYYY-MM"), ("2025-01", "records no scan as of within 2025-01")],
)
def test_bad_period_is_one_line_and_exit_2(one_scan: Path, tmp_path: Path, period: str, needle: str) -> None:
    done = auditor("report", "--period", period, "--history", str(one_scan), "--out", str(tmp_path / "out"))
    assert done.returncode == 2
    assert needle in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_missing_history_is_exit_2(tmp_path: Path) -> None:
    done = auditor("report", "--period", "2026-11", "--history", str(tmp_path / "nope.duckdb"), "--out", str(tmp_path))
    assert done.returncode == 2 and "does not exist" in done.stderr
