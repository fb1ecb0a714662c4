"""The typed summary of a scan: what summary.json (`auditor-summary/1`) holds, as a frozen dataclass tree.

Fields are declared in summary.json's key order; `auditor.reports.json` is the one writer. To add a key, add a field
here (and its computation in `auditor.compliance.evaluate`); an optional section older packs lack is declared with
`absent()`, so it stays out of the JSON while it is None. Adding a field to an existing fleet's summary changes its
bytes, so new keys are additions an issue asks for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from auditor.compliance.summary.evidence import ControlResult, Population
from auditor.compliance.summary.fleet import (
    AssessmentCounts,
    ClassificationRow,
    Dimension,
    StatusCounts,
    SubscriptionDimension,
)
from auditor.compliance.summary.operations import Coverage, Installations, PolicyMismatch, PolicyStates
from auditor.compliance.summary.patterns import FailurePatterns
from auditor.compliance.summary.risk import ExceptionSummary, ExceptionWarning
from auditor.compliance.summary.schedules import ScheduleSummary
from auditor.compliance.summary.shape import ABSENT, INLINE
from auditor.compliance.summary.timeliness import LifecycleSummary, Remediation

SUMMARY_FORMAT = "auditor-summary/1"


@dataclass(frozen=True, kw_only=True)
class QuerySummary:
    """A query the scan ran, as summary.json lists it."""

    id: str
    """The query id."""
    version: int
    """The version that ran."""
    sha256: str
    """sha256 of the version's template."""
    rows: int
    """Rows it returned."""


@dataclass(frozen=True, kw_only=True)
class Summary:
    """Everything summary.json says about a scan."""

    format: str = SUMMARY_FORMAT
    """`auditor-summary/1`."""
    as_of: str
    """The as-of time (RFC 3339, UTC)."""
    counts: StatusCounts = field(metadata=INLINE)
    """Fleet-wide status counts (written in place: machines, compliant, ..., exception_rate)."""
    unknown_rate: float | None
    """Share (%) of machines with unknown status."""
    assessment: AssessmentCounts
    """Machines per assessment state."""
    unknown_age_patches: int
    """Overdue-judged patches whose age is unknown (undated and never seen by an earlier scan)."""
    non_compliant_unknown_age_only: int
    """Non-compliant machines that are so only because of patches of unknown age."""
    pending_patches: int
    """Pending patch rows of every in-scope machine, each counted once."""
    population: Population
    """Rows read -> machines -> judged or unknown, per platform, power state and connection state."""
    by_environment: tuple[Dimension, ...]
    """Status counts per environment, sorted by key."""
    by_subscription: tuple[SubscriptionDimension, ...]
    """Status counts per subscription, sorted by id."""
    by_platform: tuple[Dimension, ...]
    """Status counts per platform (Azure, Arc)."""
    by_os: tuple[Dimension, ...]
    """Status counts per OS (Linux, Windows)."""
    by_classification: tuple[ClassificationRow, ...]
    """Pending patches per classification, sorted."""
    installations: Installations
    """Installation runs of the window."""
    coverage: Coverage
    """Assessment, schedule, patch-mode and hotpatch coverage."""
    policy: PolicyStates
    """Azure Policy states per assignment."""
    policy_mismatches: tuple[PolicyMismatch, ...]
    """Policy says Compliant, the facts say otherwise."""
    schedules: ScheduleSummary | None = field(default=None, metadata=ABSENT)
    """The schedule audit; absent in packs written before it."""
    failure_patterns: FailurePatterns | None = field(default=None, metadata=ABSENT)
    """Failure patterns; absent in packs written before the schedule audit."""
    remediation: Remediation | None = field(default=None, metadata=ABSENT)
    """Remediation timeliness; absent in packs written before the installed_patches query."""
    lifecycle: LifecycleSummary | None = field(default=None, metadata=ABSENT)
    """OS lifecycle; absent in packs written before the machine_lifecycle query."""
    exceptions: tuple[ExceptionSummary, ...]
    """The exception register and what each exception did, sorted by id."""
    exception_warnings: tuple[ExceptionWarning, ...]
    """Exceptions about to expire, and selectors that match nothing."""
    exceptions_rules: tuple[str, ...]
    """The exception rules in words, with this run's parameters."""
    thresholds_configured: bool | None = field(default=None, metadata=ABSENT)
    """Whether the config set any [thresholds] limit; false means nothing but an expired exception could breach,
    so `breaches: 0` is no pass. Absent in packs written before it."""
    breaches: int
    """How many thresholds were breached (breaches.json lists them)."""
    queries: tuple[QuerySummary, ...]
    """The queries the figures come from."""
    scope: Mapping[str, Any] | None = field(default=None, metadata=ABSENT)
    """What the scan covered, as manifest.json's `scope` records it (a live scan's subscriptions scanned and those
    its identity can see but did not scan); absent for packs written before scope was recorded."""
    controls: tuple[ControlResult, ...] | None = field(default=None, metadata=ABSENT)
    """Framework controls judged from these figures; absent when the scan judged none (packs before them)."""

    @property
    def machines(self) -> int:
        """Machines in scope."""
        return self.counts.machines

    @property
    def compliance_rate(self) -> float | None:
        """The headline compliance rate (%)."""
        return self.counts.compliance_rate

    def dimension(self, name: str) -> tuple[Dimension, ...] | tuple[SubscriptionDimension, ...]:
        """A dimension's rows by its summary name (`by_environment`, `by_subscription`, `by_platform`, `by_os`)."""
        rows: tuple[Dimension, ...] | tuple[SubscriptionDimension, ...] = getattr(self, name)
        return rows
