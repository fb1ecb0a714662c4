"""Runs posted KQL over a snapshot with duckdb-kql, seeing only the subscriptions a request is scoped to."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import threading
from dataclasses import dataclass
from typing import Any

import duckdb
import duckdb_kql
from duckdb_kql.translate.functions import SCALAR_FUNCTIONS, FunctionSpec

from auditor.snapshots.format import LOG_ANALYTICS_PREFIX, OPTIONAL_TABLES, Snapshot
from auditor.sources.snapshot import connect, create_missing_tables, load_table


@dataclass(frozen=True)
class ResultSet:
    """A query's full result, cached so that pages are cut from one stable ordering."""

    columns: tuple[tuple[str, str], ...]
    """(name, DuckDB type) of each output column."""
    rows: list[dict[str, Any]]
    """Rows as Resource Graph returns them: dynamic values as JSON objects."""


def register_hash() -> None:
    """Teach duckdb-kql 1.1.2 (which has no `hash()`) a `hash(x)` for the emulator's hash partitions.

    Resource Graph's hash is xxhash64 and DuckDB's is not, so partition i of N holds other machines here than in
    Azure. What the partitioning relies on is the same in both: a deterministic whole number per value, so that
    `hash(x) % N == i` over i = 0..N-1 puts every row in exactly one part (KQL's `%` is never negative, and
    duckdb-kql maps it so). tests/integration/test_live_partitions.py proves that on the emulator.
    """
    SCALAR_FUNCTIONS.setdefault(
        "hash", FunctionSpec("hash", "template", "CAST(hash(CAST({0} AS VARCHAR)) >> 1 AS BIGINT)", (1,))
    )


class KqlError(Exception):
    """The query does not run (a 400 for the client)."""


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        value = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    return value


class KqlEngine:
    """One DuckDB holding the snapshot; each run sees views filtered to its subscriptions. Thread-safe."""

    def __init__(self, snapshot: Snapshot) -> None:
        register_hash()
        self._lock = threading.Lock()
        self._con = connect()
        self._arg_tables: list[str] = []
        self._la_tables: list[str] = []
        subscriptions: set[str] = set()
        for table in snapshot.tables.values():
            load_table(self._con, table)
            self._con.execute(f'ALTER TABLE "{table.name}" RENAME TO "__base_{table.name}"')
            if table.name.startswith(LOG_ANALYTICS_PREFIX):
                self._la_tables.append(table.name)
            else:
                self._arg_tables.append(table.name)
                found = self._con.execute(
                    f'SELECT DISTINCT lower("subscriptionId") FROM "__base_{table.name}" WHERE "subscriptionId" <> \'\''
                ).fetchall()
                subscriptions.update(str(sub) for (sub,) in found if sub)
        for name in OPTIONAL_TABLES:
            if name not in snapshot.tables:
                create_missing_tables(self._con, set())
                self._con.execute(f'ALTER TABLE "{name}" RENAME TO "__base_{name}"')
                self._arg_tables.append(name)
        self.subscriptions = tuple(sorted(subscriptions))
        """Every subscription the snapshot has rows for (the tenant)."""
        self._cache: dict[tuple[str, tuple[str, ...] | None], ResultSet] = {}
        self._scope: tuple[str, ...] | bool | None = False

    def run(self, text: str, subscriptions: tuple[str, ...] | None) -> ResultSet:
        """Rows of `text` over ARG tables limited to `subscriptions` (Log Analytics tables when None)."""
        key = (text, subscriptions)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                return cached
            self._set_scope(subscriptions)
            try:
                relation = duckdb_kql.kql(self._con, text)
                columns = tuple((name, str(kind)) for name, kind in zip(relation.columns, relation.types, strict=True))
                rows = relation.to_arrow_table().to_pylist()
            except (duckdb_kql.KqlError, duckdb.Error) as exc:
                raise KqlError(str(exc).strip().splitlines()[0]) from exc
            dynamic = [name for name, kind in columns if kind == "JSON"]
            for row in rows:
                for name, value in row.items():
                    if name in dynamic and isinstance(value, str):
                        row[name] = json.loads(value)
                    else:
                        row[name] = _jsonable(value)
            result = ResultSet(columns, rows)
            self._cache[key] = result
            return result

    def _set_scope(self, subscriptions: tuple[str, ...] | None) -> None:
        if self._scope == subscriptions:
            return
        if subscriptions is None:
            for name in self._la_tables:
                for alias in (name, name.removeprefix(LOG_ANALYTICS_PREFIX)):
                    self._con.execute(f'CREATE OR REPLACE VIEW "{alias}" AS SELECT * FROM "__base_{name}"')
        else:
            listed = ", ".join("'" + sub.replace("'", "''") + "'" for sub in subscriptions) or "NULL"
            for name in self._arg_tables:
                self._con.execute(
                    f'CREATE OR REPLACE VIEW "{name}" AS SELECT * FROM "__base_{name}" '
                    f'WHERE lower("subscriptionId") IN ({listed})'
                )
        self._scope = subscriptions

    def close(self) -> None:
        """Close DuckDB."""
        self._con.close()
