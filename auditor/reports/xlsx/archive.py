"""Saving a workbook: one zip, deterministic, deflated by ISA-L, with the RowWriters' rows spliced into their sheets.

At 100,000 machines the workbook's parts hold about 600 MB of XML. zlib's default level deflates that at about
110 MB/s, ISA-L's level 1 at well over 1 GB/s (the file is some 15% larger), so the zip costs a second rather than
most of ten. ISA-L is already what gzips the pack's evidence.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from isal import isal_zlib
from openpyxl.packaging.relationship import get_rels_path
from openpyxl.workbook import Workbook
from openpyxl.writer.excel import ExcelWriter

from auditor.reports.xlsx.rows import Spliced, part_size, pending, relationships_size, write_part, write_relationships
from auditor.reports.xlsx.style import naive_utc

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
"""The earliest time a zip member can carry."""
DEFLATE_LEVEL = 1
"""ISA-L's level 1, as for the evidence files."""


class _StampedZip(zipfile.ZipFile):
    """A zip whose members all carry one timestamp and mode, so equal content gives equal bytes."""

    def __init__(
        self, path: Path, date_time: tuple[int, int, int, int, int, int], spliced: dict[str, Spliced] | None = None
    ) -> None:
        super().__init__(path, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
        self._date_time = date_time
        self._spliced = spliced if spliced is not None else {}
        """What RowWriters wrote, by the part file it is spliced into."""

    def _info(self, name: str, size: int = 0) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=self._date_time)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        info.file_size = size
        return info

    def _member(self, name: str, size: int) -> IO[bytes]:
        """A member open for writing, deflated by ISA-L instead of zlib (same format, deterministic too)."""
        target = self.open(self._info(name, size), "w")
        if not hasattr(target, "_compressor"):
            raise RuntimeError("zipfile's member writer has changed: cannot deflate with ISA-L")
        target._compressor = isal_zlib.compressobj(DEFLATE_LEVEL, isal_zlib.DEFLATED, -15)
        return target

    def writestr(self, zinfo_or_arcname: Any, data: Any, compress_type: Any = None, compresslevel: Any = None) -> None:
        name = zinfo_or_arcname.filename if isinstance(zinfo_or_arcname, zipfile.ZipInfo) else zinfo_or_arcname
        payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        with self._member(name, len(payload)) as target:
            target.write(payload)

    def write(self, filename: Any, arcname: Any = None, compress_type: Any = None, compresslevel: Any = None) -> None:
        # openpyxl writes each streamed sheet from its temporary file; copy it in chunks, as zipfile would.
        name = str(arcname or filename)
        spliced = self._spliced.pop(str(filename), None)
        if spliced is None:
            with open(filename, "rb") as source, self._member(name, os.path.getsize(filename)) as target:
                shutil.copyfileobj(source, target, 1 << 20)
            return
        # A sheet part without its RowWriter's rows is small; the rows and links follow from their own files, and
        # the links' relationships go in the part's relationships file (openpyxl writes none for such a sheet).
        part = Path(filename).read_bytes()
        with self._member(name, part_size(part, spliced)) as target:
            write_part(part, spliced, target)
        if size := relationships_size(spliced):
            with self._member(get_rels_path(name), size) as target:
                write_relationships(spliced, target)


def zip_time(value: datetime) -> tuple[int, int, int, int, int, int]:
    """A zip member timestamp from the as-of time (UTC), no earlier than the zip format allows."""
    utc = naive_utc(value)
    stamp = (utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second)
    return max(stamp, ZIP_EPOCH)


def save_workbook(workbook: Workbook, path: Path, as_of: datetime) -> None:
    """Save without openpyxl's `save`, which stamps the modified time with the clock."""
    with _StampedZip(path, zip_time(as_of), pending(workbook)) as archive:
        ExcelWriter(workbook, archive).write_data()
