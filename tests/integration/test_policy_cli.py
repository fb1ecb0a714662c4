"""`auditor policy` commands end to end (Typer runner, real SDK clients, loopback ARM)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from auditor.cli import policy as cli
from auditor.policy.arm import PolicyArm
from auditor.policy.azure import AzureClients
from tests.integration.arm_emulator import FakeCredential, client_options
from tests.integration.arm_emulator.policy_env import PolicyEnv, policy_environment

Invoke = Callable[..., Result]


@pytest.fixture
def env(tmp_path: Path) -> Iterator[PolicyEnv]:
    with policy_environment(tmp_path) as world:
        yield world


@pytest.fixture
def run(env: PolicyEnv, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Invoke:
    """Invoke `auditor policy ...` with the test config, in a scratch directory, against the emulator."""
    monkeypatch.setattr(cli, "make_arm", lambda settings: env.arm)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(cli.app, [*args, "--config", str(env.config)], env={"COLUMNS": "200"})

    return invoke


def test_plan_deploy_plan(run: Invoke, env: PolicyEnv, tmp_path: Path) -> None:
    first = run("plan", "--ring", "dev", "--detailed-exitcode")
    assert first.exit_code == 1, first.output
    assert "Plan: 12 to create." in first.stdout
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert plan["format"] == "auditor-policy-plan/1" and plan["summary"]["create"] == 12

    refused = run("deploy", "--ring", "dev")
    assert refused.exit_code == 2
    assert refused.stderr.splitlines()[-2:] == [
        "error: refusing to deploy without --yes in a non-interactive session",
        "hint: review `auditor policy plan`, then run deploy with --yes (or --plan plan.json --yes)",
    ]
    assert "Traceback" not in refused.output and env.emulator.writes() == []

    applied = run("deploy", "--ring", "dev", "--plan", "plan.json", "--yes")
    assert applied.exit_code == 0, applied.output
    assert "deploy complete" in applied.stdout and "after 3 tries" in applied.stdout

    clean = run("plan", "--ring", "dev", "--detailed-exitcode")
    assert clean.exit_code == 0 and "Plan: no changes (12 unchanged)." in clean.stdout

    status = run("status", "--ring", "dev")
    assert status.exit_code == 0 and "aum-baseline-dev" in status.stdout

    remediated = run("remediate", "--ring", "dev")
    assert remediated.exit_code == 0 and remediated.stdout.count("Succeeded") == 3


def test_gate_without_history_needs_force(run: Invoke, env: PolicyEnv, tmp_path: Path) -> None:
    blocked = run("deploy", "--ring", "test", "--yes", "--history", str(tmp_path / "none.duckdb"))
    assert blocked.exit_code == 1
    assert "gate of ring 'dev' (scan environment 'Development'): NOT met" in blocked.stdout
    assert blocked.stderr.splitlines()[0] == (
        "error: gate of ring 'dev' not met: no scan of ring 'dev' in history; run `auditor scan` on its scope first"
    )
    forced = run("deploy", "--ring", "test", "--yes", "--force", "--history", str(tmp_path / "none.duckdb"))
    assert forced.exit_code == 0 and "deploy complete" in forced.stdout


def test_azure_failures_exit_3_without_traceback(run: Invoke, env: PolicyEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    dead = AzureClients(
        FakeCredential(), base_url="http://127.0.0.1:9", credential_scope="x/.default", client_options=client_options()
    )
    monkeypatch.setattr(cli, "make_arm", lambda settings: PolicyArm(dead))
    result = run("plan", "--ring", "dev")
    assert result.exit_code == 3 and "Traceback" not in result.output
    assert result.stderr.startswith(
        "error: list policyDefinitions at /providers/Microsoft.Management/managementGroups/"
        "contoso: Azure is unreachable"
    )


def test_validate_reports_file_and_pointer(env: PolicyEnv) -> None:
    env.edit("definitions/aum-hotpatch-audit.json", '"version": "1.0.0"', '"version": "1.0"')
    result = CliRunner().invoke(cli.app, ["validate", str(env.policies)], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert result.stdout.splitlines() == [
        "definitions/aum-hotpatch-audit.json#/properties/metadata/version: error [version-semver] metadata.version "
        "'1.0' is not semver (MAJOR.MINOR.PATCH)",
        "8 files: invalid, 1 errors, 0 warnings",
    ]
    broken = CliRunner().invoke(cli.app, ["plan", "--ring", "dev", "--config", str(env.config)], env={"COLUMNS": "200"})
    assert broken.exit_code == 2 and "definitions/aum-hotpatch-audit.json#/properties/metadata/version" in broken.stderr
