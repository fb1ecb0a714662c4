"""The `auditor policy` Typer app without Azure: validation and error reporting."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from auditor.cli.policy import app

RUNNER = CliRunner()


def test_validate_defaults_to_the_shipped_policies() -> None:
    result = RUNNER.invoke(app, ["validate"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and result.stdout.strip() == "8 files: valid, 0 errors, 0 warnings"


def test_missing_or_bad_config_is_one_error_and_one_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = RUNNER.invoke(app, ["plan", "--ring", "dev"], env={"COLUMNS": "200"})
    assert (result.exit_code, result.stderr.splitlines()) == (
        2,
        ["error: no auditor.toml in this directory", "hint: pass --config with a [policy] table"],
    )
    (tmp_path / "auditor.toml").write_text('[policy]\nowner_id = "x"\ndefinition_scope = "/subscriptions/nope"\n')
    result = RUNNER.invoke(app, ["status"], env={"COLUMNS": "200"})
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.stderr.startswith("error: auditor.toml: key 'policy.definition_scope': '/subscriptions/nope' is not")


def test_unknown_ring_is_bad_input(tmp_path: Path) -> None:
    config = tmp_path / "auditor.toml"
    config.write_text(
        '[policy]\nowner_id = "x"\ndefinition_scope = "/subscriptions/11111111-1111-1111-1111-111111111111"\n'
    )
    result = RUNNER.invoke(app, ["deploy", "--ring", "qa", "--config", str(config), "--yes"], env={"COLUMNS": "200"})
    assert result.exit_code == 2 and result.stderr.splitlines()[0] == "error: ring 'qa' is not configured"
