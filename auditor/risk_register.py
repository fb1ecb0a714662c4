"""exceptions.toml: the risk-acceptance register, modelled with pydantic v2.

Each `[[exception]]` table names who accepted which risk, why, under which ticket, from when and until when, and which
machines (and optionally which patches) it covers. Unknown keys are errors, and every error names the file and the
entry (`exceptions.toml: exception 'EX-7': ...`), so a register is reviewed like code.
"""

from __future__ import annotations

import re
import tomllib
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from auditor.classifications import CLASSIFICATIONS, canonical, is_known
from auditor.errors import ConfigError

DEFAULT_NAME = "exceptions.toml"
"""The register's file name; a config's sibling of this name is loaded unless `exceptions_file` says otherwise."""
HINT = "see samples/exceptions.toml for every key and its meaning"
APPROVAL_HINT = (
    "every exception needs approver (someone other than its owner) and approved_on (on or after created); "
    "see samples/exceptions.toml"
)
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
_KB = re.compile(r"^(?:kb)?(\d+)$", re.IGNORECASE)
SELECTOR_KEYS = ("machine_ids", "tags", "subscriptions", "resource_groups")
NARROWING_KEYS = ("classifications", "kb_ids", "packages")
APPROVAL_KEYS = ("approver", "approved_on")
"""Keys every entry needs since approvals were introduced; packs written before them are read without."""
RISK_RATINGS = ("low", "medium", "high", "critical")
RiskRating = Literal["low", "medium", "high", "critical"]
LEGACY = "legacy"
"""Validation-context flag: the rows come from a pack written before approvals were required."""


def kb_number(text: str) -> str | None:
    """A KB article number without the `KB` prefix or leading zeros (`KB05031361` -> `5031361`); None if not one."""
    match = _KB.match(text.strip())
    return None if match is None else (match.group(1).lstrip("0") or "0")


def _texts(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _clean(values: tuple[str, ...], *, lower: bool = False) -> tuple[str, ...]:
    out: list[str] = []
    for value in values:
        text = value.strip().lower() if lower else value.strip()
        if not text:
            raise ValueError("holds an empty value")
        if text not in out:
            out.append(text)
    return tuple(out)


class ExceptionEntry(BaseModel):
    """One accepted risk: who, why, until when, and which machines and patches it covers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="Unique id, e.g. EX-7 (compared ignoring case).")
    owner: str = Field(description="Who accepted the risk and answers for it.")
    justification: str = Field(description="Why the machines cannot be patched on time.")
    ticket: str = Field(description="Change or risk ticket reference.")
    approver: str | None = Field(
        None, description="Who approved the risk acceptance; required, and not the owner (compared ignoring case)."
    )
    approved_on: date | None = Field(
        None, description="Day the approver approved it (UTC); required, on or after created."
    )
    risk_rating: RiskRating | None = Field(
        None, description="The accepted risk's rating: low, medium, high or critical."
    )
    compensating_controls: tuple[str, ...] = Field(
        (), description="What limits the risk meanwhile (e.g. network isolation, extra monitoring)."
    )
    created: date = Field(description="Day the exception was accepted (UTC); it has no effect before it.")
    expires_on: date = Field(
        description="Last day (UTC) the exception is in force; at most max_exception_days after created."
    )
    machine_ids: tuple[str, ...] = Field((), description="ARM ids of machines (matched ignoring case).")
    tags: dict[str, tuple[str, ...]] = Field(
        default_factory=dict, description="Tag key (matched ignoring case) = value or values (matched exactly)."
    )
    subscriptions: tuple[str, ...] = Field((), description="Subscription ids.")
    resource_groups: tuple[str, ...] = Field(
        (),
        description="Resource group names (any subscription) or ids /subscriptions/S/resourceGroups/G, ignoring case.",
    )
    classifications: tuple[str, ...] = Field(
        (), description="Narrow to patches whose enforced classifications are all listed."
    )
    kb_ids: tuple[str, ...] = Field((), description="Narrow to these KB articles (Windows), e.g. KB5031361.")
    packages: tuple[str, ...] = Field((), description="Narrow to these package names (Linux), ignoring case.")

    @field_validator("id", "owner", "justification", "ticket")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("is empty")
        return value

    @field_validator("approver")
    @classmethod
    def _approver_not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("is empty")
        return None if value is None else value.strip()

    @field_validator("risk_rating", mode="before")
    @classmethod
    def _rating_any_case(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in RISK_RATINGS:
            return value.strip().lower()
        if value is not None:
            raise ValueError(f"{value!r} is not a risk rating; expected one of {', '.join(RISK_RATINGS)}")
        return value

    @field_validator("compensating_controls", mode="before")
    @classmethod
    def _controls(cls, value: Any) -> Any:
        return _texts(value)

    @field_validator("compensating_controls")
    @classmethod
    def _controls_clean(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _clean(value)

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError("must start with a letter or digit and hold only letters, digits and . _ : -")
        return value

    @field_validator(
        "machine_ids", "subscriptions", "resource_groups", "classifications", "kb_ids", "packages", mode="before"
    )
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return _texts(value)

    @field_validator("tags", mode="before")
    @classmethod
    def _tag_values(cls, value: Any) -> Any:
        return {k: _texts(v) for k, v in value.items()} if isinstance(value, dict) else value

    @field_validator("machine_ids")
    @classmethod
    def _machine_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        ids = _clean(value, lower=True)
        for item in ids:
            if not item.startswith("/subscriptions/") or "/providers/" not in item:
                raise ValueError(f"{item!r} is not a machine's ARM id (/subscriptions/.../providers/...)")
        return ids

    @field_validator("subscriptions", "resource_groups", "packages")
    @classmethod
    def _lowered(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _clean(value, lower=True)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        seen: set[str] = set()
        out: dict[str, tuple[str, ...]] = {}
        for key, values in value.items():
            name = key.strip()
            if not name or name.lower() in seen:
                raise ValueError(f"tag key {key!r} is empty or given twice (keys are matched ignoring case)")
            seen.add(name.lower())
            if not values:
                raise ValueError(f"tag {name!r} lists no value")
            out[name] = tuple(dict.fromkeys(v.strip() for v in values))
        return dict(sorted(out.items(), key=lambda item: item[0].lower()))

    @field_validator("classifications")
    @classmethod
    def _classes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not is_known(name):
                raise ValueError(f"unknown classification {name!r}; expected one of {', '.join(CLASSIFICATIONS)}")
        return tuple(dict.fromkeys(canonical(name) for name in value))

    @field_validator("kb_ids")
    @classmethod
    def _kbs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        out: list[str] = []
        for item in value:
            number = kb_number(item)
            if number is None:
                raise ValueError(f"{item!r} is not a KB number (write KB5031361 or 5031361)")
            out.append(number)
        return tuple(dict.fromkeys(out))

    @model_validator(mode="after")
    def _selector_and_dates(self, info: ValidationInfo) -> ExceptionEntry:
        if not any(getattr(self, key) for key in SELECTOR_KEYS):
            raise ValueError(f"selects no machine: give at least one of {', '.join(SELECTOR_KEYS)}")
        if self.expires_on < self.created:
            raise ValueError(f"expires_on {self.expires_on} is before created {self.created}")
        legacy = bool(info.context and info.context.get(LEGACY))
        for key in APPROVAL_KEYS:
            if getattr(self, key) is None and not legacy:
                raise ValueError(f"missing required key '{key}'")
        # A risk its own owner approved was not reviewed by anyone: the register's point is a second person.
        if self.approver is not None and self.approver.casefold() == self.owner.casefold():
            raise ValueError(
                f"approver {self.approver!r} is also its owner; a risk acceptance needs a second person to approve it"
            )
        if self.approved_on is not None and self.approved_on < self.created:
            raise ValueError(f"approved_on {self.approved_on} is before created {self.created}")
        return self

    @property
    def narrowed_to_patches(self) -> bool:
        """Whether the exception names KBs or packages (and so covers single patches, not whole groups)."""
        return bool(self.kb_ids or self.packages)

    @property
    def duration_days(self) -> int:
        """Days from created to expires_on."""
        return (self.expires_on - self.created).days


Register = tuple[ExceptionEntry, ...]
"""A validated register, in file order."""


def _label(raw: Any, index: int) -> str:
    ident = raw.get("id") if isinstance(raw, dict) else None
    return (
        f"exception {ident.strip()!r}"
        if isinstance(ident, str) and ident.strip()
        else f"exception #{index + 1} (no id)"
    )


def _problem(error: ValidationError) -> str:
    # A misspelt key is both unknown and missing; naming the unknown spelling says what to fix.
    first = min(error.errors(), key=lambda e: e["type"] != "extra_forbidden")
    key = ".".join(str(part) for part in first["loc"])
    more = f" (+{error.error_count() - 1} more)" if error.error_count() > 1 else ""
    if first["type"] == "missing":
        return f"missing required key '{key}'{more}"
    if first["type"] == "extra_forbidden":
        return f"unknown key '{key}'{more}"
    message = str(first["msg"]).removeprefix("Value error, ")
    return (f"key '{key}': {message}" if key else message) + more


def validate_register(data: Any, *, max_days: int, source: str, legacy: bool = False) -> Register:
    """A register from parsed TOML (or the rows a pack stored); ConfigError naming `source` and the entry.

    `legacy` reads the rows of a pack written before approvals were required (no approver, no approved_on);
    a register file is never legacy.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a TOML document of exception entries", HINT)
    unknown = sorted(set(data) - {"exception"})
    if unknown:
        raise ConfigError(
            f"{source}: unknown top-level key '{unknown[0]}' (each entry is an 'exception' array table)", HINT
        )
    raw_entries = data.get("exception", [])
    if not isinstance(raw_entries, list):
        raise ConfigError(
            f"{source}: 'exception' must be an array of tables (one double-bracketed 'exception' table per entry)", HINT
        )
    entries: list[ExceptionEntry] = []
    seen: dict[str, str] = {}
    for index, raw in enumerate(raw_entries):
        label = _label(raw, index)
        try:
            entry = ExceptionEntry.model_validate(raw, context={LEGACY: legacy})
        except ValidationError as exc:
            problem = _problem(exc)
            hint = APPROVAL_HINT if any(key in problem for key in APPROVAL_KEYS) else HINT
            raise ConfigError(f"{source}: {label}: {problem}", hint) from exc
        if entry.id.lower() in seen:
            raise ConfigError(
                f"{source}: {label}: duplicate id (also used by exception {seen[entry.id.lower()]!r}; ids ignore case)",
                "give every exception its own id",
            )
        seen[entry.id.lower()] = entry.id
        if entry.duration_days > max_days:
            raise ConfigError(
                f"{source}: {label}: expires_on {entry.expires_on} is {entry.duration_days} days after created "
                f"{entry.created}; the maximum is {max_days} days",
                "shorten the exception and renew it when it is reviewed, or raise max_exception_days in auditor.toml",
            )
        entries.append(entry)
    return tuple(entries)


def load_register(path: Path, *, max_days: int) -> Register:
    """Read and validate an exceptions.toml; every problem is a ConfigError naming the file and the entry."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"exceptions file {path} does not exist", "fix exceptions_file in auditor.toml") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read exceptions file {path}: {exc}", "check the path and permissions") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}", HINT) from exc
    return validate_register(data, max_days=max_days, source=str(path))
