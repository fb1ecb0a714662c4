"""Finding 2: an exemption scope `.../virtualMachines/vm1/../../../../../rg-prod` passed validate and plan and
landed on the whole resource group once the URL was normalised; `"mode": "Everything"` passed validate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from auditor.cli import policy as policy_cli
from auditor.policy.ids import is_within, parse_scope, unsafe_id
from tests.unit.policy.helpers import DEFINITION_SCOPE, copy_policies

RUNNER = CliRunner()
DEV = "/subscriptions/11111111-1111-1111-1111-111111111111"
VM = f"{DEV}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/vm1"
TRICK = f"{VM}/../../../../../rg-prod"
EXEMPTION = """assignment = "aum-baseline-dev"
scope = "{scope}"
category = "Waiver"
expires_on = 2027-01-15
description = "Vendor-managed server."

[metadata]
owner = "jane.doe@contoso.com"
justification = "Vendor contract."
ticket = "CHG-1"
"""


def config(tmp_path: Path, policies: Path) -> Path:
    path = tmp_path / "auditor.toml"
    path.write_text(
        f'[policy]\nowner_id = "platform"\ndefinition_scope = "{DEFINITION_SCOPE}"\npolicies_dir = "{policies}"\n'
        'rings = ["dev", "test", "prod"]\nmax_exemption_days = 3650\n',
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize(
    "scope",
    [
        TRICK,
        f"{DEV}/resourceGroups/rg-app%2F..%2Frg-prod",
        f"{DEV}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/./vm1",
        f"{DEV}/resourceGroups/..",
    ],
)
def test_exemption_scopes_with_dot_segments_fail_validate_and_plan(
    scope: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policies = copy_policies(tmp_path)
    (policies / "exemptions" / "vendor.toml").write_text(EXEMPTION.format(scope=scope), encoding="utf-8")
    settings = config(tmp_path, policies)
    result = RUNNER.invoke(policy_cli.app, ["validate", "--config", str(settings)], env={"COLUMNS": "300"})
    assert result.exit_code == 2, result.output
    assert "exemptions/vendor.toml#/scope" in result.stdout and "scope-invalid" in result.stdout

    class NoAzure:
        def __getattr__(self, name: str) -> object:
            raise AssertionError(f"plan must stop before it reaches Azure (it called {name})")

    monkeypatch.setattr(policy_cli, "make_arm", lambda _settings: NoAzure())
    result = RUNNER.invoke(policy_cli.app, ["plan", "--ring", "dev", "--config", str(settings)], env={"COLUMNS": "300"})
    assert result.exit_code == 2 and "vendor.toml#/scope" in result.stderr and "Traceback" not in result.output


def test_every_id_in_a_file_is_checked_not_only_scopes(tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)
    ring = policies / "assignments" / "dev.toml"
    ring.write_text(
        ring.read_text(encoding="utf-8").replace("mc-dev-tuesday", "mc-dev-tuesday/../../../../mc-prod"),
        encoding="utf-8",
    )
    result = RUNNER.invoke(policy_cli.app, ["validate", str(policies)], env={"COLUMNS": "300"})
    assert result.exit_code == 2
    assert "assignments/dev.toml#/maintenance_configuration_id" in result.stdout


def test_canonical_ids_only_are_compared_for_containment() -> None:
    assert unsafe_id(TRICK) is not None and unsafe_id(VM) is None
    assert not is_within(TRICK, f"{DEV}/resourceGroups/rg-app")  # textually "inside", really rg-prod
    assert is_within(VM, f"{DEV}/resourceGroups/rg-app")
    with pytest.raises(ValueError, match=r"'\.\.' segment"):
        parse_scope(TRICK, allow_resource=True)
    with pytest.raises(ValueError, match="percent-encoded"):
        parse_scope(f"{DEV}/resourceGroups/a%2fb", allow_resource=True)


def test_only_documented_modes_are_valid(tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)
    path = next((policies / "definitions").glob("*.json"))
    data = json.loads(path.read_text(encoding="utf-8"))
    for mode, code in (("Everything", 2), ("Microsoft.KeyVault.Data", 0), ("indexed", 0), ("All", 0)):
        data["properties"]["mode"] = mode
        path.write_text(json.dumps(data, indent=2), encoding="utf-8")
        result = RUNNER.invoke(policy_cli.app, ["validate", str(policies)], env={"COLUMNS": "300"})
        assert result.exit_code == code, (mode, result.output)
        assert ("definition-mode" in result.stdout) == (code == 2)
