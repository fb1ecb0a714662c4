"""The Log Analytics query API: POST /v1/workspaces/{id}/query, answered as tables of columns and rows."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from .engine import KqlEngine, KqlError
from .faults import FaultKind, FaultPlan
from .reply import Reply, error

PATH = re.compile(r"^/v1/workspaces/([^/]+)/query$")
_WAIT = re.compile(r"wait=(\d+)")
_TYPES = {
    "VARCHAR": "string",
    "BIGINT": "long",
    "INTEGER": "int",
    "SMALLINT": "int",
    "HUGEINT": "long",
    "DOUBLE": "real",
    "FLOAT": "real",
    "BOOLEAN": "bool",
    "JSON": "dynamic",
}


@dataclass
class LawStats:
    """What the emulator saw."""

    requests: int = 0
    prefer: list[str] = field(default_factory=list)
    """The Prefer header of each request."""


def _column_type(duck: str) -> str:
    if duck.startswith("TIMESTAMP") or duck == "DATE":
        return "datetime"
    if duck.startswith("DECIMAL"):
        return "real"
    return _TYPES.get(duck, "string")


class LogAnalyticsApi:
    """Answers Log Analytics queries over the snapshot's `la_` tables (reachable with or without the prefix)."""

    def __init__(self, engine: KqlEngine, faults: FaultPlan, workspaces: tuple[str, ...]) -> None:
        self.engine = engine
        self.faults = faults
        self.workspaces = {w.lower() for w in workspaces}
        self.stats = LawStats()

    def handle(self, workspace: str, body: dict[str, Any], prefer: str) -> Reply:
        """One POST."""
        self.stats.requests += 1
        self.stats.prefer.append(prefer)
        if workspace.lower() not in self.workspaces:
            return error(404, "WorkspaceNotFoundError", f"Workspace {workspace} not found.")
        query = body.get("query")
        if not isinstance(query, str) or not query.strip():
            return error(400, "BadArgumentError", "The request had some invalid properties.")
        match = _WAIT.search(prefer or "")
        fault = self.faults.take("law", prefer_wait=int(match.group(1)) if match else None)
        kind = fault.kind if fault else None
        if kind is FaultKind.THROTTLE and fault is not None:
            return error(429, "ThrottledError", "Too many requests.", {"Retry-After": f"{fault.retry_after:g}"})
        if kind is FaultKind.SERVER_ERROR:
            return error(500, "InternalServerError", "Internal server error.")
        if kind is FaultKind.UNAUTHORIZED:
            return error(401, "InvalidTokenError", "The provided authentication is not valid for this resource.")
        if kind is FaultKind.FORBIDDEN:
            return error(403, "InsufficientAccessError", "The provided credentials have insufficient access.")
        if kind is FaultKind.GATEWAY_TIMEOUT:
            return error(504, "GatewayTimeout", "The query exceeded the server timeout.")
        try:
            result = self.engine.run(query, None)
        except KqlError as exc:
            return error(400, "BadArgumentError", f"Query could not be parsed: {exc}")
        columns = [{"name": name, "type": _column_type(duck)} for name, duck in result.columns]
        rows = [
            [
                json.dumps(v) if c["type"] == "dynamic" and v is not None else v
                for c, v in zip(columns, row.values(), strict=True)
            ]
            for row in result.rows
        ]
        reply_body: dict[str, Any] = {"tables": [{"name": "PrimaryResult", "columns": columns, "rows": rows}]}
        if kind is FaultKind.PARTIAL:
            reply_body["tables"][0]["rows"] = rows[: len(rows) // 2]
            reply_body["error"] = {
                "code": "PartialError",
                "message": "There were some errors when processing your query.",
                "details": [{"code": "EngineError", "message": "Query result set has exceeded the internal limit."}],
            }
        reply = Reply(200, reply_body)
        if kind is FaultKind.RESET:
            reply.cut = True
        if kind is FaultKind.SLOW and fault is not None:
            reply.delay = fault.delay
        return reply
