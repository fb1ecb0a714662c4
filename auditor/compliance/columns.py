"""Read query tables a column at a time, converting each distinct value once.

A 100,000-machine fleet brings over a million rows. Building a dict per row, and a fresh copy of the same machine
id, status or timestamp in every row, would cost seconds and hundreds of MB. Here a column becomes one Python list,
and a conversion runs once per distinct value (found by Arrow); the rows that share a value share one object.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.compute as pc

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")
_SCRATCH = pa.system_memory_pool()
"""Arrow's hash tables and positions are short-lived: the system allocator hands their memory back at once, where
the default pool would keep it."""


def values(table: pa.Table, name: str) -> list[Any]:
    """One column as Python values (None for null), for columns whose values seldom repeat."""
    return table.column(name).to_pylist()  # type: ignore[no-any-return]


def converted(table: pa.Table, name: str, convert: Callable[[Any], T]) -> list[T]:
    """convert(value) for each value of a column, computed once per distinct value (None for null)."""
    column = table.column(name)
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    distinct = pc.unique(column, memory_pool=_SCRATCH)
    results = [convert(value) for value in distinct.to_pylist()]
    positions = pc.index_in(column, value_set=distinct, memory_pool=_SCRATCH)
    return list(map(results.__getitem__, positions.to_pylist()))


def shared(table: pa.Table, name: str) -> list[Any]:
    """One column as Python values, with one object per distinct value."""
    return converted(table, name, _same)


def texts(table: pa.Table, name: str) -> list[str]:
    """One text column, '' for null, with one str object per distinct text."""
    return converted(table, name, _text)


def counts(table: pa.Table, name: str) -> list[int]:
    """One integer column, 0 for null."""
    return converted(table, name, _count)


def reals(table: pa.Table, name: str) -> list[float | None]:
    """One real-number column, None for null."""
    return converted(table, name, _real)


def text_rows(table: pa.Table) -> list[dict[str, str]]:
    """The rows of a table whose columns are all text, as dicts ('' for null). For small tables (configurations,
    subscriptions): at fleet scale, read column-wise."""
    names = table.column_names
    return [dict(zip(names, row, strict=True)) for row in zip(*(texts(table, name) for name in names), strict=True)]


def mapped(items: Sequence[K], convert: Callable[[K], T]) -> list[T]:
    """convert(item) for each item, computed once per distinct item (for values derived from several columns)."""
    once = {item: convert(item) for item in set(items)}
    return list(map(once.__getitem__, items))


def _same(value: T) -> T:
    return value


def _text(value: str | None) -> str:
    return value or ""


def _count(value: int | None) -> int:
    return int(value or 0)


def _real(value: float | None) -> float | None:
    return None if value is None else float(value)
