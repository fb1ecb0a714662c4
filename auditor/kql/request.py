"""A rendered query ready to run, and the rows a source returns for it: the catalog's output and every source's input."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import pyarrow as pa

from auditor.jsonvalue import JsonValue

ARROW_TYPES: Mapping[str, pa.DataType] = {
    "string": pa.string(),
    "long": pa.int64(),
    "real": pa.float64(),
    "bool": pa.bool_(),
}
"""Column types a query may declare in its query.toml, and their Arrow types."""


@dataclass(frozen=True)
class QueryRequest:
    """A rendered query, ready to run."""

    query_id: str
    version: int
    text: str
    """The rendered KQL text."""
    target: str
    """`arg` (Resource Graph tables) or `law` (Log Analytics tables)."""
    columns: tuple[tuple[str, str], ...]
    """(name, type) of every output column, in order; types are keys of ARROW_TYPES."""
    tables: tuple[str, ...] = ()
    """The tables the query reads, as its query.toml declares them (empty: not declared)."""
    partition_key: str | None = None
    """The output column a live source may cut the result on (`[partition]` in query.toml), else None."""
    partitioned: Callable[[int, int], str] | None = field(default=None, compare=False, repr=False)
    """partitioned(index, count): the text of partition `index` of `count`, the rows whose
    `hash(partition_key) % count == index`. None when the query declares no partition key."""

    @property
    def ref(self) -> str:
        """`id@vN`, as used in evidence file names and breaches."""
        return f"{self.query_id}@v{self.version}"


@dataclass(frozen=True)
class Piece:
    """One request-sized part of a query's result, as a live source read it (for the manifest)."""

    scope: str
    """The subscription batch, management groups or tenant it covered."""
    partition: int | None
    """The hash partition (0-based), or None for the whole scope."""
    partitions: int | None
    """How many hash partitions the scope was cut into, or None."""
    rows: int
    pages: int


@dataclass(frozen=True)
class QueryResult:
    """The rows a source returned for one query, shaped as the query declares."""

    request: QueryRequest
    table: pa.Table
    """Rows as Arrow, with exactly the declared columns and types."""
    complete: bool = True
    """False when the source could not prove it returned every row."""
    problems: tuple[str, ...] = field(default=())
    """What made the result incomplete, one line each."""
    response_sha256: str | None = None
    """For live sources: sha256 of the canonical JSON of the response rows."""
    pieces: tuple[Piece, ...] = ()
    """For live sources: the requests the result was read in (scopes, partitions, rows); empty offline."""


def rows_to_table(rows: Sequence[Mapping[str, JsonValue]], columns: tuple[tuple[str, str], ...]) -> pa.Table:
    """Build an Arrow table of the declared columns from JSON rows (live sources), coercing each value."""
    arrays = []
    for name, kind in columns:
        values = [_coerce(row.get(name), kind) for row in rows]
        arrays.append(pa.array(values, type=ARROW_TYPES[kind]))
    return pa.Table.from_arrays(arrays, names=[name for name, _ in columns])


def _coerce(value: JsonValue, kind: str) -> str | int | float | bool | None:
    """A JSON value as the declared column type; raises ValueError or TypeError when it is not one."""
    if value is None:
        return None
    if kind == "string":
        if isinstance(value, str):
            return value
        return json.dumps(value, separators=(",", ":"))
    if kind in ("long", "real"):
        if isinstance(value, list | dict):
            raise TypeError(f"a JSON {type(value).__name__} is not a {kind}")
        return int(value) if kind == "long" else float(value)
    if kind == "bool":
        if isinstance(value, str):
            return value.lower() == "true"
        return bool(value)
    raise ValueError(f"unknown column type {kind!r}")
