"""Timestamps as ARG returns them: RFC 3339 with up to 7 fractional digits and a Z."""

from __future__ import annotations

import re
from datetime import UTC, datetime

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
