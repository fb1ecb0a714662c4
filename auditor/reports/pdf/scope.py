"""Describe a scan's source fingerprint for the PDF: its details and a snapshot's tables (the one-line scope is
`auditor.reports.provenance.scope_sentence`).

A live source records its tenant and scopes; a snapshot records its tenant, capture time and table hashes. Both
shapes may gain keys, so everything here reads with `.get()` and shows what it does not know as plain values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAX_SCOPE_ITEMS = 5
"""Subscriptions or management groups listed by name before the rest become "+N more"."""
LABELS = {
    "kind": "Source",
    "source": "Origin",
    "format": "Snapshot format",
    "captured_at": "Captured at",
    "tenant_id": "Tenant",
    "tenant": "Tenant",
    "scope": "Scope",
    "subscriptions": "Subscriptions",
    "management_groups": "Management groups",
    "cloud": "Cloud",
}
"""Labels of the fingerprint keys we know; others are shown with their key."""


def _text(value: Any) -> str:
    if isinstance(value, list):
        shown = ", ".join(str(v) for v in value[:MAX_SCOPE_ITEMS])
        extra = len(value) - MAX_SCOPE_ITEMS
        return shown + (f" (+{extra} more)" if extra > 0 else "") if value else "(none)"
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {_text(v)}" for k, v in value.items()) or "(none)"
    return str(value)


def source_details(source: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, value) for every recorded fact about the source except the table hashes."""
    return [
        (LABELS.get(str(key), str(key).replace("_", " ").capitalize()), _text(value))
        for key, value in source.items()
        if key != "tables"
    ]


def source_tables(source: Mapping[str, Any]) -> list[tuple[str, Any, str]]:
    """(table, rows, sha256) of a snapshot's tables; empty for a live source."""
    tables = source.get("tables")
    if not isinstance(tables, Mapping):
        return []
    return [
        (str(name), entry.get("rows", ""), str(entry.get("sha256", "")))
        for name, entry in sorted(tables.items())
        if isinstance(entry, Mapping)
    ]
