"""JSON values as `json.loads` returns them, for documents whose shape auditor does not fix.

A value of these types is narrowed with isinstance checks where it is read. Ground floor: imports nothing of
auditor's.
"""

from __future__ import annotations

from typing import TypeAlias

JsonValue: TypeAlias = str | int | float | bool | list["JsonValue"] | dict[str, "JsonValue"] | None
"""Any JSON value."""
JsonObject: TypeAlias = dict[str, JsonValue]
"""A JSON object."""
JsonArray: TypeAlias = list[JsonValue]
"""A JSON array."""
