"""The scan history store (a DuckDB file): trends over months, and first-seen dates of undated patches.

A run is keyed by (source fingerprint, as-of, config sha256): recording the same scan again replaces it, so
scanning one snapshot twice never double-counts. First-seen dates keep only the earliest as-of per patch, which
is all the age rule needs: the earliest earlier sighting exists exactly when that minimum is before T.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypedDict

import duckdb
import platformdirs
import pyarrow as pa

from auditor.compliance.metrics import DIMENSIONS
from auditor.compliance.summary import Summary
from auditor.compliance.trend import HistoryRun
from auditor.digests import json_sha256, scope_key
from auditor.errors import AuditorError

STATE_ENV = "AUDITOR_STATE_DIR"
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


def default_path() -> Path:
    """$AUDITOR_STATE_DIR/history.duckdb, else history.duckdb in the user's state directory."""
    base = os.environ.get(STATE_ENV) or platformdirs.user_state_dir("auditor")
    return Path(base) / "history.duckdb"


class HistoryStore:
    """Open (creating if needed) a history file."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = path
        try:
            if not read_only:
                path.parent.mkdir(parents=True, exist_ok=True)
            self._con = duckdb.connect(str(path), read_only=read_only)
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
            found = self._con.execute(
                "SELECT f.patch_key, f.first_seen FROM patch_first_seen f JOIN wanted USING (patch_key) "
                "WHERE f.first_seen < ?",
                [before],
            ).fetchall()
        finally:
            self._con.unregister("wanted")
        return {key: seen.astimezone(UTC) for key, seen in found}

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
            con.execute(
                "INSERT INTO patch_first_seen SELECT DISTINCT patch_key, first(machine_id), ?::TIMESTAMPTZ FROM seen "
                "GROUP BY patch_key ON CONFLICT (patch_key) DO UPDATE SET first_seen = least(first_seen, excluded.first_seen)",
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
