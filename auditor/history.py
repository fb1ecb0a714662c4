"""The scan history store (a DuckDB file): trends over months, and first-seen dates of undated patches.

A run is keyed by (source fingerprint, as-of, config sha256): recording the same scan again replaces it, so
scanning one snapshot twice never double-counts. First-seen dates keep only the earliest as-of per patch, which
is all the age rule needs: the earliest earlier sighting exists exactly when that minimum is before T.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypedDict

import duckdb
import platformdirs
import pyarrow as pa

from auditor.compliance.metrics import DIMENSIONS
from auditor.compliance.summary import Summary
from auditor.compliance.trend import HistoryRun
from auditor.digests import json_sha256, scope_key
from auditor.errors import AuditorError, ExitCode

STATE_ENV = "AUDITOR_STATE_DIR"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_key VARCHAR PRIMARY KEY, run_id VARCHAR, as_of TIMESTAMPTZ, recorded_at TIMESTAMPTZ,
    source_fingerprint VARCHAR, scope_key VARCHAR, config_sha256 VARCHAR,
    machines BIGINT, compliance_rate DOUBLE, unknown_rate DOUBLE, breaches BIGINT, complete BOOLEAN, summary JSON);
CREATE TABLE IF NOT EXISTS dimension_rates (
    run_key VARCHAR, dimension VARCHAR, key VARCHAR, machines BIGINT, compliance_rate DOUBLE);
CREATE TABLE IF NOT EXISTS breach_counts (run_key VARCHAR, rule VARCHAR, breaches BIGINT);
CREATE TABLE IF NOT EXISTS machine_status (run_key VARCHAR, machine_id VARCHAR, status VARCHAR);
CREATE TABLE IF NOT EXISTS patch_first_seen (patch_key VARCHAR PRIMARY KEY, machine_id VARCHAR, first_seen TIMESTAMPTZ);
"""


LOCK_WAIT = 30.0
"""Seconds to keep retrying a history file another process holds. A scan holds it only while it reads (before
its queries) and while it records (after its pack): well under a second each, even at 100,000 machines."""


class DimensionRate(TypedDict):
    """One value of a dimension in one recorded scan."""

    as_of: str
    """The scan's as-of time."""
    key: str
    """The value, e.g. an environment."""
    machines: int
    """Its machines."""
    compliance_rate: float | None
    """Its compliance rate (%)."""


class HistoryError(AuditorError):
    """The history file cannot be opened or written."""


class HistoryLockedError(HistoryError):
    """Another process held the history file for longer than LOCK_WAIT. Not bad input: retrying later works."""

    exit_code = ExitCode.BUSY


def _locked(error: duckdb.Error) -> bool:
    return isinstance(error, duckdb.IOException) and "Could not set lock" in str(error)


def _holder(error: duckdb.Error) -> str:
    found = re.search(r"\(PID (\d+)\)", str(error))
    return f"process {found.group(1)}" if found else "another process"


def connect(
    path: Path, *, read_only: bool, wait: float = LOCK_WAIT, sleep: Callable[[float], None] = time.sleep
) -> duckdb.DuckDBPyConnection:
    """Open `path`, retrying for up to `wait` seconds while another process holds its lock (DuckDB lets one
    writer, or several readers, have a file at a time)."""
    deadline = time.monotonic() + wait
    pause = 0.05
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as exc:
            if not _locked(exc):
                raise
            if time.monotonic() + pause > deadline:
                raise HistoryLockedError(
                    f"history file {path} is locked by {_holder(exc)}, still after {wait:g} s",
                    "another auditor scan or history command is using it: run again when it has finished, or "
                    "pass --history PATH (or --no-history)",
                ) from exc
            sleep(pause)
            pause = min(pause * 2, 1.0)


def default_path() -> Path:
    """$AUDITOR_STATE_DIR/history.duckdb, else history.duckdb in the user's state directory."""
    base = os.environ.get(STATE_ENV) or platformdirs.user_state_dir("auditor")
    return Path(base) / "history.duckdb"


class HistoryStore:
    """Open (creating if needed) a history file. Hold it briefly: while open, it locks out every other writer
    (and, read-write, every reader), so a scan opens it to read and again to record, never for the whole scan."""

    def __init__(self, path: Path, *, read_only: bool = False, wait: float = LOCK_WAIT) -> None:
        self.path = path
        try:
            if not read_only:
                path.parent.mkdir(parents=True, exist_ok=True)
            self._con = connect(path, read_only=read_only, wait=wait)
            if not read_only:
                self._con.execute(_SCHEMA)
        except (OSError, duckdb.Error) as exc:
            raise HistoryError(
                f"cannot open history file {path}: {str(exc).splitlines()[0]}",
                "pass --history PATH to use another file, or --no-history",
            ) from exc

    def close(self) -> None:
        """Close the file."""
        self._con.close()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def first_seen(self, patch_keys: Iterable[str], before: datetime) -> dict[str, datetime]:
        """Earliest sighting of each patch, for those first seen strictly before `before`."""
        keys = pa.table({"patch_key": pa.array(sorted(set(patch_keys)), pa.string())})
        self._con.register("wanted", keys)
        try:
            # Grouped by date (one per earlier scan): at 100,000 machines a row per patch made ~170,000 zoned
            # datetimes, half of the history's cost to a scan.
            found = self._con.execute(
                "SELECT epoch_us(f.first_seen), list(f.patch_key) FROM patch_first_seen f JOIN wanted USING (patch_key) "
                "WHERE f.first_seen < ? GROUP BY 1",
                [before],
            ).fetchall()
        finally:
            self._con.unregister("wanted")
        dates: dict[str, datetime] = {}
        for micros, keys in found:
            dates.update(dict.fromkeys(keys, EPOCH + timedelta(microseconds=micros)))
        return dates

    def record(
        self,
        *,
        run_id: str,
        as_of: datetime,
        fingerprint: Mapping[str, Any],
        config_sha256: str,
        summary: Summary,
        document: str,
        breaches: Iterable[tuple[str, str]],
        statuses: Iterable[tuple[str, str]],
        sightings: Iterable[tuple[str, str]],
        complete: bool,
    ) -> str:
        """Store one scan (replacing an earlier record of the same scan); returns its run key.

        `document` is the scan's summary.json text (auditor.reports.json writes it), kept whole for readers of the
        latest summary; `summary` gives the figures the trend tables index."""
        key = json_sha256({"source": json_sha256(fingerprint), "as_of": as_of.isoformat(), "config": config_sha256})
        con = self._con
        con.execute("BEGIN TRANSACTION")
        try:
            for table in ("runs", "dimension_rates", "breach_counts", "machine_status"):
                con.execute(f"DELETE FROM {table} WHERE run_key = ?", [key])
            con.execute(
                "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    key,
                    run_id,
                    as_of,
                    datetime.now(UTC),
                    json_sha256(fingerprint),
                    scope_key(fingerprint),
                    config_sha256,
                    summary.machines,
                    summary.compliance_rate,
                    summary.unknown_rate,
                    summary.breaches,
                    complete,
                    document,
                ],
            )
            rates = [
                (key, dim, row.key, row.counts.machines, row.counts.compliance_rate)
                for dim in DIMENSIONS
                for row in summary.dimension(dim)
            ]
            if rates:
                con.executemany("INSERT INTO dimension_rates VALUES (?, ?, ?, ?, ?)", rates)
            counts: dict[str, int] = {}
            for rule, _ in breaches:
                counts[rule] = counts.get(rule, 0) + 1
            if counts:
                con.executemany(
                    "INSERT INTO breach_counts VALUES (?, ?, ?)", [(key, r, n) for r, n in sorted(counts.items())]
                )
            status_rows = list(statuses)
            con.register(
                "statuses",
                pa.table(
                    {
                        "run_key": pa.array([key] * len(status_rows), pa.string()),
                        "machine_id": pa.array([m for m, _ in status_rows], pa.string()),
                        "status": pa.array([s for _, s in status_rows], pa.string()),
                    }
                ),
            )
            con.execute("INSERT INTO machine_status SELECT * FROM statuses")
            con.unregister("statuses")
            seen = list(sightings)
            con.register(
                "seen",
                pa.table(
                    {
                        "patch_key": pa.array([p for p, _ in seen], pa.string()),
                        "machine_id": pa.array([m for _, m in seen], pa.string()),
                    }
                ),
            )
            # Keep the earliest sighting: an earlier scan recorded late moves a date back, new patches are added.
            # Not one upsert: ON CONFLICT probes the key index for every sighting, which at 100,000 machines
            # (~170,000 undated patches) held ~240 MB more at the scan's peak; nearly all keys are known already.
            con.execute(
                "UPDATE patch_first_seen SET first_seen = ?::TIMESTAMPTZ "
                "WHERE first_seen > ?::TIMESTAMPTZ AND patch_key IN (SELECT patch_key FROM seen)",
                [as_of, as_of],
            )
            con.execute(
                "INSERT INTO patch_first_seen SELECT s.patch_key, first(s.machine_id), ?::TIMESTAMPTZ FROM seen AS s "
                "ANTI JOIN patch_first_seen AS f ON f.patch_key = s.patch_key GROUP BY s.patch_key",
                [as_of],
            )
            con.unregister("seen")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return key

    def runs(self, limit: int = 1000, *, scope: str | None = None, before: datetime | None = None) -> list[HistoryRun]:
        """Recorded scans, oldest first: as_of, machines, rates, breaches; optionally of one estate (`scope`, see
        scope_key) and only those as of strictly before `before` (a report's trend never shows its own future)."""
        where: list[str] = []
        params: list[Any] = []
        if scope is not None:
            where.append("scope_key = ?")
            params.append(scope)
        if before is not None:
            where.append("as_of < ?")
            params.append(before)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        rows = self._con.execute(
            "SELECT run_id, as_of, machines, compliance_rate, unknown_rate, breaches, complete, scope_key "
            f"FROM runs {clause}ORDER BY as_of, recorded_at LIMIT ?",
            [*params, limit],
        ).fetchall()
        return [
            HistoryRun(
                run_id=run_id,
                as_of=as_of.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                machines=machines,
                compliance_rate=rate,
                unknown_rate=unknown_rate,
                breaches=breaches,
                complete=complete,
                scope_key=scope,
            )
            for run_id, as_of, machines, rate, unknown_rate, breaches, complete, scope in rows
        ]

    def dimension_trend(self, dimension: str) -> list[DimensionRate]:
        """Per-key rates of one dimension across runs, oldest first."""
        rows = self._con.execute(
            "SELECT r.as_of, d.key, d.machines, d.compliance_rate FROM dimension_rates d JOIN runs r USING (run_key) "
            "WHERE d.dimension = ? ORDER BY r.as_of, d.key",
            [dimension],
        ).fetchall()
        return [
            DimensionRate(as_of=a.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), key=k, machines=m, compliance_rate=c)
            for a, k, m, c in rows
        ]

    def latest_summary(self, scope_key: str | None = None) -> dict[str, Any] | None:
        """The summary.json of the latest complete scan (optionally of one estate), or None."""
        sql = "SELECT summary FROM runs WHERE complete"
        params: list[Any] = []
        if scope_key is not None:
            sql += " AND scope_key = ?"
            params.append(scope_key)
        row = self._con.execute(sql + " ORDER BY as_of DESC, recorded_at DESC LIMIT 1", params).fetchone()
        return None if row is None else dict(json.loads(row[0]))


def read_earlier(
    path: Path, patch_keys: Iterable[str], before: datetime, scope: str
) -> tuple[dict[str, datetime], list[HistoryRun]]:
    """What a scan as of `before` needs from history: first-seen dates of its undated patches, and the earlier
    runs of its estate (`scope`). Read-only and released at once; a file not yet created has neither."""
    if not path.exists():
        return {}, []
    with HistoryStore(path, read_only=True) as store:
        try:
            return store.first_seen(patch_keys, before), store.runs(scope=scope, before=before)
        except duckdb.CatalogException:
            return {}, []  # a DuckDB file no scan has recorded into yet: its tables are made on the first record
        except duckdb.Error as exc:
            raise HistoryError(
                f"cannot read history file {path}: {str(exc).splitlines()[0]}",
                "pass --history PATH to use another file, or --no-history",
            ) from exc
