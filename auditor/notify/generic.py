"""Generic JSON (`auditor-notification/1`): for any receiver (an Azure Function, a Logic App, a chat bridge)."""

from __future__ import annotations

from typing import Any

from auditor.notify.interface import ScanOutcome

FORMAT = "auditor-notification/1"


class GenericFormatter:
    """`kind = "generic"`: the figures, the top breaches as breaches.json rows, and where they came from."""

    kind = "generic"

    def payload(self, outcome: ScanOutcome, *, max_breaches: int) -> dict[str, Any]:
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
