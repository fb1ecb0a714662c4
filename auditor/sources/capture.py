"""Live capture: copy the Resource Graph tables a scan reads into an `auditor-snapshot/1` directory.

The snapshot holds rows exactly as Resource Graph returns them (ARG's 16 columns), so scanning it offline
reproduces the live figures. Capture is all or nothing: if any table is incomplete it raises and writes nothing.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Unpack

from azure.core.credentials import TokenCredential
from rich.progress import Progress

from auditor import __version__
from auditor.jsonvalue import JsonObject
from auditor.operator import operator_record
from auditor.snapshots.format import ARG_COLUMNS, Snapshot, write_snapshot
from auditor.sources._paging import ProgressCallback
from auditor.sources.azure_settings import AzureSettings
from auditor.sources.clouds import ClientOptions
from auditor.sources.interface import SourceError
from auditor.sources.resource_graph import ResourceGraphSource

_LOG = logging.getLogger(__name__)

RESOURCE_TYPES: tuple[str, ...] = (
    "microsoft.compute/virtualmachines",
    "microsoft.hybridcompute/machines",
    "microsoft.maintenance/maintenanceconfigurations",
)
"""The only `resources` types the auditor reads; capturing just these keeps a large tenant's snapshot small."""

# Fixed text with no user input in it: every table projected to ARG's 16 columns, in ARG's order, ordered by id
# so that pages are stable. Column names are bracket-quoted because `kind` is also a KQL keyword.
_PROJECT = "| project " + ", ".join(f"['{column}']" for column in ARG_COLUMNS) + " | order by id asc"
_TYPES = ", ".join(f"'{kind}'" for kind in RESOURCE_TYPES)
CAPTURE_QUERIES: dict[str, str] = {
    "resources": f"resources | where type in~ ({_TYPES}) {_PROJECT}",
    "patchassessmentresources": f"patchassessmentresources {_PROJECT}",
    "patchinstallationresources": f"patchinstallationresources {_PROJECT}",
    "maintenanceresources": f"maintenanceresources {_PROJECT}",
    "policyresources": f"policyresources {_PROJECT}",
    "resourcecontainers": f"resourcecontainers {_PROJECT}",
}
"""The query that captures each table."""


class CaptureIncompleteError(SourceError):
    """A table could not be captured completely; nothing was written."""

    def __init__(self, problems: list[str]) -> None:
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(
            f"capture incomplete, nothing written: {problems[0]}{more}",
            "fix the cause and capture again; an incomplete snapshot would under-report the fleet",
        )
        self.problems = tuple(problems)


def _reconciliation(scope: JsonObject) -> JsonObject:
    """The live scope's subscription reconciliation, without what snapshot.json records elsewhere."""
    return {
        k: v for k, v in scope.items() if k not in ("kind", "tenant_id", "cloud", "subscriptions", "management_groups")
    }


def capture_snapshot(
    settings: AzureSettings,
    *,
    out: Path,
    credential: TokenCredential | None = None,
    progress: Progress | ProgressCallback | None = None,
    **client_kwargs: Unpack[ClientOptions],
) -> Snapshot:
    """Capture the live tenant in `settings`' scope into a new snapshot at `out` (source "azure").

    Raises SourceError (exit 3) and writes nothing unless every table arrived complete. `client_kwargs` go to
    the Resource Graph client (tests inject their loopback policy there).
    """
    captured_at = datetime.now(UTC).replace(microsecond=0)
    source = ResourceGraphSource.from_settings(settings, credential=credential, progress=progress, **client_kwargs)
    tables: dict[str, list[JsonObject]] = {}
    problems: list[str] = []
    pages = 0
    try:
        for table, text in CAPTURE_QUERIES.items():
            fetched = source.fetch(text, label=table, key="id", columns=ARG_COLUMNS)
            problems.extend(f"{table}: {problem}" for problem in fetched.problems)
            pages += fetched.pages
            rows = fetched.rows
            missing = [column for column in ARG_COLUMNS if rows and column not in rows[0]]
            if missing:
                problems.append(f"{table}: Resource Graph did not return column(s) {', '.join(missing)}")
            tables[table] = rows
        provenance = source.provenance() if not problems else {}
    finally:
        source.close()
    if problems:
        for problem in problems:
            _LOG.error("capture: %s", problem)
        raise CaptureIncompleteError(problems)
    endpoints = source.endpoints
    return write_snapshot(
        out,
        tables,
        source="azure",
        captured_at=captured_at,
        tenant_id=settings.tenant_id,
        # The live scope's reconciliation (subscriptions seen but not captured) travels with the snapshot, so a
        # scan of it later still says what was left out.
        scope={**settings.scope(), **_reconciliation(provenance.get("scope", {}))},
        extra={
            "capture": {
                "tool": f"auditor {__version__}",
                "operator": operator_record(provenance.get("azure_principal")),
                "cloud": settings.cloud,
                "resource_manager": endpoints.resource_manager,
                "resource_types": list(RESOURCE_TYPES),
                "pages": pages,
            }
        },
    )
