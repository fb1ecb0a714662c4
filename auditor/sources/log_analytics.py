"""LogAnalyticsSource: run `law` queries on a Log Analytics workspace, completely or with a loud INCOMPLETE.

One query is one request. A partial result (`PartialError`), the 500,000-row cap, and retries that run out all
make the result incomplete; a 504 means the query outran its server timeout (`Prefer: wait`), so it is retried
with twice the time, up to the service's 10 minutes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, date, datetime

from azure.core.exceptions import HttpResponseError
from azure.monitor.query import LogsQueryClient, LogsQueryPartialResult, LogsQueryResult, LogsTable

from auditor.errors import QueryError
from auditor.jsonvalue import JsonObject, JsonValue
from auditor.kql.request import QueryRequest, QueryResult, rows_to_table
from auditor.sources._paging import ProgressEvent, rows_sha256
from auditor.sources._quota import AccessDenied, GaveUp, Rejected, call_with_retries, describe_error
from auditor.sources.clouds import AzureSource, ClientOptions
from auditor.sources.interface import SourceError

_LOG = logging.getLogger(__name__)
ROW_LIMIT = 500_000
"""Most rows one Log Analytics query returns; a result this long may have been cut."""
MAX_SERVER_TIMEOUT = 600
PERMISSION = "Microsoft.OperationalInsights/workspaces/query/read (the Log Analytics Reader role)"


class _TimedOut(Exception):
    """HTTP 504: the query ran past its server timeout. Not retried as is; the caller gives it more time."""


def _plain(value: object) -> JsonValue:
    """A cell as JSON: the SDK decodes the response's JSON and turns datetime columns into datetimes."""
    if isinstance(value, datetime):
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool | list | dict):
        return value
    raise SourceError(
        f"Log Analytics returned a {type(value).__name__} value, which is not JSON",
        "report it with the query's text; the azure-monitor-query version may decode results differently",
    )


def _rows(table: LogsTable) -> list[JsonObject]:
    names = list(table.columns)
    return [{name: _plain(value) for name, value in zip(names, row, strict=True)} for row in table.rows]


class LogAnalyticsSource(AzureSource[LogsQueryClient]):
    """Runs `law` queries against the workspace in `[azure]` (`log_analytics_workspace_id`)."""

    name = "log_analytics"

    def _connect(self, options: ClientOptions) -> LogsQueryClient:
        """A LogsQueryClient for the configured workspace's cloud."""
        settings = self.settings
        if settings.log_analytics_workspace_id is None:
            raise SourceError("no Log Analytics workspace is configured", "set log_analytics_workspace_id in [azure]")
        if self.endpoints.log_analytics is None or self.endpoints.log_analytics_scope is None:
            raise SourceError(
                f"cloud {settings.cloud} has no Log Analytics endpoint", "set log_analytics_url in [azure]"
            )
        self.workspace_id = settings.log_analytics_workspace_id
        return LogsQueryClient(
            self.credential,
            endpoint=self.endpoints.log_analytics,
            credential_scopes=[self.endpoints.log_analytics_scope],
            **options,
        )

    def run(self, request: QueryRequest) -> QueryResult:
        """Run one query; the result is incomplete (with reasons) unless the workspace returned all of it."""
        if request.target != "law":
            raise SourceError(
                f"query {request.ref} targets {request.target!r}; Log Analytics runs only 'law' queries",
                "run Resource Graph queries with ResourceGraphSource",
            )
        self._progress.update(ProgressEvent(request.ref, 0, 0, None, "running"))
        problems: list[str] = []
        rows: list[JsonObject] = []
        try:
            response = self._query(request)
        except GaveUp as exc:
            problems.append(str(exc))
        else:
            if isinstance(response, LogsQueryPartialResult):
                error = response.partial_error
                code = getattr(error, "code", "") or "PartialError"
                detail = getattr(error, "message", "") or ""
                details = getattr(error, "details", None) or []
                if details and isinstance(details[0], Mapping) and details[0].get("message"):
                    detail = f"{detail} ({details[0]['message']})"
                problems.append(f"workspace {self.workspace_id} returned a partial result: {code}: {detail}".strip())
                tables = response.partial_data or []
            else:
                tables = response.tables
            rows = _rows(tables[0]) if tables else []
            if len(rows) >= ROW_LIMIT:
                problems.append(f"the result reached Log Analytics' {ROW_LIMIT:,}-row limit and may be cut")
        self._progress.update(ProgressEvent(request.ref, 1, len(rows), len(rows), "done"))
        try:
            table = rows_to_table(rows, request.columns)
        except (ValueError, TypeError) as exc:
            raise QueryError(
                f"query {request.ref} returned a value that does not fit its declared column types: {exc}",
                "cast values in the query (tostring(), tolong()) to the types in query.toml",
            ) from exc
        return QueryResult(
            request=request,
            table=table,
            complete=not problems,
            problems=tuple(problems),
            response_sha256=rows_sha256(rows),
        )

    def _query(self, request: QueryRequest) -> LogsQueryResult | LogsQueryPartialResult:
        """The SDK's answer, after retries; a 504 doubles the server timeout until the 10-minute maximum."""
        server_timeout = self.settings.log_analytics_server_timeout_seconds
        what = f"workspace {self.workspace_id}"

        def attempt() -> LogsQueryResult | LogsQueryPartialResult:
            try:
                return self._client.query_workspace(
                    self.workspace_id,
                    request.text,
                    timespan=None,  # catalog queries bound their own time range
                    server_timeout=server_timeout,
                    connection_timeout=self.settings.connection_timeout_seconds,
                    read_timeout=max(self.settings.read_timeout_seconds, server_timeout + 30),
                )
            except HttpResponseError as exc:
                if exc.status_code == 504:
                    raise _TimedOut(describe_error(exc)) from exc
                raise

        while True:
            try:
                return call_with_retries(
                    attempt,
                    policy=self.retry,
                    what=what,
                    sleep=self._sleep,
                    on_retry=lambda line: _LOG.warning("%s: %s", request.ref, line),
                )
            except _TimedOut as exc:
                if server_timeout >= MAX_SERVER_TIMEOUT:
                    raise GaveUp(
                        f"{what}: the query ran past the {MAX_SERVER_TIMEOUT} s server timeout, the most "
                        f"Log Analytics allows ({exc})"
                    ) from exc
                server_timeout = min(MAX_SERVER_TIMEOUT, server_timeout * 2)
                _LOG.warning("%s: server timeout exceeded; retrying with %d s", request.ref, server_timeout)
            except AccessDenied as exc:
                raise exc.source_error(
                    service="Log Analytics",
                    scope=f"workspace {self.workspace_id}",
                    tenant=self.settings.tenant_id,
                    permission=PERMISSION,
                    hint="assign Log Analytics Reader (or Reader) on the workspace to the identity auditor runs as",
                ) from exc
            except Rejected as exc:
                raise SourceError(
                    f"Log Analytics rejected query {request.ref}: {exc}",
                    "render it with `auditor query render` and try it in the workspace's Logs blade",
                ) from exc

    def fingerprint(self) -> JsonObject:
        """The tenant, cloud and workspace the data came from."""
        return {
            "kind": "azure-log-analytics",
            "tenant_id": self.settings.tenant_id,
            "cloud": self.settings.cloud,
            "workspace_id": self.workspace_id,
        }
