"""ResourceGraphSource: run catalog KQL live on Azure Resource Graph, completely or with a loud INCOMPLETE.

The scope (subscription batches, management groups, or the tenant) is read batch by batch, each batch page by
page with `$skipToken`. Pages are checked against each other (see `_paging`), a batch whose pages disagree is
read again, and whatever cannot be repaired becomes a problem line on an incomplete QueryResult. Requests are
paced by Resource Graph's quota headers (see `_quota`), never by provoking 429s.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pyarrow as pa
from azure.core.pipeline import PipelineResponse
from azure.core.rest import HttpRequest, HttpResponse
from azure.mgmt.resourcegraph import ResourceGraphClient
from azure.mgmt.resourcegraph.models import QueryRequest as ArgQueryRequest
from azure.mgmt.resourcegraph.models import QueryRequestOptions

from auditor.errors import QueryError
from auditor.jsonvalue import JsonObject
from auditor.kql.request import Piece, QueryRequest, QueryResult, rows_to_table
from auditor.sources._paging import (
    BatchOutcome,
    BatchReader,
    Page,
    ProgressEvent,
    batch_clash,
    merge_batches,
    page_rows,
    parse_order,
    rows_sha256,
)
from auditor.sources._quota import AccessDenied, GaveUp, QuotaGovernor, Rejected, call_with_retries
from auditor.sources._split import Scope, read_scope
from auditor.sources.azure_settings import AzureSettings
from auditor.sources.clouds import AzureSource, ClientOptions
from auditor.sources.interface import SourceError, SourceProvenance
from auditor.sources.scope import live_scope, visible_or_error

_LOG = logging.getLogger(__name__)
SUBSCRIPTION_LIMIT_HEADER = "x-ms-tenant-subscription-limit-hit"
PERMISSION = "Microsoft.ResourceGraph/resources/read (the Reader role)"


@dataclass
class _Tally:
    """Running counts of one query, for the progress display."""

    label: str
    pages: int = 0
    rows: int = 0
    """Rows of the batches already read."""
    total: int = 0


@dataclass(frozen=True)
class FetchResult:
    """Every row a query returned over the whole scope, and whether that is all of them."""

    rows: list[JsonObject]
    problems: tuple[str, ...]
    batches: int
    pages: int
    pieces: tuple[Piece, ...] = ()
    """The requests the rows were read in: each scope, or its smaller batches or hash partitions."""

    @property
    def complete(self) -> bool:
        """True when no batch had a problem."""
        return not self.problems


def _names(items: tuple[str, ...], limit: int = 3) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" (+{len(items) - limit} more)" if len(items) > limit else "")


def plan_scopes(settings: AzureSettings) -> list[Scope]:
    """Split `[azure]`'s scope into requests: subscriptions in batches of `batch_size`; all management groups in
    one request (ARG removes the overlap of nested groups only within a request); else the tenant."""
    if settings.management_groups:
        groups = tuple(settings.management_groups)
        return [Scope(f"management groups {_names(groups)}", management_groups=groups)]
    subs = tuple(settings.subscriptions)
    if not subs:
        return [Scope(f"tenant {settings.tenant_id}")]
    size = settings.batch_size
    if len(subs) <= size:
        return [Scope(f"subscriptions {_names(subs)}", subscriptions=subs)]
    return [
        Scope(f"subscriptions {start + 1}-{min(start + size, len(subs))} of {len(subs)}", subs[start : start + size])
        for start in range(0, len(subs), size)
    ]


class ResourceGraphSource(AzureSource[ResourceGraphClient]):
    """Runs `arg` queries on Azure Resource Graph for the scope in `[azure]`."""

    name = "azure"

    def _connect(self, options: ClientOptions) -> ResourceGraphClient:
        """A ResourceGraphClient for the configured cloud, plus the quota governor and the scope plan."""
        self.governor = QuotaGovernor(margin=self.settings.quota_margin_seconds, sleep=self._sleep)
        self.scopes = plan_scopes(self.settings)
        return ResourceGraphClient(
            self.credential,
            base_url=self.endpoints.resource_manager,
            credential_scopes=[self.endpoints.credential_scope],
            **options,
        )

    def run(self, request: QueryRequest) -> QueryResult:
        """Run one query over the whole scope; the result is incomplete (with reasons) unless every row is in."""
        if request.target != "arg":
            raise SourceError(
                f"query {request.ref} targets {request.target!r}; Resource Graph runs only 'arg' queries",
                "run Log Analytics queries with LogAnalyticsSource",
            )
        names = [name for name, _ in request.columns]
        fetched = self.fetch(
            request.text,
            label=request.ref,
            key="id" if "id" in names else None,
            columns=names,
            partitioned=request.partitioned,
        )
        rows = fetched.rows
        if rows:
            present = set().union(*(row.keys() for row in rows))
            missing = [name for name in names if name not in present]
            if missing:
                raise QueryError(
                    f"query {request.ref} did not return declared column(s) {', '.join(missing)} on Resource Graph",
                    "the query text and the columns in its query.toml disagree",
                )
        try:
            table = rows_to_table(rows, request.columns)
        except (ValueError, TypeError, pa.ArrowException) as exc:
            raise QueryError(
                f"query {request.ref} returned a value that does not fit its declared column types: {exc}",
                "cast values in the query (tostring(), tolong()) to the types in query.toml",
            ) from exc
        return QueryResult(
            request=request,
            table=table,
            complete=fetched.complete,
            problems=fetched.problems,
            response_sha256=rows_sha256(rows),
            pieces=fetched.pieces,
        )

    def fetch(
        self,
        text: str,
        *,
        label: str,
        key: str | None = "id",
        columns: Sequence[str] | None = None,
        partitioned: Callable[[int, int], str] | None = None,
    ) -> FetchResult:
        """Every row of `text` over the scope, as Resource Graph returned them (dynamic values as JSON objects).

        `key` names the column paging duplicates are recognised by (None: the whole row). A scope whose result
        does not fit one response is read in smaller batches, then in the hash partitions `partitioned(i, n)`
        renders (see `_split`). Rows of several requests are merged into the query's final `order by`. That
        order's key (else the first of `columns`) is also what a row is grouped by: a group seen in two batches
        means the query combined subscriptions, which separate requests cannot do, and the result is incomplete.
        """
        order = parse_order(text)
        if order is not None and columns is not None and any(k.column not in columns for k in order):
            order = None
        group = [k.column for k in order] if order else list(columns or [])[:1]
        rows: list[JsonObject] = []
        problems: list[str] = []
        tally = _Tally(label)
        seen: dict[str, str] = {}
        pieces: list[Piece] = []

        def read(query: str, scope: Scope) -> BatchOutcome:
            return self._read_batch(query, scope, key, tally)

        for scope in self.scopes:
            parts = read_scope(read, text, partitioned, scope, self.settings.page_size)
            for part in parts:
                problems.extend(f"{part.label}: {problem}" for problem in part.outcome.problems)
                if group and (len(self.scopes) > 1 or len(parts) > 1):
                    clash = batch_clash(part.outcome.rows, group, part.label, seen)
                    problems.extend([clash] if clash else [])
                rows.extend(part.outcome.rows)
                pieces.append(part.piece)
                tally.rows = tally.total = len(rows)
        if len(pieces) > 1:
            rows = merge_batches(rows, order)
        self._progress.update(ProgressEvent(label, tally.pages, len(rows), len(rows), "done"))
        return FetchResult(
            rows=rows, problems=tuple(problems), batches=len(self.scopes), pages=tally.pages, pieces=tuple(pieces)
        )

    def _read_batch(self, text: str, scope: Scope, key: str | None, tally: _Tally) -> BatchOutcome:
        """Read one batch, re-reading it while its pages disagree in a way a fresh read may fix."""
        reads = 1 + self.settings.refetch_attempts
        for read in range(1, reads + 1):
            reader = BatchReader(key)
            failure = self._read_pages(text, scope, reader, tally)
            outcome = reader.outcome()
            if failure is not None:
                return BatchOutcome(outcome.rows, (failure,), pages=outcome.pages)
            for note in outcome.notes:
                _LOG.info("%s, %s: %s", tally.label, scope.label, note)
            if outcome.overflow:
                _LOG.info("%s, %s: %s; reading it in smaller parts", tally.label, scope.label, outcome.problems[0])
            if not outcome.retryable:
                return outcome
            if read < reads:
                _LOG.warning("%s, %s: %s; reading it again", tally.label, scope.label, outcome.problems[0])
        plural = "s" if reads > 1 else ""
        problems = tuple(f"{problem} (in {reads} read{plural})" for problem in outcome.problems)
        return BatchOutcome(outcome.rows, problems, pages=outcome.pages)

    def _read_pages(self, text: str, scope: Scope, reader: BatchReader, tally: _Tally) -> str | None:
        """Fetch every page of one read; returns the failure line if a page could not be had."""
        skip_token: str | None = None
        tokens: set[str] = set()
        while True:
            what = f"page {reader.pages + 1}"
            try:
                page = self._page(text, scope, skip_token, what, tally.label)
            except GaveUp as exc:
                return str(exc)
            except AccessDenied as exc:
                raise exc.source_error(
                    service="Resource Graph",
                    scope=scope.label,
                    tenant=self.settings.tenant_id,
                    permission=PERMISSION,
                    hint="assign the Reader role on that scope to the identity auditor runs as; nothing more is needed",
                ) from exc
            except Rejected as exc:
                raise SourceError(
                    f"Resource Graph rejected query {tally.label} ({scope.label}, {exc})",
                    "render it with `auditor query render` and try it in Resource Graph Explorer",
                ) from exc
            reader.add(page)
            tally.pages += 1
            self._progress.update(
                ProgressEvent(
                    tally.label, tally.pages, tally.rows + reader.rows_received, tally.total + (reader.total or 0)
                )
            )
            if not page.skip_token:
                return None
            if page.skip_token in tokens:
                return f"{what}: Resource Graph sent the same $skipToken twice; paging would not end"
            tokens.add(page.skip_token)
            skip_token = page.skip_token

    def _page(self, text: str, scope: Scope, skip_token: str | None, what: str, label: str) -> Page:
        headers: dict[str, str] = {}

        def hook(response: PipelineResponse[HttpRequest, HttpResponse]) -> None:
            received = response.http_response.headers
            self.governor.observe(received)
            headers.clear()
            headers.update({k.lower(): v for k, v in received.items()})

        body = ArgQueryRequest(
            query=text,
            subscriptions=list(scope.subscriptions) or None,
            management_groups=list(scope.management_groups) or None,
            options=QueryRequestOptions(
                top=self.settings.page_size, skip_token=skip_token, result_format="objectArray"
            ),
        )
        response = call_with_retries(
            lambda: self._client.resources(
                body,
                raw_response_hook=hook,
                connection_timeout=self.settings.connection_timeout_seconds,
                read_timeout=self.settings.read_timeout_seconds,
            ),
            policy=self.retry,
            what=what,
            governor=self.governor,
            sleep=self._sleep,
            on_retry=lambda line: _LOG.warning("%s: %s", label, line),
        )
        return Page(
            rows=page_rows(response.data),
            count=response.count,
            total_records=response.total_records,
            truncated=response.result_truncated == "true",
            skip_token=response.skip_token,
            subscription_limit_hit=headers.get(SUBSCRIPTION_LIMIT_HEADER, "").lower() == "true",
        )

    def provenance(self) -> SourceProvenance:
        """Who ran the scan (the token's principal) and its scope against the subscriptions the identity sees."""
        # SDK retries are off for the queries (they pace themselves); this one call may use the SDK's own.
        options = self._options.copy()
        options.pop("retry_policy", None)
        visible, error = visible_or_error(self.credential, self.endpoints, self.settings.tenant_id, options)
        return {"azure_principal": self.principal(), "scope": live_scope(self.settings, visible, error)}

    def fingerprint(self) -> JsonObject:
        """The tenant, cloud and scope the data came from."""
        return {
            "kind": "azure",
            "tenant_id": self.settings.tenant_id,
            "cloud": self.settings.cloud,
            "scope": self.settings.scope(),
        }
