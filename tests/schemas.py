"""Validate documents against the committed JSON Schemas."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

SCHEMAS = Path(__file__).resolve().parents[1] / "auditor" / "schemas"


@cache
def _validator(name: str) -> jsonschema.protocols.Validator:
    schema = json.loads((SCHEMAS / name).read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)  # type: ignore[no-any-return]


def assert_valid_summary(summary: dict[str, Any]) -> None:
    """Raise when summary.json breaks the auditor-summary/1 contract."""
    _validator("summary.v1.json").validate(summary)
