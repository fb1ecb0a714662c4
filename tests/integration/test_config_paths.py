"""One config loader: relative paths are the config file's, wherever auditor runs; wing sections are checked at load;
messages and help print config section names such as [azure] as written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.crafted import Fleet


def auditor(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "auditor", *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=300
    )


@pytest.mark.slow
def test_history_path_is_the_config_folders_for_scan_and_history(tmp_path: Path) -> None:
    fleet = Fleet()
    fleet.assessment(fleet.machine("vm1", tags={"Environment": "prod"}))
    fleet.write(tmp_path / "snap")
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "auditor.toml").write_text('[history]\npath = "state/h.duckdb"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    scan = auditor(
        "scan",
        "--source",
        f"snapshot:{tmp_path / 'snap'}",
        "--config",
        "../conf/auditor.toml",
        "--quiet",
        cwd=elsewhere,
    )
    assert scan.returncode == 0, scan.stderr
    assert (tmp_path / "conf" / "state" / "h.duckdb").is_file()
    assert not (elsewhere / "state").exists()
    shown = auditor("history", "--config", "conf/auditor.toml", "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    document = json.loads(shown.stdout)
    assert document["history"] == str(tmp_path / "conf" / "state" / "h.duckdb")
    assert [(run["machines"], run["compliance_rate"]) for run in document["runs"]] == [(1, 100.0)]


def test_section_names_print_as_written(tmp_path: Path) -> None:
    live = auditor("scan", "--source", "azure", "--quiet", cwd=tmp_path)
    assert live.returncode == 2
    first = live.stderr.splitlines()[0]
    assert first.startswith("error: --source azure needs an [azure] section"), live.stderr
    assert "[azure]" in live.stderr.splitlines()[1]
    helped = auditor("scan", "--help", cwd=tmp_path)
    assert helped.returncode == 0 and "[notify] webhooks" in helped.stdout and "[publish] targets" in helped.stdout
    query = auditor("query", "run", "machine_facts", "--source", "azure", cwd=tmp_path)
    assert query.returncode == 2 and "needs an [azure] section" in query.stderr


def test_a_misspelt_wing_key_fails_any_command_at_load(tmp_path: Path) -> None:
    (tmp_path / "auditor.toml").write_text(
        '[azure]\ntenant_id = "00000000-0000-0000-0000-000000000000"\nsubscription = ["x"]\n'
    )
    result = auditor("history", "--config", "auditor.toml", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == "error: auditor.toml: key 'azure.subscription': unknown key", result.stderr
    assert "Traceback" not in result.stderr


def test_markup_and_control_characters_in_a_message_print_as_text(tmp_path: Path) -> None:
    name = "[bold]x[/bold]\x1b[31m.toml"
    result = auditor("scan", "--config", name, "--quiet", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == "error: config file [bold]x[/bold]\\x1b[31m.toml does not exist"
