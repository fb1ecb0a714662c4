"""The shared catalog of patch identities that the synthetic fleet's machines report as pending.

A machine's pending list is not random noise: each catalog *family* (the monthly cumulative update, Defender
definitions, one Linux package, ...) offers only its newest release published before the assessment, and that
release is pending when the machine was last patched before it was published. So well-patched machines show a
definition update or two, neglected ones show a long list, and Patch Tuesday clustering falls out of the dates.

The catalog depends on `captured_at` only, never on the seed: the same KB appears on many machines.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import count

from auditor.snapshots._fleet_catalog import PRODUCTS
from auditor.snapshots._fleet_util import DAY, HOUR, stable_guid

WINDOW_DAYS = 125
"""How far back the catalog reaches; publishedDateTime spreads over roughly the last 120 days."""


@dataclass(frozen=True, slots=True)
class PatchDef:
    """One patch identity, as `softwarepatches` rows describe it."""

    patch_id: str
    name: str
    kb: str
    """Windows KB number without the `KB` prefix; "" on Linux."""
    version: str
    """Linux package version; "" on Windows."""
    classifications: tuple[str, ...]
    msrc: str
    published: int
    """Epoch seconds. Written as publishedDateTime on Windows; Linux rows carry no date at all."""
    reboot: str


@dataclass(slots=True)
class Family:
    """Releases that supersede one another (a package, the monthly CU); a standalone update is a family of one."""

    key: str
    applicability: float
    """Fraction of machines with this product that the family applies to."""
    releases: list[PatchDef]
    times: list[int] = field(default_factory=list)

    def latest(self, at: int) -> PatchDef | None:
        """The newest release published at or before `at`."""
        if not self.times:
            self.releases.sort(key=lambda p: p.published)
            self.times = [p.published for p in self.releases]
        pos = bisect_right(self.times, at)
        return self.releases[pos - 1] if pos else None


@dataclass(slots=True)
class ProductCatalog:
    """All families offered to one OS product, with candidate lists memoised per hour."""

    families: list[Family]
    _by_hour: dict[int, list[tuple[float, PatchDef]]] = field(default_factory=dict)

    def candidates(self, at: int) -> list[tuple[float, PatchDef]]:
        """(applicability, newest release) for every family with a release at or before the hour of `at`."""
        hour = at - at % HOUR
        found = self._by_hour.get(hour)
        if found is None:
            found = []
            for family in self.families:
                latest = family.latest(hour)
                if latest is not None:
                    found.append((family.applicability, latest))
            self._by_hour[hour] = found
        return found


def _epoch(day: date, hour: int = 0) -> int:
    return int(datetime(day.year, day.month, day.day, hour, tzinfo=UTC).timestamp())


def _nth_weekday(year: int, month: int, weekday: int, nth: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (nth - 1))


def _months(now: int) -> list[tuple[int, int]]:
    """(year, month) of every Patch Tuesday inside the catalog window, oldest first."""
    start = datetime.fromtimestamp(now - WINDOW_DAYS * DAY, UTC)
    year, month = start.year, start.month
    out: list[tuple[int, int]] = []
    while True:
        release = _epoch(_nth_weekday(year, month, 1, 2), 17)
        if release > now:
            break
        if release >= now - WINDOW_DAYS * DAY:
            out.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


class _Builder:
    """Accumulates families; KB numbers come from one counter so every catalog build is identical."""

    def __init__(self, now: int) -> None:
        self.now = now
        self.kbs = count(5_062_011, 13)

    def kb(self) -> str:
        return str(next(self.kbs))

    def windows(self, display: str, legacy: bool) -> list[Family]:
        now = self.now
        fams: list[Family] = []
        months = _months(now)

        def one(key: str, applic: float, *defs: PatchDef) -> None:
            fams.append(Family(key, applic, [d for d in defs if d.published <= now]))

        def win(name: str, kb: str, classes: tuple[str, ...], msrc: str, published: int, reboot: str) -> PatchDef:
            return PatchDef(stable_guid(display, name), name, kb, "", classes, msrc, published, reboot)

        cu, netfx, preview, updates = [], [], [], []
        for year, month in months:
            ym = f"{year}-{month:02d}"
            tuesday = _epoch(_nth_weekday(year, month, 1, 2), 17)
            kb = self.kb()
            title = (
                f"{ym} Security Monthly Quality Rollup for {display} for x64-based Systems (KB{kb})"
                if legacy
                else f"{ym} Cumulative Update for {display} for x64-based Systems (KB{kb})"
            )
            cu.append(win(title, kb, ("Security",), "Critical", tuesday, "CanRequestReboot"))
            kb = self.kb()
            netfx.append(
                win(
                    f"{ym} Cumulative Update for .NET Framework 3.5, 4.8 and 4.8.1 for {display} for x64 (KB{kb})",
                    kb,
                    ("Security",),
                    "Important",
                    tuesday + HOUR,
                    "CanRequestReboot",
                )
            )
            kb = self.kb()
            preview.append(
                win(
                    f"{ym} Cumulative Update Preview for {display} for x64-based Systems (KB{kb})",
                    kb,
                    ("Updates",),
                    "",
                    _epoch(_nth_weekday(year, month, 1, 4), 17),
                    "CanRequestReboot",
                )
            )
            kb = self.kb()
            updates.append(
                win(
                    f"Update for {display} for x64-based Systems (KB{kb})",
                    kb,
                    ("Updates",),
                    "",
                    tuesday + 2 * HOUR,
                    "NeverReboots",
                )
            )
        one("cu", 1.0, *cu)
        one("netfx", 0.85, *netfx)
        if not legacy:
            one("preview", 0.5, *preview)
        for i, upd in enumerate(updates):
            one(f"update-{i}", 0.35, upd)
        if len(months) >= 3:
            for i, (year, month) in enumerate(months[-3::2]):
                kb = self.kb()
                ssu = win(
                    f"{year}-{month:02d} Servicing Stack Update for {display} for x64-based Systems (KB{kb})",
                    kb,
                    ("Critical", "Security") if i == 0 else ("Critical",),
                    "Critical",
                    _epoch(_nth_weekday(year, month, 1, 2), 18),
                    "NeverReboots",
                )
                one(f"ssu-{i}", 0.8, ssu)
            year, month = months[-2]
            kb = self.kb()
            oob_day = _nth_weekday(year, month, 1, 2) + timedelta(days=9)
            one(
                "oob",
                0.7,
                win(
                    f"{year}-{month:02d} Out-of-band Update for {display} for x64-based Systems (KB{kb})",
                    kb,
                    ("Critical", "Security"),
                    "Important",
                    _epoch(oob_day, 19),
                    "AlwaysRequiresReboot",
                ),
            )
            kb = self.kb()
            one(
                "sql2019",
                0.15,
                win(
                    f"Security Update for SQL Server 2019 RTM GDR (KB{kb})",
                    kb,
                    ("Security",),
                    "Important",
                    _epoch(_nth_weekday(*months[-3], 1, 2), 17),
                    "CanRequestReboot",
                ),
            )
        kb = self.kb()
        oldest = _epoch(_nth_weekday(*months[0], 1, 2), 17) if months else now - 100 * DAY
        one(
            "vcredist",
            0.3,
            win(
                f"Security Update for Microsoft Visual C++ 2015-2022 Redistributable (KB{kb})",
                kb,
                ("Security",),
                "Low",
                oldest + 20 * DAY,
                "NeverReboots",
            ),
        )
        kb = self.kb()
        one(
            "rsat",
            0.1,
            win(
                f"Update for Remote Server Administration Tools for {display} (KB{kb})",
                kb,
                ("Tools",),
                "",
                oldest + 35 * DAY,
                "NeverReboots",
            ),
        )
        kb = self.kb()
        one(
            "enablement",
            0.08,
            win(
                f"Feature Update Enablement Package for {display} (KB{kb})",
                kb,
                ("FeaturePack",),
                "",
                oldest + 50 * DAY,
                "AlwaysRequiresReboot",
            ),
        )
        one(
            "sql2016sp3",
            0.04,
            win(
                "Microsoft SQL Server 2016 Service Pack 3 (KB5003279)",
                "5003279",
                ("ServicePack",),
                "",
                oldest + 3 * DAY,
                "CanRequestReboot",
            ),
        )
        return fams

    def shared_windows(self) -> list[Family]:
        """Families published for every Windows Server version: Defender definitions, MSRT, Edge."""
        now = self.now
        today = datetime.fromtimestamp(now, UTC).date()
        defender: list[PatchDef] = []
        for back in range(WINDOW_DAYS):
            day = today - timedelta(days=back)
            ordinal = day.toordinal()
            version = f"1.{419 + (ordinal % 1000) // 30}.{(ordinal * 37) % 900 + 100}.0"
            name = (
                "Security Intelligence Update for Microsoft Defender Antivirus - KB2267602 "
                f"(Version {version}) - Current Channel (Broad)"
            )
            defender.append(
                PatchDef(
                    stable_guid("defender", version),
                    name,
                    "2267602",
                    "",
                    ("Definition",),
                    "",
                    _epoch(day, 3),
                    "NeverReboots",
                )
            )
        msrt: list[PatchDef] = []
        for year, month in _months(now):
            version = f"5.{100 + (year - 2022) * 12 + month}"
            name = f"Windows Malicious Software Removal Tool x64 - v{version} (KB890830)"
            msrt.append(
                PatchDef(
                    stable_guid("msrt", version),
                    name,
                    "890830",
                    "",
                    ("UpdateRollup",),
                    "",
                    _epoch(_nth_weekday(year, month, 1, 2), 17),
                    "CanRequestReboot",
                )
            )
        edge: list[PatchDef] = []
        for back in range(0, WINDOW_DAYS, 7):
            day = today - timedelta(days=back + 2)
            # Edge ships a major version every four weeks (130 in October 2024) and has no KB number.
            major = 130 + (day - date(2024, 10, 17)).days // 28
            build = f"{major}.0.{2800 + day.toordinal() % 97}.{day.day + 30}"
            name = f"Microsoft Edge-Stable Channel Version {major} Update for x64 based Editions (Build {build})"
            edge.append(
                PatchDef(
                    stable_guid("edge", build), name, "", "", ("Security",), "Moderate", _epoch(day, 20), "NeverReboots"
                )
            )
        return [
            Family("defender", 0.35, [d for d in defender if d.published <= now]),
            Family("msrt", 0.8, [d for d in msrt if d.published <= now]),
            Family("edge", 0.35, [d for d in edge if d.published <= now]),
        ]


# fmt: off
_LINUX_PACKAGES: dict[str, tuple[tuple[str, float, float, int], ...]] = {
    # package name, applicability, chance a release is a security fix, typical releases in the window
    "deb": (
        ("openssl", 1.0, 0.9, 2), ("libssl3", 1.0, 0.9, 2), ("curl", 0.9, 0.8, 2), ("libcurl4", 0.9, 0.8, 2),
        ("openssh-server", 0.95, 0.85, 1), ("openssh-client", 1.0, 0.85, 1), ("sudo", 1.0, 0.8, 1),
        ("libc6", 1.0, 0.7, 1), ("systemd", 1.0, 0.4, 2), ("python3.10", 0.8, 0.6, 1), ("bash", 1.0, 0.3, 1),
        ("tzdata", 1.0, 0.0, 2), ("vim", 0.7, 0.6, 2), ("git", 0.5, 0.7, 1), ("libxml2", 0.9, 0.8, 1),
        ("libnss3", 0.6, 0.8, 1), ("linux-azure", 1.0, 0.9, 4), ("linux-image-azure", 1.0, 0.9, 4),
        ("apt", 1.0, 0.2, 1), ("gnupg", 0.9, 0.6, 1), ("ca-certificates", 1.0, 0.3, 1),
        ("libgnutls30", 0.9, 0.8, 1), ("libsqlite3-0", 0.8, 0.6, 1), ("wget", 0.8, 0.6, 1),
        ("rsync", 0.6, 0.6, 1), ("libexpat1", 0.9, 0.8, 1), ("zlib1g", 1.0, 0.7, 1), ("snapd", 0.7, 0.3, 2),
        ("cloud-init", 1.0, 0.1, 1), ("walinuxagent", 1.0, 0.1, 2), ("libpam-modules", 1.0, 0.6, 1),
        ("libkrb5-3", 0.9, 0.7, 1),
    ),
    "rpm": (
        ("openssl", 1.0, 0.9, 2), ("openssl-libs", 1.0, 0.9, 2), ("curl", 0.9, 0.8, 2), ("libcurl", 0.9, 0.8, 2),
        ("openssh-server", 0.95, 0.85, 1), ("openssh-clients", 1.0, 0.85, 1), ("sudo", 1.0, 0.8, 1),
        ("glibc", 1.0, 0.7, 2), ("systemd", 1.0, 0.4, 2), ("python3", 0.8, 0.6, 1), ("bash", 1.0, 0.3, 1),
        ("tzdata", 1.0, 0.0, 2), ("vim-minimal", 0.7, 0.6, 1), ("git", 0.5, 0.7, 1), ("libxml2", 0.9, 0.8, 1),
        ("nss", 0.9, 0.8, 1), ("kernel", 1.0, 0.9, 4), ("kernel-core", 1.0, 0.9, 4), ("dnf", 1.0, 0.2, 1),
        ("gnupg2", 0.9, 0.6, 1), ("ca-certificates", 1.0, 0.3, 1), ("gnutls", 0.9, 0.8, 1),
        ("sqlite-libs", 0.8, 0.6, 1), ("wget", 0.6, 0.6, 1), ("rsync", 0.6, 0.6, 1), ("expat", 0.9, 0.8, 1),
        ("zlib", 1.0, 0.7, 1), ("cloud-init", 1.0, 0.1, 1), ("WALinuxAgent", 1.0, 0.1, 2), ("pam", 1.0, 0.6, 1),
        ("krb5-libs", 0.9, 0.7, 1), ("microcode_ctl", 0.8, 0.5, 1),
    ),
    "suse": (
        ("openssl-3", 1.0, 0.9, 2), ("libopenssl3", 1.0, 0.9, 2), ("curl", 0.9, 0.8, 2), ("libcurl4", 0.9, 0.8, 2),
        ("openssh", 1.0, 0.85, 1), ("sudo", 1.0, 0.8, 1), ("glibc", 1.0, 0.7, 2), ("systemd", 1.0, 0.4, 2),
        ("python3", 0.8, 0.6, 1), ("bash", 1.0, 0.3, 1), ("timezone", 1.0, 0.0, 2), ("vim", 0.7, 0.6, 1),
        ("libxml2-2", 0.9, 0.8, 1), ("mozilla-nss", 0.9, 0.8, 1), ("kernel-default", 1.0, 0.9, 4),
        ("zypper", 1.0, 0.2, 1), ("libzypp", 1.0, 0.2, 1), ("gpg2", 0.9, 0.6, 1), ("ca-certificates", 1.0, 0.3, 1),
        ("libsqlite3-0", 0.8, 0.6, 1), ("wget", 0.7, 0.6, 1), ("libexpat1", 0.9, 0.8, 1), ("libz1", 1.0, 0.7, 1),
        ("cloud-init", 1.0, 0.1, 1), ("python-azure-agent", 1.0, 0.1, 2), ("pam", 1.0, 0.6, 1),
        ("krb5", 0.9, 0.7, 1),
    ),
}
_UPSTREAM = {
    "openssl": "3.0.2", "libssl3": "3.0.2", "openssl-libs": "3.0.7", "openssl-3": "3.1.4", "libopenssl3": "3.1.4",
    "curl": "7.81.0", "libcurl4": "7.81.0", "libcurl": "7.76.1", "openssh-server": "8.9p1", "openssh-client": "8.9p1",
    "openssh-clients": "8.7p1", "openssh": "9.6p1", "sudo": "1.9.9", "libc6": "2.35", "glibc": "2.34",
    "systemd": "249.11", "bash": "5.1", "tzdata": "2024a", "timezone": "2024a", "vim": "8.2.3995", "git": "2.34.1",
    "libxml2": "2.9.13", "libxml2-2": "2.10.3", "gnupg": "2.2.27", "gnupg2": "2.3.3", "zlib1g": "1.2.11",
    "zlib": "1.2.11", "libz1": "1.2.13", "python3": "3.9.18", "python3.10": "3.10.12", "linux-azure": "5.15.0.1075",
    "linux-image-azure": "5.15.0.1075", "kernel": "5.14.0", "kernel-core": "5.14.0", "kernel-default": "5.14.21",
    "cloud-init": "24.1.3", "walinuxagent": "2.2.46", "WALinuxAgent": "2.7.0.6", "python-azure-agent": "2.9.1.1",
    "ca-certificates": "20240203", "krb5-libs": "1.21.1", "libkrb5-3": "1.19.2", "sqlite-libs": "3.34.1",
}
# fmt: on
"""Plausible upstream versions for the packages people recognise; the rest get a made-up one."""
_LINUX_FAMILY = {"ubuntu2004": "deb", "ubuntu2204": "deb", "rhel8": "rpm", "rhel9": "rpm", "sles15": "suse"}


def _linux_version(distro: str, rng: random.Random, upstream: str, release: int) -> str:
    if distro == "ubuntu2204":
        return f"{upstream}-0ubuntu1.{release}"
    if distro == "ubuntu2004":
        return f"{upstream}-1ubuntu0.{release}"
    if distro == "rhel8":
        return f"{upstream}-{release}.el8_10"
    if distro == "rhel9":
        return f"{upstream}-{release}.el9_4"
    return f"{upstream}-150500.{rng.randint(3, 60)}.{release}.1"


def _linux(distro: str, now: int) -> list[Family]:
    rng = random.Random(f"catalog:{distro}")
    label = PRODUCTS[distro].display
    families: list[Family] = []
    for package, applicability, security, typical in _LINUX_PACKAGES[_LINUX_FAMILY[distro]]:
        upstream = _UPSTREAM.get(package) or f"{rng.randint(1, 4)}.{rng.randint(0, 30)}.{rng.randint(0, 12)}"
        first = 17 if package == "openssl" and distro == "ubuntu2204" else rng.randint(1, 40)
        releases: list[PatchDef] = []
        n = max(0, typical + rng.choice((-1, 0, 0, 1)))
        times = sorted(now - rng.randint(2 * HOUR, (WINDOW_DAYS - 5) * DAY) for _ in range(n))
        for k, published in enumerate(times):
            version = _linux_version(distro, rng, upstream, first + k + 1)
            classes = ("Security",) if rng.random() < security else ("Other",)
            patch_id = f"{package}_{version}_{label}"
            releases.append(PatchDef(patch_id, package, "", version, classes, "", published, ""))
        if releases:
            families.append(Family(package, applicability, releases))
    return families


def build_catalog(now: int) -> dict[str, ProductCatalog]:
    """Catalog key (see `Product.catalog`) -> the families its machines can have pending, as of `now`."""
    builder = _Builder(now)
    shared = builder.shared_windows()
    catalogs: dict[str, ProductCatalog] = {}
    for key, display in (
        ("ws2012r2", "Windows Server 2012 R2"),
        ("ws2016", "Windows Server 2016"),
        ("ws2019", "Windows Server 2019"),
        ("ws2022", "Windows Server 2022"),
        ("ws2025", "Windows Server 2025"),
    ):
        legacy = key == "ws2012r2"
        own = builder.windows(display, legacy)
        extra = [f for f in shared if f.key == "msrt"] if legacy else shared
        catalogs[key] = ProductCatalog(own + extra)
    for distro in _LINUX_FAMILY:
        catalogs[distro] = ProductCatalog(_linux(distro, now))
    return catalogs
