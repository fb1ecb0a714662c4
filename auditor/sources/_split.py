"""Cut a Resource Graph request whose result does not fit one response into requests that each fit.

Microsoft's docs disagree on whether a result with no `id` column, or one that summarizes, pages at all; read
strictly, such a result gets one page, no `$skipToken`, and `resultTruncated`. So a scope whose first response
overflows (truncated, or fewer rows than `totalRecords` and no skip token) is read again in smaller parts: a batch
of several subscriptions in smaller batches, sized from its `totalRecords`; a single subscription, a management
group or the tenant in `hash(key) % N` partitions on the query's declared partition key (the idiom of Microsoft's
"Paging Resource Graph results" page), with N grown until every part fits. Cutting on an output column keeps each
output row, and each group of a `summarize`, inside one part, so the parts' rows must add up to the whole
scope's `totalRecords`; when they do not (the data moved, or the service's hash or modulo behaved unlike the
docs), the scope is reported, never silently short.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

from auditor.kql.render import MAX_PARTITIONS
from auditor.kql.request import Piece
from auditor.sources._paging import BatchOutcome

FILL = 0.8
"""Aim each part at this share of a page, so that uneven hashing rarely overflows one."""


@dataclass(frozen=True)
class Scope:
    """One Resource Graph request scope: a batch of subscriptions, the management groups, or the tenant."""

    label: str
    """How problem lines name it, e.g. `subscriptions 101-200 of 250`."""
    subscriptions: tuple[str, ...] = ()
    management_groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class Part:
    """The rows of one request-sized part of a scope, and what the manifest records about it."""

    piece: Piece
    outcome: BatchOutcome

    @property
    def label(self) -> str:
        """How problem lines name the part: its scope, and its partition when it has one."""
        return piece_label(self.piece)


def piece_label(piece: Piece) -> str:
    """`subscriptions 1-2 of 5`, or `subscriptions 1-2 of 5, partition 3 of 8` (1-based for people)."""
    if piece.partition is None:
        return piece.scope
    return f"{piece.scope}, partition {piece.partition + 1} of {piece.partitions}"


def parts_needed(total: int, page_size: int) -> int:
    """How many parts a result of `total` rows is cut into so that each fills at most FILL of a page."""
    return max(2, math.ceil(total / (page_size * FILL)))


def split_subscriptions(scope: Scope, total: int, page_size: int) -> list[Scope]:
    """A batch of subscriptions in smaller batches, as many as `total` rows need if they spread evenly."""
    subs = scope.subscriptions
    count = min(len(subs), parts_needed(total, page_size))
    size = math.ceil(len(subs) / count)
    chunks = [subs[start : start + size] for start in range(0, len(subs), size)]
    return [
        Scope(f"{scope.label}, part {index} of {len(chunks)}", chunk) for index, chunk in enumerate(chunks, start=1)
    ]


ReadBatch = Callable[[str, Scope], BatchOutcome]
"""read(text, scope): every page of one request, judged."""


def read_scope(
    read: ReadBatch,
    text: str,
    partitioned: Callable[[int, int], str] | None,
    scope: Scope,
    page_size: int,
) -> list[Part]:
    """The parts `scope` had to be read in: one when its result fits, more when it had to be cut."""
    outcome = read(text, scope)
    whole = Part(Piece(scope.label, None, None, len(outcome.rows), outcome.pages), outcome)
    if not outcome.overflow or outcome.total is None:
        return [whole]
    if len(scope.subscriptions) > 1:
        return [
            part
            for smaller in split_subscriptions(scope, outcome.total, page_size)
            for part in read_scope(read, text, partitioned, smaller, page_size)
        ]
    if partitioned is None:
        line = "the result is too large for one response and the query declares no [partition] key to cut it by"
        return [replace(whole, outcome=replace(outcome, problems=(*outcome.problems, line)))]
    return _partitions(read, partitioned, scope, outcome.total, page_size)


def _partitions(
    read: ReadBatch, partitioned: Callable[[int, int], str], scope: Scope, total: int, page_size: int
) -> list[Part]:
    """`scope` in hash partitions, their number grown until each fits one response."""
    count = parts_needed(total, page_size)
    while True:
        parts: list[Part] = []
        largest = 0
        for index in range(count):
            outcome = read(partitioned(index, count), scope)
            parts.append(Part(Piece(scope.label, index, count, len(outcome.rows), outcome.pages), outcome))
            if outcome.overflow:
                largest = max(largest, outcome.total or 0)
                break
        if not largest:
            return _checked(parts, total)
        # The part that overflowed says how uneven the hash is: grow N so that such a part fits.
        grown = max(count * 2, math.ceil(count * largest / (page_size * FILL)))
        if count >= MAX_PARTITIONS:
            line = f"still too large for one response in {count} hash partitions"
            last = parts[-1]
            return [*parts[:-1], replace(last, outcome=replace(last.outcome, problems=(*last.outcome.problems, line)))]
        count = min(grown, MAX_PARTITIONS)


def _checked(parts: list[Part], total: int) -> list[Part]:
    """The parts, with a problem on the last one when their rows do not add up to the whole scope's."""
    received = sum(len(part.outcome.rows) for part in parts)
    if received == total or any(part.outcome.problems for part in parts):
        return parts
    line = (
        f"its {len(parts)} hash partitions returned {received} rows but the whole scope has {total} "
        "(the data changed between requests, or the partitions overlap)"
    )
    last = parts[-1]
    return [*parts[:-1], replace(last, outcome=replace(last.outcome, problems=(*last.outcome.problems, line)))]
