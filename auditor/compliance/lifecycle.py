"""OS lifecycle: which machines run an operating system past its vendor's end of support, and which of those an
active Extended Security Update licence still covers.

The table of end-of-support dates ships with the package (`os_lifecycle.toml`, with its sources and the date it
was last checked). An OS the table does not know is counted as unknown, never guessed.
"""

from __future__ import annotations

import re
import tomllib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa

from auditor.compliance import columns
from auditor.compliance.summary import LifecycleSummary, OsLifecycleRow

QUERY = "machine_lifecycle"
TABLE_PATH = Path(__file__).with_name("os_lifecycle.toml")
UNKNOWN_OS = "(unknown)"


@dataclass(frozen=True)
class OsRelease:
    """One row of the lifecycle table."""

    name: str
    end_of_support: date
    """The last day the vendor supports it without a paid extension."""
    patterns: tuple[re.Pattern[str], ...]


@dataclass(frozen=True)
class LifecycleTable:
    """The shipped table: releases in match order, and when it was last checked."""

    releases: tuple[OsRelease, ...]
    last_checked: str

    def identify(self, reported: str, image: str) -> OsRelease | None:
        """The first release whose patterns match what the machine reports, else its image; None when unknown."""
        for text in (normalise(reported), normalise(image)):
            if not text:
                continue
            for release in self.releases:
                if any(pattern.search(text) for pattern in release.patterns):
                    return release
        return None


def normalise(text: str) -> str:
    """Lower-case, `_` and `-` as spaces, runs of spaces collapsed (the form the table's patterns match)."""
    return " ".join(text.lower().replace("_", " ").replace("-", " ").split())


@cache
def load_table(path: Path = TABLE_PATH) -> LifecycleTable:
    """Read the lifecycle table (cached; the shipped file is data, not configuration)."""
    raw = path.read_text(encoding="utf-8")
    data = tomllib.loads(raw)
    checked = re.search(r"Last checked:\s*(\d{4}-\d{2}-\d{2})", raw)
    releases = tuple(
        OsRelease(
            name=str(entry["name"]),
            end_of_support=entry["end_of_support"],
            patterns=tuple(re.compile(p) for p in entry["match"]),
        )
        for entry in data["os"]
    )
    return LifecycleTable(releases, checked.group(1) if checked else "")


@dataclass(frozen=True)
class OsCount:
    """Machines of one operating system."""

    os: str
    machines: int
    end_of_support: date | None
    """None for an unknown OS."""
    esu_active: int
    past_end: bool
    """Whether the as-of time is after the end-of-support date."""


@dataclass(frozen=True)
class Lifecycle:
    """The fleet's operating systems against the lifecycle table."""

    by_os: list[OsCount]
    unknown_descriptions: list[tuple[str, int]]
    """What each unknown-OS group reported (reported text or image), with its machines, for the workbook."""
    last_checked: str

    @property
    def end_of_support(self) -> int:
        """Machines past their OS's end of support."""
        return sum(row.machines for row in self.by_os if row.past_end)

    @property
    def end_of_support_without_esu(self) -> int:
        """Machines past end of support that no active ESU licence covers."""
        return sum(row.machines - row.esu_active for row in self.by_os if row.past_end)

    @property
    def unknown_os(self) -> int:
        """Machines whose OS the table does not know."""
        return sum(row.machines for row in self.by_os if row.end_of_support is None)

    def to_summary(self) -> LifecycleSummary:
        """summary.json's `lifecycle`."""
        return LifecycleSummary(
            end_of_support=self.end_of_support,
            end_of_support_without_esu=self.end_of_support_without_esu,
            unknown_os=self.unknown_os,
            by_os=tuple(
                OsLifecycleRow(
                    os=row.os,
                    machines=row.machines,
                    end_of_support=None if row.end_of_support is None else row.end_of_support.isoformat(),
                    esu_active=row.esu_active,
                )
                for row in self.by_os
            ),
        )


def rule_statements(last_checked: str) -> list[str]:
    """The lifecycle rule in words, for the methodology."""
    return [
        "A machine's operating system is identified from what it reports (Arc: osSku and osVersion; VM: the guest "
        "agent's osName and osVersion), else from its image (offer and SKU), against the shipped lifecycle table "
        f"(last checked {last_checked or 'on an unknown date'}, citing the vendors' lifecycle pages); an OS the "
        "table does not know is counted as unknown, never guessed.",
        "A machine is past end of support when the as-of date is after its OS's end-of-support date (the end of "
        "support without a paid extension).",
        "An Extended Security Update licence is active when the Arc machine's licenseProfile.esuProfile has "
        "licenseAssignmentState Assigned and esuKeyState Active; end_of_support_without_esu counts the machines "
        "past end of support without one.",
    ]


def past_end(end_of_support: date, as_of: datetime) -> bool:
    """Past end of support once the as-of day is after the last supported day (dates are UTC days)."""
    return as_of.date() > end_of_support


def _past(end: date | None, as_of: datetime) -> bool:
    return end is not None and past_end(end, as_of)


def assess_lifecycle(table: pa.Table, *, as_of: datetime, lifecycle: LifecycleTable | None = None) -> Lifecycle:
    """Count the machine_lifecycle rows per OS, sorted by name (`(unknown)` for an OS the table does not know).

    The query reads the same machines as machine_facts, summarised server-side, so no machine filter applies.
    """
    known = lifecycle or load_table()
    machines: dict[str, int] = defaultdict(int)
    esu: dict[str, int] = defaultdict(int)
    ends: dict[str, date | None] = {}
    unknown: dict[str, int] = defaultdict(int)
    for row in _rows(table):
        reported = " ".join(part for part in (row["osName"], row["osVersion"]) if part)
        image = " ".join(part for part in (row["imageOffer"], row["imageSku"]) if part)
        release = known.identify(reported, image)
        name = release.name if release else UNKNOWN_OS
        machines[name] += row["machines"]
        esu[name] += row["esuActive"]
        ends[name] = release.end_of_support if release else None
        if release is None:
            unknown[reported or image or "(nothing reported)"] += row["machines"]
    rows = [
        OsCount(
            os=name,
            machines=machines[name],
            end_of_support=ends[name],
            esu_active=esu[name],
            past_end=_past(ends[name], as_of),
        )
        for name in sorted(machines)
    ]
    return Lifecycle(rows, sorted(unknown.items()), known.last_checked)


def _rows(table: pa.Table) -> Iterable[Mapping[str, Any]]:
    names = ("osName", "osVersion", "imageOffer", "imageSku")
    text = {name: columns.texts(table, name) for name in names}
    counts = {name: columns.counts(table, name) for name in ("machines", "esuActive")}
    for index in range(table.num_rows):
        yield {**{n: text[n][index] for n in names}, **{n: counts[n][index] for n in counts}}
