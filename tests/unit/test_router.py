"""The live source router sends each query to its target's source."""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa
import pytest

from auditor.errors import ConfigError
from auditor.jsonvalue import JsonObject
from auditor.kql.request import QueryRequest, QueryResult
from auditor.sources.router import TargetRouter


class Fake:
    def __init__(self, name: str) -> None:
        self.name = name
        self.ran: list[str] = []
        self.closed = False

    def run(self, request: QueryRequest) -> QueryResult:
        self.ran.append(request.query_id)
        return QueryResult(request, pa.table({"x": [self.name]}))

    def default_as_of(self) -> datetime | None:
        return None

    def fingerprint(self) -> JsonObject:
        return {"kind": self.name}

    def close(self) -> None:
        self.closed = True


def request(target: str) -> QueryRequest:
    return QueryRequest(f"q_{target}", 1, "t", target, (("x", "string"),))


def test_routes_by_target_and_closes_all() -> None:
    arg, law = Fake("arg"), Fake("law")
    router = TargetRouter({"arg": arg, "law": law})
    assert router.run(request("law")).table.column("x").to_pylist() == ["law"]
    assert router.run(request("arg")).table.column("x").to_pylist() == ["arg"]
    assert (arg.ran, law.ran) == (["q_arg"], ["q_law"])
    assert router.fingerprint() == {"kind": "arg", "law": {"kind": "law"}}
    router.close()
    assert arg.closed and law.closed


def test_unconfigured_target_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="q_law@v1 targets 'law', which is not configured"):
        TargetRouter({"arg": Fake("arg")}).run(request("law"))
