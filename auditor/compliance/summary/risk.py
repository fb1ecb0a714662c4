"""The risk-acceptance part of the summary: the exceptions of the register, their warnings and rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Selector:
    """Which machines an exception selects (every kind given must match)."""

    machine_ids: tuple[str, ...]
    """ARM ids (matched ignoring case)."""
    tags: Mapping[str, tuple[str, ...]]
    """Tag key -> accepted values."""
    subscriptions: tuple[str, ...]
    """Subscription ids."""
    resource_groups: tuple[str, ...]
    """Resource group names."""


@dataclass(frozen=True, kw_only=True)
class Narrowing:
    """What an exception covers on the selected machines (nothing listed: whole overdue groups)."""

    classifications: tuple[str, ...]
    """Only patches all of whose SLA classifications are listed."""
    kb_ids: tuple[str, ...]
    """Only patches with these KB numbers."""
    packages: tuple[str, ...]
    """Only patches of these packages."""


@dataclass(frozen=True, kw_only=True)
class ExceptionSummary:
    """One exception of the register and what it did in this scan."""

    id: str
    """Its id, e.g. `EX-101`."""
    owner: str
    """Who accepted the risk."""
    justification: str
    """Why."""
    ticket: str
    """The change or risk ticket."""
    created: str
    """When it starts (ISO date)."""
    expires_on: str
    """Its last day (ISO date)."""
    status: str
    """`active`, `expiring`, `expired` or `not_yet_active`."""
    days_to_expiry: int
    """expires_on minus the as-of date: 0 on the last day, negative once expired."""
    selector: Selector
    """Which machines it selects."""
    narrowed_to: Narrowing
    """What it covers on them."""
    matched_machines: int
    """In-scope machines the selector matches."""
    matched_machine_ids: tuple[str, ...]
    """Their ids, sorted."""
    patches_covered: int
    """Overdue patches it covers."""
    machines_excepted: int
    """Machines now compliant_with_exception it helped."""


@dataclass(frozen=True)
class ExceptionWarning:
    """A register problem worth a reviewer's attention that is not a breach."""

    exception: str
    """The exception's id."""
    kind: str
    """`expiring` or `matches_nothing`."""
    message: str
    """The warning in words."""
