"""Faults the emulator injects on demand, each armed for a number of matching requests."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import StrEnum


class FaultKind(StrEnum):
    """What goes wrong."""

    THROTTLE = "throttle"
    """HTTP 429 with Retry-After."""
    SERVER_ERROR = "server_error"
    """HTTP 500."""
    RESET = "reset"
    """Headers and half the body, then the connection is closed."""
    SLOW = "slow"
    """The response waits `delay` seconds."""
    TRUNCATED = "truncated"
    """ARG: resultTruncated "true" and no $skipToken."""
    DUPLICATES = "duplicates"
    """ARG: the page starts `rows` rows early, repeating the end of the previous page."""
    SKIP_ROWS = "skip_rows"
    """ARG: the page starts `rows` rows late, losing rows."""
    WRONG_TOTAL = "wrong_total"
    """ARG: totalRecords is `rows` too high."""
    SUBSCRIPTION_LIMIT = "subscription_limit"
    """ARG: x-ms-tenant-subscription-limit-hit: true."""
    UNAUTHORIZED = "unauthorized"
    """HTTP 401."""
    FORBIDDEN = "forbidden"
    """HTTP 403 (no read permission on the scope)."""
    PARTIAL = "partial"
    """Log Analytics: half the rows and a PartialError."""
    GATEWAY_TIMEOUT = "gateway_timeout"
    """Log Analytics: 504 while the request's Prefer: wait is below `min_wait` seconds."""


@dataclass
class Fault:
    """One armed fault. `times` counts the requests it still hits (-1: every matching request)."""

    kind: FaultKind
    service: str = "arg"
    """`arg` or `law`."""
    times: int = 1
    page: int | None = None
    """ARG page index (0 = first page) it applies to; None: any page."""
    subscription: str | None = None
    """Only requests whose scope includes this subscription."""
    rows: int = 3
    delay: float = 1.0
    retry_after: float = 0.05
    min_wait: int = 300


class FaultPlan:
    """The armed faults; thread-safe, first match wins."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self.fired: list[FaultKind] = []

    def arm(self, *faults: Fault) -> None:
        """Add faults."""
        with self._lock:
            self._faults.extend(faults)

    def clear(self) -> None:
        """Disarm everything."""
        with self._lock:
            self._faults.clear()

    def take(
        self,
        service: str,
        *,
        page: int | None = None,
        subscriptions: tuple[str, ...] = (),
        prefer_wait: int | None = None,
    ) -> Fault | None:
        """The first armed fault matching this request, counted as used."""
        with self._lock:
            for fault in self._faults:
                if fault.service != service or fault.times == 0:
                    continue
                if fault.page is not None and fault.page != page:
                    continue
                if fault.subscription is not None and fault.subscription not in subscriptions:
                    continue
                if fault.kind is FaultKind.GATEWAY_TIMEOUT and (prefer_wait or 180) >= fault.min_wait:
                    continue
                if fault.times > 0:
                    fault.times -= 1
                self.fired.append(fault.kind)
                return fault
        return None
