"""Is a paged Resource Graph result complete? Page bookkeeping, duplicate handling and progress display.

A batch is read page by page with skip tokens. Its pages must add up: every page's `count` matches its rows,
`totalRecords` stays the same from page to page, the distinct rows number `totalRecords`, nothing is truncated and
the tenant's subscription limit was not hit. A read that fails a check a fresh read could pass (the data moved
while paging) is marked retryable; the caller re-reads it or reports it incomplete.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from rich.progress import Progress, TaskID

from auditor import digests
from auditor.jsonvalue import JsonObject, JsonValue
from auditor.sources.interface import SourceError


@dataclass(frozen=True)
class Page:
    """One Resource Graph response, as far as completeness is concerned."""

    rows: list[JsonObject]
    count: int | None
    """The response's `count` (rows in this page)."""
    total_records: int | None
    """The response's `totalRecords` (rows in the whole result)."""
    truncated: bool
    """`resultTruncated` was "true": paging was impossible and rows are missing."""
    skip_token: str | None
    subscription_limit_hit: bool = False
    """`x-ms-tenant-subscription-limit-hit: true`: only the first 10,000 subscriptions were read."""


@dataclass(frozen=True)
class BatchOutcome:
    """The rows of one read of a batch and what is wrong with them."""

    rows: list[JsonObject]
    problems: tuple[str, ...] = ()
    """Why the rows cannot be trusted, one line each (empty when complete)."""
    retryable: bool = False
    """A fresh read of the batch may fix every problem."""
    notes: tuple[str, ...] = ()
    """What was repaired on the way (e.g. duplicates dropped); informational."""
    pages: int = 0
    overflow: bool = False
    """The result did not fit what Resource Graph would send: it was truncated, or its first page carried fewer
    rows than totalRecords and no $skipToken. Reading it again cannot help; a smaller scope can."""
    total: int | None = None
    """totalRecords of the first page."""


def canonical_json(value: object) -> str:
    """Compact JSON with sorted keys and unescaped text: the form response hashes are taken over."""
    return digests.canonical_json(value, ensure_ascii=False)


def rows_sha256(rows: Sequence[JsonObject]) -> str:
    """sha256 of the canonical JSON of a list of rows."""
    return digests.sha256_hex(canonical_json(rows))


class BatchReader:
    """Collects the pages of one read of a batch and judges whether they add up.

    Rows are keyed by `key` (the `id` column, unique in Resource Graph) or, when None, by the whole row. A key
    seen again on a later page is a paging duplicate and is dropped; with whole-row keys identical rows may also
    be genuine, so the rows are kept as they came when that matches `totalRecords`.
    """

    def __init__(self, key: str | None) -> None:
        self.key = key
        self.pages = 0
        self._all: list[JsonObject] = []
        self._deduped: list[JsonObject] = []
        self._first_page: dict[str, tuple[int, str]] = {}
        self._duplicates = 0
        self._conflict: str | None = None
        self._total: int | None = None
        self._problems: list[str] = []
        self._retryable = True
        self._overflow = False

    @property
    def total(self) -> int | None:
        """`totalRecords` of the first page."""
        return self._total

    @property
    def rows_received(self) -> int:
        """Rows received so far, duplicates included."""
        return len(self._all)

    def add(self, page: Page) -> None:
        """Take one page."""
        self.pages += 1
        number = self.pages
        if page.count is not None and page.count != len(page.rows):
            self._problems.append(f"page {number} says count={page.count} but carried {len(page.rows)} rows")
        if page.total_records is not None:
            if self._total is None and number == 1:
                self._total = page.total_records
            elif page.total_records != self._total:
                self._problems.append(
                    f"totalRecords changed from {self._total} to {page.total_records} on page {number} "
                    "(the data changed while paging)"
                )
        elif number == 1:
            self._fatal("Resource Graph sent no totalRecords, so the row count cannot be checked")
        if page.truncated:
            self._overflow = True
            self._fatal(
                "Resource Graph truncated the result (resultTruncated=true): the query cannot be paged "
                "(it uses limit/take, summarizes, projects no id, or projects only dynamic columns)"
            )
        elif number == 1 and not page.skip_token and (page.total_records or 0) > len(page.rows):
            # Paging was refused without saying so: the rest of the rows would need a $skipToken never sent.
            self._overflow = True
            self._fatal(
                f"Resource Graph sent {len(page.rows)} of {page.total_records} rows and no $skipToken: "
                "the query cannot be paged"
            )
        if page.subscription_limit_hit:
            self._fatal(
                "Resource Graph read only the first 10,000 subscriptions of the scope "
                "(x-ms-tenant-subscription-limit-hit); list subscriptions or narrower management groups in [azure]"
            )
        for row in page.rows:
            self._take(row, number)

    def _fatal(self, problem: str) -> None:
        if problem not in self._problems:
            self._problems.append(problem)
        self._retryable = False

    def _take(self, row: JsonObject, number: int) -> None:
        self._all.append(row)
        body = canonical_json(row)
        key = body if self.key is None else str(row.get(self.key))
        seen = self._first_page.get(key)
        if seen is None:
            self._first_page[key] = (number, body)
        elif seen[0] != number:
            self._duplicates += 1
            if seen[1] != body and self._conflict is None:
                self._conflict = key
            return
        self._deduped.append(row)

    def outcome(self) -> BatchOutcome:
        """The rows to use and, if they are not trustworthy, why."""
        problems = list(self._problems)
        notes: list[str] = []
        rows = self._deduped
        if self._conflict is not None:
            problems.append(f"row {self._conflict} arrived twice with different content (the data changed)")
        candidates = [self._deduped] if self.key is not None else [self._all, self._deduped]
        if self._total is not None and not problems:
            matching = [candidate for candidate in candidates if len(candidate) == self._total]
            if matching:
                rows = matching[0]
                if rows is self._deduped and self._duplicates:
                    notes.append(f"dropped {self._duplicates} row(s) repeated across pages")
            else:
                problems.append(
                    f"totalRecords is {self._total} but {len(self._deduped)} distinct rows arrived"
                    + (f" ({self._duplicates} repeated across pages)" if self._duplicates else "")
                )
        return BatchOutcome(
            rows=rows,
            problems=tuple(problems),
            retryable=bool(problems) and self._retryable,
            notes=tuple(notes),
            pages=self.pages,
            overflow=self._overflow,
            total=self._total,
        )


def page_rows(data: object) -> list[JsonObject]:
    """A page's rows as objects, whether Resource Graph answered as objectArray or (older APIs' default) as a
    table of columns and rows. `data` is the response's JSON as the SDK decoded it."""
    if isinstance(data, dict) and "columns" in data:
        names = [column["name"] for column in data["columns"]]
        return [dict(zip(names, row, strict=True)) for row in data.get("rows", [])]
    if data is None:
        return []
    if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
        raise SourceError(
            "Resource Graph sent a page whose data is not a list of objects",
            "the response does not follow resultFormat=objectArray; report it with the query's text",
        )
    return data


def batch_clash(rows: Sequence[JsonObject], group: list[str], label: str, seen: dict[str, str]) -> str | None:
    """A line naming the first group (values of the `group` columns) of batch `label` that an earlier batch also
    returned: the query combined subscriptions, and its rows cannot be merged. `seen` carries groups across."""
    for value in sorted({canonical_json([row.get(column) for column in group]) for row in rows}):
        other = seen.setdefault(value, label)
        if other != label:
            return (
                f"{', '.join(group)} = {value} came back from both {other} and {label}: the query combines "
                "subscriptions, which batched requests cannot; scope by management group or raise batch_size"
            )
    return None


@dataclass(frozen=True)
class OrderKey:
    """One key of a query's final `order by`."""

    column: str
    descending: bool
    nulls_first: bool


_ORDER = re.compile(r"^\s*(?:order|sort)\s+by\s+(?P<items>.+?)\s*$", re.IGNORECASE | re.DOTALL)
_ORDER_ITEM = re.compile(
    r"^(?:\[\s*['\"](?P<quoted>[^'\"]+)['\"]\s*\]|(?P<name>[A-Za-z_][A-Za-z0-9_]*))"
    r"(?:\s+(?P<direction>asc|desc))?(?:\s+nulls\s+(?P<nulls>first|last))?$",
    re.IGNORECASE,
)


def parse_order(text: str) -> tuple[OrderKey, ...] | None:
    """The keys of a query's final `order by` (or `sort by`) on plain columns; None if it does not end in one.

    KQL's defaults apply: descending unless `asc`, nulls first when ascending and last when descending.
    """
    match = _ORDER.match(text.rsplit("|", 1)[-1])
    if match is None:
        return None
    keys: list[OrderKey] = []
    for item in match.group("items").split(","):
        parsed = _ORDER_ITEM.match(item.strip())
        if parsed is None:
            return None
        descending = (parsed.group("direction") or "desc").lower() == "desc"
        nulls = parsed.group("nulls")
        nulls_first = nulls.lower() == "first" if nulls else not descending
        keys.append(OrderKey(parsed.group("quoted") or parsed.group("name"), descending, nulls_first))
    return tuple(keys)


def merge_batches(rows: list[JsonObject], order: tuple[OrderKey, ...] | None) -> list[JsonObject]:
    """The rows of several batches in the order one request over the whole scope gives them: by the query's
    final `order by`, ties (which the query leaves in no particular order) by canonical JSON.

    Strings compare by code point, as DuckDB's ordinal collation does. Without a usable order, or with values
    that do not compare, the canonical-JSON order alone is used, which is at least the same on every run.
    """
    merged = sorted(rows, key=canonical_json)
    try:
        # Stable sorts from the last key to the first give the multi-key order, each key with its own direction.
        for key in reversed(order or ()):
            merged.sort(key=_sort_key(key), reverse=key.descending)
    except TypeError:
        return sorted(rows, key=canonical_json)
    return merged


def _sort_key(key: OrderKey) -> Callable[[JsonObject], tuple[bool, JsonValue]]:
    # The flag puts nulls below every value, or above it, so that after `reverse` they land where KQL puts them.
    nulls_low = key.nulls_first != key.descending

    def sort_key(row: JsonObject) -> tuple[bool, JsonValue]:
        value = row.get(key.column)
        return (value is not None if nulls_low else value is None), value

    return sort_key


@dataclass(frozen=True)
class ProgressEvent:
    """Progress of one query: pages and rows so far."""

    label: str
    """The query (`id@vN`) or table being read."""
    pages: int
    rows: int
    total: int | None
    """Rows expected, as far as known (the sum of the batches' totalRecords seen so far)."""
    status: str = ""
    """A short note such as `waiting for quota` or `retrying`."""


ProgressCallback = Callable[[ProgressEvent], None]


@dataclass
class ProgressReporter:
    """Sends progress to a Rich Progress (one task per query), a callback, or nowhere."""

    target: Progress | ProgressCallback | None
    _tasks: dict[str, TaskID] = field(default_factory=dict)

    def update(self, event: ProgressEvent) -> None:
        """Show the latest counts of one query."""
        if self.target is None:
            return
        if not isinstance(self.target, Progress):
            self.target(event)
            return
        description = f"{event.label} · {event.pages} page{'s' if event.pages != 1 else ''}"
        if event.status:
            description += f" · {event.status}"
        task = self._tasks.get(event.label)
        if task is None:
            task = self._tasks[event.label] = self.target.add_task(description, total=event.total)
        self.target.update(task, description=description, completed=event.rows, total=event.total)
