"""The ring gate: ring N+1 is deployed only when the latest scan of ring N met ring N's thresholds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from auditor.errors import ExitCode
from auditor.policy import PolicyError
from auditor.policy.config import PolicySettings, RingGate


class SummaryReader(Protocol):
    """Reads scan history (implemented by auditor.history.HistoryStore)."""

    def latest_summary(self, scope_key: str | None = None) -> Mapping[str, object] | None:
        """The latest stored summary.json, or None when there is none."""
        ...


@dataclass(frozen=True)
class GateCheck:
    """One threshold, evaluated."""

    name: str
    threshold: float
    actual: float | None
    passed: bool
    sentence: str
    """What it requires and what the scan showed, in words."""


@dataclass(frozen=True)
class GateResult:
    """The gate of `previous`, checked before deploying `ring`."""

    ring: str
    previous: str
    environment: str
    as_of: str | None
    checks: tuple[GateCheck, ...]
    problem: str = ""
    """Why the gate cannot pass whatever the thresholds (no scan, stale scan, environment absent)."""

    @property
    def passed(self) -> bool:
        """True when the next ring may be deployed."""
        return not self.problem and all(check.passed for check in self.checks)

    def lines(self) -> list[str]:
        """The gate check in words, one line per check."""
        head = f"gate of ring {self.previous!r} (scan environment {self.environment!r}"
        head += f", scan as of {self.as_of})" if self.as_of else ")"
        lines = [f"{head}: {'met' if self.passed else 'NOT met'}"]
        lines.extend(f"  {'ok ' if check.passed else 'FAIL'} {check.sentence}" for check in self.checks)
        if self.problem:
            lines.append(f"  FAIL {self.problem}")
        return lines


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _rate(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _table(value: object) -> Mapping[str, object]:
    return value if isinstance(value, Mapping) else {}


def _items(value: object) -> list[Mapping[str, object]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _at_least(name: str, what: str, threshold: float, actual: float | None) -> GateCheck:
    shown = "no value" if actual is None else f"{actual:.2f}%"
    passed = actual is not None and actual >= threshold
    return GateCheck(name, threshold, actual, passed, f"{what} must be at least {threshold:.2f}% (scan: {shown})")


def evaluate_gate(
    gate: RingGate, summary: Mapping[str, object] | None, *, ring: str, previous: str, now: datetime
) -> GateResult:
    """Judge one summary.json against a ring's gate."""
    if summary is None:
        return GateResult(
            ring,
            previous,
            gate.environment,
            None,
            (),
            f"no scan of ring {previous!r} in history; run `auditor scan` on its scope first",
        )
    as_of = summary.get("as_of")
    environments = {str(e.get("key", "")).casefold(): e for e in _items(summary.get("by_environment"))}
    entry = environments.get(gate.environment.casefold())
    checks = []
    if gate.min_compliance_rate is not None:
        actual = _rate(entry.get("compliance_rate")) if entry else None
        checks.append(
            _at_least("min_compliance_rate", f"compliance of {gate.environment}", gate.min_compliance_rate, actual)
        )
    if gate.min_periodic_assessment_coverage is not None:
        coverage = _table(_table(summary.get("coverage")).get("periodic_assessment_enabled"))
        checks.append(
            _at_least(
                "min_periodic_assessment_coverage",
                "periodic assessment coverage",
                gate.min_periodic_assessment_coverage,
                _rate(coverage.get("rate")),
            )
        )
    problem = ""
    if entry is None:
        problem = f"the scan has no machines in environment {gate.environment!r}"
    scanned = _parse_time(as_of)
    if gate.max_scan_age_days is not None:
        if scanned is None:
            problem = problem or "the scan has no readable as_of time"
        elif (now - scanned).total_seconds() > gate.max_scan_age_days * 86400:
            age = (now - scanned).total_seconds() / 86400
            problem = problem or f"the scan is {age:.1f} days old; the gate accepts {gate.max_scan_age_days:g}"
    return GateResult(ring, previous, gate.environment, str(as_of) if as_of else None, tuple(checks), problem)


def check_gate(
    settings: PolicySettings, ring: str, reader: SummaryReader | None, now: datetime | None = None
) -> GateResult | None:
    """The gate to pass before deploying `ring`; None for the first ring or when the ring before has no gate."""
    previous = settings.previous_ring(ring)
    if previous is None or previous not in settings.gates:
        return None
    gate = settings.gates[previous]
    if reader is None:
        return GateResult(ring, previous, gate.environment, None, (), "scan history is not available")
    summary = reader.latest_summary(gate.scope_key)
    return evaluate_gate(gate, summary, ring=ring, previous=previous, now=now or datetime.now(UTC))


def enforce_gate(result: GateResult | None, *, force: bool) -> None:
    """Refuse to go on when the gate is not met, unless forced."""
    if result is None or result.passed or force:
        return
    failed = [c.sentence for c in result.checks if not c.passed] + ([result.problem] if result.problem else [])
    raise PolicyError(
        f"gate of ring {result.previous!r} not met: {'; '.join(failed)}",
        f"improve ring {result.previous!r} and scan it again, or pass --force",
        exit_code=ExitCode.FINDINGS,
    )
