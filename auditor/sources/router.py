"""Send each query to the source for its target: Resource Graph (`arg`) or Log Analytics (`law`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from auditor.errors import ConfigError
from auditor.jsonvalue import JsonObject
from auditor.kql.request import QueryRequest, QueryResult
from auditor.sources.interface import Source, SourceProvenance


class TargetRouter:
    """A Source over several: `targets` maps a query target to the source that runs it."""

    name = "azure"

    def __init__(self, targets: Mapping[str, Source]) -> None:
        self.targets = dict(targets)

    def run(self, request: QueryRequest) -> QueryResult:
        """Run on the source for the request's target."""
        source = self.targets.get(request.target)
        if source is None:
            raise ConfigError(
                f"query {request.ref} targets {request.target!r}, which is not configured",
                "set log_analytics_workspace_id in [azure] for Log Analytics queries",
            )
        return source.run(request)

    def default_as_of(self) -> datetime | None:
        """Live data is as of now."""
        return None

    def provenance(self) -> SourceProvenance:
        """The Resource Graph source's provenance (principal and scope); the first target's that has one."""
        for _, source in sorted(self.targets.items()):
            described = getattr(source, "provenance", None)
            if callable(described):
                found: SourceProvenance = described()
                return found
        return {}

    def fingerprint(self) -> JsonObject:
        """The Resource Graph fingerprint, with each other target's under its name."""
        base = dict(self.targets["arg"].fingerprint()) if "arg" in self.targets else {}
        for target, source in sorted(self.targets.items()):
            if target != "arg":
                base[target] = source.fingerprint()
        return base

    def close(self) -> None:
        """Close every source."""
        for source in self.targets.values():
            source.close()
