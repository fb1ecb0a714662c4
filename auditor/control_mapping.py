"""Control mappings: which figures of a pack evidence which framework control, as data.

Each framework is one TOML file: a `framework` name and `[[control]]` tables, each with an id, a title, what the
control asks (`requires`, in the mapping author's words) and `[[control.criterion]]` tables that name a figure
of summary.json (or of the effective config, as `config.<key>`) and the limit it must meet, either fixed (`value`)
or one of the config's `[thresholds]` (`threshold`). The bundled files live in `auditor/controls/`; `control_files`
in auditor.toml adds more. Unknown keys are errors naming the file and the control, as in every user-written file.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from auditor.config import Thresholds
from auditor.errors import ConfigError

BUNDLED = Path(__file__).resolve().parent / "controls"
"""The frameworks every scan maps (shipped inside the package, so the wheel carries them)."""
HINT = "see auditor/controls/*.toml for the format of a control mapping"
_SEGMENT = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:\[(?P<key>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>[^\]]+)\])?$")


def figure_segments(path: str) -> list[tuple[str, tuple[str, str] | None]]:
    """`by_classification[classification=Critical].overdue_machines` -> [(name, (key, value) | None), ...].

    A bracketed selector picks the list element whose `key` equals `value` (ignoring case).
    """
    segments = []
    for part in path.split("."):
        match = _SEGMENT.match(part)
        if match is None:
            raise ValueError(f"figure path {path!r} has a malformed part {part!r}")
        key, value = match.group("key"), match.group("value")
        segments.append((match.group("name"), (key, value.strip()) if key else None))
    return segments


class Criterion(BaseModel):
    """One figure a control rests on and the limit it must meet."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    figure: str = Field(description="Path into summary.json, or `config.<key>` into the effective config.")
    label: str = Field(min_length=1, description="The figure in words, as the sentence prints it.")
    must_be: Literal["at_least", "at_most"]
    value: int | float | None = Field(None, description="A fixed limit.")
    threshold: str | None = Field(None, description="Path into [thresholds], e.g. max_overdue_machines.Critical.")
    unit: Literal["%", "machines", "days", ""] = ""
    if_absent: int | float | None = Field(
        None,
        description="The figure when the summary has the list but no such element (e.g. no pending patch of that "
        "classification, so none overdue). A missing section is never filled in: it leaves the control not assessed.",
    )

    @field_validator("figure")
    @classmethod
    def _figure(cls, value: str) -> str:
        figure_segments(value)
        return value

    @field_validator("threshold")
    @classmethod
    def _threshold(cls, value: str | None) -> str | None:
        if value is not None and figure_segments(value)[0][0] not in Thresholds.model_fields:
            raise ValueError(f"{value!r} is not a [thresholds] key of auditor.toml")
        return value

    @model_validator(mode="after")
    def _one_limit(self) -> Criterion:
        if (self.value is None) == (self.threshold is None):
            raise ValueError("give exactly one of value and threshold")
        return self


class ControlDefinition(BaseModel):
    """A framework control and the criteria that evidence it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    framework: str = Field(min_length=1)
    id: str = Field(min_length=1)
    title: str = Field(min_length=1)
    requires: str = Field(min_length=1, description="What the control asks, in the mapping author's words.")
    note: str = Field("", description="What the figures cannot show (printed beside the status).")
    criterion: tuple[Criterion, ...] = Field(min_length=1)


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    framework: str = Field(min_length=1)
    control: list[dict[str, object]] = Field(min_length=1)
    """Each `[[control]]` table as written; ControlDefinition checks it, with the framework added."""


def _files(paths: Iterable[Path]) -> list[Path]:
    """Each path, or the *.toml files of a folder in name order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(path.glob("*.toml")))
        elif path.is_file():
            found.append(path)
        else:
            raise ConfigError(f"control file {path} does not exist", "fix control_files in auditor.toml")
    return found


def _label(raw: Mapping[str, object], index: int) -> str:
    ident = raw.get("id")
    return f"control {ident!r}" if isinstance(ident, str) else f"control #{index + 1}"


def parse_controls(data: Mapping[str, object], *, source: str) -> list[ControlDefinition]:
    """Validate one mapping file's content; errors name the file, the control and the key."""
    try:
        parsed = _File.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(p) for p in error["loc"]) or "(top level)"
        message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
        raise ConfigError(f"{source}: key '{key}': {message}", HINT) from exc
    out = []
    for index, raw in enumerate(parsed.control):
        if "framework" in raw:
            raise ConfigError(f"{source}: {_label(raw, index)}: key 'framework' belongs at the top of the file", HINT)
        try:
            out.append(ControlDefinition.model_validate({"framework": parsed.framework, **raw}))
        except ValidationError as exc:
            error = exc.errors()[0]
            key = ".".join(str(p) for p in error["loc"]) or "(control)"
            message = "unknown key" if error["type"] == "extra_forbidden" else str(error["msg"])
            message = message.removeprefix("Value error, ")
            raise ConfigError(f"{source}: {_label(raw, index)}: key '{key}': {message}", HINT) from exc
    return out


def load_controls(extra: Iterable[Path] = ()) -> tuple[ControlDefinition, ...]:
    """The bundled mappings, then each extra file or folder; a control defined twice (same framework and id,
    ignoring case) is an error naming both files, so no mapping silently replaces another."""
    seen: dict[tuple[str, str], Path] = {}
    out: list[ControlDefinition] = []
    for path in [*_files([BUNDLED]), *_files(extra)]:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read control file {path}: {exc}", "check the path and permissions") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}", HINT) from exc
        for control in parse_controls(data, source=str(path)):
            key = (control.framework.lower(), control.id.lower())
            if key in seen:
                raise ConfigError(
                    f"{path}: control {control.id!r} of {control.framework} is already defined in {seen[key]}",
                    "give the control another id, or remove one of the two definitions",
                )
            seen[key] = path
            out.append(control)
    return tuple(out)
