"""Names that come from untrusted input: relative paths, where they land under a root, and how they are printed.

A pack's manifest, a zip's entry names and a snapshot's table names are written by whoever made the file. A name
is checked whole (`fullmatch`, never a search that a newline can cut short), joined to its root only after the
check, and the resolved target must still lie under the root. A name printed to a terminal shows its control
characters as visible escapes, so an ANSI sequence in a file name cannot restyle or rewrite the output around it.

Ground floor: imports nothing of auditor's.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

_SEGMENT = r"[^/\\\x00-\x1f\x7f-\x9f]+"
RELATIVE_PATH = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT})*")
"""A POSIX relative path: no leading slash, no backslash, no control character, no empty segment."""
_INVISIBLE = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u061c\ufeff")
"""Bidirectional controls and marks: they reorder what a terminal shows (CVE-2021-42574) without being Cc."""


def is_relative_path(name: str) -> bool:
    """Whether `name` is a plain relative POSIX path: checked whole, without `.` or `..` segments."""
    return bool(RELATIVE_PATH.fullmatch(name)) and not any(part in (".", "..") for part in name.split("/"))


def contained(root: Path, name: str) -> Path:
    """`root / name`, resolved; ValueError unless `name` is a plain relative path that stays under `root`.

    Resolving follows symlinks, so a link inside the root that points out of it is refused as well.
    """
    if not is_relative_path(name):
        raise ValueError(f"{terminal_text(name)!s} is not a plain relative path")
    base = root.resolve()
    target = (base / name).resolve()
    if target != base and base not in target.parents:
        raise ValueError(f"{terminal_text(name)} leads outside {terminal_text(str(root))}")
    return target


def _visible(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_text(text: str, *, layout: bool = False) -> str:
    """`text` with every control character (C0, DEL, C1) and bidirectional control shown as a visible escape.

    With `layout`, newlines and tabs are kept: for whole messages, whose lines are the tool's own.
    """
    if text.isprintable():
        return text
    kept = "\n\t" if layout else ""
    return "".join(
        _visible(c) if (unicodedata.category(c) == "Cc" and c not in kept) or c in _INVISIBLE else c for c in text
    )
