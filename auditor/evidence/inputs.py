"""The evaluation inputs a pack carries besides query evidence, shared by a scan (which writes them) and a replay
(which reads them back), so both build the same summary."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import cast

import pyarrow as pa

from auditor.compliance.risk_acceptance import REGISTER_EVIDENCE as REGISTER_EVIDENCE
from auditor.compliance.summary import QuerySummary
from auditor.compliance.trend import HistoryRun
from auditor.errors import ConfigError, PackError
from auditor.reports.interface import QueryRecord
from auditor.risk_register import NARROWING_KEYS, SELECTOR_KEYS, ExceptionEntry, Register, validate_register
from auditor.timestamps import format_timestamp, parse_timestamp

FIRST_SEEN_EVIDENCE = "evidence/first_seen.jsonl.gz"
"""First-seen dates of undated patches (`{"patchKey", "firstSeen"}` rows) the scan used."""


def first_seen_table(first_seen: dict[str, datetime]) -> pa.Table:
    """first_seen as evidence rows {patchKey, firstSeen}, sorted by key."""
    keys = sorted(first_seen)
    return pa.table(
        {
            "patchKey": pa.array(keys, pa.string()),
            "firstSeen": pa.array([format_timestamp(first_seen[k]) for k in keys], pa.string()),
        }
    )


def first_seen_map(table: pa.Table | None) -> dict[str, datetime]:
    """patch key -> first-seen time, from the first_seen evidence (empty when the pack has none)."""
    if table is None:
        return {}
    try:
        return {row["patchKey"]: parse_timestamp(row["firstSeen"]) for row in table.to_pylist()}
    except (KeyError, TypeError, ValueError) as exc:
        raise PackError(
            f"{FIRST_SEEN_EVIDENCE} is malformed: {exc}", "the pack is damaged; run `auditor verify`"
        ) from exc


_REGISTER_COLUMNS = tuple(ExceptionEntry.model_fields)
_JSON_COLUMNS = frozenset(SELECTOR_KEYS + NARROWING_KEYS)
"""Register columns holding a list or table, stored as JSON text (the rest are plain text)."""


def register_table(register: Register) -> pa.Table:
    """The register as evidence rows, one per exception in file order; lists and tables as JSON text."""
    dumped = [entry.model_dump(mode="json") for entry in register]
    columns: dict[str, list[str]] = {name: [] for name in _REGISTER_COLUMNS}
    for row in dumped:
        for name in _REGISTER_COLUMNS:
            value = row[name]
            text = (
                json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
                if name in _JSON_COLUMNS
                else value
            )
            columns[name].append(text)
    return pa.table({name: pa.array(values, pa.string()) for name, values in columns.items()})


def register_map(table: pa.Table | None, *, max_days: int) -> Register | None:
    """The register a scan applied, from its evidence (None when the pack has none), validated as the scan did."""
    if table is None:
        return None
    try:
        rows = [
            {name: json.loads(value) if name in _JSON_COLUMNS else value for name, value in row.items()}
            for row in table.to_pylist()
        ]
        return validate_register({"exception": rows}, max_days=max_days, source=REGISTER_EVIDENCE)
    except (ConfigError, TypeError, ValueError) as exc:
        raise PackError(
            f"{REGISTER_EVIDENCE} is malformed: {exc}", "the pack is damaged; run `auditor verify`"
        ) from exc


def summary_queries(records: list[QueryRecord]) -> tuple[QuerySummary, ...]:
    """summary.json's `queries` list."""
    return tuple(QuerySummary(id=r.id, version=r.version, sha256=r.template_sha256, rows=r.rows) for r in records)


HISTORY_EVIDENCE = "evidence/history.jsonl.gz"
"""The earlier scans a pack's trend charts show, so a re-render draws the same trend."""
_HISTORY_COLUMNS = (
    ("run_id", pa.string()),
    ("as_of", pa.string()),
    ("machines", pa.int64()),
    ("compliance_rate", pa.float64()),
    ("unknown_rate", pa.float64()),
    ("breaches", pa.int64()),
    ("complete", pa.bool_()),
    ("scope_key", pa.string()),
)


def history_table(runs: Sequence[HistoryRun]) -> pa.Table:
    """Earlier scans as evidence rows."""
    return pa.table({name: pa.array([run.get(name) for run in runs], kind) for name, kind in _HISTORY_COLUMNS})


def history_runs(table: pa.Table | None) -> list[HistoryRun]:
    """Earlier scans from the history evidence (empty when the pack has none)."""
    # The evidence rows are the HistoryRun columns, as history_table wrote them.
    return [] if table is None else [cast(HistoryRun, row) for row in table.to_pylist()]
