"""The Resource Graph REST API: POST /providers/Microsoft.ResourceGraph/resources (shapes as in refdata)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from .engine import KqlEngine, KqlError
from .faults import FaultKind, FaultPlan
from .quota import QuotaWindow
from .reply import Reply, error

PATH = "/providers/Microsoft.ResourceGraph/resources"
_LIMITING = re.compile(r"\|\s*(take|limit|sample)\b", re.IGNORECASE)
_SUMMARIZING = re.compile(r"\|\s*summarize\b", re.IGNORECASE)
PAGING_MODES = ("lenient", "conservative")
"""`lenient`: every result pages with $skipToken. `conservative`: the strictest reading of Microsoft's docs, where
a result pages only if it projects `id` ("the query must project the id field in order for pagination to work")
and does not `summarize` ("summarize: simplified first page only"); anything else gets its first page, no
$skipToken, and resultTruncated "true" when rows are left over."""


def pageable(query: str, columns: list[str], mode: str) -> bool:
    """Whether a result may carry a $skipToken under the paging mode."""
    if mode == "lenient":
        return True
    return "id" in columns and not _SUMMARIZING.search(query)


@dataclass
class ArgStats:
    """What the emulator saw."""

    requests: int = 0
    truncated: int = 0
    """200 responses with resultTruncated "true"."""
    pages: int = 0
    """200 responses carrying data."""
    rows: int = 0
    bodies: list[dict[str, Any]] = field(default_factory=list)


def _token(key: str, offset: int, page: int) -> str:
    raw = json.dumps({"k": key, "o": offset, "p": page}, separators=(",", ":"))
    return base64.b64encode(raw.encode()).decode()


def _untoken(token: str) -> dict[str, Any]:
    value = json.loads(base64.b64decode(token.encode()))
    if not isinstance(value, dict):
        raise ValueError("not a token")
    return value


class ResourceGraphApi:
    """Answers Resource Graph queries over the emulator's snapshot."""

    def __init__(
        self,
        engine: KqlEngine,
        faults: FaultPlan,
        quota: QuotaWindow | None,
        *,
        management_groups: dict[str, list[str]],
        subscription_limit: int,
        paging: str = "lenient",
    ) -> None:
        if paging not in PAGING_MODES:
            raise ValueError(f"paging must be one of {PAGING_MODES}, not {paging!r}")
        self.paging = paging
        self.engine = engine
        self.faults = faults
        self.quota = quota
        self.management_groups = {name.lower(): [s.lower() for s in subs] for name, subs in management_groups.items()}
        self.subscription_limit = subscription_limit
        self.stats = ArgStats()

    def handle(self, body: dict[str, Any], user: str, api_version: str | None) -> Reply:
        """One POST."""
        self.stats.requests += 1
        self.stats.bodies.append(body)
        headers: dict[str, str] = {}
        if self.quota is not None:
            decision = self.quota.check(user)
            headers.update(self.quota.headers(decision))
            if not decision.allowed:
                retry = (
                    f"{decision.resets_after:.3f}"
                    if not self.quota.whole_seconds
                    else str(max(1, int(-(-decision.resets_after // 1))))
                )
                return error(
                    429,
                    "RateLimiting",
                    "Please provide below info when asking for support",
                    {**headers, "Retry-After": retry},
                )
        if not api_version:
            return error(400, "MissingApiVersionParameter", "The api-version query parameter is required.", headers)
        reply = self._answer(body, headers)
        reply.headers = {**headers, **reply.headers}
        return reply

    def _scope(self, body: dict[str, Any]) -> tuple[list[str], bool] | Reply:
        subs = [str(s).lower() for s in body.get("subscriptions") or []]
        groups = [str(g).lower() for g in body.get("managementGroups") or []]
        if subs and groups:
            return error(400, "BadRequest", "Subscriptions and management groups cannot both be specified.")
        if groups:
            unknown = [g for g in groups if g not in self.management_groups]
            if unknown:
                return error(400, "BadRequest", f"Management group '{unknown[0]}' was not found.")
            scope = sorted({s for g in groups for s in self.management_groups[g]})
        elif subs:
            return subs, False
        else:
            scope = list(self.engine.subscriptions)
        limited = len(scope) > self.subscription_limit
        return scope[: self.subscription_limit], limited

    def _answer(self, body: dict[str, Any], headers: dict[str, str]) -> Reply:
        query = body.get("query")
        if not isinstance(query, str) or not query.strip():
            return error(400, "BadRequest", "The query is required.")
        scope = self._scope(body)
        if isinstance(scope, Reply):
            return scope
        subscriptions, limited = scope
        options = body.get("options") or {}
        top = int(options.get("$top", 1000))
        if not 1 <= top <= 1000:
            return error(400, "BadRequest", "$top must be between 1 and 1000.")
        key = hashlib.sha256(json.dumps([query, subscriptions]).encode()).hexdigest()[:16]
        offset, page = int(options.get("$skip", 0)), 0
        if options.get("$skipToken"):
            try:
                token = _untoken(str(options["$skipToken"]))
            except (ValueError, TypeError):
                return error(400, "InvalidSkipToken", "The $skipToken is not valid.")
            if token.get("k") != key:
                return error(400, "InvalidSkipToken", "The $skipToken belongs to another query or scope.")
            offset, page = int(token["o"]), int(token["p"])
        try:
            result = self.engine.run(query, tuple(sorted(subscriptions)))
        except KqlError as exc:
            return error(400, "BadRequest", f"Please provide below info when asking for support: {exc}")
        fault = self.faults.take("arg", page=page, subscriptions=tuple(subscriptions))
        kind = fault.kind if fault else None
        if fault is not None and kind in _STATUS:
            status, code, message = _STATUS[kind]
            extra = {"Retry-After": f"{fault.retry_after:g}"} if kind is FaultKind.THROTTLE else {}
            return error(status, code, message.format(scope=subscriptions[0] if subscriptions else "/"), extra)
        total = len(result.rows)
        if fault is not None and page > 0 and kind is FaultKind.DUPLICATES:
            offset = max(0, offset - fault.rows)
        if fault is not None and page > 0 and kind is FaultKind.SKIP_ROWS:
            offset += fault.rows
        rows = result.rows[offset : offset + top]
        unpageable = bool(_LIMITING.search(query)) or not pageable(query, [n for n, _ in result.columns], self.paging)
        truncated = kind is FaultKind.TRUNCATED or (unpageable and total > top)
        response: dict[str, Any] = {
            "totalRecords": total + (fault.rows if fault is not None and kind is FaultKind.WRONG_TOTAL else 0),
            "count": len(rows),
            "data": rows,
            "facets": [],
            "resultTruncated": "true" if truncated else "false",
        }
        if offset + top < total and not truncated:
            response["$skipToken"] = _token(key, offset + top, page + 1)
        if options.get("resultFormat") == "table":
            names = [name for name, _ in result.columns]
            response["data"] = {
                "columns": [{"name": name, "type": "string"} for name in names],
                "rows": [[row.get(name) for name in names] for row in rows],
            }
        self.stats.truncated += truncated
        reply = Reply(200, response)
        if limited or kind is FaultKind.SUBSCRIPTION_LIMIT:
            reply.headers["x-ms-tenant-subscription-limit-hit"] = "true"
        if kind is FaultKind.SLOW:
            reply.delay = fault.delay if fault else 0.0
        if kind is FaultKind.RESET:
            reply.cut = True
        self.stats.pages += 1
        self.stats.rows += len(rows)
        return reply


_STATUS: dict[FaultKind, tuple[int, str, str]] = {
    FaultKind.THROTTLE: (429, "RateLimiting", "Too many requests. Please retry."),
    FaultKind.SERVER_ERROR: (500, "InternalServerError", "Encountered an internal server error."),
    FaultKind.UNAUTHORIZED: (401, "InvalidAuthenticationToken", "The access token is invalid."),
    FaultKind.FORBIDDEN: (
        403,
        "AuthorizationFailed",
        "The client does not have authorization to perform action 'Microsoft.ResourceGraph/resources/read' "
        "over scope '/subscriptions/{scope}' or the scope is invalid.",
    ),
}
