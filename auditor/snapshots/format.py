"""Read and write the `auditor-snapshot/1` directory format (see DESIGN.md, "Snapshot format").

A snapshot is `snapshot.json` plus one gzipped JSON-lines file per ARG table. Writers produce byte-identical output
for identical rows (gzip mtime 0, fixed compression level, compact JSON), so a seeded fleet can be regenerated and
compared byte for byte.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from isal import isal_zlib

from auditor.digests import sha256_file
from auditor.errors import SnapshotError
from auditor.timestamps import format_timestamp, parse_timestamp

FORMAT = "auditor-snapshot/1"
REQUIRED_TABLES: tuple[str, ...] = (
    "resources",
    "patchassessmentresources",
    "patchinstallationresources",
    "maintenanceresources",
    "policyresources",
)
OPTIONAL_TABLES: tuple[str, ...] = ("resourcecontainers",)
LOG_ANALYTICS_PREFIX = "la_"
ARG_COLUMNS: tuple[str, ...] = (
    "id",
    "name",
    "type",
    "tenantId",
    "kind",
    "location",
    "resourceGroup",
    "subscriptionId",
    "managedBy",
    "sku",
    "plan",
    "properties",
    "tags",
    "identity",
    "zones",
    "extendedLocation",
)
"""The columns of every ARG table, in ARG's order."""

_HINT = "regenerate it with `auditor snapshot generate` or `auditor snapshot capture`"


@dataclass(frozen=True)
class SnapshotTable:
    """One table file of a snapshot."""

    name: str
    """Table name, as used in KQL (e.g. `resources`)."""
    path: Path
    """The `<table>.jsonl.gz` file."""
    rows: int
    """Row count recorded in snapshot.json."""
    sha256: str
    """sha256 of the gzip file's bytes, as recorded in snapshot.json."""


@dataclass(frozen=True)
class Snapshot:
    """A validated snapshot directory."""

    path: Path
    captured_at: datetime
    """When the data was captured (UTC)."""
    source: Literal["azure", "synthetic"]
    tenant_id: str
    scope: Mapping[str, Any]
    tables: Mapping[str, SnapshotTable]
    meta: Mapping[str, Any] = field(repr=False)
    """The parsed snapshot.json, as written."""

    def fingerprint(self) -> dict[str, Any]:
        """What identifies this snapshot's content: its format, capture time and table hashes."""
        return {
            "kind": "snapshot",
            "format": FORMAT,
            "captured_at": format_timestamp(self.captured_at),
            "source": self.source,
            "tenant_id": self.tenant_id,
            "tables": {name: {"rows": t.rows, "sha256": t.sha256} for name, t in sorted(self.tables.items())},
        }


def hash_and_count(path: Path) -> tuple[str, int | None]:
    """The sha256 of a gzipped JSON-lines file's bytes, and its row count, in one read.

    ISA-L inflates at over a GB/s, so counting costs little beside hashing. The count is None when the data is
    not valid gzip (the caller then reports the corrupt file). Rows are lines: the writers put one row per line
    and end each with a newline; a last line without one still counts.
    """
    digest = hashlib.sha256()
    inflate = isal_zlib.decompressobj(31)
    newlines, last = 0, b"\n"
    valid = True
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            while valid and chunk:
                try:
                    plain = inflate.decompress(chunk)
                except Exception:  # isal_zlib.error, untyped: not gzip, or corrupt
                    valid = False
                    break
                if plain:
                    newlines += plain.count(b"\n")
                    last = plain[-1:]
                chunk = inflate.unused_data  # a concatenated gzip member follows
                if chunk:
                    inflate = isal_zlib.decompressobj(31)
    if valid and not inflate.eof:
        valid = False  # truncated
    return digest.hexdigest(), (newlines + (last != b"\n") if valid else None)


def _is_known_table(name: str) -> bool:
    return name in REQUIRED_TABLES or name in OPTIONAL_TABLES or name.startswith(LOG_ANALYTICS_PREFIX)


def write_table(path: Path, rows: Iterable[Mapping[str, Any]]) -> int:
    """Write rows as deterministic gzipped JSON lines; returns the row count."""
    count = 0
    with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz:
        buffer: list[str] = []
        for row in rows:
            buffer.append(json.dumps(row, separators=(",", ":"), ensure_ascii=False))
            count += 1
            if len(buffer) >= 4096:
                gz.write(("\n".join(buffer) + "\n").encode())
                buffer.clear()
        if buffer:
            gz.write(("\n".join(buffer) + "\n").encode())
    return count


def write_snapshot(
    out: Path,
    tables: Mapping[str, Iterable[Mapping[str, Any]]],
    *,
    source: Literal["azure", "synthetic"],
    captured_at: datetime,
    tenant_id: str,
    scope: Mapping[str, Any],
    extra: Mapping[str, Any] | None = None,
) -> Snapshot:
    """Write a snapshot directory atomically: into a temporary sibling, then renamed over `out`.

    `out` must not exist or be an existing snapshot directory (which is replaced). Every required table must be
    given. `extra` adds keys to snapshot.json (e.g. the generator's seed).
    """
    missing = [name for name in REQUIRED_TABLES if name not in tables]
    if missing:
        raise SnapshotError(f"cannot write snapshot {out}: tables missing: {', '.join(missing)}", _HINT)
    unknown = [name for name in tables if not _is_known_table(name)]
    if unknown:
        raise SnapshotError(
            f"cannot write snapshot {out}: unknown table(s) {', '.join(unknown)}",
            "tables are the five ARG tables, resourcecontainers, or Log Analytics tables prefixed la_",
        )
    is_snapshot = (out / "snapshot.json").is_file()
    if out.exists() and not is_snapshot and (not out.is_dir() or any(out.iterdir())):
        raise SnapshotError(
            f"cannot write snapshot to {out}: it exists and is not a snapshot",
            "choose a new --out directory or remove it",
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        meta_tables: dict[str, dict[str, Any]] = {}
        for name in sorted(tables):
            path = tmp / f"{name}.jsonl.gz"
            rows = write_table(path, tables[name])
            meta_tables[name] = {"rows": rows, "sha256": sha256_file(path)}
        meta: dict[str, Any] = {
            "format": FORMAT,
            "captured_at": format_timestamp(captured_at),
            "source": source,
            "tenant_id": tenant_id,
            "scope": dict(scope),
            "tables": meta_tables,
        }
        if extra:
            meta.update(extra)
        (tmp / "snapshot.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        _fsync_dir_files(tmp)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return read_snapshot(out)


def _fsync_dir_files(directory: Path) -> None:
    for child in directory.iterdir():
        with child.open("rb") as handle:
            os.fsync(handle.fileno())


def read_snapshot(path: Path, *, verify: bool = True) -> Snapshot:
    """Open and validate a snapshot directory.

    Checks snapshot.json's shape, that every required table is listed and present, and (with `verify`) each
    file's sha256. Every failure is a SnapshotError naming the file.
    """
    meta_path = path / "snapshot.json"
    if not path.is_dir():
        raise SnapshotError(f"snapshot {path} does not exist or is not a directory", _HINT)
    if not meta_path.is_file():
        raise SnapshotError(f"{meta_path} is missing", f"{path} is not an auditor snapshot; {_HINT}")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SnapshotError(f"{meta_path} is not valid JSON: {exc}", _HINT) from exc
    if not isinstance(meta, dict):
        raise SnapshotError(f"{meta_path}: expected a JSON object", _HINT)
    if meta.get("format") != FORMAT:
        raise SnapshotError(
            f"{meta_path}: key 'format' is {meta.get('format')!r}, expected {FORMAT!r}",
            "this version of auditor reads auditor-snapshot/1 only",
        )
    try:
        captured_at = parse_timestamp(str(meta["captured_at"]))
    except KeyError as exc:
        raise SnapshotError(f"{meta_path}: key 'captured_at' is missing", _HINT) from exc
    except ValueError as exc:
        raise SnapshotError(
            f"{meta_path}: key 'captured_at' is {meta['captured_at']!r}, not an RFC 3339 timestamp", _HINT
        ) from exc
    source = meta.get("source")
    if source not in ("azure", "synthetic"):
        raise SnapshotError(f"{meta_path}: key 'source' is {source!r}, expected 'azure' or 'synthetic'", _HINT)
    scope = meta.get("scope", {})
    if not isinstance(scope, dict):
        raise SnapshotError(f"{meta_path}: key 'scope' must be an object", _HINT)
    listed = meta.get("tables")
    if not isinstance(listed, dict):
        raise SnapshotError(f"{meta_path}: key 'tables' must be an object of table name to rows and sha256", _HINT)
    tables: dict[str, SnapshotTable] = {}
    for name, entry in listed.items():
        if not _is_known_table(name):
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
            raise SnapshotError(f"{meta_path}: key 'tables.{name}' needs 'rows' and 'sha256'", _HINT)
        try:
            rows = int(entry.get("rows", 0))
        except (TypeError, ValueError) as exc:
            raise SnapshotError(f"{meta_path}: key 'tables.{name}.rows' is not a number", _HINT) from exc
        file = path / f"{name}.jsonl.gz"
        if not file.is_file():
            raise SnapshotError(f"snapshot table file {file} is missing", _HINT)
        if verify:
            actual, counted = hash_and_count(file)
            if actual != entry["sha256"]:
                raise SnapshotError(
                    f"{file}: sha256 mismatch (snapshot.json says {entry['sha256'][:12]}…, file is {actual[:12]}…)",
                    "the file was changed or corrupted after capture; " + _HINT,
                )
            if counted is None:
                raise SnapshotError(f"{file}: cannot read gzip data (corrupt or truncated)", _HINT)
            if "rows" in entry and counted != rows:
                raise SnapshotError(
                    f"{meta_path}: key 'tables.{name}.rows' says {rows} rows, but {file.name} holds {counted}",
                    "snapshot.json and the table file disagree (edited or truncated after capture); " + _HINT,
                )
        tables[name] = SnapshotTable(name=name, path=file, rows=rows, sha256=entry["sha256"])
    missing = [name for name in REQUIRED_TABLES if name not in tables]
    if missing:
        raise SnapshotError(f"{meta_path}: required table(s) missing: {', '.join(missing)}", _HINT)
    return Snapshot(
        path=path,
        captured_at=captured_at,
        source=source,
        tenant_id=str(meta.get("tenant_id", "")),
        scope=scope,
        tables=tables,
        meta=meta,
    )


def iter_table(table: SnapshotTable) -> Iterator[dict[str, Any]]:
    """Yield the rows of one table file (used by tests and tools; scans read through DuckDB)."""
    try:
        with gzip.open(table.path, "rt", encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise SnapshotError(f"{table.path}: line {number} is not JSON: {exc.msg}", _HINT) from exc
    except (OSError, EOFError) as exc:
        raise SnapshotError(f"{table.path}: cannot read gzip data: {exc}", _HINT) from exc
