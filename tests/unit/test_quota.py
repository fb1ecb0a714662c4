"""Pacing and retries of the live sources: quota headers, Retry-After, backoff, error classes."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    IncompleteReadError,
    ServiceResponseError,
)

from auditor.sources._quota import (
    AccessDenied,
    GaveUp,
    QuotaGovernor,
    Rejected,
    RetryPolicy,
    call_with_retries,
    describe_error,
    parse_retry_after,
    parse_timespan,
)


class Clock:
    """A fake monotonic clock whose sleep advances it."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


class FakeResponse:
    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.status_code = status
        self.reason = "Reason"
        self.headers = headers or {}
        self.request = None
        self.content_type = "application/json"

    def text(self, encoding: str | None = None) -> str:
        return '{"error": {"code": "Code", "message": "what went wrong"}}'

    def body(self) -> bytes:
        return self.text().encode()


def http_error(status: int, headers: dict[str, str] | None = None) -> HttpResponseError:
    return HttpResponseError(response=FakeResponse(status, headers))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("00:00:03", 3.0), ("00:00:05", 5.0), ("00:01:02", 62.0), ("00:00:00.250", 0.25), ("1.02:00:00", 93600.0)],
)
def test_parse_timespan(text: str, seconds: float) -> None:
    assert parse_timespan(text) == seconds


@pytest.mark.parametrize("text", ["", "3", "00:03", "soon", "00:00:xx"])
def test_parse_timespan_rejects_garbage(text: str) -> None:
    assert parse_timespan(text) is None


def test_parse_retry_after() -> None:
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("0.05") == 0.05
    assert parse_retry_after(None) is None and parse_retry_after("later") is None
    future = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 < (parse_retry_after(future) or 0) <= 30


def test_governor_spends_the_quota_then_waits_for_the_reset() -> None:
    clock = Clock()
    governor = QuotaGovernor(margin=0.05, clock=clock, sleep=clock.sleep)
    governor.wait_turn()  # nothing known yet: go
    governor.observe({"x-ms-user-quota-remaining": "1", "x-ms-user-quota-resets-after": "00:00:05"})
    clock.now += 0.5
    governor.wait_turn()  # one left: go
    governor.observe({"x-ms-user-quota-remaining": "0", "x-ms-user-quota-resets-after": "00:00:05"})
    assert clock.slept == []
    governor.wait_turn()  # the earliest reset seen is 100 + 5: wait until then (plus the margin)
    assert clock.slept == [4.55] and clock.now == pytest.approx(105.05)
    assert governor.waited_seconds == pytest.approx(4.55)
    governor.wait_turn()  # the window has reset: the next response will say how much is left
    assert clock.slept == [4.55]


def test_governor_starts_a_new_window_when_the_quota_grows() -> None:
    clock = Clock()
    governor = QuotaGovernor(margin=0, clock=clock, sleep=clock.sleep)
    governor.observe({"x-ms-user-quota-remaining": "3", "x-ms-user-quota-resets-after": "00:00:01"})
    clock.now += 2
    governor.observe({"x-ms-user-quota-remaining": "14", "x-ms-user-quota-resets-after": "00:00:05"})
    governor.observe({"x-ms-user-quota-remaining": "0", "x-ms-user-quota-resets-after": "00:00:05"})
    governor.wait_turn()
    assert clock.slept == [5.0]


def test_governor_counts_requests_in_flight() -> None:
    clock = Clock()
    governor = QuotaGovernor(margin=0, clock=clock, sleep=clock.sleep)
    governor.observe({"x-ms-user-quota-remaining": "2", "x-ms-user-quota-resets-after": "00:00:02"})
    governor.wait_turn()
    governor.wait_turn()
    assert clock.slept == []
    governor.wait_turn()  # two were sent without answers yet: the third waits for the reset
    assert clock.slept == [2.0]


def test_governor_ignores_missing_or_malformed_headers_and_honours_holds() -> None:
    clock = Clock()
    governor = QuotaGovernor(clock=clock, sleep=clock.sleep)
    governor.observe({})
    governor.observe({"x-ms-user-quota-remaining": "zero", "x-ms-user-quota-resets-after": "00:00:02"})
    governor.observe({"x-ms-user-quota-remaining": "0", "x-ms-user-quota-resets-after": "whenever"})
    governor.wait_turn()
    assert clock.slept == []
    governor.hold(1.5)
    governor.wait_turn()
    assert clock.slept == [1.5]


def test_backoff_doubles_with_jitter_up_to_the_maximum() -> None:
    policy = RetryPolicy(backoff_seconds=1.0, backoff_max_seconds=5.0)
    rng = random.Random(1)
    for failures, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (9, 5.0)]:
        delay = policy.backoff(failures, rng)
        assert ceiling / 2 <= delay <= ceiling


def _flaky(*errors: BaseException, result: str = "ok") -> Any:
    remaining = list(errors)
    calls: list[int] = []

    def attempt() -> str:
        calls.append(1)
        if remaining:
            raise remaining.pop(0)
        return result

    attempt.calls = calls  # type: ignore[attr-defined]
    return attempt


FAST = RetryPolicy(max_retries=2, max_throttled_retries=2, backoff_seconds=0.01, backoff_max_seconds=0.02)


def test_transient_errors_are_retried() -> None:
    slept: list[float] = []
    attempt = _flaky(http_error(500), ServiceResponseError("reset"), result="rows")
    assert call_with_retries(attempt, policy=FAST, what="page 1", sleep=slept.append) == "rows"
    assert len(attempt.calls) == 3 and len(slept) == 2


def test_a_body_cut_short_is_retried() -> None:
    attempt = _flaky(IncompleteReadError("cut"), http_error(503), http_error(408))
    assert call_with_retries(attempt, policy=RetryPolicy(max_retries=3), what="p", sleep=lambda _: None) == "ok"


def test_retries_run_out() -> None:
    attempt = _flaky(*[http_error(502)] * 5)
    with pytest.raises(GaveUp, match=r"^page 4: HTTP 502 Code: what went wrong \(gave up after 3 attempts\)$"):
        call_with_retries(attempt, policy=FAST, what="page 4", sleep=lambda _: None)


def test_429_waits_retry_after_through_the_governor() -> None:
    clock = Clock()
    governor = QuotaGovernor(clock=clock, sleep=clock.sleep)
    attempt = _flaky(
        http_error(429, {"Retry-After": "3"}), http_error(429, {"x-ms-user-quota-resets-after": "00:00:02"})
    )
    assert call_with_retries(attempt, policy=FAST, what="p", governor=governor, sleep=clock.sleep) == "ok"
    assert clock.slept == [3.0, 2.0]
    attempt = _flaky(*[http_error(429, {"Retry-After": "1"})] * 3)
    with pytest.raises(GaveUp, match=r"still throttled \(HTTP 429\) after 2 waits"):
        call_with_retries(attempt, policy=FAST, what="p", governor=governor)


@pytest.mark.parametrize("status", [401, 403])
def test_access_denied(status: int) -> None:
    with pytest.raises(AccessDenied) as caught:
        call_with_retries(_flaky(http_error(status)), policy=FAST, what="p")
    assert caught.value.status == status and "Code: what went wrong" in caught.value.detail


def test_no_credential_and_other_4xx() -> None:
    with pytest.raises(AccessDenied) as caught:
        call_with_retries(_flaky(ClientAuthenticationError("no az login")), policy=FAST, what="p")
    assert caught.value.status is None and "no Azure credential" in caught.value.detail
    with pytest.raises(Rejected, match=r"^p: HTTP 400 Code: what went wrong$"):
        call_with_retries(_flaky(http_error(400)), policy=FAST, what="p")


def test_describe_error_is_one_line() -> None:
    assert describe_error(http_error(500)) == "HTTP 500 Code: what went wrong"
    assert describe_error(ServiceResponseError("Connection reset\nby peer")) == "ServiceResponseError: Connection reset"
