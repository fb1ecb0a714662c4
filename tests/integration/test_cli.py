"""The CLI as a user runs it: exit codes, one-line errors, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.crafted import Fleet
from tests.unit.test_history_lock import HOLD


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
        "--formats",
        "json",
        cwd=tmp_path,
    )
    assert result.returncode == 1, result.stderr
    packs = list((tmp_path / "packs").iterdir())
    assert len(packs) == 1
    summary = json.loads((packs[0] / "summary.json").read_text())
    assert summary["unknown"] == 1 and summary["breaches"] == 1
    assert "breach compliance rate must be at least 90.00%; observed 0.00%" in result.stdout


@pytest.mark.slow
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
    result = auditor(
        "scan",
        "--source",
        "snapshot:snap",
        "--out",
        "packs",
        "--json",
        "--no-history",
        "--formats",
        "json",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["format"] == "auditor-scan-result/1"
    assert (document["machines"], document["compliant"], document["compliance_rate"]) == (1, 1, 100.0)
    pack = tmp_path / document["pack"]
    assert sorted(p.name for p in pack.iterdir()) == ["breaches.json", "evidence", "manifest.json", "summary.json"]


def with_threshold(tmp_path: Path) -> Path:
    """A crafted one-machine fleet and a config with a threshold it meets: a clean scan."""
    f = Fleet()
    vm = f.machine("vm1", tags={"Environment": "prod"})
    f.assessment(vm)
    f.write(tmp_path / "snap")
    (tmp_path / "auditor.toml").write_text("[thresholds]\nmin_compliance_rate = 90\n")
    return tmp_path / "auditor.toml"


@pytest.mark.slow
def test_quiet_prints_the_pack_path_and_nothing_on_stderr(tmp_path: Path) -> None:
    with_threshold(tmp_path)
    args = ("scan", "--source", "snapshot:snap", "--config", "auditor.toml", "--out", "packs", "--no-history")
    quiet = auditor(*args, "-q", cwd=tmp_path)
    (pack,) = (tmp_path / "packs").iterdir()
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, f"packs/{pack.name}\n", "")
    assert json.loads((pack / "summary.json").read_text())["thresholds_configured"] is True
    # The same scan, unquiet and with --debug after the command, still runs; debug logs go to stderr only.
    loud = auditor(*args, "--debug", "--json", cwd=tmp_path)
    assert loud.returncode == 0, loud.stderr
    assert json.loads(loud.stdout)["machines"] == 1


def test_a_scan_without_thresholds_says_it_cannot_breach(tmp_path: Path) -> None:
    with_threshold(tmp_path)
    args = ("scan", "--source", "snapshot:snap", "--out", "packs", "--no-history", "--formats", "json")
    plain = auditor(*args, "-q", cwd=tmp_path)
    assert plain.returncode == 0
    assert plain.stderr.startswith("warning: no thresholds configured: nothing in this scan can breach")
    assert "set limits in [thresholds] of a config" in plain.stderr
    failing = auditor(*args, "--fail-on-breach", "-q", cwd=tmp_path)
    assert failing.returncode == 2, failing.stderr
    assert failing.stderr.splitlines()[0] == (
        "error: --fail-on-breach needs thresholds to judge, and no thresholds are configured: the scan could never fail"
    )
    (pack,) = (tmp_path / "packs").iterdir()  # only the first scan's pack
    assert json.loads((pack / "summary.json").read_text())["thresholds_configured"] is False


def test_a_snapshot_row_count_off_by_one_is_exit_2(tmp_path: Path) -> None:
    with_threshold(tmp_path)
    meta = json.loads((tmp_path / "snap" / "snapshot.json").read_text())
    meta["tables"]["patchassessmentresources"]["rows"] += 1
    (tmp_path / "snap" / "snapshot.json").write_text(json.dumps(meta))
    result = auditor(
        "scan", "--source", "snapshot:snap", "--config", "auditor.toml", "-q", "--formats", "json", cwd=tmp_path
    )
    assert result.returncode == 2
    assert "key 'tables.patchassessmentresources.rows' says 2 rows, but patchassessmentresources.jsonl.gz holds 1" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr and not (tmp_path / "audit-packs").exists()


@pytest.mark.slow
def test_two_concurrent_scans_share_one_history(tmp_path: Path) -> None:
    config = with_threshold(tmp_path)
    env = {**os.environ, "COLUMNS": "200"}
    history = tmp_path / "history.duckdb"
    # A third process holds the file as the scans start, so both must wait for it, and then for each other.
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(history), "3"], stdout=subprocess.PIPE, text=True, env=env
    )
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    scans = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "auditor",
                "scan",
                "--source",
                "snapshot:snap",
                "--config",
                str(config),
                *(("--out", f"packs{n}", "--history", str(history), "--as-of", f"2026-11-0{n + 1}T06:00:00Z", "-q")),
                *("--formats", "json"),
            ],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(2)
    ]
    outcomes = [(s.wait(timeout=300), *s.communicate()) for s in scans]
    holder.communicate(timeout=60)
    assert [code for code, _, _ in outcomes] == [0, 0], outcomes
    assert [stderr for _, _, stderr in outcomes] == ["", ""]
    shown = auditor("history", "--history", str(history), "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert [r["as_of"] for r in json.loads(shown.stdout)["runs"]] == ["2026-11-01T06:00:00Z", "2026-11-02T06:00:00Z"]


def test_history_rejects_an_unknown_dimension(tmp_path: Path) -> None:
    result = auditor("history", "--dimension", "nope", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: --dimension 'nope' is not a dimension of the history",
        "hint: use one of by_environment, by_subscription, by_platform, by_os",
    ]


def test_flags_show_no_type_in_help(tmp_path: Path) -> None:
    shown = auditor("scan", "--help", cwd=tmp_path)
    assert shown.returncode == 0 and "--zip" in shown.stdout and "--quiet" in shown.stdout
    assert "<bool>" not in shown.stdout and "<str>" in shown.stdout


def test_tables_in_a_pipe_are_wide_and_keep_ids_whole(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    result = subprocess.run(
        [sys.executable, "-m", "auditor", "query", "run", "machine_facts", "--limit", "3"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert min(len(line) for line in lines[1:]) >= 160
    ids = [line.split("│")[1].strip() for line in lines if line.startswith("│ /subscriptions/")]
    assert len(ids) == 3 and all(i.startswith("/subscriptions/") and "/virtualmachines/" in i for i in ids), ids
