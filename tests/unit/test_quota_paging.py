"""Completeness of a paged Resource Graph read (auditor.sources._paging), on inline pages."""

from __future__ import annotations

from typing import Any

from rich.progress import Progress

from auditor.sources._paging import (
    BatchReader,
    OrderKey,
    Page,
    ProgressEvent,
    ProgressReporter,
    canonical_json,
    merge_batches,
    parse_order,
    rows_sha256,
)


def rows(*ids: int, **extra: Any) -> list[dict[str, Any]]:
    return [{"id": f"/r/{i}", "n": i, **extra} for i in ids]


def page(data: list[dict[str, Any]], total: int | None, *, token: str | None = "t", **kw: Any) -> Page:
    return Page(rows=data, count=len(data), total_records=total, truncated=False, skip_token=token, **kw)


def read(key: str | None, *pages: Page) -> BatchReader:
    reader = BatchReader(key)
    for item in pages:
        reader.add(item)
    return reader


def test_pages_that_add_up() -> None:
    outcome = read("id", page(rows(1, 2), 3), page(rows(3), 3, token=None)).outcome()
    assert outcome.rows == rows(1, 2, 3) and outcome.problems == () and not outcome.retryable
    assert outcome.pages == 2


def test_repeated_ids_are_dropped() -> None:
    outcome = read("id", page(rows(1, 2), 3), page(rows(2, 3), 3, token=None)).outcome()
    assert outcome.rows == rows(1, 2, 3) and outcome.problems == ()
    assert outcome.notes == ("dropped 1 row(s) repeated across pages",)


def test_repeated_id_with_other_content_means_the_data_moved() -> None:
    changed = [{"id": "/r/2", "n": 99}, *rows(3)]
    outcome = read("id", page(rows(1, 2), 3), page(changed, 3, token=None)).outcome()
    assert outcome.retryable
    assert outcome.problems == ("row /r/2 arrived twice with different content (the data changed)",)


def test_missing_rows_are_retryable() -> None:
    outcome = read("id", page(rows(1, 2), 4), page(rows(4), 4, token=None)).outcome()
    assert outcome.retryable and outcome.problems == ("totalRecords is 4 but 3 distinct rows arrived",)
    shifted = read("id", page(rows(1, 2), 4), page(rows(2, 4), 4, token=None)).outcome()
    assert shifted.problems == ("totalRecords is 4 but 3 distinct rows arrived (1 repeated across pages)",)


def test_count_and_total_must_agree_between_pages() -> None:
    bad_count = Page(rows=rows(1), count=2, total_records=1, truncated=False, skip_token=None)
    assert read("id", bad_count).outcome().problems == ("page 1 says count=2 but carried 1 rows",)
    moved = read("id", page(rows(1), 2), page(rows(2), 3, token=None)).outcome()
    assert moved.retryable
    assert moved.problems[0] == "totalRecords changed from 2 to 3 on page 2 (the data changed while paging)"


def test_truncation_limit_and_missing_total_are_final() -> None:
    truncated = Page(rows=rows(1), count=1, total_records=5, truncated=True, skip_token=None)
    outcome = read("id", truncated).outcome()
    assert not outcome.retryable and "resultTruncated=true" in outcome.problems[0]
    limited = read("id", page(rows(1), 1, token=None, subscription_limit_hit=True)).outcome()
    assert not limited.retryable and "first 10,000 subscriptions" in limited.problems[0]
    untotalled = read("id", page(rows(1), None, token=None)).outcome()
    assert not untotalled.retryable and "no totalRecords" in untotalled.problems[0]


def test_whole_row_keys_keep_genuine_duplicates() -> None:
    same = [{"classification": "Critical", "patches": 1}]
    outcome = read(None, page(same + same, 3), page(same, 3, token=None)).outcome()
    assert outcome.rows == same * 3 and outcome.problems == () and outcome.notes == ()
    extra = read(None, page(same + rows(1), 2), page(same, 2, token=None)).outcome()
    assert extra.rows == same + rows(1) and extra.notes == ("dropped 1 row(s) repeated across pages",)


def test_rows_sha256_is_canonical() -> None:
    assert rows_sha256([{"b": 1, "a": "é"}]) == rows_sha256([{"a": "é", "b": 1}])
    assert rows_sha256([]) == "4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945"


def test_progress_reporter_drives_rich_and_callbacks() -> None:
    progress = Progress(disable=True)
    reporter = ProgressReporter(progress)
    reporter.update(ProgressEvent("q@v1", 1, 1000, 2500))
    reporter.update(ProgressEvent("q@v1", 3, 2500, 2500, "done"))
    (task,) = progress.tasks
    assert task.completed == 2500 and task.total == 2500 and task.description == "q@v1 · 3 pages · done"
    events: list[ProgressEvent] = []
    ProgressReporter(events.append).update(ProgressEvent("q@v1", 1, 5, 5))
    assert events == [ProgressEvent("q@v1", 1, 5, 5)]
    ProgressReporter(None).update(ProgressEvent("q@v1", 1, 5, 5))


def test_parse_order_follows_kql_defaults() -> None:
    assert parse_order("T | order by machineId asc, classifications asc") == (
        OrderKey("machineId", False, True),
        OrderKey("classifications", False, True),
    )
    assert parse_order("T | sort by n, ['kind'] asc nulls last") == (
        OrderKey("n", True, False),
        OrderKey("kind", False, False),
    )
    assert parse_order("T | order by n desc nulls first\n") == (OrderKey("n", True, True),)
    for text in ("T | project a", "T | order by tolower(a) asc", "T", "T | where a == 'x | order by a'"):
        assert parse_order(text) is None, text


def test_merge_batches_restores_the_query_order() -> None:
    batches = [{"a": "b", "n": 1}, {"a": None, "n": 2}, {"a": "a", "n": 3}, {"a": "b", "n": 0}, {"a": "B", "n": 9}]
    merged = merge_batches(batches, parse_order("T | order by a asc, n desc"))
    assert [(r["a"], r["n"]) for r in merged] == [(None, 2), ("B", 9), ("a", 3), ("b", 1), ("b", 0)]
    merged = merge_batches(batches, parse_order("T | order by n"))
    assert [r["n"] for r in merged] == [9, 3, 2, 1, 0]
    nulls_last = merge_batches(batches, (OrderKey("a", False, False),))
    assert nulls_last[-1]["a"] is None
    mixed = [{"a": 1}, {"a": "x"}]
    assert merge_batches(mixed, parse_order("T | order by a asc")) == sorted(mixed, key=canonical_json)
