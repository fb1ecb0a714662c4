"""auditor.toml, modelled with pydantic v2. Unknown keys are errors; every error names the file and key path."""

from __future__ import annotations

import ipaddress
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)

from auditor.classifications import CLASSIFICATIONS, canonical, is_known
from auditor.digests import canonical_json, sha256_hex
from auditor.errors import ConfigError
from auditor.risk_register import DEFAULT_NAME as EXCEPTIONS_NAME

Rate = Annotated[float, Field(ge=0, le=100)]
"""A percentage from 0 to 100."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _canonical_classes(value: Mapping[str, object], what: str) -> dict[str, object]:
    """`value` with each classification key in Update Manager's spelling; its values are validated after."""
    out: dict[str, object] = {}
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
        None,
        description="Highest acceptable share of a configuration's runs that overran its maintenance window "
        "(judged on the worst configuration).",
    )
    max_end_of_support_machines: int | None = Field(
        None,
        ge=0,
        description="Most machines allowed on an operating system past its vendor's end of support without an "
        "active Extended Security Update licence.",
    )

    @field_validator("max_overdue_machines", mode="before")
    @classmethod
    def _known_classes(cls, value: object) -> object:
        return _canonical_classes(value, "max_overdue_machines") if isinstance(value, dict) else value


class ScheduleSettings(_Model):
    """Schedule audit and failure-pattern analysis."""

    max_concurrent_machines: int = Field(
        500, ge=1, description="An hour of the week with more machines scheduled than this is reported as a peak."
    )
    pattern_min_runs: int = Field(
        20,
        ge=1,
        description="A group (a location, OS, configuration, ...) needs at least this many finished runs "
        "before it can be flagged.",
    )
    pattern_min_ratio: float = Field(
        2.0, ge=1.0, description="A flagged group's failure rate is at least this many times the fleet's."
    )
    pattern_min_excess_points: float = Field(
        10.0,
        gt=0,
        le=100,
        description="A flagged group's failure rate is at least this many percentage points above the fleet's.",
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
    path: Path | None = Field(
        None, description="History file; defaults to auditor/history.duckdb in the user state dir."
    )


def secure_url(value: str, what: str) -> str:
    """`value` when it is https, or plain http to a loopback host (a local receiver or emulator); else ValueError
    naming `what` and the host (never the whole URL, which may be a secret)."""
    parts = urlsplit(value)
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not host or parts.scheme not in ("https", "http"):
        raise ValueError(f"{what} is not an absolute http(s) URL")
    if parts.scheme == "http" and not loopback:
        raise ValueError(f"{what} must use https (host {host})")
    return value


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class WebhookSettings(_Model):
    """One webhook (`[[notify.webhooks]]`) that receives a scan summary after the pack is written."""

    kind: Literal["teams", "slack", "generic"] = Field(
        description="Message format: teams (Adaptive Card), slack (Block Kit) or generic (auditor-notification/1 JSON)."
    )
    url: SecretStr | None = Field(
        None, description="Webhook URL. Prefer url_env: a URL written here is reduced to its host in packs and logs."
    )
    url_env: str | None = Field(
        None,
        description="Name of the environment variable holding the webhook URL (keeps the secret out of the "
        "config and the pack). Exactly one of url and url_env.",
    )
    on: Literal["breach", "always", "incomplete"] = Field(
        "breach",
        description="When to post: breach (a threshold is breached or the data is incomplete), always, "
        "or incomplete (only when the data is incomplete).",
    )
    timeout_seconds: float = Field(10.0, gt=0, le=300, description="Connect and read timeout of each attempt.")
    retries: int = Field(
        3,
        ge=0,
        le=10,
        description="Retries after a timeout, a dropped connection, HTTP 429 or 5xx (a 429's Retry-After is honoured).",
    )
    backoff_seconds: float = Field(
        1.0, ge=0, le=60, description="First retry wait without Retry-After; doubles each retry."
    )
    max_breaches: int = Field(
        10, ge=0, le=50, description="Most breaches listed in the message (the count is always total)."
    )

    @field_validator("url")
    @classmethod
    def _url_secure(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            secure_url(value.get_secret_value(), "url")
        return value

    @field_validator("url_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            raise ValueError(f"url_env {value!r} is not an environment variable name")
        return value

    @model_validator(mode="after")
    def _one_url(self) -> WebhookSettings:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("set exactly one of url and url_env")
        return self

    @field_serializer("url")
    def _redact(self, value: SecretStr | None) -> str | None:
        # The effective config is printed in every pack: keep the URL's secret path out of it.
        if value is None:
            return None
        parts = urlsplit(value.get_secret_value())
        return f"{parts.scheme}://{parts.hostname}/(redacted)"


class NotifySettings(_Model):
    """Webhooks told about each scan. A failed notification is a warning; it never fails or loses the pack."""

    webhooks: list[WebhookSettings] = Field(default_factory=list, description="Each `[[notify.webhooks]]` table.")


class LogAnalyticsPublishSettings(_Model):
    """`[publish.log_analytics]`: the scan's metrics and breaches sent to a custom table via the Logs Ingestion API."""

    endpoint: str = Field(
        description="Logs ingestion endpoint: a data collection endpoint (DCE) or the DCR's own logsIngestion endpoint."
    )
    rule_id: str = Field(description="Immutable id of the data collection rule (dcr-<32 hex digits>).")
    stream_name: str = Field(
        "Custom-AuditorCompliance_CL", description="Stream declared in the DCR (Custom-<name>); see samples/monitor/."
    )
    credential_scope: str | None = Field(
        None,
        description="OAuth scope for ingestion tokens; default the Azure Monitor scope of [azure].cloud "
        "(required for a Custom cloud).",
    )
    timeout_seconds: float = Field(30.0, gt=0, le=600, description="Connect and read timeout of each upload request.")
    max_retries: int = Field(
        3, ge=0, le=10, description="Retries after 408, 429 (honouring Retry-After), 5xx and dropped connections."
    )
    backoff_seconds: float = Field(
        1.0, ge=0, le=60, description="Backoff factor of the retries (waits grow exponentially)."
    )

    @field_validator("endpoint")
    @classmethod
    def _endpoint_secure(cls, value: str) -> str:
        return secure_url(value, "endpoint").rstrip("/")

    @field_validator("rule_id")
    @classmethod
    def _dcr_id(cls, value: str) -> str:
        if not re.fullmatch(r"dcr-[0-9a-fA-F]{32}", value):
            raise ValueError(f"rule_id {value!r} is not a DCR immutable id (dcr-<32 hex digits>)")
        return value

    @field_validator("stream_name")
    @classmethod
    def _stream(cls, value: str) -> str:
        if not re.fullmatch(r"(Custom|Microsoft)-[A-Za-z0-9_]+", value):
            raise ValueError(f"stream_name {value!r} is not a DCR stream name (Custom-<table>)")
        return value


class PublishSettings(_Model):
    """Where each scan's figures are published (after the pack is written; a failure is a warning)."""

    log_analytics: LogAnalyticsPublishSettings | None = Field(
        None, description="Azure Monitor Logs Ingestion target, so alert rules can fire on compliance."
    )


class EvidenceSettings(_Model):
    """How packs are signed, time-stamped and trusted. Relative paths are taken from the config's directory."""

    sign_key: Path | None = Field(
        None, description="Ed25519 private key (PEM) that signs every scan's manifest (as --sign-key does)."
    )
    trusted_keys: list[Path] = Field(
        default_factory=list,
        description="Public keys (PEM) whose signatures `auditor verify` accepts, besides --public-key.",
    )
    timestamp_url: str | None = Field(
        None, description="RFC 3161 time-stamping authority that stamps each manifest (manifest.tsr)."
    )
    timestamp_ca: Path | None = Field(
        None, description="CA certificate (PEM) that `auditor verify` checks time-stamp tokens against."
    )


class Signatory(_Model):
    """A person who signs off the pack."""

    name: str = Field(min_length=1, description="Full name, as printed in the sign-off block.")
    role: str = Field(min_length=1, description="Role or title, as printed in the sign-off block.")


class ReportSettings(_Model):
    """What the reports print besides the figures."""

    prepared_by: Signatory | None = Field(None, description="Who prepared the pack; printed in the sign-off block.")
    reviewed_by: Signatory | None = Field(None, description="Who reviews the pack; printed in the sign-off block.")


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
    exceptions_file: Path | None = Field(
        None,
        description="Risk-acceptance register; by default exceptions.toml next to this config, when it exists. "
        "A relative path is taken from the config's directory.",
    )
    control_files: list[Path] = Field(
        default_factory=list,
        description="Control mappings (TOML) to judge besides the bundled frameworks: files, or folders whose *.toml "
        "files are read. A relative path is taken from the config's directory.",
    )
    max_exception_days: int = Field(
        180, ge=1, le=3650, description="An exception may run at most this many days from its created date."
    )
    exception_warning_days: int = Field(
        14,
        ge=0,
        le=365,
        description="An exception whose expires_on is at most this many days after the as-of date raises a warning.",
    )
    thresholds: Thresholds = Field(default_factory=Thresholds)
    schedules: ScheduleSettings = Field(default_factory=ScheduleSettings)
    output: OutputSettings = Field(default_factory=OutputSettings)
    history: HistorySettings = Field(default_factory=HistorySettings)
    evidence: EvidenceSettings = Field(default_factory=EvidenceSettings, description="Signing, time stamps, trust.")
    report: ReportSettings = Field(default_factory=ReportSettings, description="Sign-off block of the reports.")
    azure: dict[str, object] | None = Field(
        None,
        description="Live scope and cloud for `--source azure` and capture; checked by the live sources (see [azure]).",
    )
    policy: dict[str, object] | None = Field(
        None,
        description="Settings of `auditor policy` (policy as code); checked by the policy commands (see [policy]).",
    )
    _origin: str = PrivateAttr("<config>")
    notify: NotifySettings = Field(default_factory=NotifySettings, description="Webhooks posted after each scan.")
    publish: PublishSettings = Field(
        default_factory=PublishSettings, description="Azure Monitor publishing of each scan."
    )

    @field_validator("sla", mode="before")
    @classmethod
    def _sla_classes(cls, value: object) -> object:
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

    @property
    def origin(self) -> str:
        """The file this config was read from (or `<config>`), as error messages name it."""
        return self._origin

    def canonical_json(self) -> str:
        """The effective config as canonical JSON (sorted keys), as hashed and printed in packs."""
        return canonical_json(self.model_dump(mode="json"))

    def sha256(self) -> str:
        """sha256 of canonical_json()."""
        return sha256_hex(self.canonical_json())


def _key_path(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)


RELATIVE_PATHS: tuple[tuple[str, ...], ...] = (
    ("exceptions_file",),
    ("control_files",),
    ("history", "path"),
    ("policy", "policies_dir"),
    ("evidence", "sign_key"),
    ("evidence", "trusted_keys"),
    ("evidence", "timestamp_ca"),
)
"""Keys holding paths; a relative one is taken from the config file's directory, wherever auditor runs."""

Section = TypeVar("Section", bound=BaseModel)


def load_config(path: Path) -> Config:
    """Read and validate an auditor.toml; every problem is a ConfigError naming the file and key.

    Every relative path in it (RELATIVE_PATHS) is resolved against the file's directory, here and only here.
    """
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
    base = path.absolute().parent
    for keys in RELATIVE_PATHS:
        _resolve(data, keys, base)
    if "exceptions_file" not in data and (base / EXCEPTIONS_NAME).is_file():
        data["exceptions_file"] = str(base / EXCEPTIONS_NAME)
    return config_from_dict(data, source=str(path))


def _resolve(data: dict[str, object], keys: tuple[str, ...], base: Path) -> None:
    """Make the path at `keys` absolute against `base` (in place); values of the wrong type are left to validation."""
    *parents, last = keys
    table: object = data
    for key in parents:
        table = table.get(key) if isinstance(table, dict) else None
    if not isinstance(table, dict) or last not in table:
        return
    value = table[last]
    if isinstance(value, str):
        table[last] = str(base / Path(value).expanduser())
    elif isinstance(value, list):
        table[last] = [str(base / Path(item).expanduser()) if isinstance(item, str) else item for item in value]


def config_from_dict(data: Mapping[str, object], *, source: str = "<config>") -> Config:
    """Validate a config mapping (already parsed); `source` names it in errors."""
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise _config_error(exc, source, "") from exc
    config._origin = source
    return config


def read_section(config: Config, name: Literal["azure", "policy"], model: type[Section]) -> Section | None:
    """Validate the wing section `name` of `config` with the wing's own model; None when the section is absent.

    Config keeps wing sections as written, so that it imports no wing; each wing reads its section through this,
    with errors that name the file and the key path like every other config error.
    """
    raw = getattr(config, name)
    if raw is None:
        return None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise _config_error(exc, config.origin, name) from exc


def _config_error(exc: ValidationError, source: str, prefix: str) -> ConfigError:
    error = exc.errors()[0]
    loc = (prefix, *error["loc"]) if prefix else tuple(error["loc"])
    key = _key_path(loc) or "(top level)"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    given = error.get("input")
    secret = error["loc"][-1:] == ("url",)  # a webhook URL is a secret: never echo it
    shown = (
        ""
        if error["type"] in ("extra_forbidden", "missing") or isinstance(given, dict) or secret
        else f" (got {given!r})"
    )
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return ConfigError(
        f"{source}: key '{key}': {message}{shown}{more}", "see samples/auditor.toml for every key and its meaning"
    )
