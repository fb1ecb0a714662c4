"""Read a pack's files the same way whether it is a directory or a zip (for verify and replay)."""

from __future__ import annotations

import hashlib
import os
import struct
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Protocol

from auditor.bounded import MAX_DOCUMENT_BYTES, MAX_INFLATED_BYTES, MAX_RATIO, MIN_RATIO_BYTES, read_capped
from auditor.errors import PackError
from auditor.evidence.manifest import MANIFEST_NAME
from auditor.names import is_relative_path

_NOT_A_PACK_HINT = "pass an audit pack directory (it holds manifest.json) or the .zip `scan --zip` wrote"


class PackFiles(Protocol):
    """The files of a pack, by POSIX path relative to the pack root."""

    label: str
    """How to name the pack in messages."""

    def names(self) -> list[str]:
        """Every regular file, sorted."""
        ...

    def irregular(self) -> list[tuple[str, str]]:
        """(entry, why) for every entry that is not a regular file of the pack: symlinks, devices, unsafe or
        duplicate zip names, entries outside the pack folder, directories with data, bombs, bytes hidden in a zip."""
        ...

    def open(self, name: str) -> IO[bytes]:
        """Open one of `names()` for reading; OSError (or zipfile errors) when it is unreadable or not listed."""
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


def read_bytes(files: PackFiles, name: str, limit: int = MAX_DOCUMENT_BYTES) -> bytes:
    """A whole file of at most `limit` bytes; UnreadableFile when it cannot be read or is larger."""
    try:
        with files.open(name) as handle:
            return read_capped(handle, limit)
    except (OSError, zipfile.BadZipFile, zlib.error, EOFError, ValueError) as exc:
        raise UnreadableFile(str(exc)) from exc


class DirFiles:
    """A pack directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.label = str(root)
        self._names: list[str] = []
        self._irregular: list[tuple[str, str]] = []
        for current, dirs, files in os.walk(root, followlinks=False):
            base = Path(current)
            for name in sorted(dirs):
                if (base / name).is_symlink():
                    self._irregular.append(((base / name).relative_to(root).as_posix(), "a symbolic link"))
            for name in files:
                path = base / name
                relative = path.relative_to(root).as_posix()
                if not path.is_file() or path.is_symlink():
                    self._irregular.append((relative, "not a regular file of the pack"))
                elif not is_relative_path(relative):
                    self._irregular.append((relative, "a file name with control characters"))
                else:
                    self._names.append(relative)
        self._names.sort()
        self._irregular.sort()
        self._listed = frozenset(self._names)

    def names(self) -> list[str]:
        """Every regular file, sorted."""
        return list(self._names)

    def irregular(self) -> list[tuple[str, str]]:
        """Symlinks, special files and names with control characters."""
        return list(self._irregular)

    def open(self, name: str) -> IO[bytes]:
        """Open one of the regular files listed when the pack was opened, and nothing else."""
        if name not in self._listed:
            raise FileNotFoundError(f"{name} is not a regular file of {self.label}")
        # O_NOFOLLOW: a file swapped for a symlink since the pack was listed is not followed out of it.
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
        return os.fdopen(os.open(self.root / name, flags), "rb")

    def close(self) -> None:
        """Nothing to release."""


_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
_LOCAL_SIGNATURE = b"PK\x03\x04"
_DESCRIPTOR_SIGNATURE = b"PK\x07\x08"


def _bomb(info: zipfile.ZipInfo) -> str | None:
    """Why an entry's declared sizes make it a decompression bomb, or None."""
    if info.file_size > MAX_INFLATED_BYTES:
        return f"declares {info.file_size:,} bytes inflated, over the {MAX_INFLATED_BYTES:,}-byte cap"
    if info.file_size > MIN_RATIO_BYTES and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        return f"inflates {info.file_size:,} bytes from {info.compress_size:,}, over {MAX_RATIO}:1"
    return None


def _hidden_bytes(handle: IO[bytes], infos: list[zipfile.ZipInfo], central_directory: int) -> list[str]:
    """Where the zip holds bytes no entry accounts for: before the first local header (a script prepended to
    make a polyglot), between entries, or between the last entry and the central directory."""
    problems: list[str] = []
    position = 0
    for info in sorted(infos, key=lambda i: i.header_offset):
        if info.header_offset != position:
            where = "before the first entry" if position == 0 else f"before {info.filename!r}"
            problems.append(f"{abs(info.header_offset - position):,} unaccounted bytes {where}")
        handle.seek(info.header_offset)
        header = handle.read(_LOCAL_HEADER.size)
        if len(header) != _LOCAL_HEADER.size or header[:4] != _LOCAL_SIGNATURE:
            problems.append(f"{info.filename!r} has no local header where the central directory says")
            return problems
        fields = _LOCAL_HEADER.unpack(header)
        flags, name_length, extra_length = fields[2], fields[9], fields[10]
        position = info.header_offset + _LOCAL_HEADER.size + name_length + extra_length + info.compress_size
        if flags & 0x08:  # a data descriptor follows the data: optional signature, crc, two sizes of 4 or 8 bytes
            handle.seek(position)
            head = handle.read(4)
            position += (4 if head == _DESCRIPTOR_SIGNATURE else 0) + (20 if info.file_size > 0xFFFFFFFF else 12)
    if position != central_directory:
        where = "before the first entry" if not infos else "between the last entry and the central directory"
        problems.append(f"{abs(central_directory - position):,} unaccounted bytes {where}")
    return problems


class ZipFiles:
    """A pack zip: entries under one top-level `<pack_id>/` folder (or at the root)."""

    def __init__(self, path: Path) -> None:
        self.label = str(path)
        try:
            self.archive = zipfile.ZipFile(path)
            with path.open("rb") as handle:
                hidden = _hidden_bytes(handle, self.archive.infolist(), self.archive.start_dir)
        except (OSError, zipfile.BadZipFile, zlib.error, EOFError, struct.error) as exc:
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
        self._irregular: list[tuple[str, str]] = [("(zip)", problem) for problem in hidden]
        for info in self.archive.infolist():
            self._sort(info)
        self._irregular.sort()

    def _sort(self, info: zipfile.ZipInfo) -> None:
        """File one entry as a member of the pack or as irregular, with the reason."""
        name = info.filename
        relative = name[len(self.prefix) :] if name.startswith(self.prefix) else None
        if info.is_dir():
            if info.file_size or info.compress_size > 2:  # an empty deflate stream is at most 2 bytes
                self._irregular.append((name, "a directory entry that carries data"))
            elif relative is None or (relative and not is_relative_path(relative.rstrip("/"))):
                self._irregular.append((name, "a directory outside the pack folder"))
            return
        if relative is None:
            self._irregular.append((name, f"outside the pack folder {self.prefix or '(root)'}"))
            return
        why = None
        if not is_relative_path(relative):
            why = "an unsafe name (absolute, '..', backslash or control character)"
        elif relative in self._members:
            why = "a second entry of the same name"
        elif (info.external_attr >> 16) & 0o170000 == 0o120000:
            why = "a symbolic link"
        else:
            why = _bomb(info)
        if why is None:
            self._members[relative] = info
        else:
            self._irregular.append((name, why))

    def names(self) -> list[str]:
        """Every file entry under the pack folder, sorted."""
        return sorted(self._members)

    def irregular(self) -> list[tuple[str, str]]:
        """Entries outside the pack folder, duplicates, unsafe names, symlinks, directories with data, bombs,
        and bytes no entry accounts for."""
        return list(self._irregular)

    def open(self, name: str) -> IO[bytes]:
        """Open one entry (its CRC is checked as it is read; it never inflates past its declared size)."""
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
