"""Remediation timeliness: were the enforced patches installed in the window installed within their SLA?

The rule (normative; the methodology prints it as written here):
- take every patch row of type `.../patchinstallationresults/softwarepatches` whose installationState is exactly
  `Installed`, on a machine the scan judges (matched ignoring case);
- its installation time is its own lastModifiedDateTime, which lies in [T - installation_window_days, T];
- its enforced classifications are those of its classifications that have an SLA (a row with none is skipped), and
  its SLA is the smallest of those;
- days = max(0, floor((installed - publishedDateTime) / 1 day)); with no publishedDateTime, the first-seen date
  from history stands in, exactly as for pending patches; otherwise the age is unknown;
- a row is within SLA when days <= its SLA.

The installed_patches query applies the first three points and computes `days` for dated rows server-side, one
row per patch, publication date and days (`installs` rows each); undated rows come one each, so history can date
them. Pure functions; nothing here reads a source or writes a report.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypedDict

import pyarrow as pa

from auditor.compliance import columns
from auditor.compliance.facts import parse_classifications
from auditor.compliance.metrics import rate
from auditor.compliance.rules import effective_sla
from auditor.compliance.summary import Remediation, RemediationFigures, Summary
from auditor.compliance.trend import HistoryRun
from auditor.timestamps import parse_arg_time

QUERY = "installed_patches"


class RemediatedRow(TypedDict):
    """A tracked pending patch that history saw leave the pending list (HistoryStore.remediated)."""

    patch_key: str
    """The pending patch's key."""
    machine_id: str
    """Its machine."""
    first_seen: datetime
    """The first recorded scan that saw it pending."""
    last_seen: datetime
    """The last recorded scan that saw it pending."""
    remediated_by: datetime
    """The as-of time of the first later complete scan that judged its machine and no longer saw it."""


class MonthTrend(TypedDict):
    """One month of the remediation trend: its last complete scan's figures and what history saw remediated."""

    month: str
    """`YYYY-MM`."""
    as_of: str | None
    """The as-of time of the month's last complete scan with remediation figures; None when there is none."""
    within_sla_rate: float | None
    """That scan's within-SLA rate (%)."""
    p90_days: int | None
    """That scan's 90th percentile of days to install."""
    remediated_from_history: int
    """Tracked patches history saw leave the pending list during the month."""
    history_p90_days: int | None
    """Their 90th percentile of days from first sighting to remediation."""


@dataclass(frozen=True)
class RemediatedPatch:
    """One row of installed_patches, judged: a patch installed on `installs` machine rows after `days` days."""

    name: str
    kb_id: str
    version: str
    classifications: tuple[str, ...]
    """Its enforced classifications (those with an SLA), in the row's order."""
    published: datetime | None
    """publishedDateTime, or for an undated row the first-seen date from history; None when unknown."""
    dated_by_history: bool
    installs: int
    days: int | None
    """Whole days from publication (or first sighting) to installation; None when unknown."""
    sla_days: int
    first_installed: datetime | None
    last_installed: datetime | None
    machine_id: str
    """The machine of an undated row; empty for a summarised dated row."""

    @property
    def within_sla(self) -> bool:
        """days <= SLA (False when the age is unknown)."""
        return self.days is not None and self.days <= self.sla_days


def nearest_rank(sorted_values: list[int], q: float) -> int | None:
    """The value at rank ceil(q x n) of an ascending list (rank 1 for q x n <= 1); None for an empty list."""
    n = len(sorted_values)
    if n == 0:
        return None
    return sorted_values[max(1, math.ceil(q * n)) - 1]


def days_between(published: datetime, installed: datetime) -> int:
    """max(0, floor((installed - published) / 1 day))."""
    return max(0, math.floor((installed - published) / timedelta(days=1)))


def judge_installed(
    table: pa.Table,
    *,
    sla: Mapping[str, int],
    as_of: datetime,
    first_seen: Mapping[str, datetime],
    machines: Iterable[str] | None = None,
) -> list[RemediatedPatch]:
    """The installed enforced patches among installed_patches rows, with their days and SLA.

    Undated rows take their first sighting from `first_seen` (the pending-patch key -> earliest as-of before T);
    `machines` (the judged machine ids) filters undated rows again, as the query's join does for every row.
    """
    judged = set(machines) if machines is not None else None
    text = {name: columns.texts(table, name) for name in _TEXT}
    days = columns.values(table, "days")
    installs = columns.counts(table, "installs")
    out: list[RemediatedPatch] = []
    for i in range(table.num_rows):
        classes = parse_classifications(text["classifications"][i])
        sla_days = effective_sla(classes, sla)
        if sla_days is None:
            continue
        machine = text["machineId"][i].lower()
        published = parse_arg_time(text["publishedDateTime"][i] or None)
        installed = parse_arg_time(text["installedDateTime"][i] or None)
        age: int | None = days[i]
        by_history = False
        if published is None:
            if judged is not None and machine not in judged:
                continue
            seen = first_seen.get(text["assessmentKey"][i])
            if seen is not None and seen < as_of and installed is not None:
                published, age, by_history = seen, days_between(seen, installed), True
            else:
                age = None
        out.append(
            RemediatedPatch(
                name=text["patchName"][i],
                kb_id=text["kbId"][i],
                version=text["version"][i],
                classifications=tuple(name for name in classes if name in sla),
                published=published,
                dated_by_history=by_history,
                installs=installs[i],
                days=age,
                sla_days=sla_days,
                first_installed=parse_arg_time(text["firstInstalled"][i] or None),
                last_installed=parse_arg_time(text["lastInstalled"][i] or None),
                machine_id=machine,
            )
        )
    out.sort(key=lambda p: (p.name, p.kb_id, p.version, p.machine_id, -1 if p.days is None else p.days))
    return out


_TEXT = (
    "patchName",
    "kbId",
    "version",
    "classifications",
    "publishedDateTime",
    "firstInstalled",
    "lastInstalled",
    "machineId",
    "assessmentKey",
    "installedDateTime",
)


def figures(patches: Iterable[RemediatedPatch]) -> RemediationFigures:
    """{installed, dated, within_sla, within_sla_rate, p50_days, p90_days} over some judged rows (by installs)."""
    installed = dated = within = 0
    counts: dict[int, int] = defaultdict(int)
    for patch in patches:
        installed += patch.installs
        if patch.days is None:
            continue
        dated += patch.installs
        counts[patch.days] += patch.installs
        if patch.days <= patch.sla_days:
            within += patch.installs
    return RemediationFigures(
        installed=installed,
        dated=dated,
        within_sla=within,
        within_sla_rate=rate(within, dated),
        p50_days=_weighted_rank(counts, 0.5),
        p90_days=_weighted_rank(counts, 0.9),
    )


def _weighted_rank(counts: Mapping[int, int], q: float) -> int | None:
    """nearest_rank over the values each repeated counts[value] times, without expanding them."""
    n = sum(counts.values())
    if n == 0:
        return None
    rank = max(1, math.ceil(q * n))
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        if seen >= rank:
            return value
    raise AssertionError("unreachable: rank <= n")


def remediation_summary(patches: list[RemediatedPatch]) -> Remediation:
    """summary.json's `remediation`: the figures overall and per enforced classification (a row counts once
    overall and once under each of its enforced classifications)."""
    by_class: dict[str, list[RemediatedPatch]] = defaultdict(list)
    for patch in patches:
        for name in patch.classifications:
            by_class[name].append(patch)
    return Remediation(
        figures=figures(patches),
        by_classification={name: figures(by_class[name]) for name in sorted(by_class)},
    )


def rule_statements(window_days: int, sla: Mapping[str, int]) -> list[str]:
    """The remediation rule as the issue wrote it, with this config's parameters, for the methodology."""
    table = ", ".join(f"{name} {days}" for name, days in sorted(sla.items())) or "none"
    return [
        "Remediation timeliness takes every patch row of type .../patchinstallationresults/softwarepatches whose "
        "installationState is exactly Installed.",
        "Its machine is one the scan judges (matched ignoring case).",
        "Its installation time is its own lastModifiedDateTime, which lies in [T - installation_window_days, T] "
        f"(installation_window_days = {window_days}), where T is the as-of time.",
        "Its enforced classifications are those of its classifications that have an SLA (days: "
        f"{table}); a row with none is skipped. Its SLA is the smallest of those classifications' SLAs.",
        "days = max(0, floor((installed - publishedDateTime) / 1 day)) when publishedDateTime is set. When it is "
        "not set, the first-seen date from history is used, exactly as for pending patches; otherwise the age is "
        "unknown.",
        "A row is within SLA when days <= its SLA.",
        "within_sla_rate = 100 x within_sla / dated, rounded half-up to 2 decimals, null when dated is 0; p50_days "
        "and p90_days are nearest-rank percentiles over the dated rows (the value at rank ceil(q x n) in "
        "ascending order), null when there are none. A row counts once overall and once under each of its "
        "enforced classifications.",
    ]


def monthly_trend(
    runs: Sequence[HistoryRun],
    *,
    scope: str | None = None,
    latest: Summary | None = None,
    remediated: Iterable[RemediatedRow] = (),
) -> list[MonthTrend]:
    """Per month, the remediation figures of its last complete scan (of `scope`, when runs record one), and the
    time to remediate that history shows for the patches that left the pending list that month.

    Each scan covers the installation window before it, so the month's last scan speaks for the month. `latest`
    (this scan's as_of and remediation block) replaces an earlier scan of its month. `remediated` are
    HistoryStore.remediated() rows: days from first sighting to the scan that no longer saw the patch.
    """
    months: dict[str, MonthTrend] = {}
    for run in sorted(runs, key=lambda r: str(r.get("as_of", ""))):
        if run.get("complete") is False or (scope is not None and run.get("scope_key", scope) != scope):
            continue
        if run.get("within_sla_rate") is None and run.get("p90_days") is None:
            continue
        when = str(run.get("as_of", ""))
        months[when[:7]] = _month(when[:7], when, run.get("within_sla_rate"), run.get("p90_days"))
    if latest is not None and latest.remediation is not None:
        when = latest.as_of
        months[when[:7]] = _month(when[:7], when, latest.remediation.within_sla_rate, latest.remediation.p90_days)
    from_history: dict[str, list[int]] = defaultdict(list)
    for row in remediated:
        by = row["remediated_by"]
        from_history[by.strftime("%Y-%m")].append(days_between(row["first_seen"], by))
    for month, days in from_history.items():
        days.sort()
        entry = months.setdefault(month, _month(month, None, None, None))
        entry["remediated_from_history"] = len(days)
        entry["history_p90_days"] = nearest_rank(days, 0.9)
    return [months[month] for month in sorted(months)]


def _month(month: str, as_of: str | None, within_sla_rate: float | None, p90_days: int | None) -> MonthTrend:
    return MonthTrend(
        month=month,
        as_of=as_of,
        within_sla_rate=within_sla_rate,
        p90_days=p90_days,
        remediated_from_history=0,
        history_p90_days=None,
    )


def undated_keys(table: pa.Table | None) -> list[str]:
    """The pending-patch keys of the undated installed rows, for the history's first-seen lookup."""
    if table is None:
        return []
    return [key for key in columns.texts(table, "assessmentKey") if key]
