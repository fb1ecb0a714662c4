"""At fleet scale a scan's memory peak was its query tables held beside everything judged from them (about 600 MiB
of rows at 100,000 machines). The judge and the evidence writers now each let a table go once done with it."""

from __future__ import annotations

import gc
import time
import weakref
from pathlib import Path

import pyarrow as pa
import pytest

from auditor.compliance.evaluate import evaluate
from auditor.config import config_from_dict
from auditor.kql.catalog import Catalog
from auditor.kql.request import QueryRequest, QueryResult
from auditor.reports.interface import ReportContext
from auditor.reports.json import SummaryRenderer
from auditor.scan import query_plan, scan
from tests.unit.test_evidence_pack import AS_OF, THRESHOLDS, MemorySource

BIG = {"machine_facts", "pending_patches", "overdue_patches", "installations", "installed_patches", "policy_states"}
"""The tables that grow with the fleet."""


class WatchedSource(MemorySource):
    """MemorySource that keeps a weak reference to every table it returns."""

    def __init__(self) -> None:
        super().__init__()
        self.returned: dict[str, weakref.ref[pa.Table]] = {}

    def run(self, request: QueryRequest) -> QueryResult:
        result = super().run(request)
        self.returned[request.query_id] = weakref.ref(result.table)
        return result


class AliveAtRender:
    """A renderer that notes which query tables are still in memory when the reports are written."""

    filename = "alive.txt"

    def __init__(self, source: WatchedSource) -> None:
        self.source = source
        self.alive: list[str] | None = None

    def render(self, context: ReportContext, path: Path) -> None:
        # An evidence writer may still be writing a table on its thread; give the writers a moment.
        deadline = time.monotonic() + 10
        while True:
            gc.collect()
            alive = sorted(q for q, ref in self.source.returned.items() if q in BIG and ref() is not None)
            if not alive or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        self.alive = alive
        path.write_text("\n".join(alive), encoding="utf-8")


def test_no_query_table_is_held_while_the_reports_are_written(tmp_path: Path) -> None:
    source = WatchedSource()
    watcher = AliveAtRender(source)
    result = scan(
        config_from_dict(THRESHOLDS),
        source=source,
        out=tmp_path,
        renderers=[SummaryRenderer(), watcher],
        use_history=False,
    )
    assert set(source.returned) >= BIG
    assert watcher.alive == []
    assert result.summary.counts.machines == 5  # and the scan judged the fleet as before


def _tables() -> dict[str, pa.Table]:
    config = config_from_dict(THRESHOLDS)
    catalog, source = Catalog(), MemorySource()
    return {q: source.run(catalog.get(q)[0].render(p)).table for q, p in query_plan(config, AS_OF)}


def test_a_consuming_evaluation_empties_the_tables_and_judges_the_same() -> None:
    config = config_from_dict(THRESHOLDS)
    kept, handed_over = _tables(), _tables()
    expected = evaluate(kept, config=config, as_of=AS_OF, query_refs={})
    got = evaluate(handed_over, config=config, as_of=AS_OF, query_refs={}, consume=True)
    assert got.summary == expected.summary
    assert set(kept) >= BIG
    assert set(handed_over) & BIG == set()


def test_consuming_needs_a_mutable_mapping() -> None:
    from types import MappingProxyType

    with pytest.raises(TypeError, match="pass a dict"):
        evaluate(MappingProxyType(_tables()), config=config_from_dict({}), as_of=AS_OF, query_refs={}, consume=True)
