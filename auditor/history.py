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
from typing import TypedDict

import duckdb
import platformdirs
import pyarrow as pa

from auditor.compliance.metrics import DIMENSIONS
from auditor.compliance.period import RecordedScan
from auditor.compliance.remediation import RemediatedRow
from auditor.compliance.summary import Summary
from auditor.compliance.trend import HistoryRun
from auditor.digests import json_sha256, scope_key
from auditor.errors import AuditorError, ExitCode
from auditor.jsonvalue import JsonObject, JsonValue
from auditor.timestamps import format_seconds

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
_MIGRATIONS = """
ALTER TABLE runs ADD COLUMN IF NOT EXISTS within_sla_rate DOUBLE;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS p90_days BIGINT;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS end_of_support_without_esu BIGINT;
ALTER TABLE patch_first_seen ADD COLUMN IF NOT EXISTS last_seen TIMESTAMPTZ;
"""
"""Columns added after the first release, so a history file written before them gains them on its next write
(their values stay null for the runs recorded before); a read-only open of an older file reads null for them."""
_RUN_COLUMNS = (
    "run_key",
    "run_id",
    "as_of",
    "recorded_at",
    "source_fingerprint",
    "scope_key",
    "config_sha256",
    "machines",
    "compliance_rate",
    "unknown_rate",
    "breaches",
    "complete",
    "summary",
    "within_sla_rate",
    "p90_days",
    "end_of_support_without_esu",
)


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
                self._con.execute(_MIGRATIONS)
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
        wanted = sorted(set(patch_keys))
        keys = pa.table({"patch_key": pa.array(wanted, pa.string()), "i": pa.array(range(len(wanted)), pa.int32())})
        self._con.register("wanted", keys)
        try:
            # Grouped by date (one per earlier scan): at 100,000 machines a row per patch made ~170,000 zoned
            # datetimes, half of the history's cost to a scan. Positions, not keys, come back: the dates are keyed
            # by the caller's own strings, not by ~170,000 copies of them (40 MiB).
            found = self._con.execute(
                "SELECT epoch_us(f.first_seen), list(w.i) FROM patch_first_seen f JOIN wanted w USING (patch_key) "
                "WHERE f.first_seen < ? GROUP BY 1",
                [before],
            ).fetchall()
        finally:
            self._con.unregister("wanted")
        dates: dict[str, datetime] = {}
        for micros, positions in found:
            dates.update(dict.fromkeys(map(wanted.__getitem__, positions), EPOCH + timedelta(microseconds=micros)))
        return dates

    def record(
        self,
        *,
        run_id: str,
        as_of: datetime,
        fingerprint: Mapping[str, object],
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
            remediation, lifecycle = summary.remediation, summary.lifecycle
            con.execute(
                f"INSERT INTO runs ({', '.join(_RUN_COLUMNS)}) VALUES ({', '.join('?' * len(_RUN_COLUMNS))})",
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
                    remediation.within_sla_rate if remediation else None,
                    remediation.p90_days if remediation else None,
                    lifecycle.end_of_support_without_esu if lifecycle else None,
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
            # Keep the earliest sighting and the latest: an earlier scan recorded late moves a date back, new patches
            # are added, and last_seen (the latest scan that saw the patch pending) lets a later scan that no longer
            # sees it date its remediation once the installation rows have aged out of Resource Graph. Not one
            # upsert: ON CONFLICT probes the key index for every sighting, which at 100,000 machines (~170,000
            # undated patches) held ~240 MB more at the scan's peak; nearly all keys are known already.
            con.execute(
                "UPDATE patch_first_seen SET first_seen = least(first_seen, ?::TIMESTAMPTZ), "
                "last_seen = greatest(coalesce(last_seen, ?::TIMESTAMPTZ), ?::TIMESTAMPTZ) "
                "WHERE patch_key IN (SELECT patch_key FROM seen)",
                [as_of, as_of, as_of],
            )
            con.execute(
                "INSERT INTO patch_first_seen (patch_key, machine_id, first_seen, last_seen) "
                "SELECT s.patch_key, first(s.machine_id), ?::TIMESTAMPTZ, ?::TIMESTAMPTZ FROM seen AS s "
                "ANTI JOIN patch_first_seen AS f ON f.patch_key = s.patch_key GROUP BY s.patch_key",
                [as_of, as_of],
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
        where, params = _runs_of(scope, before)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        names = (
            "run_id",
            "as_of",
            "machines",
            "compliance_rate",
            "unknown_rate",
            "breaches",
            "complete",
            "scope_key",
            "within_sla_rate",
            "p90_days",
        )
        rows = self._con.execute(
            f"SELECT {self._select(names)} FROM runs {clause}ORDER BY as_of, recorded_at LIMIT ?", [*params, limit]
        ).fetchall()
        return [
            HistoryRun(
                run_id=run_id,
                as_of=format_seconds(as_of),
                machines=machines,
                compliance_rate=rate,
                unknown_rate=unknown_rate,
                breaches=breaches,
                complete=complete,
                scope_key=scope,
                within_sla_rate=within,
                p90_days=p90,
            )
            for run_id, as_of, machines, rate, unknown_rate, breaches, complete, scope, within, p90 in rows
        ]

    def remediated(self, *, scope: str | None = None, before: datetime | None = None) -> list[RemediatedRow]:
        """Tracked pending patches that left the pending list between two recorded scans.

        A patch last seen pending by one scan counts as remediated by the first later complete scan (of `scope`)
        that judged its machine with a current assessment (any status but unknown) and no longer saw it; that
        scan's as-of is its remediation date, an upper bound. Only the patches history tracks (the undated
        enforced ones it dates) can be followed; `before` keeps the scans strictly before a time.
        """
        if "last_seen" not in self._columns("patch_first_seen"):
            return []
        where, params = _runs_of(scope, before, "r.")
        where += ["f.last_seen IS NOT NULL", "r.complete", "r.as_of > f.last_seen", "m.status <> 'unknown'"]
        rows = self._con.execute(
            "SELECT f.patch_key, f.machine_id, f.first_seen, f.last_seen, min(r.as_of) FROM patch_first_seen f "
            "JOIN machine_status m ON m.machine_id = f.machine_id JOIN runs r ON r.run_key = m.run_key "
            f"WHERE {' AND '.join(where)} GROUP BY f.patch_key, f.machine_id, f.first_seen, f.last_seen "
            "ORDER BY f.patch_key",
            params,
        ).fetchall()
        return [
            RemediatedRow(
                patch_key=key,
                machine_id=machine,
                first_seen=first.astimezone(UTC),
                last_seen=last.astimezone(UTC),
                remediated_by=by.astimezone(UTC),
            )
            for key, machine, first, last, by in rows
        ]

    def summaries(
        self, *, scope: str | None = None, since: datetime | None = None, before: datetime | None = None
    ) -> list[RecordedScan]:
        """The recorded summary.json of each scan as of [since, before), oldest first, with its run id, scope key,
        completeness and breach counts per rule; of several records of one as-of and scope the latest wins."""
        where: list[str] = []
        params: list[object] = []
        for clause, value in (("scope_key = ?", scope), ("as_of >= ?", since), ("as_of < ?", before)):
            if value is not None:
                where.append(clause)
                params.append(value)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        rows = self._con.execute(
            "SELECT run_key, run_id, as_of, scope_key, complete, summary FROM runs "
            f"{clause}ORDER BY as_of, recorded_at",
            params,
        ).fetchall()
        counts: dict[str, dict[str, int]] = {}
        for key, rule, n in self._con.execute("SELECT run_key, rule, breaches FROM breach_counts").fetchall():
            counts.setdefault(key, {})[rule] = int(n)
        latest: dict[tuple[datetime, str], RecordedScan] = {}
        for key, run_id, as_of, scope_of, complete, summary in rows:
            latest[(as_of, scope_of)] = RecordedScan(
                run_id=run_id,
                as_of=format_seconds(as_of),
                scope_key=scope_of,
                complete=bool(complete),
                breach_rules=dict(sorted(counts.get(key, {}).items())),
                summary=self._recorded(summary),
            )
        return [latest[k] for k in sorted(latest, key=lambda k: (k[0], k[1] or ""))]

    def _recorded(self, text: str) -> JsonObject:
        """A recorded summary.json (the runs table's `summary` column) as a JSON object."""
        value: JsonValue = json.loads(text)
        if not isinstance(value, dict):
            raise HistoryError(
                f"history file {self.path}: a recorded summary is {type(value).__name__}, not a JSON object",
                "the file is damaged: pass --history PATH to use another file",
            )
        return value

    def _columns(self, table: str) -> set[str]:
        return {
            row[0]
            for row in self._con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]
            ).fetchall()
        }

    def _select(self, names: Iterable[str], table: str = "runs") -> str:
        """A select list of `names`, with NULL for the columns an older, read-only history file lacks."""
        present = self._columns(table)
        return ", ".join(name if name in present else f"NULL AS {name}" for name in names)

    def dimension_trend(self, dimension: str) -> list[DimensionRate]:
        """Per-key rates of one dimension across runs, oldest first."""
        rows = self._con.execute(
            "SELECT r.as_of, d.key, d.machines, d.compliance_rate FROM dimension_rates d JOIN runs r USING (run_key) "
            "WHERE d.dimension = ? ORDER BY r.as_of, d.key",
            [dimension],
        ).fetchall()
        return [DimensionRate(as_of=format_seconds(a), key=k, machines=m, compliance_rate=c) for a, k, m, c in rows]

    def latest_summary(self, scope_key: str | None = None) -> JsonObject | None:
        """The summary.json of the latest complete scan (optionally of one estate), or None. As recorded: any
        version's, so its reader narrows what it reads."""
        sql = "SELECT summary FROM runs WHERE complete"
        params: list[object] = []
        if scope_key is not None:
            sql += " AND scope_key = ?"
            params.append(scope_key)
        row = self._con.execute(sql + " ORDER BY as_of DESC, recorded_at DESC LIMIT 1", params).fetchone()
        return None if row is None else self._recorded(row[0])


def _runs_of(scope: str | None, before: datetime | None, table: str = "") -> tuple[list[str], list[object]]:
    """The conditions (and their parameters) on `runs` (as `table`) for scans of one estate and strictly before a
    time, each only when given."""
    where: list[str] = []
    params: list[object] = []
    if scope is not None:
        where.append(f"{table}scope_key = ?")
        params.append(scope)
    if before is not None:
        where.append(f"{table}as_of < ?")
        params.append(before)
    return where, params


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
