"""How often a live source may ask: Resource Graph's per-user quota, Retry-After, and retries with backoff.

Resource Graph tells every caller how many requests it has left (`x-ms-user-quota-remaining`) and when its
window resets (`x-ms-user-quota-resets-after`, hh:mm:ss). The Azure SDK ignores both and retries a 429 only when
it carries Retry-After, so the sources turn the SDK's retries off and pace themselves here: spend the quota,
then sleep until the window resets instead of provoking 429s.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TypeVar

from azure.core.exceptions import (
    ClientAuthenticationError,
    DecodeError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)

from auditor.sources.azure_settings import AzureSettings
from auditor.sources.interface import SourceError

QUOTA_REMAINING = "x-ms-user-quota-remaining"
QUOTA_RESETS_AFTER = "x-ms-user-quota-resets-after"

_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2}(?:\.\d+)?)$")
T = TypeVar("T")


def parse_timespan(text: str) -> float | None:
    """Seconds in a .NET-style timespan (`hh:mm:ss`, optionally `d.` before and `.fff` after); None if malformed."""
    match = _TIMESPAN.match(text.strip())
    if not match:
        return None
    days, hours, minutes, seconds = match.groups()
    return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date); None if absent or malformed."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class QuotaGovernor:
    """Paces requests from Resource Graph's quota headers. Thread-safe; one per source (the quota is per user).

    Each response narrows the estimate of when the window resets: a resets-after value is whole seconds and is
    enough to wait (the service resets the quota once it has passed), so the earliest `received + resets_after`
    seen in the current window is the tightest safe moment to go on.
    """

    def __init__(
        self,
        *,
        margin: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.margin = margin
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._remaining: int | None = None
        self._reset_at: float | None = None
        self._hold_until = 0.0
        self.waited_seconds = 0.0
        """Total time spent waiting for the quota (for progress and benchmarks)."""

    def observe(self, headers: Mapping[str, str]) -> None:
        """Record the quota headers of a response (any status)."""
        remaining_text = headers.get(QUOTA_REMAINING)
        resets_text = headers.get(QUOTA_RESETS_AFTER)
        if remaining_text is None or resets_text is None:
            return
        resets_after = parse_timespan(resets_text)
        try:
            remaining = int(remaining_text)
        except ValueError:
            return
        if resets_after is None:
            return
        now = self._clock()
        candidate = now + resets_after
        with self._lock:
            new_window = (
                self._reset_at is None
                or self._remaining is None
                or now >= self._reset_at
                or remaining > self._remaining
            )
            self._reset_at = candidate if new_window or self._reset_at is None else min(self._reset_at, candidate)
            self._remaining = remaining

    def hold(self, seconds: float) -> None:
        """Send nothing for `seconds` (after a 429's Retry-After)."""
        with self._lock:
            self._hold_until = max(self._hold_until, self._clock() + seconds)

    def wait_turn(self) -> None:
        """Block until a request may be sent, and count it against the quota."""
        with self._lock:
            now = self._clock()
            wait = max(0.0, self._hold_until - now)
            if self._remaining is not None and self._remaining <= 0 and self._reset_at is not None:
                wait = max(wait, self._reset_at + self.margin - now)
            if wait > 0:
                # The window will have reset by the time we send: the next response tells us the new quota.
                self._remaining = None
                self._reset_at = None
            elif self._remaining is not None:
                self._remaining -= 1
        if wait > 0:
            self.waited_seconds += wait
            self._sleep(wait)


class AccessDenied(Exception):
    """HTTP 401/403, or no credential could produce a token."""

    def __init__(self, status: int | None, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail

    def source_error(self, *, service: str, scope: str, tenant: str, permission: str, hint: str) -> SourceError:
        """One line naming the scope and the permission it lacks (exit 3), and how to grant it."""
        if self.status is None:
            return SourceError(
                f"cannot sign in to Azure tenant {tenant}: {self.detail}",
                f"sign in with `az login --tenant {tenant}`, or set AZURE_CLIENT_ID/AZURE_CLIENT_SECRET, "
                "or run with a managed identity",
            )
        what = "rejected the token" if self.status == 401 else "denied access"
        return SourceError(
            f"{service} {what} (HTTP {self.status}) for {scope} in tenant {tenant}: the identity needs "
            f"{permission} there ({self.detail})",
            hint,
        )


class Rejected(Exception):
    """The service refused the request for good (another 4xx, e.g. a query it cannot run)."""


class GaveUp(Exception):
    """Transient failures (5xx, timeouts, dropped connections, 429s) outlasted the retries."""


@dataclass(frozen=True)
class RetryPolicy:
    """How patient a source is; built from `[azure]`."""

    max_retries: int = 5
    max_throttled_retries: int = 10
    backoff_seconds: float = 1.0
    backoff_max_seconds: float = 30.0

    @classmethod
    def from_settings(cls, settings: AzureSettings) -> RetryPolicy:
        """The retry knobs of `[azure]`."""
        return cls(
            max_retries=settings.max_retries,
            max_throttled_retries=settings.max_throttled_retries,
            backoff_seconds=settings.backoff_seconds,
            backoff_max_seconds=settings.backoff_max_seconds,
        )

    def backoff(self, failures: int, rng: random.Random) -> float:
        """Exponential backoff with jitter (so parallel clients do not retry in step)."""
        ceiling = min(self.backoff_max_seconds, self.backoff_seconds * 2.0 ** max(0, failures - 1))
        return ceiling * (0.5 + rng.random() / 2)


def describe_error(exc: BaseException) -> str:
    """One line for an SDK exception: `HTTP 500 Code: message` or the transport error's first line."""
    if isinstance(exc, HttpResponseError) and exc.status_code is not None and not isinstance(exc, DecodeError):
        error = getattr(exc, "error", None)
        code = getattr(error, "code", None) or (exc.reason or "")
        message = getattr(error, "message", None) or exc.message or ""
        first = str(message).strip().splitlines()[0] if str(message).strip() else ""
        return f"HTTP {exc.status_code} {code}: {first}".rstrip(": ").strip()
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def call_with_retries(
    attempt: Callable[[], T],
    *,
    policy: RetryPolicy,
    what: str,
    governor: QuotaGovernor | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
    on_retry: Callable[[str], None] | None = None,
) -> T:
    """Run `attempt` until it succeeds, retrying what is worth retrying.

    429: wait Retry-After (else the quota reset, else backoff). 5xx, 408, timeouts, dropped connections and
    bodies cut short: back off and retry. 401/403 raise AccessDenied, other 4xx Rejected, and exhausted retries
    GaveUp, each with one line that starts with `what`.
    """
    rng = rng or random.Random()
    failures = throttles = 0
    last: Exception
    while True:
        if governor is not None:
            governor.wait_turn()
        try:
            return attempt()
        except (DecodeError, ServiceRequestError, ServiceResponseError) as exc:
            # DecodeError (incl. IncompleteReadError) is a 200 whose body broke off: a dropped connection.
            last = exc
        except HttpResponseError as exc:
            status = exc.status_code
            if isinstance(exc, ClientAuthenticationError) and exc.response is None:
                raise AccessDenied(None, f"no Azure credential could get a token: {describe_error(exc)}") from exc
            if status == 429:
                throttles += 1
                if throttles > policy.max_throttled_retries:
                    raise GaveUp(f"{what}: still throttled (HTTP 429) after {throttles - 1} waits") from exc
                headers: Mapping[str, str] = getattr(exc.response, "headers", None) or {}
                delay = parse_retry_after(headers.get("Retry-After"))
                if delay is None:
                    delay = parse_timespan(headers.get(QUOTA_RESETS_AFTER, "")) or policy.backoff(throttles, rng)
                if on_retry:
                    on_retry(f"{what}: throttled, waiting {delay:.1f} s")
                if governor is not None:
                    governor.hold(delay)
                else:
                    sleep(delay)
                continue
            if status in (401, 403):
                raise AccessDenied(status, describe_error(exc)) from exc
            if status is not None and status < 500 and status != 408:
                raise Rejected(f"{what}: {describe_error(exc)}") from exc
            last = exc
        failures += 1
        if failures > policy.max_retries:
            raise GaveUp(f"{what}: {describe_error(last)} (gave up after {failures} attempts)") from last
        if on_retry:
            on_retry(f"{what}: {describe_error(last)}; retrying")
        sleep(policy.backoff(failures, rng))
