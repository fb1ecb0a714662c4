"""A validation finding: one problem, in one file, at one JSON pointer."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Finding:
    """One problem found by `auditor policy validate`."""

    path: Path
    pointer: str
    """JSON pointer into the file ("" for the whole file); for TOML, into its parsed table."""
    rule: str
    """Stable rule id, e.g. `parameter-unused`."""
    message: str
    severity: Severity = "error"

    def render(self, root: Path | None = None) -> str:
        """`file#/pointer: severity [rule] message`."""
        shown = self.path
        if root is not None:
            with contextlib.suppress(ValueError):
                shown = self.path.relative_to(root)
        return f"{shown}#{self.pointer}: {self.severity} [{self.rule}] {self.message}"
