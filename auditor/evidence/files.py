"""Read a pack's files the same way whether it is a directory or a zip (for verify and replay)."""

from __future__ import annotations

import hashlib
import os
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Protocol

from auditor.errors import PackError
from auditor.evidence.manifest import MANIFEST_NAME

_NOT_A_PACK_HINT = "pass an audit pack directory (it holds manifest.json) or the .zip `scan --zip` wrote"


class PackFiles(Protocol):
    """The files of a pack, by POSIX path relative to the pack root."""

    label: str
    """How to name the pack in messages."""

    def names(self) -> list[str]:
        """Every regular file, sorted."""
        ...

    def irregular(self) -> list[str]:
        """Entries that are not regular files (symlinks, devices, duplicate or unsafe zip names)."""
        ...

    def open(self, name: str) -> IO[bytes]:
        """Open one file for reading; OSError (or zipfile errors) when it is unreadable."""
        ...

    def close(self) -> None:
        """Release the zip, if any."""
        ...


class UnreadableFile(Exception):
    """A file of the pack could not be read back (a corrupt zip entry, an I/O error)."""


def digest(files: PackFiles, name: str) -> tuple[int, str]:
    """(size, sha256) of one file; UnreadableFile when it cannot be read to the end."""
    sha = hashlib.sha256()
    size = 0
    try:
        with files.open(name) as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                sha.update(chunk)
                size += len(chunk)
    except (OSError, zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise UnreadableFile(str(exc)) from exc
    return size, sha.hexdigest()


def read_bytes(files: PackFiles, name: str) -> bytes:
    """A whole file; UnreadableFile when it cannot be read."""
    try:
        with files.open(name) as handle:
            return handle.read()
    except (OSError, zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise UnreadableFile(str(exc)) from exc


class DirFiles:
    """A pack directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.label = str(root)
        self._names: list[str] = []
        self._irregular: list[str] = []
        for current, dirs, files in os.walk(root, followlinks=False):
            base = Path(current)
            for name in sorted(dirs):
                if (base / name).is_symlink():
                    self._irregular.append((base / name).relative_to(root).as_posix())
            for name in files:
                path = base / name
                relative = path.relative_to(root).as_posix()
                (self._names if path.is_file() and not path.is_symlink() else self._irregular).append(relative)
        self._names.sort()
        self._irregular.sort()

    def names(self) -> list[str]:
        """Every regular file, sorted."""
        return list(self._names)

    def irregular(self) -> list[str]:
        """Symlinks and special files."""
        return list(self._irregular)

    def open(self, name: str) -> IO[bytes]:
        """Open one file."""
        return (self.root / name).open("rb")

    def close(self) -> None:
        """Nothing to release."""


class ZipFiles:
    """A pack zip: entries under one top-level `<pack_id>/` folder (or at the root)."""

    def __init__(self, path: Path) -> None:
        self.label = str(path)
        try:
            self.archive = zipfile.ZipFile(path)
        except (OSError, zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise PackError(f"{path} is not a readable zip: {exc}", _NOT_A_PACK_HINT) from exc
        entries = [info for info in self.archive.infolist() if not info.is_dir()]
        roots = [
            info.filename
            for info in entries
            if info.filename.count("/") <= 1 and info.filename.rsplit("/", 1)[-1] == MANIFEST_NAME
        ]
        if len(roots) != 1:
            self.archive.close()
            raise PackError(f"{path} holds no single pack (no <pack>/manifest.json)", _NOT_A_PACK_HINT)
        self.prefix = roots[0][: -len(MANIFEST_NAME)]
        self._members: dict[str, zipfile.ZipInfo] = {}
        self._irregular: list[str] = []
        for info in entries:
            name = info.filename
            relative = name[len(self.prefix) :] if name.startswith(self.prefix) else None
            unsafe = relative is None or not relative or relative.startswith("/") or ".." in relative.split("/")
            if unsafe or relative in self._members or (info.external_attr >> 16) & 0o170000 == 0o120000:
                self._irregular.append(name)
            else:
                self._members[str(relative)] = info
        self._irregular.sort()

    def names(self) -> list[str]:
        """Every file entry under the pack folder, sorted."""
        return sorted(self._members)

    def irregular(self) -> list[str]:
        """Entries outside the pack folder, duplicates, unsafe names and symlinks."""
        return list(self._irregular)

    def open(self, name: str) -> IO[bytes]:
        """Open one entry (its CRC is checked as it is read)."""
        if name not in self._members:
            raise FileNotFoundError(f"{name} is not in {self.label}")
        return self.archive.open(self._members[name])

    def close(self) -> None:
        """Close the zip."""
        self.archive.close()


def open_pack_files(path: Path) -> PackFiles:
    """A pack directory or zip; PackError (exit 2) when `path` is neither."""
    if path.is_dir():
        if not (path / MANIFEST_NAME).is_file():
            raise PackError(
                f"{path} is not an audit pack: it has no {MANIFEST_NAME}",
                f"{_NOT_A_PACK_HINT}; a pack whose manifest was removed cannot be verified",
            )
        return DirFiles(path)
    if path.is_file():
        if not zipfile.is_zipfile(path):
            raise PackError(f"{path} is neither a pack directory nor a zip", _NOT_A_PACK_HINT)
        return ZipFiles(path)
    raise PackError(f"{path} does not exist", _NOT_A_PACK_HINT)


@contextmanager
def pack_files(path: Path) -> Iterator[PackFiles]:
    """open_pack_files as a context manager."""
    files = open_pack_files(path)
    try:
        yield files
    finally:
        files.close()
