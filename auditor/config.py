"""auditor.toml, modelled with pydantic v2. Unknown keys are errors; every error names the file and key path."""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from auditor.compliance.classifications import CLASSIFICATIONS, canonical, is_known
from auditor.errors import ConfigError
from auditor.policy.config import PolicySettings
from auditor.sources.azure_settings import AzureSettings

Rate = Annotated[float, Field(ge=0, le=100)]
"""A percentage from 0 to 100."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _canonical_classes(value: dict[str, Any], what: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in value.items():
        if not is_known(key):
            raise ValueError(f"unknown classification {key!r} in {what}; expected one of {', '.join(CLASSIFICATIONS)}")
        out[canonical(key)] = item
    return out


class Thresholds(_Model):
    """Limits a scan is judged against; each breach goes into breaches.json. Rates are percentages (0-100)."""

    min_compliance_rate: Rate | None = Field(None, description="Lowest acceptable overall compliance rate.")
    by_environment: dict[str, Rate] = Field(
        default_factory=dict,
        description="Lowest acceptable compliance rate per environment (canonical name), overriding the global one.",
    )
    max_unknown_rate: Rate | None = Field(None, description="Highest acceptable share of machines in status unknown.")
    min_installation_success_rate: Rate | None = Field(
        None, description="Lowest acceptable installation success rate within the installation window."
    )
    min_periodic_assessment_coverage: Rate | None = Field(
        None, description="Lowest acceptable share of machines with periodic assessment on."
    )
    min_schedule_coverage: Rate | None = Field(
        None, description="Lowest acceptable share of machines covered by a maintenance schedule."
    )
    max_overdue_machines: dict[str, Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict, description="Most machines allowed with an overdue patch, per classification."
    )
    max_unscheduled_machines: int | None = Field(
        None, ge=0, description="Most machines allowed that no maintenance configuration covers."
    )
    max_window_exceeded_rate: Rate | None = Field(
        None, description="Highest acceptable share of a configuration's runs that overran its maintenance window "
        "(judged on the worst configuration)."
    )

    @field_validator("max_overdue_machines", mode="before")
    @classmethod
    def _known_classes(cls, value: Any) -> Any:
        return _canonical_classes(value, "max_overdue_machines") if isinstance(value, dict) else value


class ScheduleSettings(_Model):
    """Schedule audit and failure-pattern analysis."""

    max_concurrent_machines: int = Field(
        500, ge=1, description="An hour of the week with more machines scheduled than this is reported as a peak."
    )
    pattern_min_runs: int = Field(
        20, ge=1, description="A group (a location, OS, configuration, ...) needs at least this many finished runs "
        "before it can be flagged."
    )
    pattern_min_ratio: float = Field(
        2.0, ge=1.0, description="A flagged group's failure rate is at least this many times the fleet's."
    )
    pattern_min_excess_points: float = Field(
        10.0, gt=0, le=100, description="A flagged group's failure rate is at least this many percentage points above "
        "the fleet's."
    )
    window_exceeded_flag_rate: Rate = Field(
        20.0, description="A configuration whose runs overran its window at least this often (%) is flagged."
    )


class OutputSettings(_Model):
    """Where packs are written."""

    dir: Path = Field(Path("audit-packs"), description="Directory that receives one new pack per scan.")
    zip: bool = Field(False, description="Also write the pack as a single zip file beside the directory.")


class HistorySettings(_Model):
    """The scan history store (trends, first-seen dates of undated patches)."""

    enabled: bool = Field(True, description="Record each scan in the history file.")
    path: Path | None = Field(None, description="History file; defaults to auditor/history.duckdb in the user state dir.")


class Config(_Model):
    """The whole of auditor.toml."""

    environment_tag: str = Field("Environment", min_length=1, description="Tag key holding the environment (any case).")
    max_assessment_age_days: int = Field(7, ge=0, description="An assessment older than this many days is stale.")
    installation_window_days: int = Field(30, ge=1, le=3650, description="Days of installation runs to report on.")
    fail_on_breach: bool = Field(False, description="Exit 1 when the scan has threshold breaches.")
    environment_aliases: dict[str, list[str]] = Field(
        default_factory=dict, description="Canonical environment name = tag values meaning it (matched ignoring case)."
    )
    sla: dict[str, Annotated[int, Field(ge=0)]] = Field(
        default_factory=lambda: {"Critical": 15, "Security": 30},
        description="Classification = days a pending patch may wait before it is overdue. Replaces the default map.",
    )
    thresholds: Thresholds = Field(default_factory=Thresholds)
    schedules: ScheduleSettings = Field(default_factory=ScheduleSettings)
    output: OutputSettings = Field(default_factory=OutputSettings)
    history: HistorySettings = Field(default_factory=HistorySettings)
    azure: AzureSettings | None = Field(None, description="Live scope and cloud for `--source azure` and capture.")
    policy: PolicySettings | None = Field(None, description="Settings of `auditor policy` (policy as code).")

    @field_validator("sla", mode="before")
    @classmethod
    def _sla_classes(cls, value: Any) -> Any:
        return _canonical_classes(value, "sla") if isinstance(value, dict) else value

    @field_validator("environment_aliases")
    @classmethod
    def _aliases_unique(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        seen: dict[str, str] = {}
        for name, aliases in value.items():
            for alias in [name, *aliases]:
                key = alias.strip().lower()
                if key in seen and seen[key] != name:
                    raise ValueError(f"value {alias!r} is an alias of both {seen[key]!r} and {name!r}")
                seen[key] = name
        return value

    def canonical_json(self) -> str:
        """The effective config as canonical JSON (sorted keys), as hashed and printed in packs."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    def sha256(self) -> str:
        """sha256 of canonical_json()."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()


def _key_path(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)


def load_config(path: Path) -> Config:
    """Read and validate an auditor.toml; every problem is a ConfigError naming the file and key."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} does not exist", "pass --config with an existing auditor.toml") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}", "check the path and permissions") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}", "fix the syntax; see samples/auditor.toml") from exc
    return config_from_dict(data, source=str(path))


def config_from_dict(data: dict[str, Any], *, source: str = "<config>") -> Config:
    """Validate a config mapping (already parsed)."""
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = _key_path(tuple(error["loc"])) or "(top level)"
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        given = error.get("input")
        shown = "" if error["type"] in ("extra_forbidden", "missing") or isinstance(given, dict) else f" (got {given!r})"
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(
            f"{source}: key '{key}': {message}{shown}{more}",
            "see samples/auditor.toml for every key and its meaning",
        ) from exc
