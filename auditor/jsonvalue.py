"""JSON as the type checker sees it: any value `json.loads` can return and `json.dumps` can write.

Code that reads a JsonValue narrows it (isinstance) before it uses it; code that builds one is checked to build
nothing JSON cannot hold.
"""

from __future__ import annotations

from typing import TypeAlias

JsonValue: TypeAlias = str | int | float | bool | list["JsonValue"] | dict[str, "JsonValue"] | None
JsonObject: TypeAlias = dict[str, JsonValue]
JsonArray: TypeAlias = list[JsonValue]


def as_object(value: JsonValue) -> JsonObject:
    """value when it is a JSON object, else a new empty one (a part missing or of another shape reads as empty)."""
    return value if isinstance(value, dict) else {}


def as_array(value: JsonValue) -> JsonArray:
    """value when it is a JSON array, else a new empty one."""
    return value if isinstance(value, list) else []


def objects(value: JsonValue) -> list[JsonObject]:
    """The objects of a JSON array; anything else, in it or instead of it, reads as none."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
