"""The one judge: from a pack's evidence (query tables and the evaluation inputs) to a built ReportContext.

A scan calls it with the tables its source returned; a replay calls it with the tables read back from a pack.
Both therefore evaluate the same inputs in the same way, and re-rendering a pack can never disagree with the scan
that wrote it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa

from auditor import __version__
from auditor.compliance.evaluate import evaluate
from auditor.compliance.trend import HistoryRun
from auditor.config import Config
from auditor.control_mapping import ControlDefinition
from auditor.evidence.inputs import summary_queries
from auditor.reports.interface import QueryRecord, ReportContext
from auditor.risk_register import Register


@dataclass(frozen=True)
class Provenance:
    """Who ran what, when, on what: everything a ReportContext holds beyond the evaluation."""

    run_id: str
    """The run's id (a replay keeps the original's)."""
    pack_id: str
    """The pack's id."""
    generated_at: datetime
    """When the scan ran."""
    source: Mapping[str, Any]
    """The source fingerprint (snapshot table hashes, or tenant and scopes)."""
    problems: list[str] = field(default_factory=list)
    """Why the data is incomplete; empty when complete."""
    history: list[HistoryRun] = field(default_factory=list)
    """Earlier scans for the trend, as the history evidence records them."""
    tool_version: str = __version__
    """The auditor version writing the pack."""
    recorded: Mapping[str, Any] = field(default_factory=dict)
    """manifest.json's `operator`, `scope` and `exceptions_register`: who ran the scan, what it covered, with which
    register (a replay takes them from the original's manifest)."""


def judge(
    tables: Mapping[str, pa.Table],
    records: list[QueryRecord],
    *,
    config: Config,
    as_of: datetime,
    first_seen: Mapping[str, datetime],
    register: Register | None,
    provenance: Provenance,
    controls: tuple[ControlDefinition, ...] | None = None,
    consume: bool = False,
) -> ReportContext:
    """Evaluate the fleet from `tables` (query id -> rows, one per record) and wrap it with its provenance.

    `controls` are the control mappings to judge (None for a pack that predates them). With `consume`, `tables`
    (a dict) is emptied as the fleet is judged (see compliance.evaluate)."""
    evaluation = evaluate(
        tables,
        config=config,
        as_of=as_of,
        query_refs={r.id: r.ref for r in records},
        first_seen=first_seen,
        queries=summary_queries(records),
        register=register,
        scope=provenance.recorded.get("scope"),
        controls=controls,
        consume=consume,
    )
    context = ReportContext(
        evaluation=evaluation,
        queries=records,
        tool_version=provenance.tool_version,
        run_id=provenance.run_id,
        pack_id=provenance.pack_id,
        generated_at=provenance.generated_at,
        source=provenance.source,
        problems=list(provenance.problems),
        history=list(provenance.history),
        provenance=dict(provenance.recorded),
    )
    _ = context.trend  # worked out here, once, before any renderer reads it
    return context
