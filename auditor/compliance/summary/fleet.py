"""The fleet figures of the summary: status counts overall and per group, assessments, classifications."""

from __future__ import annotations

from dataclasses import dataclass, field

from auditor.compliance.summary.shape import INLINE


@dataclass(frozen=True, kw_only=True)
class StatusCounts:
    """Machine statuses over some machines (the whole fleet, or one group)."""

    machines: int
    """Machines counted."""
    compliant: int
    """Compliant machines, including those compliant only through exceptions."""
    non_compliant: int
    """Machines with at least one overdue enforced patch not covered by an exception."""
    unknown: int
    """Machines whose assessment is missing, failed or stale."""
    compliance_rate: float | None
    """100 x compliant / machines, half-up to 2 decimals; None for no machines."""
    compliant_with_exception: int
    """Machines compliant only because exceptions cover their overdue patches."""
    compliance_rate_without_exceptions: float | None
    """The compliance rate had no exception applied."""
    exception_rate: float | None
    """Share (%) of machines compliant only through exceptions."""


@dataclass(frozen=True, kw_only=True)
class AssessmentCounts:
    """Machines per assessment state."""

    none: int
    """Machines with no assessment row."""
    failed: int
    """Machines whose latest assessment did not succeed."""
    stale: int
    """Machines whose latest assessment is older than max_assessment_age_days."""
    current: int
    """Machines with a current, successful assessment."""


@dataclass(frozen=True, kw_only=True)
class Dimension:
    """One value of a dimension (environment, platform, OS) and its status counts."""

    key: str
    """The value, e.g. `Production` or `(untagged)`."""
    counts: StatusCounts = field(metadata=INLINE)
    """The status counts of its machines (written in place)."""


@dataclass(frozen=True, kw_only=True)
class SubscriptionDimension:
    """One subscription and its status counts."""

    key: str
    """The subscription id."""
    name: str
    """Its display name from resourcecontainers ('' when unknown)."""
    counts: StatusCounts = field(metadata=INLINE)
    """The status counts of its machines (written in place)."""


@dataclass(frozen=True, kw_only=True)
class ClassificationRow:
    """Pending patches of one classification over all in-scope machines."""

    classification: str
    """Update Manager's spelling, e.g. `Critical`."""
    pending_patches: int
    """Pending patch rows with this classification (a patch counts under each of its classifications)."""
    machines_affected: int
    """Machines with at least one such patch."""
    overdue_machines: int | None
    """Machines with an overdue patch of this classification; None where it has no SLA."""
    sla_days: int | None
    """Its SLA in days; None where it has none."""
