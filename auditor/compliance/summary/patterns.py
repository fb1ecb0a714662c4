"""The `failure_patterns` block of the summary: failure rates by dimension and the flags raised on them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class GroupRate:
    """Failure figures of one value of a dimension."""

    key: str
    """The value, e.g. `eastus2`."""
    runs: int
    """Finished runs."""
    failed: int
    """Failed runs."""
    failure_rate: float | None
    """failed / runs in %; None without finished runs."""
    flagged: bool
    """Whether PATTERN_RULE flags it."""


@dataclass(frozen=True, kw_only=True)
class Flag:
    """A pattern worth acting on, with what to do about it."""

    kind: str
    """`failure_rate` or `window_exceeded`."""
    dimension: str
    """The dimension, e.g. `location` or `configuration`."""
    key: str
    """The flagged value."""
    runs: int
    """Finished runs of the value."""
    count: int
    """Failed runs (failure_rate) or runs that overran the window (window_exceeded)."""
    rate: float | None
    """count / runs in %."""
    reference_rate: float | None
    """The fleet's failure rate (failure_rate) or window_exceeded_flag_rate (window_exceeded)."""
    recommendation: str
    """What to do about it."""


@dataclass(frozen=True, kw_only=True)
class FailurePatterns:
    """Failure rates by dimension and the flags raised on them."""

    rule: str
    """PATTERN_RULE with this run's limits."""
    window_rule: str
    """WINDOW_RULE with this run's limits."""
    window_days: int
    """The installation window in days."""
    runs: int
    """Finished installation runs of the window."""
    failed: int
    """Of those, failed runs."""
    fleet_failure_rate: float | None
    """failed / runs in %."""
    dimensions: Mapping[str, tuple[GroupRate, ...]]
    """Dimension name -> its values' figures, in DIMENSIONS order, values sorted."""
    flags: tuple[Flag, ...]
    """Flags, by kind, dimension and key."""
