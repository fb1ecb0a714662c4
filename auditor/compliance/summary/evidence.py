"""The audit-evidence sections of the summary: the population reconciliation and the framework controls."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class UnknownReasons:
    """Unknown machines by why they could not be judged."""

    none: int
    """Never assessed (no assessment result)."""
    failed: int
    """The latest assessment's status is not exactly Succeeded."""
    stale: int
    """The latest assessment is older than max_assessment_age_days."""


@dataclass(frozen=True, kw_only=True)
class PopulationGroup:
    """Machines of one platform, power state or connection state, judged or unknown."""

    key: str
    """The platform, power state or connection state."""
    machines: int
    """Machines in the group."""
    judged: int
    """Machines with a current assessment (compliant, compliant through an exception or non-compliant)."""
    unknown: int
    """Machines whose status is unknown."""
    unknown_reasons: UnknownReasons
    """Why the unknown ones could not be judged."""


@dataclass(frozen=True, kw_only=True)
class Population:
    """Rows read -> machines -> judged or unknown (with the reason), per platform, power and connection state."""

    resource_rows: int
    """machine_facts rows: one per VM or Arc resource row and assessment row joined to it."""
    rows_folded: int
    """Rows that named a machine already counted (an id in another spelling, a second assessment row)."""
    machines: int
    """Distinct machines in scope."""
    judged: int
    """Machines with a current assessment."""
    unknown: int
    """Machines whose status is unknown."""
    unknown_reasons: UnknownReasons
    """Why the unknown ones could not be judged."""
    by_platform: tuple[PopulationGroup, ...]
    """Per platform (Arc, Azure), sorted."""
    by_power_state: tuple[PopulationGroup, ...]
    """Azure VMs per power state: deallocated, running, stopped, unknown (every state listed)."""
    by_connection_state: tuple[PopulationGroup, ...]
    """Arc machines per connection state: Connected, Disconnected, Expired, unknown (every state listed)."""


@dataclass(frozen=True, kw_only=True)
class CriterionResult:
    """One figure a control rests on, the limit it must meet and the outcome."""

    figure: str
    """Path of the figure in summary.json (`config.` for the effective config)."""
    label: str
    """The figure in words."""
    observed: float | None
    """The figure (as a number, counts too); None when the pack does not have it."""
    must_be: str
    """`at_least` or `at_most`."""
    limit: float | None
    """The limit; None when the threshold it names is not configured."""
    threshold: str | None
    """`thresholds.<key>` when the limit is a configured threshold, None when the mapping fixes it."""
    unit: str
    """`%`, `machines`, `days` or empty."""
    outcome: str
    """`met`, `not_met` or `not_assessed`."""
    text: str
    """The criterion in words, with its figure and limit."""


@dataclass(frozen=True, kw_only=True)
class ControlResult:
    """A framework control judged from the pack's figures."""

    framework: str
    """e.g. `PCI DSS v4.0.1`."""
    id: str
    """The control's id in its framework, e.g. `6.3.3`."""
    title: str
    """The control's title (the mapping's own words)."""
    status: str
    """`met`, `not_met` or `not_assessed`."""
    requires: str
    """What the control asks, in the mapping's words."""
    criteria: tuple[CriterionResult, ...]
    """The figures and limits it rests on."""
    sentence: str
    """The outcome in one sentence, with the deciding figures."""
    note: str
    """What the figures cannot show."""
