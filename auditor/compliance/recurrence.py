"""When maintenance windows open: Update Manager's `recurEvery` grammar, Windows time zones, windows in UTC.

A window's start, duration, expiry and recurrence are written in the configuration's own (Windows-named) time
zone. Local times are turned into UTC with `tzlocal`'s Windows -> IANA table and `zoneinfo`, date by date, so a
window follows its zone's daylight-saving changes. A local time that falls in a DST gap or overlap is read with
PEP 495 `fold=0` (the offset in force before the change). Nothing here guesses: an unknown zone or an
unparseable recurrence is a `ScheduleProblem`, and the window is left out of time-based figures.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tzlocal.windows_tz import win_tz

from auditor.compliance.summary import ConcurrencySummary, HourLoad, Peak
from auditor.timestamps import format_seconds, format_timestamp

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_WEEKDAY_INDEX = {name.lower(): index for index, name in enumerate(WEEKDAYS)}
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}
_ORDINAL_NAMES = {v: k for k, v in _ORDINALS.items()}
_UNIT = re.compile(r"^(\d*)(hour|day|week|month)s?$", re.IGNORECASE)
_MONTH_DAY = re.compile(r"^day(-?\d+)$", re.IGNORECASE)
_NTH = re.compile(r"^(first|second|third|fourth|last)\s+([a-z]+)(?:\s+offset(-?\d+))?$", re.IGNORECASE)
_LOCAL_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S")
_DURATION = re.compile(r"^(\d{1,2}):([0-5]\d)$")
MAX_OFFSET_DAYS = 6
HOURS_PER_WEEK = 168

Unit = Literal["Hour", "Day", "Week", "Month"]


class RecurrenceError(ValueError):
    """A `recurEvery` text this module cannot read."""


@dataclass(frozen=True)
class Recurrence:
    """A parsed `recurEvery`: every N hours, days, weeks (on some weekdays) or months (on days or an nth weekday)."""

    text: str
    unit: Unit
    every: int
    weekdays: tuple[int, ...] = ()
    """Week: the weekdays (Monday = 0); Month: the one weekday of an nth-weekday rule."""
    month_days: tuple[int, ...] = ()
    """Month: days of the month (1-31, -1 = the last day)."""
    nth: int = 0
    """Month: 1-4, or -1 for the last such weekday; 0 when not an nth-weekday rule."""
    offset_days: int = 0
    """Month, nth weekday: days added to that weekday (-6..6)."""

    def describe(self) -> str:
        """The recurrence in words, e.g. "every month on the second Tuesday, 2 days later"."""
        unit = self.unit.lower()
        head = f"every {unit}" if self.every == 1 else f"every {self.every} {unit}s"
        if self.unit == "Week" and self.weekdays:
            return f"{head} on {_and(WEEKDAYS[d] for d in self.weekdays)}"
        if self.unit == "Month" and self.month_days:
            return f"{head} on {_and('the last day' if d == -1 else f'day {d}' for d in self.month_days)}"
        if self.unit == "Month" and self.nth:
            text = f"{head} on the {_ORDINAL_NAMES[self.nth]} {WEEKDAYS[self.weekdays[0]]}"
            if self.offset_days:
                days = abs(self.offset_days)
                text += f", {days} day{'s' if days > 1 else ''} {'later' if self.offset_days > 0 else 'earlier'}"
            return text
        return head

    def matches(self, day: date, first: date) -> bool:
        """Whether a window of a schedule that began on `first` opens on local date `day` (not for hours)."""
        if day < first:
            return False
        if self.unit == "Day":
            return (day - first).days % self.every == 0
        if self.unit == "Week":
            weeks = ((day - timedelta(days=day.weekday())) - (first - timedelta(days=first.weekday()))).days // 7
            return weeks % self.every == 0 and day.weekday() in (self.weekdays or (first.weekday(),))
        base = day - timedelta(days=self.offset_days)
        if ((base.year - first.year) * 12 + base.month - first.month) % self.every:
            return False
        if self.nth:
            if base.weekday() != self.weekdays[0]:
                return False
            if self.nth == -1:
                return (base + timedelta(days=7)).month != base.month
            return (base.day - 1) // 7 + 1 == self.nth
        last = (base.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        days = self.month_days or (first.day,)
        return base.day in days or (-1 in days and base == last)

    def local_starts(self, first: datetime, start: date, end: date) -> Iterator[datetime]:
        """Local (naive) window starts on dates in [start, end), for a schedule whose first window is `first`."""
        if self.unit == "Hour":
            step = timedelta(hours=self.every)
            lowest = datetime.combine(start, datetime.min.time())
            skip = max(0, (lowest - first) // step) if lowest > first else 0
            moment = first + skip * step
            while moment.date() < end:
                if moment.date() >= start:
                    yield moment
                moment += step
            return
        day = max(start, first.date())
        while day < end:
            if self.matches(day, first.date()):
                yield datetime.combine(day, first.time())
            day += timedelta(days=1)


def _and(items: Iterator[str] | tuple[str, ...] | list[str]) -> str:
    words = list(items)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _weekday(name: str, text: str) -> int:
    index = _WEEKDAY_INDEX.get(name.strip().lower())
    if index is None:
        raise RecurrenceError(f"{text!r}: {name.strip()!r} is not a weekday (Monday to Sunday)")
    return index


def parse_recurrence(text: str) -> Recurrence:
    """Read a `recurEvery` such as `Day`, `2Days`, `1Week Saturday,Sunday`, `Month day15`, `1Month Second Tuesday`,
    `Month Last Sunday Offset-2` or `6Hours`; raises RecurrenceError for anything else."""
    head, _, rest = text.strip().partition(" ")
    match = _UNIT.match(head)
    if not match:
        raise RecurrenceError(f"{text!r}: expected a count and Hour(s), Day(s), Week(s) or Month(s) first")
    every = int(match.group(1) or 1)
    unit = cast(Unit, match.group(2).capitalize())
    if every < 1:
        raise RecurrenceError(f"{text!r}: the count must be at least 1")
    rest = rest.strip()
    if not rest:
        return Recurrence(text, unit, every)
    if unit in ("Hour", "Day"):
        raise RecurrenceError(f"{text!r}: {unit.lower()}ly recurrences take nothing after the unit")
    if unit == "Week":
        days = tuple(_weekday(name, text) for name in rest.split(","))
        if len(set(days)) != len(days):
            raise RecurrenceError(f"{text!r}: a weekday is listed twice")
        return Recurrence(text, unit, every, weekdays=tuple(sorted(days)))
    items = [item.strip() for item in rest.split(",")]
    if all(_MONTH_DAY.match(item) for item in items):
        month_days = tuple(int(_MONTH_DAY.match(item).group(1)) for item in items)  # type: ignore[union-attr]
        if any(not (1 <= d <= 31 or d == -1) for d in month_days) or len(set(month_days)) != len(month_days):
            raise RecurrenceError(f"{text!r}: month days must be distinct, from day1 to day31, or day-1 (the last)")
        return Recurrence(text, unit, every, month_days=tuple(sorted(month_days, key=lambda d: (d == -1, d))))
    nth = _NTH.match(" ".join(rest.split()))
    if not nth:
        raise RecurrenceError(f"{text!r}: expected month days (day15,day16) or '<First..Fourth|Last> <weekday>'")
    offset = int(nth.group(3) or 0)
    if abs(offset) > MAX_OFFSET_DAYS:
        raise RecurrenceError(f"{text!r}: the offset must be from -{MAX_OFFSET_DAYS} to {MAX_OFFSET_DAYS} days")
    return Recurrence(
        text,
        unit,
        every,
        weekdays=(_weekday(nth.group(2), text),),
        nth=_ORDINALS[nth.group(1).lower()],
        offset_days=offset,
    )


def resolve_zone(name: str) -> ZoneInfo | None:
    """The IANA zone of a Windows time-zone name (exact, else ignoring case); None when it is not known."""
    iana = win_tz.get(name)
    if iana is None:
        folded = {key.lower(): value for key, value in win_tz.items()}
        iana = folded.get(name.strip().lower())
    if iana is None:
        return None
    try:
        return ZoneInfo(iana)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def parse_local(text: str) -> datetime | None:
    """A maintenance window's local `yyyy-MM-dd HH:mm` (seconds optional) as a naive datetime; None if malformed."""
    for fmt in _LOCAL_FORMATS:
        try:
            return datetime.strptime(text.strip(), fmt)
        except ValueError:
            continue
    return None


def parse_duration(text: str) -> int | None:
    """A window's `HH:mm` duration in minutes; None when malformed or zero."""
    match = _DURATION.match(text.strip())
    if not match:
        return None
    minutes = int(match.group(1)) * 60 + int(match.group(2))
    return minutes or None


def to_utc(local: datetime, zone: ZoneInfo) -> datetime | None:
    """A naive local time in `zone` as UTC (fold=0); None when it is beyond what datetime can hold."""
    try:
        return local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    except OverflowError:
        return None


@dataclass(frozen=True)
class Window:
    """A parsed maintenance window: when it first opens (local), how long it lasts, how it recurs, in which zone."""

    first: datetime
    """Local startDateTime (naive)."""
    minutes: int
    recurrence: Recurrence
    zone: ZoneInfo
    expires: datetime | None
    """expirationDateTime in UTC; None when it never expires in practice (beyond year 9999 in UTC)."""

    def openings(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """(open, close) in UTC of every window overlapping [start, end) that opens before it expires."""
        span = timedelta(minutes=self.minutes) + timedelta(days=2)
        first_day = (start - span).astimezone(self.zone).date()
        last_day = (end + timedelta(days=2)).astimezone(self.zone).date()
        found = []
        for local in self.recurrence.local_starts(self.first, first_day, last_day):
            opens = to_utc(local, self.zone)
            if opens is None or (self.expires is not None and opens >= self.expires):
                continue
            closes = opens + timedelta(minutes=self.minutes)
            if opens < end and closes > start:
                found.append((opens, closes))
        return found


def week_start(as_of: datetime) -> datetime:
    """Monday 00:00 UTC of the week holding the as-of time."""
    utc = as_of.astimezone(UTC)
    return datetime(utc.year, utc.month, utc.day, tzinfo=UTC) - timedelta(days=utc.weekday())


def week_hours(window: Window, monday: datetime) -> frozenset[int]:
    """Hours of the week (0 = Monday 00:00-01:00 UTC) that some opening of the window overlaps."""
    end = monday + timedelta(hours=HOURS_PER_WEEK)
    hours: set[int] = set()
    for opens, closes in window.openings(monday, end):
        first = max(0, int((opens - monday) // timedelta(hours=1)))
        last = min(HOURS_PER_WEEK, -int(-(closes - monday) // timedelta(hours=1)))
        hours.update(range(first, last))
    return frozenset(hours)


def hour_label(monday: datetime, hour: int) -> str:
    """An hour of the week as its UTC start, e.g. `2026-10-31T22:00:00Z`."""
    return format_seconds(monday + timedelta(hours=hour))


CONCURRENCY_RULE = (
    "For each hour of the as-of week (Monday 00:00 UTC onwards, 168 hours), the distinct machines whose maintenance "
    "configurations have a window overlapping that hour. Local starts are converted to UTC with the configuration's "
    "Windows time zone; windows opening at or after the expiry are left out, as are configurations whose "
    "recurrence, start, duration or time zone cannot be read (reported under problems)."
)


@dataclass(frozen=True)
class Concurrency:
    """Machines scheduled per hour of the as-of week (UTC)."""

    week_start: datetime
    limit: int
    series: tuple[int, ...]
    """168 counts; index 0 is Monday 00:00-01:00 UTC."""
    active: tuple[tuple[str, ...], ...]
    """Per hour, the names of the configurations with a window open then (and at least one machine)."""

    @property
    def peaks(self) -> list[int]:
        """Hours with more machines than the limit."""
        return [hour for hour, count in enumerate(self.series) if count > self.limit]

    def recommendation(self) -> str | None:
        """What to do about the peaks, or None when there are none."""
        peaks = self.peaks
        if not peaks:
            return None
        top = max(peaks, key=lambda h: (self.series[h], -h))
        names = sorted({name for hour in peaks for name in self.active[hour]})
        return (
            f"{len(peaks)} hour(s) of the week have more than {self.limit} machines scheduled (peak "
            f"{self.series[top]} at {hour_label(self.week_start, top)}); stagger the start times of "
            f"{', '.join(names)} or split their scopes"
        )


def concurrency_summary(found: Concurrency) -> ConcurrencySummary:
    """The summary's `schedules.concurrency` block."""
    series, start = found.series, found.week_start
    top = max(range(len(series)), key=lambda h: (series[h], -h))
    return ConcurrencySummary(
        rule=CONCURRENCY_RULE,
        week_start=format_timestamp(start),
        limit=found.limit,
        series=series,
        peak=HourLoad(hour=top, start=hour_label(start, top), machines=series[top]),
        peaks=tuple(
            Peak(hour=h, start=hour_label(start, h), machines=series[h], configurations=found.active[h])
            for h in found.peaks
        ),
        recommendation=found.recommendation(),
    )


def concurrency(
    windows: Mapping[str, tuple[str, Window]], covered: Mapping[str, set[str]], *, as_of: datetime, limit: int
) -> Concurrency:
    """CONCURRENCY_RULE. `windows` maps configuration id -> (name, window); `covered` maps machine id -> the
    configuration ids covering it. Machines are grouped by their set of configurations, so the cost is per set."""
    monday = week_start(as_of)
    hours = {config_id: week_hours(window, monday) for config_id, (_, window) in windows.items()}
    combos = Counter(frozenset(c for c in configs if c in hours) for configs in covered.values())
    series = [0] * HOURS_PER_WEEK
    active: list[set[str]] = [set() for _ in range(HOURS_PER_WEEK)]
    for combo, machines in combos.items():
        union: set[int] = set()
        for config_id in combo:
            union |= hours[config_id]
            for hour in hours[config_id]:
                active[hour].add(windows[config_id][0])
        for hour in union:
            series[hour] += machines
    return Concurrency(monday, limit, tuple(series), tuple(tuple(sorted(a)) for a in active))
