"""The Source protocol every data source implements, and the result it returns."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, TypedDict, runtime_checkable

from auditor.errors import AuditorError, ExitCode
from auditor.jsonvalue import JsonObject
from auditor.kql.request import QueryRequest, QueryResult
from auditor.operator import AzurePrincipal


class SourceError(AuditorError):
    """A source failed to run a query. Live failures are data-incomplete (exit 3)."""

    exit_code = ExitCode.INCOMPLETE


class SourceProvenance(TypedDict, total=False):
    """Who read a source's data and what it covered, as a source that knows says so in `provenance()`."""

    azure_principal: AzurePrincipal | None
    """The principal a live source's access token was issued to (None when the token does not say)."""
    scope: JsonObject
    """manifest.json's `scope`: the subscriptions scanned and not scanned, or what a snapshot recorded."""


@runtime_checkable
class Source(Protocol):
    """Runs rendered KQL and returns Arrow rows. Implementations: SnapshotSource, ResourceGraphSource, ..."""

    name: str
    """Short label for progress and the manifest (e.g. `snapshot`, `azure`)."""

    def run(self, request: QueryRequest) -> QueryResult:
        """Run one query and return all its rows."""
        ...

    def default_as_of(self) -> datetime | None:
        """The as-of time the data implies (a snapshot's captured_at), or None for "now"."""
        ...

    def fingerprint(self) -> JsonObject:
        """What identifies the data this source reads (table hashes, or tenant and scopes)."""
        ...

    def close(self) -> None:
        """Release connections and files."""
        ...
