"""Reading untrusted bytes with bounds: gzip inflation, line length, document size and JSON nesting.

Snapshots and packs come from elsewhere, so a file may be built to exhaust memory or time: a small gzip that
inflates to gigabytes (of one endless line, or of blank lines), or JSON nested deeper than Python's recursion
limit. Every reader of such input goes through here, reads in bounded chunks and turns each of these into an
`InputTooLarge`, `NestedTooDeeply` or `ValueError` with one line saying which bound was hit, never a MemoryError
or RecursionError.

The caps leave a 100,000-machine fleet's legitimate files far inside them. Measured on `snapshot generate
--machines 100000 --seed 7`: the largest table inflates to 507 MB (30.7 MB on disk), the highest compression
ratio is 26:1 and the longest line is 1.9 KB. Captured tenants have longer lines (a policy assignment's
properties run to tens of KB), hence the generous line cap.

Ground floor: imports nothing of auditor's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, Protocol, cast

from isal import isal_zlib

MAX_INFLATED_BYTES = 4 << 30
"""Largest inflated size of one gzip file or zip entry: 8 times the largest table of a 100,000-machine fleet."""
MAX_RATIO = 200
"""Largest compression ratio, once MIN_RATIO_BYTES have inflated: JSON lines compress about 12-26:1, while a
bomb of blank lines or of one repeated byte compresses about 1,000:1."""
MIN_RATIO_BYTES = 8 << 20
"""Below this inflated size the ratio is not judged: small files of repetitive rows may compress very well."""
MAX_LINE_BYTES = 16 << 20
"""Longest JSON line of a snapshot table or evidence file (DuckDB's own default object limit)."""
MAX_DOCUMENT_BYTES = 256 << 20
"""Largest JSON document read whole: manifest.json, summary.json, breaches.json, snapshot.json."""
MAX_SIGNATURE_BYTES = 64 << 10
"""Largest manifest.sig (a real one is under 1 KB)."""
CHUNK = 1 << 20
_ISAL_ERROR = cast("type[Exception]", isal_zlib.error)
"""ISA-L's error for corrupt deflate data (its stub declares an instance, not the exception class it is)."""


class Readable(Protocol):
    """Anything with a binary `read(size)`: a file, a zip entry, a hashing wrapper."""

    def read(self, size: int = -1, /) -> bytes:
        """Up to `size` bytes; b"" at the end."""
        ...


class InputTooLarge(ValueError):
    """Untrusted input exceeds one of the bounds above (the message says which)."""


class NestedTooDeeply(Exception):
    """JSON nested deeper than Python's parser can follow: a crafted file, bad input (exit 2) wherever it is met.

    Deliberately not a ValueError, so that a handler for ordinary malformed JSON (a changed byte: "tampered")
    does not swallow it; each reader names the file and turns it into its own bad-input error.
    """


def _size(size: int) -> str:
    return f"{size / (1 << 20):,.0f} MiB" if size >= 1 << 20 else f"{size / 1024:,.0f} KiB"


class Inflation:
    """Counts inflated against compressed bytes and refuses a stream that breaks the caps."""

    def __init__(self, limit: int = MAX_INFLATED_BYTES, ratio: int = MAX_RATIO) -> None:
        self.limit, self.ratio = limit, ratio
        self.compressed = 0
        self.inflated = 0

    def account(self, compressed: int, inflated: int) -> None:
        """Add one step's byte counts; InputTooLarge when a cap is broken."""
        self.compressed += compressed
        self.inflated += inflated
        if self.inflated > self.limit:
            raise InputTooLarge(f"inflates to more than {_size(self.limit)} (a decompression bomb?)")
        if self.inflated > MIN_RATIO_BYTES and self.inflated > self.ratio * max(self.compressed, 1):
            raise InputTooLarge(
                f"inflates more than {self.ratio}:1 ({_size(self.inflated)} from {_size(self.compressed)} so far; "
                "a decompression bomb?)"
            )


def _inflate(inflater: Any, data: bytes) -> bytes:
    """One bounded inflate step; ISA-L's own error (not a ValueError) becomes one."""
    try:
        out: bytes = inflater.decompress(data, CHUNK)
    except _ISAL_ERROR as exc:
        raise ValueError(f"not valid gzip data ({exc})") from exc
    return out


def gunzip_chunks(raw: Readable, *, limit: int = MAX_INFLATED_BYTES, ratio: int = MAX_RATIO) -> Iterator[bytes]:
    """Inflate a gzip stream (every member) in chunks of at most CHUNK bytes, within the caps.

    ValueError for data that is not gzip or ends early; InputTooLarge past a cap.
    """
    budget = Inflation(limit, ratio)
    inflater = isal_zlib.decompressobj(31)
    started = False
    while data := raw.read(CHUNK):
        started = True
        while data:
            if inflater.eof:
                if not data.strip(b"\0"):
                    break  # zero padding after the last member, which gzip tolerates too
                inflater = isal_zlib.decompressobj(31)  # a concatenated member follows
            size = len(data)
            out = _inflate(inflater, data)
            data = inflater.unused_data if inflater.eof else inflater.unconsumed_tail
            budget.account(size - len(data), len(out))
            if out:
                yield out
    while started and not inflater.eof:
        # the input is used up, but the inflater may still hold output it could not return in one chunk
        out = _inflate(inflater, b"")
        if not out:
            raise ValueError("the gzip data ends early (truncated)")
        budget.account(0, len(out))
        yield out


def split_lines(chunks: Iterable[bytes], *, max_line: int = MAX_LINE_BYTES) -> Iterator[bytes]:
    """The non-blank lines of a byte stream (without their newline), never holding one longer than `max_line`."""
    pending = b""
    for chunk in chunks:
        if not pending and not chunk.strip():
            continue  # a run of blank lines costs one C-level scan, not a Python step per line
        lines = (pending + chunk).split(b"\n") if pending else chunk.split(b"\n")
        pending = lines.pop()
        if len(pending) > max_line:
            raise InputTooLarge(f"has a line longer than {_size(max_line)}")
        for line in lines:
            if len(line) > max_line:
                raise InputTooLarge(f"has a line longer than {_size(max_line)}")
            if line.strip():
                yield line
    if pending.strip():
        yield pending


def gzip_lines(raw: Readable, *, max_line: int = MAX_LINE_BYTES) -> Iterator[bytes]:
    """The non-blank lines of a gzipped JSON-lines stream, within every cap."""
    return split_lines(gunzip_chunks(raw), max_line=max_line)


def read_capped(handle: Readable, limit: int = MAX_DOCUMENT_BYTES) -> bytes:
    """A whole stream of at most `limit` bytes; InputTooLarge (having read no more than limit + 1) otherwise."""
    data = handle.read(limit + 1)
    if len(data) > limit:
        raise InputTooLarge(f"is larger than {_size(limit)}")
    return data


def loads(data: bytes | str) -> Any:
    """json.loads for untrusted text: NestedTooDeeply (not RecursionError) for JSON nested too deeply to parse."""
    try:
        return json.loads(data)
    except RecursionError:
        raise NestedTooDeeply("holds JSON nested too deeply to parse (thousands of levels)") from None
