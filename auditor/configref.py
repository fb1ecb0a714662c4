"""Generate the auditor.toml reference (docs/config-reference.md) from the pydantic models.

`python -m auditor.configref > docs/config-reference.md` rewrites it; a test fails when it is out of date.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from auditor.config import Config
from auditor.policy.config import PolicySettings
from auditor.sources.azure_settings import AzureSettings

WING_SECTIONS: dict[str, type[BaseModel]] = {"azure": AzureSettings, "policy": PolicySettings}
"""Sections that Config keeps as written and a wing checks (config.read_section): documented from the wing's model."""

HEADER = """# auditor.toml reference

Generated from the configuration models by `python -m auditor.configref`; do not edit by hand.
Unknown keys are errors. `samples/auditor.toml` shows every key with a sensible value.
"""


def _models(annotation: Any) -> list[type[BaseModel]]:
    args = typing.get_args(annotation) or (annotation,)
    found = []
    for arg in args:
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            found.append(arg)
        elif typing.get_origin(arg) in (dict, list):
            found.extend(_models(arg))
    return found


def _type_name(annotation: Any) -> str:
    """A short, readable type: `number (0-100)`, `list of text`, `table`, `... or none`."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        base, *meta = args
        bounds = [
            f"{m.__class__.__name__.lower()} {getattr(m, m.__class__.__name__.lower())}"
            for m in meta
            if m.__class__.__name__ in ("Ge", "Le", "Gt", "Lt")
        ]
        return _type_name(base) + (f" ({', '.join(bounds)})" if bounds else "")
    if isinstance(annotation, types.UnionType) or origin is typing.Union:
        names = [_type_name(a) for a in args if a is not type(None)]
        return " or ".join(names) + (" or none" if type(None) in args else "")
    if origin is dict:
        return f"table of {_type_name(args[1])}"
    if origin is list:
        return f"list of {_type_name(args[0])}"
    if origin is typing.Literal:
        return " / ".join(json.dumps(a) for a in args)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "table"
    return {str: "text", int: "integer", float: "number", bool: "boolean"}.get(
        annotation, getattr(annotation, "__name__", str(annotation))
    )


def _default(field: FieldInfo) -> str:
    if field.default is PydanticUndefined and field.default_factory is None:
        return "required"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "(table)"
    try:
        return "`" + json.dumps(value, default=str) + "`"
    except TypeError:
        return f"`{value}`"


def _sections(model: type[BaseModel], prefix: str) -> Iterator[tuple[str, type[BaseModel]]]:
    yield prefix, model
    for name, field in model.model_fields.items():
        wing = WING_SECTIONS.get(name) if not prefix else None
        for sub in [wing] if wing is not None else _models(field.annotation):
            origin = typing.get_origin(field.annotation)
            key = f"{prefix}.{name}" if prefix else name
            if wing is None and (origin is dict or "dict[" in str(field.annotation)):
                key += ".<name>"
            yield from _sections(sub, key)


def render() -> str:
    """The reference as Markdown."""
    out = [HEADER]
    for prefix, model in _sections(Config, ""):
        title = f"[{prefix}]" if prefix else "Top level"
        out.append(f"\n## {title}\n")
        doc = (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else ""
        if doc:
            out.append(doc + "\n")
        out.append("| key | type | default | meaning |\n|---|---|---|---|")
        for name, field in model.model_fields.items():
            meaning = field.description or ""
            if not meaning and _models(field.annotation):
                meaning = (_models(field.annotation)[0].__doc__ or "").strip().splitlines()[0]
            meaning = meaning.replace("|", "\\|").replace("\n", " ")
            kind = (
                "table or none" if name in WING_SECTIONS and model is Config else _type_name(field.annotation)
            ).replace("|", "\\|")
            out.append(f"| `{name}` | {kind} | {_default(field)} | {meaning} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(render(), end="")
