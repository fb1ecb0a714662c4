"""Maintenance configurations of the synthetic tenant: their windows, patch settings and recent schedule runs.

Schedule runs are computed from each window's recurrence and time zone (with the EU and US daylight-saving rules
built in, so results do not depend on the host's tz database), keeping the most recent runs inside the history window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from auditor.jsonvalue import JsonObject
from auditor.snapshots._fleet_util import DAY, MINUTE, derive, guid

HISTORY_DAYS = 45
"""Installation runs and schedule runs reach this far back before captured_at."""
MAX_SCHEDULE_RUNS = 6
"""Schedule runs kept per configuration (the most recent ones), so a daily schedule yields at most six per machine."""


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One run of a maintenance schedule: what `maintenanceconfigurations/applyupdates` records."""

    start: int
    end: int
    """Start plus the window's duration (epoch seconds)."""
    correlation_id: str
    run_name: str
    """`yyyyMMddHHmmss` of the start, used as the applyUpdates resource name."""


_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_NTH = {1: "First", 2: "Second", 3: "Third", 4: "Fourth", -1: "Last"}


@dataclass(frozen=True, slots=True)
class Recurrence:
    """A maintenance window's `recurEvery`: every day, one weekday a week, or the nth weekday of a month."""

    unit: str
    """`Day`, `Week` or `Month`."""
    weekday: int = 0
    """Monday = 0, as `date.weekday()`."""
    nth: int = 0
    """1-4, or -1 for the last such weekday of the month."""

    def matches(self, day: date) -> bool:
        if self.unit == "Day":
            return True
        if day.weekday() != self.weekday:
            return False
        if self.unit == "Week":
            return True
        if self.nth == -1:
            return (day + timedelta(days=7)).month != day.month
        return (day.day - 1) // 7 + 1 == self.nth

    def text(self) -> str:
        if self.unit == "Day":
            return "Day"
        if self.unit == "Week":
            return f"1Week {_WEEKDAYS[self.weekday]}"
        return f"1Month {_NTH[self.nth]} {_WEEKDAYS[self.weekday]}"


def _last_sunday(year: int, month: int) -> date:
    day = date(year, month + 1, 1) - timedelta(days=1) if month < 12 else date(year, 12, 31)
    return day - timedelta(days=(day.weekday() + 1) % 7)


def _utc_offset_minutes(time_zone: str, day: date) -> int:
    """The zone's UTC offset on a local date (DST switches resolved to the day, which is all schedules need)."""
    if time_zone == "UTC":
        return 0
    if time_zone in ("W. Europe Standard Time", "GMT Standard Time"):
        base = 60 if time_zone.startswith("W.") else 0
        summer = _last_sunday(day.year, 3) <= day < _last_sunday(day.year, 10)
        return base + (60 if summer else 0)
    if time_zone == "Eastern Standard Time":
        march = date(day.year, 3, 1)
        start = march + timedelta(days=(6 - march.weekday()) % 7 + 7)
        november = date(day.year, 11, 1)
        end = november + timedelta(days=(6 - november.weekday()) % 7)
        return -300 + (60 if start <= day < end else 0)
    raise ValueError(f"unknown time zone {time_zone!r}")


@dataclass(frozen=True, slots=True)
class ConfigSpec:
    """How one maintenance configuration of the synthetic tenant is set up."""

    name: str
    recur: Recurrence
    start: str
    time_zone: str
    duration: str
    expires: str
    reboot: str
    windows: tuple[str, ...] | None
    """Windows classifications to include; None = no windowsParameters."""
    linux: tuple[str, ...] | None
    exceeded: float
    """Chance that a run overruns the window; one configuration's window is deliberately too short."""
    os_types: tuple[str, ...] = ("Windows", "Linux")
    kb_include: tuple[str, ...] = ()
    kb_exclude: tuple[str, ...] = ()
    mask_exclude: tuple[str, ...] = ()
    tasks: bool = False

    @property
    def minutes(self) -> int:
        hours, minutes = self.duration.split(":")
        return int(hours) * 60 + int(minutes)

    def classes(self, os: str) -> tuple[str, ...] | None:
        """The classifications a run installs on `os`; None when the configuration has no parameters for it."""
        return self.windows if os == "Windows" else self.linux

    def excludes(self, os: str) -> bool:
        """Whether the configuration's parameters for `os` exclude KB numbers (Windows) or package masks (Linux)."""
        if os == "Windows":
            return self.windows is not None and bool(self.kb_exclude)
        return self.linux is not None and bool(self.mask_exclude)


@dataclass(frozen=True, slots=True)
class MaintenanceConfig:
    """A maintenance configuration of the synthetic tenant; its ARG properties are written from `spec`."""

    name: str
    id: str
    subscription_id: str
    resource_group: str
    location: str
    spec: ConfigSpec
    """Its window, what it installs, and how often its runs overrun."""
    expired: bool
    occurrences: tuple[Occurrence, ...]
    """The most recent schedule runs in the history window (empty when expired)."""

    def maintenance_window(self) -> JsonObject:
        """`properties.maintenanceWindow` as written."""
        return {
            "startDateTime": self.spec.start,
            "expirationDateTime": self.spec.expires,
            "duration": self.spec.duration,
            "timeZone": self.spec.time_zone,
            "recurEvery": self.spec.recur.text(),
        }

    def install_patches(self) -> JsonObject:
        """`properties.installPatches` as written."""
        spec = self.spec
        patches: JsonObject = {"rebootSetting": spec.reboot}
        if spec.windows is not None:
            patches["windowsParameters"] = {
                "classificationsToInclude": list(spec.windows),
                "kbNumbersToInclude": list(spec.kb_include),
                "kbNumbersToExclude": list(spec.kb_exclude),
                "excludeKbsRequiringReboot": False,
            }
        if spec.linux is not None:
            patches["linuxParameters"] = {
                "classificationsToInclude": list(spec.linux),
                "packageNameMasksToInclude": [],
                "packageNameMasksToExclude": list(spec.mask_exclude),
            }
        if spec.tasks:
            patches["tasks"] = _tasks(self.subscription_id)
        return patches


_ALL_WINDOWS = ("Critical", "Security", "UpdateRollup", "FeaturePack", "ServicePack", "Definition", "Tools", "Updates")
_CRITICAL_SECURITY = ("Critical", "Security")
_FOREVER = "9999-12-31 23:59:59"
_SPECS = (
    ConfigSpec(
        "cfg-weekly-sat", Recurrence("Week", weekday=5), "2026-01-03 22:00", "W. Europe Standard Time", "03:55",
        _FOREVER, "IfRequired", ("Critical", "Security", "UpdateRollup", "Definition"), _CRITICAL_SECURITY,
        exceeded=0.08, kb_exclude=("KB5034439",), mask_exclude=("docker*", "kube*"), tasks=True,
    ),
    ConfigSpec(
        "cfg-monthly-prod", Recurrence("Month", weekday=1, nth=2), "2026-01-13 20:00", "Eastern Standard Time",
        "04:00", "2030-12-31 23:59:59", "IfRequired", _CRITICAL_SECURITY, _CRITICAL_SECURITY, exceeded=0.08,
        tasks=True,
    ),
    ConfigSpec(
        "cfg-daily-dev", Recurrence("Day"), "2026-01-01 05:00", "UTC", "02:00", _FOREVER, "Always", _ALL_WINDOWS,
        ("Critical", "Security", "Other"), exceeded=0.05,
    ),
    ConfigSpec(
        # The window is too short for its machines: a third of its runs overrun.
        "cfg-weekly-sun-linux", Recurrence("Week", weekday=6), "2026-02-01 01:00", "UTC", "01:30", _FOREVER,
        "IfRequired", None, ("Critical", "Security", "Other"), exceeded=0.35, os_types=("Linux",),
        mask_exclude=("kernel*", "linux-image*"),
    ),
    ConfigSpec(
        "cfg-expired-legacy", Recurrence("Week", weekday=6), "2024-03-03 01:00", "GMT Standard Time", "03:00",
        "2026-06-30 23:59:59", "Always", _CRITICAL_SECURITY, _CRITICAL_SECURITY, exceeded=0.1,
    ),
    ConfigSpec(
        # Assigned to no machine at all.
        "cfg-monthly-sql", Recurrence("Month", weekday=6, nth=-1), "2026-01-25 02:00", "Eastern Standard Time",
        "05:00", _FOREVER, "IfRequired", ("Critical", "Security", "ServicePack"), None, exceeded=0.05,
        os_types=("Windows",), kb_include=("KB5003279",), tasks=True,
    ),
)  # fmt: skip


def _occurrences(seed: int, spec: ConfigSpec, now: int) -> tuple[Occurrence, ...]:
    first = datetime.strptime(spec.start, "%Y-%m-%d %H:%M")
    found: list[Occurrence] = []
    today = datetime.fromtimestamp(now, UTC).date()
    for back in range(HISTORY_DAYS + 1, -1, -1):
        day = today - timedelta(days=back)
        if day < first.date() or not spec.recur.matches(day):
            continue
        local = datetime(day.year, day.month, day.day, first.hour, first.minute, tzinfo=UTC)
        begin = int(local.timestamp()) - _utc_offset_minutes(spec.time_zone, day) * MINUTE
        if now - HISTORY_DAYS * DAY <= begin <= now - 15 * MINUTE:
            rng = derive(seed, "occurrence", spec.name, begin)
            run_name = datetime.fromtimestamp(begin, UTC).strftime("%Y%m%d%H%M%S")
            found.append(Occurrence(begin, begin + spec.minutes * MINUTE, guid(rng), run_name))
    return tuple(found[-MAX_SCHEDULE_RUNS:])


def _tasks(subscription_id: str) -> JsonObject:
    account = f"/subscriptions/{subscription_id}/resourceGroups/rg-automation-weu/providers/Microsoft.Automation"
    return {
        "preTasks": [
            {
                "source": f"{account}/automationAccounts/aa-patching/runbooks/Stop-AppServices",
                "parameters": {"ServiceName": "W3SVC"},
                "taskScope": "Resource",
            }
        ],
        "postTasks": [
            {
                "source": f"{account}/automationAccounts/aa-patching/runbooks/Send-PatchReport",
                "parameters": None,
                "taskScope": "Global",
            }
        ],
    }


def build_configs(seed: int, subscription_id: str, now: int) -> tuple[MaintenanceConfig, ...]:
    """The tenant's maintenance configurations, all in `subscription_id`'s rg-patching-weu, with their recent runs."""
    rg = "rg-patching-weu"
    configs = []
    for spec in _SPECS:
        expires = datetime.strptime(spec.expires, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        expired = expires.timestamp() < now
        configs.append(
            MaintenanceConfig(
                name=spec.name,
                id=f"/subscriptions/{subscription_id}/resourceGroups/{rg}/providers/Microsoft.Maintenance/"
                f"maintenanceConfigurations/{spec.name}",
                subscription_id=subscription_id,
                resource_group=rg,
                location="westeurope",
                spec=spec,
                expired=expired,
                occurrences=() if expired else _occurrences(seed, spec, now),
            )
        )
    return tuple(configs)
