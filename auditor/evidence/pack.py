"""The atomic pack writer: everything goes into a temporary sibling directory, is fsynced, then renamed.

An interrupted scan leaves no pack directory and no partial file behind (the temporary directory is removed on
any exception, and an unfinished one is never named like a pack).
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

import pyarrow as pa

from auditor.errors import PackError

TEMP_PREFIX = ".auditor-partial-"


def write_rows_jsonl_gz(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    """Deterministic gzipped JSON lines (gzip mtime 0); returns the row count."""
    count = 0
    with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz:
        chunk: list[str] = []
        for row in rows:
            chunk.append(json.dumps(row, separators=(",", ":"), ensure_ascii=False))
            count += 1
            if len(chunk) >= 8192:
                gz.write(("\n".join(chunk) + "\n").encode())
                chunk.clear()
        if chunk:
            gz.write(("\n".join(chunk) + "\n").encode())
    return count


def write_table_jsonl_gz(path: Path, table: pa.Table) -> int:
    """An Arrow table as evidence: one JSON object per row, columns in declared order."""
    def batches() -> Iterable[dict[str, Any]]:
        for batch in table.to_batches(max_chunksize=65536):
            yield from batch.to_pylist()

    return write_rows_jsonl_gz(path, batches())


def read_table_jsonl_gz(path: Path) -> list[dict[str, Any]]:
    """Read evidence rows back."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


class PackWriter:
    """Context manager that builds a pack in a temporary sibling and renames it into place on success."""

    def __init__(self, out_dir: Path, name: str) -> None:
        self.out_dir = out_dir
        self.name = name
        self.final = out_dir / name
        self.tmp: Path | None = None

    def __enter__(self) -> PackWriter:
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise PackError(f"cannot create output directory {self.out_dir}: {exc.strerror}", "choose another --out") from exc
        if self.final.exists():
            raise PackError(f"pack {self.final} already exists", "packs are never overwritten; choose another --out")
        self.tmp = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=self.out_dir))
        (self.tmp / "evidence").mkdir()
        return self

    @property
    def root(self) -> Path:
        """The directory being written (the temporary one until commit)."""
        if self.tmp is None:
            raise PackError("pack writer used outside its context", "internal error")
        return self.tmp

    def path(self, relative: str) -> Path:
        """Where to write a file of the pack."""
        return self.root / relative

    def commit(self) -> Path:
        """fsync every file and the directory, then rename into place."""
        root = self.root
        for file in sorted(root.rglob("*")):
            if file.is_file():
                with file.open("rb") as handle:
                    os.fsync(handle.fileno())
        for directory in (root / "evidence", root):
            fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(root, self.final)
        self.tmp = None
        return self.final

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None
