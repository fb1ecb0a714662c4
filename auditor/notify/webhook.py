"""POST one JSON body to a webhook with urllib: timeouts, retries with backoff, Retry-After on 429 and 503.

The URL is a secret (its path is the credential), so nothing here ever logs or raises it: messages name the
host only. Redirects are refused rather than followed, so a body never goes anywhere but the configured URL.
"""

from __future__ import annotations

import http.client
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import IO
from urllib.parse import urlsplit

from auditor import __version__
from auditor.notify.interface import NotifyError

_LOG = logging.getLogger(__name__)

RETRYABLE = frozenset({408, 429, 500, 502, 503, 504})
"""Statuses worth another attempt; any other error status is final."""
MAX_RETRY_AFTER_SECONDS = 60.0
"""A Retry-After longer than this ends the retries: a scan does not wait minutes for a chat message."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> None:
        return None  # the 3xx then surfaces as an HTTPError


_OPENER = urllib.request.build_opener(_NoRedirects())


@dataclass(frozen=True)
class Delivery:
    """A successful post."""

    status: int
    attempts: int


def host_of(url: str) -> str:
    """The URL's host (and port, if any): all that messages may show of a webhook."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds to wait: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def post_json(
    url: str,
    body: Mapping[str, object],
    *,
    timeout: float,
    retries: int,
    backoff: float,
    sleep: Callable[[float], None] = time.sleep,
) -> Delivery:
    """POST `body`; retry timeouts, dropped connections and RETRYABLE statuses up to `retries` times.

    Without Retry-After the waits are backoff, 2×backoff, 4×backoff, .... A retry after a timeout may deliver
    the message twice; a duplicate chat message is better than a lost one.
    """
    host = host_of(url)
    data = json.dumps(body, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": f"auditor/{__version__}"}
    last = ""
    for attempt in range(retries + 1):
        wait = backoff * 2**attempt
        request = urllib.request.Request(url, data=data, headers=headers, method="POST")
        try:
            with _OPENER.open(request, timeout=timeout) as response:
                response.read()
                _LOG.info("webhook %s answered HTTP %s (attempt %d)", host, response.status, attempt + 1)
                return Delivery(int(response.status), attempt + 1)
        except urllib.error.HTTPError as error:
            status = error.code
            asked = retry_after_seconds(error.headers.get("Retry-After")) if error.headers else None
            error.close()
            if status not in RETRYABLE:
                raise NotifyError(
                    f"webhook {host} refused the message: HTTP {status}",
                    "check the webhook URL and that the webhook still exists",
                ) from None
            last = f"HTTP {status}"
            if asked is not None:
                if asked > MAX_RETRY_AFTER_SECONDS:
                    raise NotifyError(
                        f"webhook {host} answered HTTP {status} and asked to retry after {asked:g} s; gave up",
                        "the receiver is throttling; try a later scan",
                    ) from None
                wait = asked
        except (TimeoutError, ConnectionError, http.client.HTTPException, urllib.error.URLError) as error:
            # URLError's reason, not its text: the text of some errors quotes the URL.
            reason = error.reason if isinstance(error, urllib.error.URLError) else error
            last = "timed out" if isinstance(reason, TimeoutError) else f"{type(reason).__name__}"
            if isinstance(reason, OSError) and reason.strerror:
                last += f": {reason.strerror}"
        if attempt < retries:
            _LOG.info("webhook %s: %s; retrying in %.2f s", host, last, wait)
            sleep(wait)
    raise NotifyError(
        f"webhook {host} failed after {retries + 1} attempt{'s' if retries else ''}: {last}",
        "check that the receiver is reachable from where the scan runs",
    )
