"""What every renderer receives, and the Renderer protocol."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

from auditor.compliance.evaluate import Evaluation
from auditor.compliance.summary import Summary
from auditor.compliance.trend import HistoryRun, TrendPoint, trend_points
from auditor.digests import scope_key
from auditor.errors import AuditorError


class RenderError(AuditorError):
    """A report could not be rendered."""


@dataclass(frozen=True)
class QueryRecord:
    """A query as run by the scan: what the Queries sheet and the PDF appendix show."""

    id: str
    version: int
    template_sha256: str
    rendered_sha256: str
    rows: int
    text: str
    """The rendered KQL text."""
    evidence: str
    """Path of the evidence file inside the pack."""
    complete: bool = True
    response_sha256: str | None = None
    """For live sources: sha256 of the rows the service returned."""

    @property
    def ref(self) -> str:
        """`id@vN`."""
        return f"{self.id}@v{self.version}"


@dataclass(frozen=True)
class ReportContext:
    """Everything a report shows: the evaluation plus the scan's provenance."""

    evaluation: Evaluation
    queries: list[QueryRecord]
    tool_version: str
    run_id: str
    pack_id: str
    generated_at: datetime
    source: Mapping[str, Any]
    """The source fingerprint (snapshot table hashes, or tenant and scopes)."""
    problems: list[str] = field(default_factory=list)
    """Why the data is incomplete; empty when complete."""
    history: list[HistoryRun] = field(default_factory=list)
    """Earlier scans (oldest first) for trend charts: as_of, compliance_rate, machines..."""
    provenance: Mapping[str, Any] = field(default_factory=dict)
    """manifest.json's who-and-what keys (`operator`, `scope`, `exceptions_register`), for the cover and About."""

    @property
    def incomplete(self) -> bool:
        """Whether the pack must be marked INCOMPLETE."""
        return bool(self.problems)

    @property
    def summary(self) -> Summary:
        """What summary.json says, typed."""
        return self.evaluation.summary

    @cached_property
    def trend(self) -> tuple[TrendPoint, ...]:
        """The compliance trend every report draws: earlier complete scans of this estate, then this scan.

        Worked out once per context from `history` (see trend.trend_points), so the PDF and the workbook can
        never show different points.
        """
        summary = self.summary
        return trend_points(
            self.history,
            scope=scope_key(self.source),
            current=TrendPoint(summary.as_of, summary.compliance_rate, summary.machines),
        )


class Renderer(Protocol):
    """Writes one report file of a pack."""

    filename: str
    """The file name inside the pack, e.g. `audit-pack.xlsx`."""

    def render(self, context: ReportContext, path: Path) -> None:
        """Write the report to `path`."""
        ...
