"""A Jinja environment whose only way to put a value into KQL is a KQL-safe filter.

Templates never interpolate raw values: `{{ x }}` without a filter is an error, and every filter validates its
input and emits a literal that cannot end early (strings are escaped, numbers are bounded, timestamps are
re-formatted from parsed values).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TypeAlias

import jinja2
from markupsafe import Markup

from auditor.errors import QueryError

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
INT_BOUNDS = (-(2**53), 2**53)
ParamValue: TypeAlias = str | list[str] | int | datetime
"""A query parameter's value once checked against its declared type (and the partition filter's text)."""


class _KqlLiteral(Markup):
    """Marks a filter's output as already safe, so the finalizer lets it through."""


def kql_string(value: object) -> str:
    """A double-quoted KQL string literal; rejects control characters KQL cannot escape."""
    if not isinstance(value, str):
        raise QueryError(f"expected a string parameter, got {type(value).__name__}", "pass text")
    if _CONTROL.search(value):
        raise QueryError(
            f"string parameter {value!r} contains a control character", "remove control characters from the value"
        )
    return _KqlLiteral('"' + "".join(_ESCAPES.get(ch, ch) for ch in value) + '"')


def kql_string_list(values: object) -> str:
    """A parenthesised, comma-separated list of string literals, for `in (...)` / `in~ (...)`."""
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise QueryError(f"expected a list of strings, got {type(values).__name__}", "pass a list")
    items = [kql_string(v) for v in values]
    if not items:
        raise QueryError("a string-list parameter is empty", "give at least one value")
    return _KqlLiteral("(" + ", ".join(items) + ")")


def kql_int(value: object, low: int = INT_BOUNDS[0], high: int = INT_BOUNDS[1]) -> str:
    """A bounded integer literal."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise QueryError(f"expected an integer parameter, got {value!r}", "pass a whole number")
    if not low <= value <= high:
        raise QueryError(f"integer parameter {value} is outside {low}..{high}", f"use a value from {low} to {high}")
    return _KqlLiteral(str(value))


def kql_days(value: object, high: int = 3650) -> str:
    """A timespan literal of whole days, e.g. `30d`."""
    return _KqlLiteral(kql_int(value, 0, high) + "d")


def kql_datetime(value: object) -> str:
    """A `datetime(...)` literal from a timezone-aware datetime, in UTC."""
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise QueryError(f"expected a timezone-aware datetime, got {value!r}", "pass an RFC 3339 time with Z")
    utc = value.astimezone(UTC)
    return _KqlLiteral("datetime(" + utc.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z)")


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_PARTITIONS = 4096
"""The most hash partitions a scope is cut into."""


def partition_filter(key: str | None, index: int = 0, count: int = 1) -> str:
    """The `partition_filter` a template places before its `summarize` or final `project`: empty for the whole
    result, else a `where` keeping the rows with `hash(key) % count == index` (the hash-partition idiom of
    Microsoft's "Paging Resource Graph results" page). Only a plain column name is accepted as the key."""
    if count == 1 and index == 0:
        return _KqlLiteral("")
    if key is None or not _IDENTIFIER.match(key):
        raise QueryError(f"partition key {key!r} is not a column name", 'declare [partition] key = "column"')
    kql_int(count, 2, MAX_PARTITIONS)
    kql_int(index, 0, count - 1)
    return _KqlLiteral(f"| where hash({key}) % {count} == {index}\n")


def _finalize(value: object) -> _KqlLiteral:
    if isinstance(value, _KqlLiteral):
        return value
    raise QueryError(
        f"template interpolates {value!r} without a KQL-safe filter",
        "use kql_string, kql_string_list, kql_int, kql_days or kql_datetime",
    )


def make_environment() -> jinja2.Environment:
    """The Jinja environment for `.kql.j2` templates: strict undefined, safe filters, no raw output."""
    env = jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        finalize=_finalize,
    )
    env.filters.update(
        kql_string=kql_string,
        kql_string_list=kql_string_list,
        kql_int=kql_int,
        kql_days=kql_days,
        kql_datetime=kql_datetime,
    )
    return env


def render(template_text: str, params: Mapping[str, ParamValue], *, name: str = "<query>") -> str:
    """Render a template with already-typed parameters."""
    env = make_environment()
    try:
        return env.from_string(template_text).render(**params)
    except jinja2.UndefinedError as exc:
        raise QueryError(f"{name}: {exc.message}", "declare the parameter in query.toml") from exc
    except jinja2.TemplateSyntaxError as exc:
        raise QueryError(
            f"{name}: template syntax error at line {exc.lineno}: {exc.message}", "fix the template"
        ) from exc
