"""Timestamps: RFC 3339 as auditor writes them, and as Resource Graph returns them.

Ground floor: imports nothing of auditor's.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime


def format_timestamp(value: datetime) -> str:
    """RFC 3339 in UTC with a `Z` suffix, second precision unless there are microseconds."""
    value = value.astimezone(UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}"
    return text + "Z"


def format_seconds(value: datetime) -> str:
    """RFC 3339 in UTC with a `Z` suffix, to the second (any fraction dropped)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(text: str) -> datetime:
    """Parse an RFC 3339 timestamp; a naive value is taken as UTC. Raises ValueError."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


_FRACTION = re.compile(r"\.(\d+)")


def parse_arg_time(text: str | None) -> datetime | None:
    """Parse an ARG timestamp (e.g. `2026-10-28T03:14:07.1234567Z`) to an aware UTC datetime; '' or junk is None."""
    if not text:
        return None
    if len(text) == 28 and text.endswith(".0000000Z"):
        # KQL's tostring(datetime) form with no fraction: drop the seven zeros and take the fast path.
        text = text[:19] + "Z"
    if len(text) == 20 and text[-1] == "Z":
        # The common shape (second precision); fromisoformat reads it directly and fast.
        try:
            return datetime.fromisoformat(text).astimezone(UTC)
        except ValueError:
            return None
    cleaned = text.strip().replace("z", "Z")
    # Python reads at most 6 fractional digits; ARG writes 7.
    cleaned = _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), cleaned, count=1)
    if cleaned.endswith("Z"):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(cleaned)
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
