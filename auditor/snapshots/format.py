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
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Literal, TypedDict

from auditor.bounded import (
    MAX_DOCUMENT_BYTES,
    InputTooLarge,
    NestedTooDeeply,
    gunzip_chunks,
    gzip_lines,
    loads,
    read_capped,
)
from auditor.digests import sha256_file
from auditor.errors import SnapshotError
from auditor.jsonvalue import JsonObject, JsonValue
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
LOG_ANALYTICS_TABLE = re.compile(r"la_[a-z0-9_]+")
"""A Log Analytics table's snapshot name, matched whole: it becomes a file name and a SQL identifier."""


class ArgRow(TypedDict):
    """One row of an ARG table as Resource Graph returns it (`resultFormat=objectArray`), its columns in ARG's
    order. `properties` differs by resource type: see `refdata/schemas/ARG_TABLES.md`."""

    id: str
    name: str
    type: str
    tenantId: str
    kind: str
    location: str
    resourceGroup: str
    subscriptionId: str
    managedBy: str
    sku: JsonObject | None
    plan: JsonObject | None
    properties: JsonObject
    tags: dict[str, str] | None
    identity: JsonObject | None
    zones: list[str] | None
    extendedLocation: JsonObject | None


ARG_COLUMNS: tuple[str, ...] = tuple(ArgRow.__annotations__)
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
    scope: JsonObject
    """snapshot.json's `scope`, as written (readers accept keys they do not know)."""
    tables: Mapping[str, SnapshotTable]
    meta: JsonObject = field(repr=False)
    """The parsed snapshot.json, as written."""

    def fingerprint(self) -> JsonObject:
        """What identifies this snapshot's content: its format, capture time and table hashes."""
        return {
            "kind": "snapshot",
            "format": FORMAT,
            "captured_at": format_timestamp(self.captured_at),
            "source": self.source,
            "tenant_id": self.tenant_id,
            "tables": {name: {"rows": t.rows, "sha256": t.sha256} for name, t in sorted(self.tables.items())},
        }


def _is_known_table(name: str) -> bool:
    return name in REQUIRED_TABLES or name in OPTIONAL_TABLES or bool(LOG_ANALYTICS_TABLE.fullmatch(name))


def quote_identifier(name: str) -> str:
    """A SQL identifier in double quotes, any quote in it doubled (names are whitelisted before this too)."""
    return '"' + name.replace('"', '""') + '"'


class _HashingReader:
    """A binary file that hashes what is read through it, so one pass both hashes and inflates."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.sha = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data: bytes = self.handle.read(size)
        self.sha.update(data)
        return data


def check_table_file(path: Path) -> tuple[str, int]:
    """The sha256 of a table file and its row count, read once while it is inflated within the caps of
    `auditor.bounded`.

    ValueError (InputTooLarge for a bomb) when the gzip data is broken or inflates past a cap: DuckDB would
    otherwise spend minutes on gigabytes of blank lines before it got to the first row. Rows are lines: the
    writers put one row per line and end each with a newline; a last line without one still counts.
    """
    newlines, last = 0, b"\n"
    with path.open("rb") as raw:
        reader = _HashingReader(raw)
        for chunk in gunzip_chunks(reader):
            newlines += chunk.count(b"\n")
            last = chunk[-1:]
        reader.read()  # anything after the gzip data still counts towards the hash
    return reader.sha.hexdigest(), newlines + (last != b"\n")


def write_table(path: Path, rows: Iterable[Mapping[str, object]]) -> int:
    """Write rows as deterministic gzipped JSON lines; returns the row count.

    A row is any mapping `json.dumps` can write: an `ArgRow`, a row as Resource Graph or Log Analytics returned it.
    """
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
    tables: Mapping[str, Iterable[Mapping[str, object]]],
    *,
    source: Literal["azure", "synthetic"],
    captured_at: datetime,
    tenant_id: str,
    scope: Mapping[str, JsonValue],
    extra: Mapping[str, object] | None = None,
) -> Snapshot:
    """Write a snapshot directory atomically: into a temporary sibling, then renamed over `out`.

    `out` must not exist, be empty, or hold a valid snapshot and nothing else (which is replaced); anything else
    is a SnapshotError, so a folder of other files is never deleted. Every required table must be
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
    _check_replaceable(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        meta_tables: JsonObject = {}
        for name in sorted(tables):
            path = tmp / f"{name}.jsonl.gz"
            rows = write_table(path, tables[name])
            meta_tables[name] = {"rows": rows, "sha256": sha256_file(path)}
        meta: dict[str, object] = {
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


def _check_replaceable(out: Path) -> None:
    """SnapshotError unless `out` is absent, an empty directory, or a valid snapshot holding nothing else.

    Replacing `out` deletes it, so a folder with anything besides a snapshot's own files is never replaced.
    """
    if not out.exists() and not out.is_symlink():
        return
    hint = "choose a new --out directory, or remove it yourself if it is meant to go"
    if out.is_symlink() or not out.is_dir():
        raise SnapshotError(f"cannot write snapshot to {out}: it exists and is not a directory", hint)
    entries = {child.name: child for child in out.iterdir()}
    if not entries:
        return
    try:
        snapshot = read_snapshot(out, verify=False)
    except SnapshotError as exc:
        raise SnapshotError(
            f"cannot write snapshot to {out}: it exists and is not a valid snapshot ({exc.message})", hint
        ) from exc
    own = {"snapshot.json"} | {f"{name}.jsonl.gz" for name in snapshot.tables}
    others = sorted(name for name, child in entries.items() if name not in own or child.is_symlink() or child.is_dir())
    if others:
        shown = ", ".join(repr(name) for name in others[:3]) + (
            f" (+{len(others) - 3} more)" if len(others) > 3 else ""
        )
        raise SnapshotError(
            f"cannot write snapshot to {out}: it holds {shown} besides the snapshot, which replacing it would delete",
            hint,
        )


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
        with meta_path.open("rb") as handle:
            meta: JsonValue = loads(read_capped(handle, MAX_DOCUMENT_BYTES))
    except (OSError, ValueError) as exc:  # ValueError: not JSON, not UTF-8 or too large
        raise SnapshotError(f"{meta_path} is not valid JSON: {exc}", _HINT) from exc
    except NestedTooDeeply as exc:
        raise SnapshotError(f"{meta_path} {exc}", _HINT) from exc
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
    match meta.get("source"):
        case "azure" | "synthetic" as source:
            pass
        case other:
            raise SnapshotError(f"{meta_path}: key 'source' is {other!r}, expected 'azure' or 'synthetic'", _HINT)
    scope = meta.get("scope", {})
    if not isinstance(scope, dict):
        raise SnapshotError(f"{meta_path}: key 'scope' must be an object", _HINT)
    listed = meta.get("tables")
    if not isinstance(listed, dict):
        raise SnapshotError(f"{meta_path}: key 'tables' must be an object of table name to rows and sha256", _HINT)
    tables: dict[str, SnapshotTable] = {}
    for name, entry in listed.items():
        if name.startswith(LOG_ANALYTICS_PREFIX) and not _is_known_table(name):
            raise SnapshotError(
                f"{meta_path}: key 'tables' names table {name!r}, not a valid Log Analytics table name",
                "Log Analytics tables are named la_ followed by lower-case letters, digits and underscores",
            )
        if not _is_known_table(name):
            continue
        sha = entry.get("sha256") if isinstance(entry, dict) else None
        if not isinstance(entry, dict) or not isinstance(sha, str):
            raise SnapshotError(f"{meta_path}: key 'tables.{name}' needs 'rows' and 'sha256'", _HINT)
        rows = _whole_number(entry.get("rows", 0))
        if rows is None:
            raise SnapshotError(f"{meta_path}: key 'tables.{name}.rows' is not a number", _HINT)
        file = path / f"{name}.jsonl.gz"
        if not file.is_file():
            raise SnapshotError(f"snapshot table file {file} is missing", _HINT)
        if verify:
            try:
                actual, counted = check_table_file(file)
            except (OSError, ValueError) as exc:
                actual = sha256_file(file)
                if actual == sha:  # a changed file is named as such before its content is judged
                    why = str(exc) if isinstance(exc, InputTooLarge) else f"cannot read gzip data: {exc}"
                    raise SnapshotError(f"{file}: {why}", _HINT) from exc
                counted = rows
            if actual != sha:
                raise SnapshotError(
                    f"{file}: sha256 mismatch (snapshot.json says {sha[:12]}…, file is {actual[:12]}…)",
                    "the file was changed or corrupted after capture; " + _HINT,
                )
            if "rows" in entry and counted != rows:
                raise SnapshotError(
                    f"{meta_path}: key 'tables.{name}.rows' says {rows} rows, but {file.name} holds {counted}",
                    "snapshot.json and the table file disagree (edited or truncated after capture); " + _HINT,
                )
        tables[name] = SnapshotTable(name=name, path=file, rows=rows, sha256=sha)
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


def _whole_number(value: JsonValue) -> int | None:
    """`value` as `int()` reads it (a number, or a number's text), or None when it is not one."""
    if not isinstance(value, int | float | str):
        return None
    try:
        return int(value)
    except (ValueError, OverflowError):  # not a number's text, NaN, Infinity
        return None


def iter_table(table: SnapshotTable) -> Iterator[JsonObject]:
    """Yield the rows of one table file (used by tests and tools; scans read through DuckDB)."""
    number = 0
    try:
        with table.path.open("rb") as raw:
            for line in gzip_lines(raw):
                number += 1
                row: JsonValue = loads(line)
                if not isinstance(row, dict):
                    raise SnapshotError(f"{table.path}: row {number} is not a JSON object", _HINT)
                yield row
    except InputTooLarge as exc:
        raise SnapshotError(f"{table.path}: {exc}", _HINT) from exc
    except NestedTooDeeply as exc:
        raise SnapshotError(f"{table.path}: row {number} {exc}", _HINT) from exc
    except json.JSONDecodeError as exc:
        raise SnapshotError(f"{table.path}: row {number} is not JSON: {exc.msg}", _HINT) from exc
    except (OSError, EOFError, ValueError) as exc:
        raise SnapshotError(f"{table.path}: cannot read row {number + 1}: {exc}", _HINT) from exc
