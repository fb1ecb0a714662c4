"""`[azure]` in auditor.toml: which tenant and scope a live scan reads, via which cloud, and how patiently.

The model is what users write, so every field carries a description (the config reference is generated from
them) and every check names the key it is about.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from auditor.config import Config, read_section
from auditor.errors import ConfigError
from auditor.jsonvalue import JsonObject

CloudName = Literal["AzurePublic", "AzureUSGovernment", "AzureChina", "Custom"]
"""The clouds auditor knows the endpoints of, or `Custom` (Azure Stack Hub, private endpoints)."""

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_MANAGEMENT_GROUP = re.compile(r"^[A-Za-z0-9_.()\-]{1,90}$")
_LOOPBACK_NAMES = frozenset({"localhost"})


def _check_guid(value: str, what: str) -> str:
    if not _GUID.match(value):
        raise ValueError(f"{what} {value!r} is not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)")
    return value.lower()


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_url(value: str | None, what: str) -> str | None:
    # Plain http is accepted only for a loopback host (a local emulator); the Azure SDK still refuses to
    # send a bearer token over it, so this never weakens a real connection.
    if value is None:
        return None
    parts = urlsplit(value)
    if not parts.hostname:
        raise ValueError(f"{what} {value!r} is not an absolute URL")
    if parts.scheme == "https" or (parts.scheme == "http" and _is_loopback(parts.hostname)):
        return value.rstrip("/")
    raise ValueError(f"{what} {value!r} must use https")


class AzureSettings(BaseModel):
    """Live access to Azure Resource Graph and Log Analytics (the `[azure]` table of auditor.toml).

    With neither `subscriptions` nor `management_groups`, the scope is every subscription the identity can
    read in the tenant. A scan needs the Reader role on that scope and nothing more.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant_id: str = Field(
        description="Directory (tenant) ID, a GUID. Tokens are requested for this tenant, and packs and "
        "snapshots record it as the audited tenant."
    )
    subscriptions: list[str] = Field(
        default_factory=list,
        description="Subscription IDs (GUIDs) to scan. Sent to Resource Graph in batches of `batch_size`. "
        "Cannot be combined with `management_groups`.",
    )
    management_groups: list[str] = Field(
        default_factory=list,
        description="Management group IDs (not display names) to scan, with every subscription below them. "
        "Resource Graph covers at most the first 10,000 subscriptions; a scan that hits that limit is "
        "incomplete.",
    )
    cloud: CloudName = Field(
        "AzurePublic",
        description="Azure cloud: AzurePublic, AzureUSGovernment, AzureChina, or Custom (then set "
        "`resource_manager_url`, `authority_host` and `credential_scope`).",
    )
    resource_manager_url: str | None = Field(
        None,
        description="Azure Resource Manager endpoint, e.g. https://management.local.azurestack.external. "
        "Required for a Custom cloud; for a known cloud it overrides the default (private endpoints).",
    )
    authority_host: str | None = Field(
        None,
        description="Microsoft Entra authority host that issues tokens, e.g. "
        "https://login.microsoftonline.com. Required for a Custom cloud.",
    )
    credential_scope: str | None = Field(
        None,
        description="OAuth scope of Resource Manager tokens, e.g. https://management.azure.com/.default. "
        "Required for a Custom cloud.",
    )
    log_analytics_url: str | None = Field(
        None,
        description="Log Analytics query endpoint, e.g. https://api.loganalytics.io. Needed for Log "
        "Analytics queries on a Custom cloud.",
    )
    log_analytics_workspace_id: str | None = Field(
        None, description="Workspace ID (a GUID) that Log Analytics queries run against."
    )
    batch_size: int = Field(
        100,
        ge=1,
        le=300,
        description="Subscriptions per Resource Graph request. Microsoft recommends fewer than 300.",
    )
    page_size: int = Field(
        1000, ge=1, le=1000, description="Rows per Resource Graph page ($top); 1,000 is the service maximum."
    )
    max_retries: int = Field(
        5,
        ge=0,
        le=20,
        description="Retries of one request after a server error (5xx), a timeout or a dropped connection.",
    )
    max_throttled_retries: int = Field(
        10, ge=0, le=100, description="Retries of one request after HTTP 429 (each honours Retry-After)."
    )
    backoff_seconds: float = Field(
        1.0, ge=0, le=60, description="First wait before a retry; it doubles on each retry (with jitter)."
    )
    backoff_max_seconds: float = Field(30.0, ge=0, le=600, description="Longest wait between two retries.")
    quota_margin_seconds: float = Field(
        0.05,
        ge=0,
        le=5,
        description="Extra wait after Resource Graph's quota window resets, so a request is not early.",
    )
    refetch_attempts: int = Field(
        2,
        ge=0,
        le=10,
        description="Re-reads of a batch whose pages disagree (duplicate rows, a changing totalRecords, "
        "missing rows) before the result is reported incomplete.",
    )
    connection_timeout_seconds: float = Field(20.0, gt=0, le=300, description="Time allowed to open a connection.")
    read_timeout_seconds: float = Field(
        120.0, gt=0, le=900, description="Time allowed for a response to arrive before it is retried."
    )
    log_analytics_server_timeout_seconds: int = Field(
        180,
        ge=1,
        le=600,
        description="Server-side time limit of a Log Analytics query (Prefer: wait). After a 504 the "
        "query is retried with twice the limit, up to 600 s.",
    )

    @field_validator("tenant_id")
    @classmethod
    def _tenant_guid(cls, value: str) -> str:
        return _check_guid(value, "tenant_id")

    @field_validator("log_analytics_workspace_id")
    @classmethod
    def _workspace_guid(cls, value: str | None) -> str | None:
        return None if value is None else _check_guid(value, "workspace id")

    @field_validator("subscriptions")
    @classmethod
    def _subscription_guids(cls, value: list[str]) -> list[str]:
        ids = [_check_guid(item, "subscription id") for item in value]
        duplicates = sorted({item for item in ids if ids.count(item) > 1})
        if duplicates:
            raise ValueError(f"subscription {duplicates[0]} is listed more than once")
        return ids

    @field_validator("management_groups")
    @classmethod
    def _management_group_ids(cls, value: list[str]) -> list[str]:
        for item in value:
            if not _MANAGEMENT_GROUP.match(item):
                raise ValueError(
                    f"management group {item!r} is not a management group ID (letters, digits, - _ . ( ), "
                    "at most 90 characters; not a resource path)"
                )
        if len({item.lower() for item in value}) != len(value):
            raise ValueError("a management group is listed more than once")
        return value

    @field_validator("resource_manager_url", "authority_host", "log_analytics_url")
    @classmethod
    def _https_urls(cls, value: str | None) -> str | None:
        return _check_url(value, "URL")

    @model_validator(mode="after")
    def _consistent(self) -> AzureSettings:
        if self.subscriptions and self.management_groups:
            raise ValueError(
                "set subscriptions or management_groups, not both: Resource Graph refuses a request with both"
            )
        if self.cloud == "Custom":
            missing = [
                key
                for key in ("resource_manager_url", "authority_host", "credential_scope")
                if getattr(self, key) is None
            ]
            if missing:
                raise ValueError(f'cloud = "Custom" needs {", ".join(missing)}')
        return self

    def scope(self) -> JsonObject:
        """The scope as recorded in fingerprints and snapshots (both lists empty: the whole tenant)."""
        return {"subscriptions": list(self.subscriptions), "management_groups": list(self.management_groups)}


def azure_settings(config: Config) -> AzureSettings | None:
    """The `[azure]` section of `config`, checked (errors name the file and key); None when there is none."""
    return read_section(config, "azure", AzureSettings)


def require_azure(config: Config, what: str) -> AzureSettings:
    """The `[azure]` section, or a ConfigError saying that `what` needs one."""
    settings = azure_settings(config)
    if settings is None:
        where = "" if config.origin == "<config>" else f" ({config.origin})"
        raise ConfigError(
            f"{what} needs an [azure] section in the config{where}",
            "pass --config with an auditor.toml that has [azure] with tenant_id and subscriptions or "
            "management_groups; see samples/auditor.toml",
        )
    return settings
