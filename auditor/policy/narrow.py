"""Typed reads of the JSON (policy files, ARM bodies) and TOML (ring and exemption files) the policy wing handles.

A missing or malformed part reads as empty: validate reports malformed files, so desired, plan and deploy meet
only valid ones, and ARM answers with the shapes its REST reference documents.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from auditor.jsonvalue import JsonValue
from auditor.policy import PolicyError
from auditor.policy.expressions import pointer_join


def as_table(value: object) -> Mapping[str, object]:
    """value when it is a TOML table, else an empty one."""
    return value if isinstance(value, dict) else {}


def as_items(value: object) -> Sequence[object]:
    """value when it is a TOML array, else an empty one."""
    return value if isinstance(value, list) else []


def to_json(value: object, where: str) -> JsonValue:
    """A TOML value as JSON; PolicyError naming `where` (file#pointer) for a date or time, which JSON cannot hold."""
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, list):
        return [to_json(item, pointer_join(where, index)) for index, item in enumerate(value)]
    if isinstance(value, dict):
        return {str(key): to_json(item, pointer_join(where, str(key))) for key, item in value.items()}
    raise PolicyError(
        f"{where}: a TOML {type(value).__name__} is not a JSON value", 'write it as a string, e.g. "2027-01-15"'
    )


def as_count(value: JsonValue) -> int:
    """A count in an ARM body: a JSON number as an int, else 0."""
    return int(value) if isinstance(value, int | float) else 0
