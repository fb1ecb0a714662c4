"""The [policy] settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.config import load_config
from auditor.errors import ConfigError
from auditor.package_data import data_dir
from auditor.policy import PolicyError
from auditor.policy.config import load_policy_settings, settings_from_dict


def test_defaults_and_derived_values() -> None:
    settings = settings_from_dict(
        {"owner_id": "platform-team", "definition_scope": "/providers/microsoft.management/managementgroups/contoso/"}
    )
    assert settings.definition_scope == "/providers/Microsoft.Management/managementGroups/contoso"
    assert settings.rings == ["dev", "test", "prod"] and settings.previous_ring("test") == "dev"
    assert settings.previous_ring("dev") is None
    assert settings.token_scope() == "https://management.azure.com/.default"
    assert settings.resolved_policies_dir() == data_dir("policies")
    sovereign = settings.model_copy(update={"resource_manager_url": "https://management.usgovcloudapi.net/"})
    assert sovereign.token_scope() == "https://management.usgovcloudapi.net/.default"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"definition_scope": "/subscriptions/11111111-1111-1111-1111-111111111111"},
            "key 'policy.owner_id': Field required",
        ),
        (
            {"owner_id": "a b", "definition_scope": "/subscriptions/11111111-1111-1111-1111-111111111111"},
            "key 'policy.owner_id': owner_id must be 1-64 letters",
        ),
        (
            {"owner_id": "x", "definition_scope": "/resourceGroups/rg"},
            "key 'policy.definition_scope': '/resourceGroups/rg' is not",
        ),
        (
            {"owner_id": "x", "definition_scope": "/subscriptions/11111111-1111-1111-1111-111111111111", "colour": 1},
            "key 'policy.colour': unknown key",
        ),
        (
            {
                "owner_id": "x",
                "definition_scope": "/subscriptions/11111111-1111-1111-1111-111111111111",
                "gates": {"qa": {"environment": "QA"}},
            },
            "key 'policy': gates name unknown rings: qa",
        ),
        (
            {
                "owner_id": "x",
                "definition_scope": "/subscriptions/11111111-1111-1111-1111-111111111111",
                "gates": {"dev": {"environment": "Dev", "min_compliance_rate": 120}},
            },
            "key 'policy.gates.dev.min_compliance_rate': Input should be less than or equal to 100",
        ),
    ],
)
def test_errors_name_the_key(data: dict[str, object], message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        settings_from_dict(data, source="auditor.toml")
    assert caught.value.message.startswith("auditor.toml: ") and message in caught.value.message


def test_load_from_file_resolves_relative_paths(tmp_path: Path) -> None:
    config = tmp_path / "auditor.toml"
    config.write_text(
        '[history]\npath = "state/h.duckdb"\n\n[policy]\nowner_id = "x"\n'
        'definition_scope = "/subscriptions/11111111-1111-1111-1111-111111111111"\npolicies_dir = "pol"\n'
    )
    assert load_policy_settings(config).policies_dir == tmp_path / "pol"
    assert load_config(config).history.path == tmp_path / "state" / "h.duckdb"
    config.write_text("[output]\n")
    with pytest.raises(PolicyError, match="key 'policy' is missing"):
        load_policy_settings(config)
    with pytest.raises(ConfigError, match="does not exist"):
        load_policy_settings(tmp_path / "nope.toml")
