"""Resource Graph's per-user quota: `limit` requests per tumbling window, with the real headers."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass


def format_timespan(seconds: float, *, whole_seconds: bool) -> str:
    """hh:mm:ss rounded up (waiting that long is always enough), or hh:mm:ss.fff for sub-second windows."""
    seconds = max(0.0, seconds)
    if whole_seconds:
        total = math.ceil(seconds - 1e-6)
        return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"
    millis = math.ceil(seconds * 1000 - 1e-6)
    whole, frac = divmod(millis, 1000)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}.{frac:03d}"


@dataclass(frozen=True)
class QuotaDecision:
    """Whether a request may run, and the headers that say so."""

    allowed: bool
    remaining: int
    resets_after: float


class QuotaWindow:
    """`limit` requests per `window` seconds per user; a window starts with the first request after the last."""

    def __init__(self, limit: int = 15, window: float = 5.0) -> None:
        self.limit = limit
        self.window = window
        self.whole_seconds = float(window).is_integer()
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}
        self.throttled = 0

    def check(self, user: str) -> QuotaDecision:
        """Count one request of `user`."""
        with self._lock:
            now = time.monotonic()
            start, used = self._windows.get(user, (now, 0))
            if now >= start + self.window:
                start, used = now, 0
            resets_after = start + self.window - now
            if used >= self.limit:
                self.throttled += 1
                self._windows[user] = (start, used)
                return QuotaDecision(False, 0, resets_after)
            used += 1
            self._windows[user] = (start, used)
            return QuotaDecision(True, self.limit - used, resets_after)

    def headers(self, decision: QuotaDecision) -> dict[str, str]:
        """The quota headers of a response."""
        return {
            "x-ms-user-quota-remaining": str(decision.remaining),
            "x-ms-user-quota-resets-after": format_timespan(decision.resets_after, whole_seconds=self.whole_seconds),
        }
