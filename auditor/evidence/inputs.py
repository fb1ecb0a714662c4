"""The evaluation inputs a pack carries besides query evidence, shared by a scan (which writes them) and a replay
(which reads them back), so both build the same summary."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pyarrow as pa

from auditor.errors import PackError
from auditor.reports.interface import QueryRecord
from auditor.snapshots.format import format_timestamp, parse_timestamp

FIRST_SEEN_EVIDENCE = "evidence/first_seen.jsonl.gz"
"""First-seen dates of undated patches (`{"patchKey", "firstSeen"}` rows) the scan used."""


def first_seen_table(first_seen: dict[str, datetime]) -> pa.Table:
    """first_seen as evidence rows {patchKey, firstSeen}, sorted by key."""
    keys = sorted(first_seen)
    return pa.table({
        "patchKey": pa.array(keys, pa.string()),
        "firstSeen": pa.array([format_timestamp(first_seen[k]) for k in keys], pa.string()),
    })


def first_seen_map(table: pa.Table | None) -> dict[str, datetime]:
    """patch key -> first-seen time, from the first_seen evidence (empty when the pack has none)."""
    if table is None:
        return {}
    try:
        return {row["patchKey"]: parse_timestamp(row["firstSeen"]) for row in table.to_pylist()}
    except (KeyError, TypeError, ValueError) as exc:
        raise PackError(f"{FIRST_SEEN_EVIDENCE} is malformed: {exc}", "the pack is damaged; run `auditor verify`") from exc


def summary_queries(records: list[QueryRecord]) -> list[dict[str, Any]]:
    """summary.json's `queries` list."""
    return [{"id": r.id, "version": r.version, "sha256": r.template_sha256, "rows": r.rows} for r in records]
