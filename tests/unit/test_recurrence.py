"""recurEvery parsing, Windows time zones (with DST) and the 168-hour week."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from auditor.compliance.recurrence import (
    Recurrence,
    RecurrenceError,
    Window,
    concurrency,
    concurrency_summary,
    parse_duration,
    parse_local,
    parse_recurrence,
    resolve_zone,
    to_utc,
    week_hours,
    week_start,
)
from tests.summaries import js

MONDAY = datetime(2026, 10, 26, tzinfo=UTC)
"""The week of the crafted snapshots' as-of time (Sunday 2026-11-01 06:00 UTC)."""


def dates(text: str, first: str, start: date, end: date) -> list[date]:
    recurrence = parse_recurrence(text)
    begin = parse_local(first)
    assert begin is not None
    return [moment.date() for moment in recurrence.local_starts(begin, start, end)]


@pytest.mark.parametrize(
    ("text", "expected", "words"),
    [
        ("Day", Recurrence("Day", "Day", 1), "every day"),
        ("2Days", Recurrence("2Days", "Day", 2), "every 2 days"),
        ("6Hours", Recurrence("6Hours", "Hour", 6), "every 6 hours"),
        ("Week", Recurrence("Week", "Week", 1), "every week"),
        (
            "1Week Saturday,Sunday",
            Recurrence("1Week Saturday,Sunday", "Week", 1, weekdays=(5, 6)),
            "every week on Saturday and Sunday",
        ),
        (
            "2Weeks sunday, Monday",
            Recurrence("2Weeks sunday, Monday", "Week", 2, weekdays=(0, 6)),
            "every 2 weeks on Monday and Sunday",
        ),
        ("Month day15", Recurrence("Month day15", "Month", 1, month_days=(15,)), "every month on day 15"),
        (
            "Month day-1,day1",
            Recurrence("Month day-1,day1", "Month", 1, month_days=(1, -1)),
            "every month on day 1 and the last day",
        ),
        (
            "1Month Second Tuesday",
            Recurrence("1Month Second Tuesday", "Month", 1, weekdays=(1,), nth=2),
            "every month on the second Tuesday",
        ),
        (
            "Month Last Sunday",
            Recurrence("Month Last Sunday", "Month", 1, weekdays=(6,), nth=-1),
            "every month on the last Sunday",
        ),
        (
            "Month Second Tuesday Offset2",
            Recurrence("Month Second Tuesday Offset2", "Month", 1, weekdays=(1,), nth=2, offset_days=2),
            "every month on the second Tuesday, 2 days later",
        ),
        (
            "3Months Last Sunday Offset-1",
            Recurrence("3Months Last Sunday Offset-1", "Month", 3, weekdays=(6,), nth=-1, offset_days=-1),
            "every 3 months on the last Sunday, 1 day earlier",
        ),
    ],
)
def test_parse_recurrence(text: str, expected: Recurrence, words: str) -> None:
    parsed = parse_recurrence(text)
    assert parsed == expected
    assert parsed.describe() == words


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Fortnight",
        "0Days",
        "Day Monday",
        "6Hours Monday",
        "1Week Funday",
        "Week Monday,Monday",
        "Month day32",
        "Month day0",
        "Month Fifth Monday",
        "Month Second Tuesday Offset7",
        "Month Second",
        "Month day15 Tuesday",
        "1Week Sat",
    ],
)
def test_unparseable_recurrences_are_refused(text: str) -> None:
    with pytest.raises(RecurrenceError):
        parse_recurrence(text)


def test_days_and_weeks_count_from_the_first_window() -> None:
    assert dates("2Days", "2026-10-01 05:00", date(2026, 10, 26), date(2026, 11, 2)) == [
        date(2026, 10, 27),
        date(2026, 10, 29),
        date(2026, 10, 31),
    ]
    # Every 2 weeks, counted in Monday-to-Sunday weeks from the week of the first window (2026-10-12).
    assert dates("2Weeks Monday,Sunday", "2026-10-14 05:00", date(2026, 10, 12), date(2026, 11, 10)) == [
        date(2026, 10, 18),
        date(2026, 10, 26),
        date(2026, 11, 1),
        date(2026, 11, 9),
    ]
    # A bare week recurs on the first window's weekday (a Wednesday); nothing before the first window.
    assert dates("Week", "2026-10-14 05:00", date(2026, 10, 1), date(2026, 10, 29)) == [
        date(2026, 10, 14),
        date(2026, 10, 21),
        date(2026, 10, 28),
    ]


def test_month_rules() -> None:
    span = (date(2026, 10, 1), date(2027, 1, 1))
    assert dates("1Month Second Tuesday", "2026-01-13 20:00", *span) == [
        date(2026, 10, 13),
        date(2026, 11, 10),
        date(2026, 12, 8),
    ]
    assert dates("Month Last Sunday", "2026-01-25 02:00", *span) == [
        date(2026, 10, 25),
        date(2026, 11, 29),
        date(2026, 12, 27),
    ]
    assert dates("Month Second Tuesday Offset2", "2026-01-15 20:00", *span) == [
        date(2026, 10, 15),
        date(2026, 11, 12),
        date(2026, 12, 10),
    ]
    assert dates("Month Last Sunday Offset-3", "2026-01-01 02:00", *span) == [
        date(2026, 10, 22),
        date(2026, 11, 26),
        date(2026, 12, 24),
    ]
    assert dates("Month day15,day-1", "2026-01-01 02:00", *span) == [
        date(2026, 10, 15),
        date(2026, 10, 31),
        date(2026, 11, 15),
        date(2026, 11, 30),
        date(2026, 12, 15),
        date(2026, 12, 31),
    ]
    # A bare month recurs on the first window's day; months without that day are skipped.
    assert dates("Month", "2026-08-31 02:00", *span) == [date(2026, 10, 31), date(2026, 12, 31)]
    assert dates("2Months", "2026-09-30 02:00", *span) == [date(2026, 11, 30)]


def test_hours_step_from_the_first_window() -> None:
    recurrence = parse_recurrence("6Hours")
    starts = list(recurrence.local_starts(datetime(2026, 10, 1, 3, 0), date(2026, 10, 27), date(2026, 10, 28)))
    assert [s.hour for s in starts] == [3, 9, 15, 21]
    assert all(s.date() == date(2026, 10, 27) for s in starts)


def test_time_zones_are_resolved_not_guessed() -> None:
    zone = resolve_zone("W. Europe Standard Time")
    assert zone is not None and zone.key == "Europe/Berlin"
    lowered = resolve_zone("eastern standard time")
    assert lowered is not None and lowered.key == "America/New_York"
    assert resolve_zone("Mars Standard Time") is None
    assert resolve_zone("Europe/Berlin") is None  # an IANA name is not a Windows name


def test_local_times_and_durations() -> None:
    assert parse_local("2026-01-03 22:00") == datetime(2026, 1, 3, 22, 0)
    assert parse_local("9999-12-31 23:59:59") == datetime(9999, 12, 31, 23, 59, 59)
    assert parse_local("03/01/2026 22:00") is None
    assert (parse_duration("03:55"), parse_duration("1:30"), parse_duration("00:00"), parse_duration("3h")) == (
        235,
        90,
        None,
        None,
    )
    berlin = resolve_zone("W. Europe Standard Time")
    eastern = resolve_zone("Eastern Standard Time")
    assert berlin is not None and eastern is not None
    # A local time in the spring-forward gap is read with fold=0: the offset before the change (+01:00).
    assert to_utc(datetime(2026, 3, 29, 2, 30), berlin) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    # A repeated local time (fall back) is read with fold=0: its first occurrence, still daylight time.
    assert to_utc(datetime(2026, 11, 1, 1, 30), eastern) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert to_utc(datetime(9999, 12, 31, 23, 0), eastern) is None


def window(recur: str, first: str, minutes: int, zone: str, expires: datetime | None = None) -> Window:
    begin = parse_local(first)
    tz = resolve_zone(zone)
    assert begin is not None and tz is not None
    return Window(begin, minutes, parse_recurrence(recur), tz, expires)


def test_week_start_is_monday_utc() -> None:
    assert week_start(datetime(2026, 11, 1, 6, 0, tzinfo=UTC)) == MONDAY
    assert week_start(datetime(2026, 10, 26, 0, 0, tzinfo=UTC)) == MONDAY
    assert week_start(datetime(2026, 10, 25, 23, 59, tzinfo=UTC)) == MONDAY - timedelta(days=7)


def test_week_hours_follow_daylight_saving() -> None:
    # Saturday 22:00 in Berlin: CEST (+2) until 2026-10-25, CET (+1) after.
    saturday = window("1Week Saturday", "2026-01-03 22:00", 235, "W. Europe Standard Time")
    assert week_hours(saturday, MONDAY - timedelta(days=7)) == frozenset({140, 141, 142, 143})  # 20:00-23:55 UTC
    assert week_hours(saturday, MONDAY) == frozenset({141, 142, 143, 144})  # 21:00-00:55 UTC
    # New York leaves daylight time on 2026-11-01 at 02:00 local: Saturday 23:00 EDT is Sunday 03:00 UTC.
    eastern = window("1Week Saturday", "2026-01-03 23:00", 60, "Eastern Standard Time")
    assert week_hours(eastern, MONDAY) == frozenset({147})
    assert week_hours(eastern, MONDAY + timedelta(days=7)) == frozenset({148})  # EST from then on: 04:00 UTC


def test_week_hours_edges() -> None:
    # Sunday 23:00 for two hours: the week's last hour, and the next week's first hour from last week's window.
    sunday = window("1Week Sunday", "2026-01-04 23:00", 120, "UTC")
    assert week_hours(sunday, MONDAY) == frozenset({0, 167})
    # A window ending exactly on the hour does not reach into that hour.
    exact = window("Day", "2026-01-01 05:00", 60, "UTC")
    assert week_hours(exact, MONDAY) == frozenset(5 + 24 * d for d in range(7))
    # No window opens at or after the expiry (Thursday 05:00 UTC); one opening before it still counts in full.
    expiring = window("Day", "2026-01-01 04:30", 60, "UTC", datetime(2026, 10, 29, 4, 30, tzinfo=UTC))
    assert week_hours(expiring, MONDAY) == frozenset({4, 5, 28, 29, 52, 53})
    # A schedule that starts mid-week has no window before its first.
    late = window("Day", "2026-10-31 10:00", 30, "UTC")
    assert week_hours(late, MONDAY) == frozenset({130, 154})


def test_concurrency_counts_distinct_machines_per_hour() -> None:
    windows = {
        "a": ("cfg-a", window("1Week Monday", "2026-01-05 00:00", 120, "UTC")),
        "b": ("cfg-b", window("1Week Monday", "2026-01-05 01:00", 60, "UTC")),
    }
    covered = {"m1": {"a"}, "m2": {"a", "b"}, "m3": {"b"}, "m4": set(), "m5": {"a", "unknown"}}
    result = concurrency(windows, covered, as_of=datetime(2026, 10, 28, tzinfo=UTC), limit=3)
    assert result.series[:3] == (3, 4, 0) and sum(result.series) == 7
    assert result.active[1] == ("cfg-a", "cfg-b") and result.active[0] == ("cfg-a",)
    assert result.peaks == [1]
    assert result.recommendation() == (
        "1 hour(s) of the week have more than 3 machines scheduled (peak 4 at 2026-10-26T01:00:00Z); "
        "stagger the start times of cfg-a, cfg-b or split their scopes"
    )
    summary = js(concurrency_summary(result))
    assert summary["peak"] == {"hour": 1, "start": "2026-10-26T01:00:00Z", "machines": 4}
    assert summary["peaks"] == [
        {"hour": 1, "start": "2026-10-26T01:00:00Z", "machines": 4, "configurations": ["cfg-a", "cfg-b"]}
    ]
    assert len(summary["series"]) == 168
    calm = concurrency(windows, covered, as_of=datetime(2026, 10, 28, tzinfo=UTC), limit=4)
    assert calm.peaks == [] and calm.recommendation() is None
