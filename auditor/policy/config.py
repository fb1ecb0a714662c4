"""The ``[policy]`` table of auditor.toml, modelled with pydantic v2 (unknown keys are errors)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from auditor.config import Config, load_config, read_section
from auditor.package_data import data_dir
from auditor.policy import PolicyError
from auditor.policy.ids import parse_scope

Rate = Annotated[float, Field(ge=0, le=100)]
_OWNER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_RING = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
DEFAULT_MAX_EXEMPTION_DAYS = 180
"""How far ahead a policy exemption may expire, like the exceptions register's limit."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RingGate(_Model):
    """What the latest scan of a ring must show before the next ring may be deployed. Rates are percentages."""

    environment: str = Field(
        min_length=1, description="Scan environment of this ring: a by_environment key of summary.json."
    )
    min_compliance_rate: Rate | None = Field(None, description="Lowest compliance rate of that environment.")
    min_periodic_assessment_coverage: Rate | None = Field(
        None, description="Lowest share of scanned machines with periodic assessment on."
    )
    max_scan_age_days: float | None = Field(
        7, gt=0, description="The scan must be at most this many days old (as_of); None accepts any age."
    )
    scope_key: str | None = Field(
        None, description="History key of this ring's scans (passed to latest_summary); None = latest of any scope."
    )


class PolicySettings(_Model):
    """Settings of `auditor policy` (mounted as the [policy] table of auditor.toml)."""

    owner_id: str = Field(
        description="Who owns what this auditor deploys; stamped as metadata.ownerId. Resources with another owner "
        "are never updated or deleted."
    )
    definition_scope: str = Field(
        description="Management group or subscription id where definitions and initiatives are created; a ring "
        "file may override it."
    )
    rings: list[str] = Field(
        default_factory=lambda: ["dev", "test", "prod"],
        description="Ring order; each ring has policies/assignments/<ring>.toml.",
    )
    gates: dict[str, RingGate] = Field(
        default_factory=dict, description="Gate per ring, checked before deploying the ring after it."
    )
    policies_dir: Path | None = Field(
        None, description="The policies/ tree; relative to auditor.toml. Default: the one shipped with auditor."
    )
    tenant_id: str | None = Field(None, description="Entra tenant of the credential (None: the credential's own).")
    subscription_id: str | None = Field(
        None, description="Subscription the SDK clients are bound to when the scope is a management group."
    )
    resource_manager_url: str = Field(
        "https://management.azure.com", description="ARM endpoint; change it for sovereign or custom clouds."
    )
    credential_scope: str | None = Field(None, description="Token scope; default <resource_manager_url>/.default.")
    authority_host: str | None = Field(None, description="Entra authority for sovereign clouds.")
    principal_retry_attempts: int = Field(
        12, ge=1, le=100, description="Tries of a role assignment while a new identity propagates (PrincipalNotFound)."
    )
    principal_retry_delay_seconds: float = Field(
        5.0, ge=0, description="First wait between those tries; it doubles up to 60 s."
    )
    remediation_poll_seconds: float = Field(30.0, ge=0, description="Wait between polls of a remediation task.")
    remediation_timeout_minutes: float = Field(60.0, gt=0, description="Give up waiting for remediation after this.")
    max_exemption_days: int = Field(
        DEFAULT_MAX_EXEMPTION_DAYS,
        ge=1,
        le=3650,
        description="A policy exemption's expires_on may be at most this many days ahead (validate refuses more).",
    )

    @field_validator("owner_id")
    @classmethod
    def _owner(cls, value: str) -> str:
        if not _OWNER.match(value):
            raise ValueError("owner_id must be 1-64 letters, digits, '.', '_' or '-'")
        return value

    @field_validator("definition_scope")
    @classmethod
    def _scope(cls, value: str) -> str:
        return parse_scope(value).id

    @field_validator("rings")
    @classmethod
    def _rings(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one ring is needed")
        for ring in value:
            if not _RING.match(ring):
                raise ValueError(f"ring name {ring!r} must be lower-case letters, digits and '-'")
        if len(set(value)) != len(value):
            raise ValueError("ring names must be unique")
        return value

    @model_validator(mode="after")
    def _gates_name_rings(self) -> PolicySettings:
        unknown = sorted(set(self.gates) - set(self.rings))
        if unknown:
            raise ValueError(f"gates name unknown rings: {', '.join(unknown)}")
        return self

    def resolved_policies_dir(self) -> Path:
        """The policies/ tree to use."""
        return self.policies_dir if self.policies_dir is not None else data_dir("policies")

    def token_scope(self) -> str:
        """The OAuth scope to ask tokens for."""
        return self.credential_scope or self.resource_manager_url.rstrip("/") + "/.default"

    def require_ring(self, ring: str) -> None:
        """PolicyError unless `ring` is one of the configured rings."""
        if ring not in self.rings:
            raise PolicyError(f"ring {ring!r} is not configured", f"[policy].rings is {self.rings}")

    def previous_ring(self, ring: str) -> str | None:
        """The ring deployed before `ring`, or None for the first."""
        self.require_ring(ring)
        index = self.rings.index(ring)
        return self.rings[index - 1] if index > 0 else None


def _key_path(loc: tuple[int | str, ...]) -> str:
    return "policy" + "".join(f"[{item}]" if isinstance(item, int) else f".{item}" for item in loc)


def settings_from_dict(
    data: Mapping[str, object], *, source: str = "<config>", base: Path | None = None
) -> PolicySettings:
    """Validate a [policy] mapping; relative policies_dir is taken relative to `base`."""
    try:
        settings = PolicySettings.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        message = (
            "unknown key" if error["type"] == "extra_forbidden" else str(error["msg"]).removeprefix("Value error, ")
        )
        raise PolicyError(
            f"{source}: key '{_key_path(tuple(error['loc']))}': {message}",
            "see docs/policy.md for every [policy] key and its meaning",
        ) from exc
    if base is not None and settings.policies_dir is not None and not settings.policies_dir.is_absolute():
        settings = settings.model_copy(update={"policies_dir": base / settings.policies_dir})
    return settings


def policy_settings(config: Config) -> PolicySettings:
    """The `[policy]` section of a loaded config, checked; PolicyError when there is none.

    load_config has already taken a relative policies_dir from the config file's directory.
    """
    settings = read_section(config, "policy", PolicySettings)
    if settings is None:
        raise PolicyError(
            f"{config.origin}: key 'policy' is missing", "add a [policy] table with owner_id and definition_scope"
        )
    return settings


def load_policy_settings(path: Path) -> PolicySettings:
    """Read the `[policy]` table of an auditor.toml through the one config loader."""
    return policy_settings(load_config(path))
