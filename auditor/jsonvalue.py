"""JSON as the type checker sees it: any value `json.loads` can return and `json.dumps` can write.

Code that reads a JsonValue narrows it (isinstance) before it uses it; code that builds one is checked to build
nothing JSON cannot hold.
"""

from __future__ import annotations

from typing import TypeAlias

JsonValue: TypeAlias = str | int | float | bool | list["JsonValue"] | dict[str, "JsonValue"] | None
JsonObject: TypeAlias = dict[str, JsonValue]
JsonArray: TypeAlias = list[JsonValue]
