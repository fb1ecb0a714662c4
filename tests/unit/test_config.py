"""auditor.toml: every key validated, every error names the file and the key path."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest

from auditor.config import Config, load_config
from auditor.errors import ConfigError, ExitCode
from auditor.package_data import sample_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "auditor.toml"
    path.write_text(text)
    return path


def test_sample_config_loads_and_documents_every_key() -> None:
    config = load_config(sample_config())
    assert config.environment_aliases["Production"] == ["prod", "prd"]
    text = sample_config().read_text()
    for name, field in Config.model_fields.items():
        assert name in text, f"samples/auditor.toml does not document {name}"
        models = [a for a in typing.get_args(field.annotation) or (field.annotation,) if hasattr(a, "model_fields")]
        for model in models:
            for inner in model.model_fields:
                assert inner in text, f"samples/auditor.toml does not document {name}.{inner}"


def test_defaults() -> None:
    config = Config()
    assert (config.environment_tag, config.max_assessment_age_days, config.installation_window_days) == (
        "Environment",
        7,
        30,
    )
    assert config.sla == {"Critical": 15, "Security": 30}


def test_sla_replaces_default_and_keys_are_canonical(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "[sla]\nsecurity = 10\n"))
    assert config.sla == {"Security": 10}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("environment_tagg = 'x'\n", "key 'environment_tagg': unknown key"),
        (
            "[thresholds]\nmin_compliance_rate = 101\n",
            "key 'thresholds.min_compliance_rate': Input should be less than or equal to 100 (got 101)",
        ),
        (
            "[thresholds.max_overdue_machines]\nCritcal = 1\n",
            "key 'thresholds.max_overdue_machines': unknown classification 'Critcal'",
        ),
        ("[sla]\nCritical = -1\n", "key 'sla.Critical': Input should be greater than or equal to 0 (got -1)"),
        ("max_assessment_age_days = -3\n", "key 'max_assessment_age_days'"),
        ("[thresholds.by_environment]\nProduction = 120\n", "key 'thresholds.by_environment.Production'"),
        ("[environment_aliases]\nProduction = ['prod']\nStaging = ['PROD']\n", "is an alias of both"),
        ("[output]\ndir = 3\n", "key 'output.dir'"),
    ],
)
def test_errors_name_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in info.value.message
    assert expected in info.value.message
    assert info.value.exit_code is ExitCode.BAD_INPUT
    assert "\n" not in info.value.message


def test_bad_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(write(tmp_path, "[sla\n"))
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


def test_config_hash_is_stable_and_sensitive() -> None:
    assert Config().sha256() == Config().sha256()
    assert Config().sha256() != Config(max_assessment_age_days=8).sha256()
