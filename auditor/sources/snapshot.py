"""SnapshotSource: run catalog KQL offline over an `auditor-snapshot/1` directory with DuckDB + duckdb-kql."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TypeVar

import duckdb
import duckdb_kql
import pyarrow as pa

from auditor.bounded import MAX_LINE_BYTES
from auditor.errors import QueryError, SnapshotError
from auditor.jsonvalue import JsonObject
from auditor.kql.request import ARROW_TYPES, QueryRequest, QueryResult
from auditor.snapshots.format import (
    ARG_COLUMNS,
    LOG_ANALYTICS_TABLE,
    OPTIONAL_TABLES,
    REQUIRED_TABLES,
    Snapshot,
    SnapshotTable,
    quote_identifier,
)
from auditor.sources.interface import SourceProvenance
from auditor.sources.scope import snapshot_scope

_JSON_COLUMNS = frozenset({"sku", "plan", "properties", "tags", "identity", "zones", "extendedLocation"})
_ARG_SCHEMA = ", ".join(f"'{c}': '{'JSON' if c in _JSON_COLUMNS else 'VARCHAR'}'" for c in ARG_COLUMNS)
_READ_OPTIONS = f"format='newline_delimited', compression='gzip', maximum_object_size={MAX_LINE_BYTES}"
"""A row longer than auditor.bounded's line cap is an error, not an allocation."""


_T = TypeVar("_T")
MEMORY_LIMIT_MIB = 512
"""DuckDB's starting buffer limit for a snapshot: beyond it, table blocks spill to a temporary directory, which
keeps a 100,000-machine scan's DuckDB share of RAM small (its query results, held outside this limit, reach about
600 MiB there; 768 MiB put the scan's peak above 1.5 GiB, for about 3% less CPU). A query that still runs out of
memory is retried with the limit doubled, up to MEMORY_CEILING of the machine's RAM, so a larger fleet costs
memory, never the scan."""
MEMORY_CEILING = 0.8


def _physical_mib() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1 << 20))
    except (ValueError, OSError, AttributeError):
        return 8192


def connect(spill_dir: Path | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection set up for duckdb-kql (UTC time zone), spilling to `spill_dir` past MEMORY_LIMIT."""
    con: duckdb.DuckDBPyConnection = duckdb_kql.connect()
    if spill_dir is not None:
        con.execute(f"SET memory_limit = '{MEMORY_LIMIT_MIB}MiB'")
        con.execute("SET temp_directory = '" + str(spill_dir).replace("'", "''") + "'")
    return con


def load_table(con: duckdb.DuckDBPyConnection, table: SnapshotTable) -> None:
    """Create `table.name` in `con` from its gzipped JSON-lines file.

    ARG tables get ARG's 16 columns with dynamic values as JSON; Log Analytics tables (`la_*`) are read with
    inferred columns. A corrupt file becomes a SnapshotError naming it.
    """
    # read_snapshot admits only these names; checked again here because the name becomes SQL.
    if table.name not in REQUIRED_TABLES + OPTIONAL_TABLES and not LOG_ANALYTICS_TABLE.fullmatch(table.name):
        raise SnapshotError(f"{table.path}: {table.name!r} is not a snapshot table name", "see DESIGN.md's format")
    path = str(table.path).replace("'", "''")
    if table.name.startswith("la_"):
        select = f"SELECT * FROM read_json('{path}', {_READ_OPTIONS})"
    else:
        select = f"SELECT * FROM read_json('{path}', {_READ_OPTIONS}, columns={{{_ARG_SCHEMA}}})"
    try:
        con.execute(f"CREATE OR REPLACE TABLE {quote_identifier(table.name)} AS {select}")
    except duckdb.OutOfMemoryException:
        raise  # the caller may retry with a larger memory limit
    except duckdb.Error as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        limit = re.search(r'"maximum_object_size" of (\d+) bytes exceeded', str(exc))
        if limit:
            # Not corruption: one line is larger than DuckDB reads as a single JSON object.
            raise SnapshotError(
                f"{table.path}: a row of table {table.name} is larger than DuckDB's limit of "
                f"{int(limit.group(1)) >> 20} MiB for one JSON object",
                "the file is readable but a row is oversized (or several rows lack their line breaks); "
                "trim or split that row and recapture, as no ARG row comes near that size",
            ) from exc
        raise SnapshotError(
            f"{table.path}: cannot read table {table.name}: {first_line}",
            "the file is corrupt or not gzipped JSON lines; regenerate or recapture the snapshot",
        ) from exc


def create_missing_tables(con: duckdb.DuckDBPyConnection, present: set[str]) -> None:
    """Create each optional ARG table the snapshot lacks, empty, so queries over it return no rows."""
    columns = ", ".join(f"{quote_identifier(c)} {'JSON' if c in _JSON_COLUMNS else 'VARCHAR'}" for c in ARG_COLUMNS)
    for name in OPTIONAL_TABLES:
        if name not in present:
            con.execute(f"CREATE TABLE IF NOT EXISTS {quote_identifier(name)} ({columns})")


class SnapshotSource:
    """Runs rendered KQL over a snapshot. Tables are loaded into an in-memory DuckDB on first use.

    `run` may be called from several threads at once (each gets its own DuckDB cursor): one query's plan seldom
    keeps every core busy, so scan() runs `concurrency` queries side by side.
    """

    name = "snapshot"
    concurrency = 2

    def __init__(self, snapshot: Snapshot, *, spill_dir: Path | None = None) -> None:
        """`spill_dir`: where DuckDB's spill directory is made (a scan passes its pack's staging scratch, so
        a killed scan leaves nothing outside it); default the system's temporary directory."""
        self.snapshot = snapshot
        self._spill = tempfile.TemporaryDirectory(prefix="auditor-duckdb-", dir=spill_dir)
        self._con = connect(Path(self._spill.name))
        create_missing_tables(self._con, set(snapshot.tables))
        self._limit_mib = MEMORY_LIMIT_MIB
        self._loaded: set[str] = set()
        self._readers: dict[str, int] = {}
        """Table -> expected queries declaring it that have not yet run (see `expect`)."""
        self._keep_all = False
        """Set once a query read every table: what it reads is unknown, so nothing is dropped after it."""
        self._lock = threading.Lock()
        self._memory_lock = threading.Lock()
        self._table_locks = {name: threading.Lock() for name in snapshot.tables}
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []

    def expect(self, requests: Iterable[QueryRequest]) -> None:
        """The queries about to run. Each table is dropped once the last of them that declares it has run, so
        DuckDB's memory goes to the queries still to come and to the results, not to tables nothing reads again
        (a query run later that needs a dropped table loads it again)."""
        with self._lock:
            for request in requests:
                for name in request.tables:
                    self._readers[name] = self._readers.get(name, 0) + 1

    def _done_with(self, names: Iterable[str]) -> None:
        """An expected query declaring `names` has run: drop each table no other expected query reads."""
        for name in names:
            lock = self._table_locks.get(name)
            left = self._readers.get(name, 0)
            if lock is None or left == 0:
                continue  # a table the snapshot lacks (created empty), or one no expected query declares
            with lock:
                self._readers[name] = left = self._readers[name] - 1
                if left == 0 and not self._keep_all and name in self._loaded:
                    # Only memory is at stake: a table DuckDB will not drop stays until close().
                    with contextlib.suppress(duckdb.Error):
                        self._cursor().execute(f"DROP TABLE {quote_identifier(name)}")
                        self._loaded.discard(name)

    def _ensure_tables(self, names: Iterable[str] | None = None) -> None:
        """Load `names` (default: every table) unless loaded. Tables load on first use, so one query can run
        while the next query's tables are still loading."""
        if names is None:
            self._keep_all = True
        for name in self.snapshot.tables if names is None else names:
            table = self.snapshot.tables.get(name)
            if table is None:
                continue  # an optional table the snapshot lacks: created empty above
            with self._table_locks[name]:
                if name not in self._loaded:
                    self._with_memory(partial(load_table, self._cursor(), table))
                    self._loaded.add(name)

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor on the snapshot database."""
        cursor: duckdb.DuckDBPyConnection | None = getattr(self._local, "cursor", None)
        if cursor is None:
            with self._lock:
                cursor = self._con.cursor()
                self._cursors.append(cursor)
            self._local.cursor = cursor
        return cursor

    def run(self, request: QueryRequest) -> QueryResult:
        """Run one query; the result has exactly the columns its query.toml declares."""
        self._ensure_tables(request.tables or None)
        try:
            try:
                table = self._query(request.text)
            except (duckdb.CatalogException, duckdb_kql.KqlSchemaError):
                if not request.tables:
                    raise
                self._ensure_tables()  # the query reads a table its query.toml does not declare
                table = self._query(request.text)
        except duckdb_kql.KqlError as exc:
            raise QueryError(
                f"query {request.ref} does not run on duckdb-kql: {str(exc).splitlines()[0]}",
                "run `auditor query render` to see the text; keep to the KQL subset in DESIGN.md",
            ) from exc
        except duckdb.Error as exc:
            raise QueryError(
                f"query {request.ref} failed on the snapshot: {str(exc).splitlines()[0]}",
                "check the query's columns against refdata/schemas/ARG_TABLES.md",
            ) from exc
        finally:
            self._done_with(request.tables)
        return QueryResult(request=request, table=conform(table, request))

    def _query(self, text: str) -> pa.Table:
        """Run KQL as Arrow, with the memory retry."""
        cursor = self._cursor()
        return self._with_memory(lambda: duckdb_kql.kql(cursor, text).to_arrow_table())

    def _with_memory(self, work: Callable[[], _T]) -> _T:
        """Run `work`, doubling DuckDB's memory limit (up to the ceiling) whenever an operator cannot spill."""
        ceiling = int(_physical_mib() * MEMORY_CEILING)
        while True:
            tried = self._limit_mib
            try:
                return work()
            except duckdb.OutOfMemoryException:
                with self._memory_lock:
                    if self._limit_mib == tried:  # another thread may have raised it already
                        if tried * 2 > ceiling:
                            raise
                        self._limit_mib = tried * 2
                        self._cursor().execute(f"SET memory_limit = '{self._limit_mib}MiB'")

    def default_as_of(self) -> datetime | None:
        """A snapshot's data is as of its capture time."""
        return self.snapshot.captured_at

    def provenance(self) -> SourceProvenance:
        """The scope the snapshot recorded when it was captured (no Azure principal: nothing was signed in)."""
        return {"scope": snapshot_scope(self.snapshot.meta)}

    def fingerprint(self) -> JsonObject:
        """The snapshot's table hashes."""
        return self.snapshot.fingerprint()

    def close(self) -> None:
        """Close the DuckDB connection and its cursors, and remove the spill directory."""
        for cursor in self._cursors:
            cursor.close()
        self._con.close()
        self._spill.cleanup()


def conform(table: pa.Table, request: QueryRequest) -> pa.Table:
    """Select and cast the declared columns, so offline and live results have one Arrow schema."""
    present = set(table.column_names)
    missing = [name for name, _ in request.columns if name not in present]
    if missing:
        raise QueryError(
            f"query {request.ref} did not return declared column(s) {', '.join(missing)}",
            "the query text and the columns in its query.toml disagree",
        )
    arrays = []
    for name, kind in request.columns:
        column = table.column(name)
        target = ARROW_TYPES[kind]
        if not column.type.equals(target):
            if pa.types.is_timestamp(column.type) and kind == "string":
                raise QueryError(
                    f"query {request.ref} returns column {name} as a datetime",
                    "project datetimes with tostring(); DESIGN.md asks for cast values",
                )
            column = column.cast(target)
        arrays.append(column)
    return pa.Table.from_arrays(arrays, names=[name for name, _ in request.columns])
