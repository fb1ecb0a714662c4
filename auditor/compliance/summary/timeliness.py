"""Summary blocks of remediation timeliness and OS lifecycle (both absent in packs that predate their queries)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from auditor.compliance.summary.shape import INLINE


@dataclass(frozen=True, kw_only=True)
class RemediationFigures:
    """Installed enforced patch rows of the window against their SLA."""

    installed: int
    """Installed enforced patch rows in the installation window."""
    dated: int
    """Those whose days are known (publishedDateTime, or the first-seen date from history)."""
    within_sla: int
    """Dated rows installed within their SLA (days <= SLA)."""
    within_sla_rate: float | None
    """100 x within_sla / dated, half-up to 2 decimals; None when dated is 0."""
    p50_days: int | None
    """Nearest-rank median of the dated rows' days; None when there are none."""
    p90_days: int | None
    """Nearest-rank 90th percentile of the dated rows' days; None when there are none."""


@dataclass(frozen=True, kw_only=True)
class Remediation:
    """summary.json's `remediation`: the figures overall (in place) and per enforced classification."""

    figures: RemediationFigures = field(metadata=INLINE)
    """The figures over every installed enforced row."""
    by_classification: Mapping[str, RemediationFigures]
    """The same per enforced classification (a row counts under each of its enforced classifications)."""

    @property
    def within_sla_rate(self) -> float | None:
        """The overall within-SLA rate (%)."""
        return self.figures.within_sla_rate

    @property
    def p90_days(self) -> int | None:
        """The overall 90th percentile of days to install."""
        return self.figures.p90_days


@dataclass(frozen=True, kw_only=True)
class OsLifecycleRow:
    """Machines of one operating system."""

    os: str
    """The release as the lifecycle table names it, or `(unknown)`."""
    machines: int
    """Machines running it."""
    end_of_support: str | None
    """Its end-of-support date (YYYY-MM-DD); None for an unknown OS."""
    esu_active: int
    """Machines with an active Extended Security Update licence."""


@dataclass(frozen=True, kw_only=True)
class LifecycleSummary:
    """summary.json's `lifecycle`."""

    end_of_support: int
    """Machines whose OS is past its end-of-support date at the as-of time."""
    end_of_support_without_esu: int
    """Those without an active ESU licence."""
    unknown_os: int
    """Machines whose OS the lifecycle table does not know (counted, not guessed)."""
    by_os: tuple[OsLifecycleRow, ...]
    """Machines per OS, sorted by name."""
