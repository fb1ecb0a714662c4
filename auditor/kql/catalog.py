"""Load the query catalog (`queries/<id>/query.toml` + `v<N>.kql.j2`) and render queries with typed parameters."""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Literal, TypeGuard, TypeVar

from auditor.errors import QueryError
from auditor.kql.render import ParamValue, partition_filter, render
from auditor.kql.request import ARROW_TYPES, QueryRequest
from auditor.package_data import data_dir
from auditor.timestamps import parse_timestamp

ParamType = Literal["string", "string_list", "int", "days", "datetime"]
_PARAM_TYPES: tuple[str, ...] = ("string", "string_list", "int", "days", "datetime")
_TARGETS: tuple[Literal["arg", "law"], ...] = ("arg", "law")
_VERSION_FILE = re.compile(r"^v(\d+)\.kql\.j2$")
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_T = TypeVar("_T")


def _is_param_type(value: object) -> TypeGuard[ParamType]:
    return value in _PARAM_TYPES


def _field(table: Mapping[str, object], key: str, kind: type[_T], where: str) -> _T:
    """`table[key]` if it is a `kind`, else a QueryError naming `where`: the file and the key's path."""
    value = table.get(key)
    if not isinstance(value, kind):
        raise QueryError(f"{where} must be a {kind.__name__}", "see queries/README.md")
    return value


@dataclass(frozen=True)
class Param:
    """A declared query parameter."""

    name: str
    type: ParamType
    description: str
    default: object = None
    """The default as query.toml writes it (checked by `coerce` when used), or None when required."""
    min: int | None = None
    max: int | None = None

    def coerce(self, value: object, *, query: str) -> ParamValue:
        """Turn a Python or command-line value into this parameter's type, or raise QueryError."""
        where = f"query {query}: parameter {self.name}"
        try:
            if self.type == "string":
                if not isinstance(value, str):
                    raise TypeError
                return value
            if self.type == "string_list":
                if isinstance(value, str):
                    return [v.strip() for v in value.split(",") if v.strip()]
                if not isinstance(value, Iterable):
                    raise TypeError
                items = list(value)
                strings = [v for v in items if isinstance(v, str)]
                if len(strings) != len(items):
                    raise TypeError
                return strings
            if self.type in ("int", "days"):
                number = int(value) if isinstance(value, str) else value
                if isinstance(number, bool) or not isinstance(number, int):
                    raise TypeError
                low = self.min if self.min is not None else (0 if self.type == "days" else -(2**53))
                high = self.max if self.max is not None else 2**53
                if not low <= number <= high:
                    raise QueryError(f"{where} is {number}, outside {low}..{high}", f"use {low} to {high}")
                return number
            if isinstance(value, datetime):
                return parse_timestamp(value.isoformat()) if value.tzinfo is None else value
            return parse_timestamp(str(value))
        except (TypeError, ValueError) as exc:
            raise QueryError(f"{where}: {value!r} is not a valid {self.type}", _PARAM_HINTS[self.type]) from exc


_PARAM_HINTS = {
    "string": "pass text",
    "string_list": "pass comma-separated values",
    "int": "pass a whole number",
    "days": "pass a whole number of days",
    "datetime": "pass an RFC 3339 time such as 2026-11-01T00:00:00Z",
}


@dataclass(frozen=True)
class QueryVersion:
    """One released or draft version of a query template."""

    query_id: str
    version: int
    path: Path

    @cached_property
    def text(self) -> str:
        """The template source."""
        return self.path.read_text(encoding="utf-8")

    @property
    def sha256(self) -> str:
        """sha256 of the template file's bytes (what queries.lock records)."""
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    @property
    def ref(self) -> str:
        """`id@vN`."""
        return f"{self.query_id}@v{self.version}"


@dataclass(frozen=True)
class Query:
    """A catalog entry: metadata from query.toml plus its versions."""

    id: str
    title: str
    description: str
    target: Literal["arg", "law"]
    current: int
    tables: tuple[str, ...]
    params: Mapping[str, Param]
    columns: tuple[tuple[str, str], ...]
    """Output columns of the current version."""
    versions: Mapping[int, QueryVersion]
    version_columns: Mapping[int, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    """Columns of older versions whose output differed (`[[columns_v<N>]]` in query.toml)."""
    partition_key: str | None = None
    """`[partition] key`: the output column the current version can be hash-partitioned on, so that a live
    source can cut a result too large for one Resource Graph response into parts that each fit."""

    def version(self, number: int | None = None) -> QueryVersion:
        """The given version, or the current one."""
        wanted = self.current if number is None else number
        if wanted not in self.versions:
            known = ", ".join(f"v{n}" for n in sorted(self.versions))
            raise QueryError(f"query {self.id} has no version v{wanted}", f"known versions: {known}")
        return self.versions[wanted]

    def render(self, params: Mapping[str, object] | None = None, *, version: int | None = None) -> QueryRequest:
        """Render a version with parameters (defaults fill the gaps); raises QueryError on a bad value."""
        given = dict(params or {})
        unknown = sorted(set(given) - set(self.params))
        if unknown:
            raise QueryError(
                f"query {self.id}: unknown parameter(s) {', '.join(unknown)}",
                f"declared: {', '.join(sorted(self.params)) or 'none'}",
            )
        values: dict[str, ParamValue] = {}
        for name, param in self.params.items():
            if name in given:
                values[name] = param.coerce(given[name], query=self.id)
            elif param.default is not None:
                values[name] = param.coerce(param.default, query=self.id)
            else:
                raise QueryError(f"query {self.id}: parameter {name} is required", f"pass --param {name}=...")
        chosen = self.version(version)
        text = render(chosen.text, {**values, "partition_filter": partition_filter(None)}, name=str(chosen.path))
        columns = self.version_columns.get(chosen.version, self.columns)
        key = self.partition_key if chosen.version == self.current else None

        def partitioned(index: int, count: int) -> str:
            return render(chosen.text, {**values, "partition_filter": partition_filter(key, index, count)})

        return QueryRequest(
            query_id=self.id,
            version=chosen.version,
            text=text,
            target=self.target,
            columns=columns,
            tables=self.tables,
            partition_key=key,
            partitioned=partitioned if key is not None else None,
        )


class Catalog:
    """All queries under a directory, keyed by id."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or data_dir("queries")
        if not self.root.is_dir():
            raise QueryError(f"query catalog {self.root} does not exist", "reinstall auditor or pass --queries")
        self.queries: dict[str, Query] = {}
        for folder in sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
            query = _load_query(folder)
            self.queries[query.id] = query

    def get(self, ref: str) -> tuple[Query, int | None]:
        """Resolve `id` or `id@vN` to a query and an optional version."""
        name, _, version = ref.partition("@")
        if name not in self.queries:
            raise QueryError(f"unknown query {name!r}", f"known queries: {', '.join(sorted(self.queries))}")
        if not version:
            return self.queries[name], None
        match = re.fullmatch(r"v?(\d+)", version)
        if not match:
            raise QueryError(f"bad query reference {ref!r}", "write id or id@vN, e.g. machine_facts@v1")
        return self.queries[name], int(match.group(1))

    def all_versions(self) -> list[QueryVersion]:
        """Every version file of every query, sorted by reference."""
        return [v for q in self.queries.values() for _, v in sorted(q.versions.items())]


def _load_query(folder: Path) -> Query:
    meta_path = folder / "query.toml"
    try:
        meta: dict[str, object] = tomllib.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise QueryError(f"{meta_path} is missing", "every query folder needs a query.toml") from exc
    except tomllib.TOMLDecodeError as exc:
        raise QueryError(f"{meta_path}: invalid TOML: {exc}", "fix the syntax") from exc
    query_id = folder.name
    if not _ID.match(query_id):
        raise QueryError(f"{folder}: query id {query_id!r} must be lower_snake_case", "rename the folder")

    def need(key: str, kind: type[_T]) -> _T:
        return _field(meta, key, kind, f"{meta_path}: key {key!r}")

    written = need("target", str)
    target = next((known for known in _TARGETS if known == written), None)
    if target is None:
        raise QueryError(f"{meta_path}: key 'target' is {written!r}, expected 'arg' or 'law'", "fix query.toml")
    params: dict[str, Param] = {}
    for name, spec in (need("params", dict) if "params" in meta else {}).items():
        where = f"{meta_path}: params.{name}"
        if not isinstance(spec, dict):
            raise QueryError(f"{where} must be a table", "see queries/README.md")
        kind = spec.get("type")
        if not _is_param_type(kind):
            raise QueryError(f"{where}.type is {kind!r}", f"use one of {', '.join(_PARAM_TYPES)}")
        low, high = (
            _field(spec, bound, int, f"{where}.{bound}") if bound in spec else None for bound in ("min", "max")
        )
        description = _field(spec, "description", str, f"{where}.description") if "description" in spec else ""
        params[name] = Param(name, kind, description, spec.get("default"), low, high)

    def column_list(key: str) -> tuple[tuple[str, str], ...]:
        columns: list[tuple[str, str]] = []
        for index, column in enumerate(need(key, list)):
            if not isinstance(column, dict):
                raise QueryError(f"{meta_path}: {key}[{index}] must be a table", "see queries/README.md")
            if column.get("type") not in ARROW_TYPES:
                raise QueryError(
                    f"{meta_path}: {key}[{index}].type is {column.get('type')!r}",
                    f"use one of {', '.join(ARROW_TYPES)}",
                )
            columns.append((_field(column, "name", str, f"{meta_path}: {key}[{index}].name"), str(column["type"])))
        return tuple(columns)

    older = {int(k.removeprefix("columns_v")): column_list(k) for k in meta if re.fullmatch(r"columns_v\d+", k)}
    versions: dict[int, QueryVersion] = {}
    for file in sorted(folder.iterdir()):
        match = _VERSION_FILE.match(file.name)
        if match:
            versions[int(match.group(1))] = QueryVersion(query_id, int(match.group(1)), file)
    current = need("current", int)
    if current not in versions:
        raise QueryError(f"{meta_path}: current = {current} but v{current}.kql.j2 is missing", "add the template")
    partition_key = _partition_key(meta, meta_path, column_list("columns"), versions[current])
    listed = need("tables", list) if "tables" in meta else []
    tables = tuple(name for name in listed if isinstance(name, str))
    if len(tables) != len(listed):
        raise QueryError(f"{meta_path}: key 'tables' must be a list of table names", "see queries/README.md")
    return Query(
        id=query_id,
        title=need("title", str),
        description=need("description", str),
        target=target,
        current=current,
        tables=tables,
        params=params,
        columns=column_list("columns"),
        versions=versions,
        version_columns=older,
        partition_key=partition_key,
    )


def _partition_key(
    meta: Mapping[str, object], meta_path: Path, columns: tuple[tuple[str, str], ...], current: QueryVersion
) -> str | None:
    """`[partition] key`, checked: an output column of the current version, whose template places
    `{{ partition_filter }}`. Cutting on an output column keeps every output row (and every group of a
    `summarize`) whole inside one partition, so the parts add up to the whole."""
    spec = meta.get("partition")
    if spec is None:
        return None
    key = spec.get("key") if isinstance(spec, dict) else None
    names = [name for name, _ in columns]
    if not isinstance(key, str) or key not in names:
        raise QueryError(
            f"{meta_path}: partition.key is {key!r}, which is not an output column",
            f"name one of {', '.join(names)}",
        )
    if "partition_filter" not in current.text:
        raise QueryError(
            f"{meta_path}: [partition] is declared but {current.path.name} has no {{{{ partition_filter }}}}",
            "place {{ partition_filter }} where the partition column is known, before any summarize",
        )
    return key
