"""The ring gate, against a fake SummaryReader."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from auditor.errors import ExitCode
from auditor.policy import PolicyError
from auditor.policy.gate import GateResult, SummaryReader, check_gate, enforce_gate
from tests.unit.policy.helpers import settings

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
GATES = {
    "dev": {
        "environment": "Development",
        "min_compliance_rate": 90.0,
        "min_periodic_assessment_coverage": 95.0,
        "scope_key": "estate-dev",
    }
}


class FakeHistory:
    def __init__(self, summary: dict[str, Any] | None) -> None:
        self.summary = summary
        self.keys: list[str | None] = []

    def latest_summary(self, scope_key: str | None = None) -> dict[str, Any] | None:
        self.keys.append(scope_key)
        return self.summary


def summary(
    *,
    rate: float | None = 92.5,
    coverage: float = 96.0,
    as_of: str = "2026-11-19T06:00:00Z",
    environment: str = "development",
) -> dict[str, Any]:
    return {
        "format": "auditor-summary/1",
        "as_of": as_of,
        "compliance_rate": 50.0,
        "by_environment": [
            {
                "key": "Production",
                "machines": 10,
                "compliant": 1,
                "non_compliant": 9,
                "unknown": 0,
                "compliance_rate": 10.0,
            },
            {
                "key": environment,
                "machines": 40,
                "compliant": 37,
                "non_compliant": 3,
                "unknown": 0,
                "compliance_rate": rate,
            },
        ],
        "coverage": {
            "periodic_assessment_enabled": {"machines": 38, "rate": coverage},
            "scheduled": {"machines": 20, "rate": 50.0},
        },
    }


def gate_for(history: SummaryReader, ring: str = "test") -> GateResult | None:
    return check_gate(settings(gates=GATES), ring, history, NOW)


def test_met_gate_reads_the_ring_environment_and_coverage() -> None:
    history = FakeHistory(summary())
    result = gate_for(history)
    assert result is not None and result.passed and history.keys == ["estate-dev"]
    assert [(c.name, c.threshold, c.actual, c.passed) for c in result.checks] == [
        ("min_compliance_rate", 90.0, 92.5, True),
        ("min_periodic_assessment_coverage", 95.0, 96.0, True),
    ]
    assert (
        result.lines()[0] == "gate of ring 'dev' (scan environment 'Development', scan as of 2026-11-19T06:00:00Z): met"
    )
    enforce_gate(result, force=False)


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        (summary(rate=89.99), "compliance of Development must be at least 90.00% (scan: 89.99%)"),
        (summary(coverage=94.0), "periodic assessment coverage must be at least 95.00% (scan: 94.00%)"),
        (summary(rate=None), "compliance of Development must be at least 90.00% (scan: no value)"),
        (summary(environment="Staging"), "the scan has no machines in environment 'Development'"),
        (summary(as_of="2026-11-10T00:00:00Z"), "the scan is 10.5 days old; the gate accepts 7"),
        (None, "no scan of ring 'dev' in history; run `auditor scan` on its scope first"),
    ],
)
def test_unmet_gate_names_what_failed(document: dict[str, Any] | None, problem: str) -> None:
    result = gate_for(FakeHistory(document))
    assert result is not None and not result.passed
    with pytest.raises(PolicyError) as caught:
        enforce_gate(result, force=False)
    assert problem in caught.value.message and caught.value.exit_code == ExitCode.FINDINGS
    assert caught.value.hint == "improve ring 'dev' and scan it again, or pass --force"
    enforce_gate(result, force=True)


def test_first_ring_and_rings_without_a_gate() -> None:
    assert gate_for(FakeHistory(summary()), ring="dev") is None
    assert gate_for(FakeHistory(summary()), ring="prod") is None  # test has no gate configured
