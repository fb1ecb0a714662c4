"""The caps on every list the PDF shows: its page count must not grow with the fleet.

A capped list remembers how many rows it left out, so the templates can say "and N more" and point to the
workbook and evidence files, which hold every row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

TOP_MACHINES = 50
TOP_GROUPS = 25
TOP_BREACHES = 50
TOP_ROWS = 30
"""Cap for lists that are short in practice (thresholds, failure codes, policy rows): a bound, not a selection."""


@dataclass(frozen=True)
class Capped(Generic[T]):
    """The first rows of a longer list, and how many were left out."""

    rows: list[T]
    total: int

    @property
    def more(self) -> int:
        """Rows not shown."""
        return self.total - len(self.rows)


def cap(rows: Sequence[T], limit: int) -> Capped[T]:
    """Keep the first `limit` rows."""
    return Capped(list(rows[:limit]), len(rows))
