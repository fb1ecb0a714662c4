"""How the typed summary maps onto summary.json: the two field conventions the JSON writer honours.

Every summary class is a frozen, keyword-only dataclass whose fields are declared in summary.json's key order; the
writer (`auditor.reports.json`) walks them generically, so adding a key is adding a field. Two markers change the
walk:

- `field(metadata=INLINE)`: the field's own fields are written in its place, as if declared there (the status counts that the
  top level and every group row share);
- `field(default=None, metadata=ABSENT)`: an optional section that is left out of the JSON entirely while it is None (sections that packs
  written before them lack, such as `schedules`). A plain `X | None` field is written as null instead.

This module imports nothing of auditor's but the ground floor's JSON value type, so the summary package stays a
floor every reader above compliance can use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from auditor.jsonvalue import JsonObject, JsonValue

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

INLINE_KEY = "auditor.summary.inline"
"""Field metadata key: write the nested dataclass's fields in place of this one."""
ABSENT_KEY = "auditor.summary.absent_when_none"
"""Field metadata key: omit the key altogether while the value is None."""

INLINE: Mapping[str, bool] = MappingProxyType({INLINE_KEY: True})
"""`field(metadata=INLINE)`: the field's dataclass value is flattened into its parent's JSON object."""
ABSENT: Mapping[str, bool] = MappingProxyType({ABSENT_KEY: True})
"""`field(default=None, metadata=ABSENT)`: an optional section, missing from the JSON (not null) while None."""

_SCALARS = (str, int, float, bool, type(None))


# The walk lives beside the markers it honours, so the history store (a floor below reports) can keep a summary as
# JSON data; auditor.reports.json re-exports it and stays the one place that writes summary.json's bytes.
def plain(value: object) -> JsonValue:
    """JSON-ready data: dataclasses become objects in field order, mappings objects, tuples and lists arrays."""
    if isinstance(value, _SCALARS):
        return value
    if is_dataclass(value) and not isinstance(value, type):
        return plain_object(value)
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    raise TypeError(f"summary value of type {type(value).__name__} has no JSON form")


def plain_object(node: DataclassInstance) -> JsonObject:
    """One summary dataclass as the JSON object summary.json writes for it (its keys in field order)."""
    out: JsonObject = {}
    _fill(out, node)
    return out


def _fill(out: JsonObject, node: DataclassInstance) -> None:
    for spec in fields(node):
        value = getattr(node, spec.name)
        if spec.metadata.get(INLINE_KEY):
            _fill(out, value)
        elif value is None and spec.metadata.get(ABSENT_KEY):
            continue
        else:
            out[spec.name] = plain(value)
