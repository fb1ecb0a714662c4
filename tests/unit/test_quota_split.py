"""Cutting an overflowing Resource Graph scope into smaller batches and hash partitions (auditor.sources._split)."""

from __future__ import annotations

from typing import Any

import pytest

from auditor.errors import QueryError
from auditor.kql.render import MAX_PARTITIONS, partition_filter
from auditor.sources._paging import BatchOutcome
from auditor.sources._split import Scope, parts_needed, read_scope, split_subscriptions

PAGE = 10


class FakeGraph:
    """Rows per subscription; a request gets every row of its scope (and partition), or overflows past PAGE."""

    def __init__(self, rows: dict[str, int], *, skew: int = 0, overlap: bool = False) -> None:
        self.rows = {sub: [{"sub": sub, "n": n} for n in range(count)] for sub, count in rows.items()}
        self.skew = skew
        """Rows that land in partition 0 however many partitions there are (a hash that is far from even)."""
        self.overlap = overlap
        """Partition 0 also returns row 1 (a modulo that does not behave as documented)."""
        self.requests: list[tuple[str, tuple[str, ...]]] = []

    def partitioned(self, index: int, count: int) -> str:
        return f"{index}/{count}"

    def read(self, text: str, scope: Scope) -> BatchOutcome:
        self.requests.append((text, scope.subscriptions))
        rows: list[dict[str, Any]] = [row for sub in scope.subscriptions for row in self.rows[sub]]
        if text != "whole":
            index, count = (int(part) for part in text.split("/"))
            rows = [
                row
                for row in rows
                if self._bucket(row, count) == index or (self.overlap and index == 0 and row["n"] == 1)
            ]
        if len(rows) > PAGE:
            return BatchOutcome(rows[:PAGE], ("truncated",), pages=1, overflow=True, total=len(rows))
        return BatchOutcome(rows, pages=1, total=len(rows))

    def _bucket(self, row: dict[str, Any], count: int) -> int:
        return 0 if row["n"] < self.skew else int(row["n"]) % count


def test_a_scope_that_fits_is_one_request() -> None:
    graph = FakeGraph({"a": 4, "b": 5})
    parts = read_scope(graph.read, "whole", graph.partitioned, Scope("subs a-b", ("a", "b")), PAGE)
    assert [(p.piece.scope, p.piece.partition, p.piece.rows) for p in parts] == [("subs a-b", None, 9)]
    assert len(graph.requests) == 1


def test_a_batch_of_subscriptions_is_split_by_its_total() -> None:
    graph = FakeGraph({"a": 6, "b": 6, "c": 6, "d": 6})
    parts = read_scope(graph.read, "whole", graph.partitioned, Scope("subs a-d", ("a", "b", "c", "d")), PAGE)
    # 24 rows at 8 a part (80% of a page) need 3 parts: 4 subscriptions go 2 + 2, and 12 rows still overflow,
    # so each pair is split again; single subscriptions of 6 rows fit.
    assert [(p.label, p.piece.rows, p.piece.partition) for p in parts] == [
        ("subs a-d, part 1 of 2, part 1 of 2", 6, None),
        ("subs a-d, part 1 of 2, part 2 of 2", 6, None),
        ("subs a-d, part 2 of 2, part 1 of 2", 6, None),
        ("subs a-d, part 2 of 2, part 2 of 2", 6, None),
    ]
    assert all(not p.outcome.problems for p in parts)
    assert sum(p.piece.rows for p in parts) == 24


def test_one_subscription_is_cut_into_hash_partitions() -> None:
    graph = FakeGraph({"a": 35})
    parts = read_scope(graph.read, "whole", graph.partitioned, Scope("sub a", ("a",)), PAGE)
    assert [p.piece.partitions for p in parts] == [5] * 5 == [parts_needed(35, PAGE)] * 5
    assert [p.piece.partition for p in parts] == [0, 1, 2, 3, 4]
    assert sum(p.piece.rows for p in parts) == 35 and all(not p.outcome.problems for p in parts)
    assert parts[2].label == "sub a, partition 3 of 5"


def test_a_partition_that_still_overflows_grows_the_count() -> None:
    graph = FakeGraph({"a": 30}, skew=9)
    parts = read_scope(graph.read, "whole", graph.partitioned, Scope("sub a", ("a",)), PAGE)
    assert all(not p.outcome.problems for p in parts)
    assert sum(p.piece.rows for p in parts) == 30
    assert len({p.piece.partitions for p in parts}) == 1 and parts[0].piece.partitions == 16


def test_a_skew_no_partition_count_can_fix_is_incomplete() -> None:
    graph = FakeGraph({"a": 30}, skew=20)
    parts = read_scope(graph.read, "whole", graph.partitioned, Scope("sub a", ("a",)), PAGE)
    assert parts[-1].piece.partitions == MAX_PARTITIONS
    assert parts[-1].outcome.problems[-1] == f"still too large for one response in {MAX_PARTITIONS} hash partitions"


def test_partitions_that_do_not_add_up_are_reported() -> None:
    graph = FakeGraph({"a": 15}, overlap=True)
    parts = read_scope(graph.read, "whole", graph.partitioned, Scope("sub a", ("a",)), PAGE)
    assert parts[-1].outcome.problems == (
        "its 2 hash partitions returned 16 rows but the whole scope has 15 (the data changed between requests, "
        "or the partitions overlap)",
    )


def test_without_a_partition_key_the_overflow_stays_a_problem() -> None:
    graph = FakeGraph({"a": 15})
    parts = read_scope(graph.read, "whole", None, Scope("sub a", ("a",)), PAGE)
    assert len(parts) == 1 and parts[0].outcome.problems[-1].startswith("the result is too large for one response")


def test_split_subscriptions_never_makes_an_empty_batch() -> None:
    chunks = split_subscriptions(Scope("s", tuple("abcdefg")), total=10_000, page_size=1000)
    assert [c.subscriptions for c in chunks] == [(s,) for s in "abcdefg"]
    assert chunks[0].label == "s, part 1 of 7"


def test_partition_filter_is_a_checked_literal() -> None:
    assert partition_filter(None) == ""
    assert partition_filter("machineId", 3, 8) == "| where hash(machineId) % 8 == 3\n"
    for bad in (("machine Id", 0, 2), ("machineId", 2, 2), ("machineId", 0, MAX_PARTITIONS + 1)):
        with pytest.raises(QueryError, match=r"partition key|outside"):
            partition_filter(*bad)
