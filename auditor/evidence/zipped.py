"""A pack as one deterministic zip file: `<pack_id>/...` entries in sorted order with fixed timestamps.

The same pack directory always gives the same zip bytes (for a given zlib), so the zip can be hashed, archived and
verified like the directory (`auditor verify PACK.zip`).
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
"""The timestamp of every entry (the earliest a zip can hold), so the bytes do not depend on when they were written."""
_ZIP64_LIMIT = (1 << 31) - 1


def zip_path_for(pack: Path) -> Path:
    """Where `--zip` puts the zip of a pack directory: beside it, named `<pack_id>.zip`."""
    return pack.parent / f"{pack.name}.zip"


def pack_files(root: Path) -> list[str]:
    """Every regular file under `root`, as sorted POSIX relative paths."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def write_zip(root: Path, target: Path, prefix: str) -> Path:
    """Zip every file of the pack at `root` into `target` under `prefix/`, deterministically."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for relative in pack_files(root):
            source = root / relative
            info = zipfile.ZipInfo(f"{prefix}/{relative}", date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, whatever the host: the mode bits below mean the same everywhere
            info.external_attr = 0o100644 << 16
            size = source.stat().st_size
            with source.open("rb") as src, archive.open(info, "w", force_zip64=size > _ZIP64_LIMIT) as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
    return target
