"""The CLI as a user runs it: exit codes, one-line errors, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.crafted import Fleet


def auditor(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "auditor", *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=300
    )


def test_bad_config_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "auditor.toml").write_text("[thresholds]\nmin_compliance_rate = 150\n")
    result = auditor("scan", "--config", "auditor.toml", "--quiet", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("error: auditor.toml: key 'thresholds.min_compliance_rate'")
    assert lines[1].startswith("hint: ")
    assert not (tmp_path / "audit-packs").exists()


def test_missing_snapshot_exit_2(tmp_path: Path) -> None:
    result = auditor("scan", "--source", "snapshot:nowhere", "--quiet", cwd=tmp_path)
    assert result.returncode == 2
    assert "error: snapshot nowhere does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_as_of_exit_2(tmp_path: Path) -> None:
    result = auditor("scan", "--as-of", "soon", "--quiet", cwd=tmp_path)
    assert result.returncode == 2 and "--as-of 'soon' is not an RFC 3339 time" in result.stderr


def test_scan_fail_on_breach_exit_1_and_writes_pack(tmp_path: Path) -> None:
    f = Fleet()
    vm = f.machine("vm1")
    f.assessment(vm, status="Failed")
    f.write(tmp_path / "snap")
    (tmp_path / "auditor.toml").write_text("[thresholds]\nmin_compliance_rate = 90\n")
    result = auditor(
        "scan",
        "--source",
        "snapshot:snap",
        "--config",
        "auditor.toml",
        "--out",
        "packs",
        "--fail-on-breach",
        "--as-of",
        "2026-11-01T06:00:00Z",
        cwd=tmp_path,
    )
    assert result.returncode == 1, result.stderr
    packs = list((tmp_path / "packs").iterdir())
    assert len(packs) == 1
    summary = json.loads((packs[0] / "summary.json").read_text())
    assert summary["unknown"] == 1 and summary["breaches"] == 1
    assert "breach compliance rate must be at least 90.00%; observed 0.00%" in result.stdout


def test_query_commands(tmp_path: Path) -> None:
    assert auditor("query", "check", cwd=tmp_path).returncode == 0
    shown = auditor("query", "show", "pending_patches@v1", cwd=tmp_path)
    assert shown.returncode == 0 and "summarize patches = count()" in shown.stdout
    rendered = auditor(
        "query", "render", "undated_patches", "--param", "classifications=Critical,Security", cwd=tmp_path
    )
    assert '| where classifications has "Critical" or classifications has "Security"\n' in rendered.stdout
    bad = auditor("query", "render", "installations", "--param", "window_days=abc", cwd=tmp_path)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    ran = auditor("query", "run", "machine_facts", "--limit", "0", cwd=tmp_path)
    assert ran.returncode == 0
    rows = [json.loads(line) for line in ran.stdout.splitlines()]
    assert len(rows) == 1500 and all(r["machineId"] == r["machineId"].lower() for r in rows)


def test_scan_json_prints_one_object_on_stdout(tmp_path: Path) -> None:
    f = Fleet()
    vm = f.machine("vm1", tags={"Environment": "prod"})
    f.assessment(vm)
    f.write(tmp_path / "snap")
    result = auditor("scan", "--source", "snapshot:snap", "--out", "packs", "--json", "--no-history", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["format"] == "auditor-scan-result/1"
    assert (document["machines"], document["compliant"], document["compliance_rate"]) == (1, 1, 100.0)
    assert Path(tmp_path / document["pack"]).is_dir() or Path(document["pack"]).is_dir()
    quiet = auditor("scan", "--source", "snapshot:snap", "--out", "packs", "--quiet", "--no-history", cwd=tmp_path)
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""
