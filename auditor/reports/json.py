"""summary.json and breaches.json: canonical, byte-stable JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from auditor.reports.interface import ReportContext

BREACHES_FORMAT = "auditor-breaches/1"


def dumps(data: Any) -> str:
    """Canonical pretty JSON: 2-space indent, keys in insertion order, UTF-8, trailing newline."""
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def breaches_document(context: ReportContext) -> dict[str, Any]:
    """breaches.json's content."""
    evaluation = context.evaluation
    return {
        "format": BREACHES_FORMAT,
        "as_of": context.summary["as_of"],
        "breaches": [b.to_json() for b in evaluation.breaches],
        "thresholds": [
            {
                "rule": t.rule,
                "dimension": t.dimension,
                "key": t.key,
                "requirement": t.requirement(),
                "observed": observed,
                "queries": list(t.queries or (t.query,)),
            }
            for t, observed in evaluation.threshold_checks
        ],
    }


class SummaryRenderer:
    """Writes summary.json."""

    filename = "summary.json"

    def render(self, context: ReportContext, path: Path) -> None:
        """Write the summary."""
        path.write_text(dumps(context.summary), encoding="utf-8")


class BreachesRenderer:
    """Writes breaches.json."""

    filename = "breaches.json"

    def render(self, context: ReportContext, path: Path) -> None:
        """Write the breaches."""
        path.write_text(dumps(breaches_document(context)), encoding="utf-8")
