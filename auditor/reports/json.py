"""summary.json and breaches.json: canonical, byte-stable JSON. The one place the typed summary is serialised.

The summary is a frozen dataclass tree (`auditor.compliance.summary`); `plain()` walks it generically in declared
field order, honouring the two markers of `auditor.compliance.summary.shape` (inline fields, sections absent while
None). So a field added to the tree appears in summary.json with no edit here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import MISSING, fields, is_dataclass
from functools import cache
from pathlib import Path
from types import UnionType
from typing import TypedDict, Union, get_args, get_origin, get_type_hints

from auditor.compliance.summary import ABSENT_KEY, INLINE_KEY, Summary
from auditor.compliance.summary.shape import plain as plain
from auditor.compliance.summary.shape import plain_object as plain_object
from auditor.compliance.thresholds import BreachRow
from auditor.jsonvalue import JsonValue
from auditor.reports.interface import ReportContext

BREACHES_FORMAT = "auditor-breaches/1"
_SCALARS = (str, int, float, bool, type(None))


class ThresholdRecord(TypedDict):
    """A row of breaches.json's `thresholds`: a threshold the scan judged and the figure it saw."""

    rule: str
    dimension: str
    key: str | None
    requirement: str
    observed: float | None
    """None when the figure could not be measured."""
    queries: list[str]


class BreachesDocument(TypedDict):
    """breaches.json (auditor-breaches/1)."""

    format: str
    as_of: str
    breaches: list[BreachRow]
    thresholds: list[ThresholdRecord]


def dumps(data: object) -> str:
    """Canonical pretty JSON: 2-space indent, keys in insertion order, UTF-8, trailing newline."""
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False, default=_encode) + "\n"


def _encode(value: object) -> JsonValue:
    # json calls this only for what it cannot write itself: the summary's dataclasses and read-only mappings.
    if (is_dataclass(value) and not isinstance(value, type)) or isinstance(value, Mapping):
        return plain(value)
    raise TypeError(f"{type(value).__name__} has no JSON form")


def summary_text(summary: Summary) -> str:
    """summary.json's bytes (as text) for a typed summary."""
    return dumps(summary)


Filler = Callable[[str, object], object]
"""fill(key path, declared type) -> the value for a key the data lacks."""


def load_summary(data: Mapping[str, object], *, fill: Filler | None = None) -> Summary:
    """A typed summary back from summary.json's data (e.g. a stored history entry): the writer's walk in reverse.

    Keys the data lacks are an error naming the key path, unless the field is an optional section (then None) or
    `fill` supplies them; keys the tree does not know (written by a newer version) are ignored.
    """
    loaded = load_tree(Summary, data, fill=fill)
    if not isinstance(loaded, Summary):
        raise TypeError(f"summary data loaded as {type(loaded).__name__}")
    return loaded


def load_tree(kind: object, value: object, *, fill: Filler | None = None, path: str = "summary") -> object:
    """A value of the declared type `kind` (a summary dataclass, tuple, mapping, optional or scalar) from JSON data.

    Its type is what `kind` declares, which a type hint cannot say for every `kind`: the caller narrows it."""
    return _load(kind, value, path, fill)


def _load(kind: object, value: object, path: str, fill: Filler | None) -> object:
    origin, args = get_origin(kind), get_args(kind)
    if is_dataclass(kind) and isinstance(kind, type):
        if not isinstance(value, Mapping):
            raise ValueError(f"{path} is not an object")
        return kind(**_fields_of(kind, value, path, fill))
    if origin in (UnionType, Union):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _load(inner, value, path, fill)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ValueError(f"{path} is not a list")
        return tuple(_load(args[0], item, f"{path}[{i}]", fill) for i, item in enumerate(value))
    if origin in (Mapping, dict):
        if not isinstance(value, Mapping):
            raise ValueError(f"{path} is not an object")
        return {str(k): _load(args[1], v, f"{path}.{k}", fill) for k, v in value.items()}
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind in (str, int, float, bool) and not isinstance(value, kind):
        raise ValueError(f"{path} is {value!r}, not {kind.__name__}")
    return value


def _fields_of(kind: type, data: Mapping[str, object], path: str, fill: Filler | None) -> dict[str, object]:
    hints = _hints(kind)
    found: dict[str, object] = {}
    for spec in fields(kind):
        where, declared = f"{path}.{spec.name}", hints[spec.name]
        if spec.metadata.get(INLINE_KEY):
            if not isinstance(declared, type):
                raise TypeError(f"{where} is written in place, so it must be a summary dataclass")
            found[spec.name] = declared(**_fields_of(declared, data, path, fill))
        elif spec.name in data:
            found[spec.name] = _load(declared, data[spec.name], where, fill)
        elif spec.metadata.get(ABSENT_KEY):
            found[spec.name] = None
        elif spec.default is not MISSING:
            found[spec.name] = spec.default
        elif fill is not None:
            found[spec.name] = fill(where, declared)
        else:
            raise ValueError(f"{where} is missing")
    return found


@cache
def _hints(kind: type) -> dict[str, object]:
    return get_type_hints(kind)


def breaches_document(context: ReportContext) -> BreachesDocument:
    """breaches.json's content."""
    evaluation = context.evaluation
    return BreachesDocument(
        format=BREACHES_FORMAT,
        as_of=context.summary.as_of,
        breaches=[b.to_json() for b in evaluation.breaches],
        thresholds=[
            ThresholdRecord(
                rule=t.rule,
                dimension=t.dimension,
                key=t.key,
                requirement=t.requirement(),
                observed=observed,
                queries=list(t.queries or (t.query,)),
            )
            for t, observed in evaluation.threshold_checks
        ],
    )


class SummaryRenderer:
    """Writes summary.json."""

    filename = "summary.json"

    def render(self, context: ReportContext, path: Path) -> None:
        """Write the summary."""
        path.write_text(summary_text(context.summary), encoding="utf-8")


class BreachesRenderer:
    """Writes breaches.json."""

    filename = "breaches.json"

    def render(self, context: ReportContext, path: Path) -> None:
        """Write the breaches."""
        path.write_text(dumps(breaches_document(context)), encoding="utf-8")
