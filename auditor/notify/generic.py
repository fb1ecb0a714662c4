"""Generic JSON (`auditor-notification/1`): for any receiver (an Azure Function, a Logic App, a chat bridge)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypedDict

from auditor.notify.interface import ScanOutcome, Status

FORMAT = "auditor-notification/1"


class Tool(TypedDict):
    """The tool that sent the notification."""

    name: str
    version: str


class Notification(TypedDict):
    """An auditor-notification/1 body."""

    format: str
    status: Status
    headline: str
    as_of: str
    complete: bool
    problems: list[str]
    compliance_rate: float | None
    compliance_rate_without_exceptions: float | None
    compliant_with_exception: int
    target: float | None
    machines: int
    compliant: int
    non_compliant: int
    unknown: int
    breaches_total: int
    breaches: list[Mapping[str, object]]
    """The most severe breaches, at most max_breaches, each as its breaches.json row."""
    pack_id: str
    run_id: str
    manifest_sha256: str
    tool: Tool


class GenericFormatter:
    """`kind = "generic"`: the figures, the top breaches as breaches.json rows, and where they came from."""

    kind = "generic"

    def payload(self, outcome: ScanOutcome, *, max_breaches: int) -> Notification:
        """One flat JSON object; `breaches_total` is the full count, `breaches` at most `max_breaches` rows."""
        top = outcome.top_breaches(max_breaches)
        return {
            "format": FORMAT,
            "status": outcome.status,
            "headline": outcome.headline(),
            "as_of": outcome.as_of,
            "complete": outcome.complete,
            "problems": list(outcome.problems),
            "compliance_rate": outcome.compliance_rate,
            "compliance_rate_without_exceptions": outcome.rate_without_exceptions,
            "compliant_with_exception": outcome.summary.counts.compliant_with_exception,
            "target": outcome.target,
            "machines": outcome.count("machines"),
            "compliant": outcome.count("compliant"),
            "non_compliant": outcome.count("non_compliant"),
            "unknown": outcome.count("unknown"),
            "breaches_total": len(outcome.breaches),
            "breaches": [b.to_json() for b in top],
            "pack_id": outcome.pack_id,
            "run_id": outcome.run_id,
            "manifest_sha256": outcome.fingerprint,
            "tool": {"name": "auditor", "version": outcome.tool_version},
        }
