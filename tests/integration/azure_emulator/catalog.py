"""The scan's catalog queries, rendered as a scan at a given as-of time would run them."""

from __future__ import annotations

from datetime import datetime

from auditor.config import Config
from auditor.kql.catalog import Catalog
from auditor.kql.request import QueryRequest
from auditor.scan import query_plan


def catalog_requests(as_of: datetime, config: Config | None = None) -> list[QueryRequest]:
    """Every query a scan runs, rendered for `as_of`."""
    catalog = Catalog()
    requests = []
    for query_id, params in query_plan(config or Config(), as_of):
        query, _ = catalog.get(query_id)
        requests.append(query.render(params))
    return requests
