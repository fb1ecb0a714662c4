"""How many Resource Graph requests a live scan of a generated fleet needs, and the least time they take at the quota.

Usage: python benchmarks/arg_requests.py [--sizes 10000,100000] [--page-size 1000] [--batch-size 100] [--cache DIR]

A live 100,000-machine scan through the emulator would spend most of its time in the emulator, so the requests are
planned instead, with the source's own splitting logic (`auditor.sources._split.read_scope`) answered from the
snapshot: every query of the scan runs once offline; each output row is attributed to its subscription (from
`subscriptionId` or the ARM id it carries) and to its hash partition (DuckDB's hash of the declared partition
key, exactly as the loopback emulator computes `hash()`); a request for a scope and partition is then answered
with that many rows. A result that may page costs ceil(rows / page) requests; under the conservative reading of
Microsoft's docs (no $skipToken for a summarize or an output without `id`) one that may not and has more rows
than a page costs one truncated request and is cut, as the source cuts it. `tests/integration/test_live_partitions.py`
checks that the plan counts exactly the requests the emulator serves.

Prints, per fleet size and paging reading, the requests, the parts the scopes were cut into, and the least wall
time at Resource Graph's documented quota of 15 requests per 5-second window (requests / 3 per second).
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
QUOTA = (15, 5.0)
_SUBSCRIPTION = re.compile(r"/subscriptions/([0-9a-fA-F-]{36})")
_SUMMARIZING = re.compile(r"\|\s*summarize\b", re.IGNORECASE)
ATTRIBUTION = ("subscriptionId", "id", "machineId", "patchKey", "configurationId", "resourceId")


@dataclass
class QueryPlan:
    """The requests one query needs."""

    ref: str
    rows: int
    requests: int = 0
    parts: int = 0
    partitioned_parts: int = 0
    problems: list[str] = field(default_factory=list)


def subscription_of(row: dict[str, Any]) -> str:
    """The (lower-case) subscription a result row belongs to."""
    for column in ATTRIBUTION:
        value = row.get(column)
        if column == "subscriptionId" and value:
            return str(value).lower()
        match = _SUBSCRIPTION.search(str(value or ""))
        if match:
            return match.group(1).lower()
    raise ValueError(f"cannot tell the subscription of row {row}")


def hash_buckets(keys: list[str], count: int) -> list[int]:
    """`hash(key) % count` for each key, with the emulator's hash (DuckDB's, shifted into a signed long)."""
    import duckdb

    con = duckdb.connect()
    try:
        rows = con.execute(
            "SELECT (CAST(hash(CAST(k AS VARCHAR)) >> 1 AS BIGINT) % ?) FROM unnest(?::VARCHAR[]) AS t(k)",
            [count, keys],
        ).fetchall()
    finally:
        con.close()
    return [int(value) for (value,) in rows]


def plan_query(
    rows: list[dict[str, Any]],
    ref: str,
    text: str,
    columns: list[str],
    partition_key: str | None,
    subscriptions: list[str],
    *,
    batch_size: int,
    page_size: int,
    conservative: bool,
) -> QueryPlan:
    """Replay the source's splitting for one query over the subscription batches of `subscriptions`."""
    from auditor.sources._paging import BatchOutcome
    from auditor.sources._split import Scope, read_scope

    by_sub = Counter(subscription_of(row) for row in rows)
    keys_by_sub: dict[str, list[str]] = {}
    if partition_key:
        for row in rows:
            keys_by_sub.setdefault(subscription_of(row), []).append(str(row[partition_key]))
    pageable = not conservative or ("id" in columns and not _SUMMARIZING.search(text))
    plan = QueryPlan(ref, len(rows))
    bucket_cache: dict[tuple[str, int], Counter[int]] = {}

    def count(scope: Scope, partition: tuple[int, int] | None) -> int:
        subs = [sub.lower() for sub in scope.subscriptions]
        if partition is None:
            return sum(by_sub[sub] for sub in subs)
        index, parts = partition
        total = 0
        for sub in subs:
            if (sub, parts) not in bucket_cache:
                bucket_cache[(sub, parts)] = Counter(hash_buckets(keys_by_sub.get(sub, []), parts))
            total += bucket_cache[(sub, parts)][index]
        return total

    def read(query: str, scope: Scope) -> BatchOutcome:
        partition = None
        if query != text:
            index, parts = (int(value) for value in query.split("/"))
            partition = (index, parts)
        total = count(scope, partition)
        if total > page_size and not pageable:
            plan.requests += 1
            return BatchOutcome([{}] * page_size, ("truncated",), pages=1, overflow=True, total=total)
        pages = max(1, math.ceil(total / page_size))
        plan.requests += pages
        return BatchOutcome([{}] * total, pages=pages, total=total)

    def partitioned(index: int, parts: int) -> str:
        return f"{index}/{parts}"

    for start in range(0, len(subscriptions), batch_size):
        batch = tuple(subscriptions[start : start + batch_size])
        parts = read_scope(read, text, partitioned if partition_key else None, Scope("batch", batch), page_size)
        plan.parts += len(parts)
        plan.partitioned_parts += sum(1 for part in parts if part.piece.partition is not None)
        plan.problems += [problem for part in parts for problem in part.outcome.problems]
    return plan


def plan_scan(snapshot_dir: Path, *, batch_size: int, page_size: int, conservative: bool) -> list[QueryPlan]:
    """The plan of every query a scan runs (default config, as of the capture time) over the fleet's subscriptions."""
    from auditor.config import Config
    from auditor.kql.catalog import Catalog
    from auditor.scan import query_plan
    from auditor.snapshots.format import read_snapshot
    from auditor.sources.snapshot import SnapshotSource

    snapshot = read_snapshot(snapshot_dir)
    subscriptions = [str(sub) for sub in snapshot.scope["subscriptions"]]
    source = SnapshotSource(snapshot)
    catalog = Catalog()
    plans = []
    try:
        as_of = source.default_as_of()
        assert as_of is not None
        for query_id, params in query_plan(Config(), as_of):
            request = catalog.get(query_id)[0].render(params)
            table = source.run(request).table
            needed = [name for name in (*ATTRIBUTION, request.partition_key) if name and name in table.column_names]
            rows = table.select(list(dict.fromkeys(needed))).to_pylist()
            plans.append(
                plan_query(
                    rows,
                    request.ref,
                    request.text,
                    [name for name, _ in request.columns],
                    request.partition_key,
                    subscriptions,
                    batch_size=batch_size,
                    page_size=page_size,
                    conservative=conservative,
                )
            )
    finally:
        source.close()
    return plans


def least_seconds(requests: int, quota: tuple[int, float] = QUOTA) -> float:
    """The least wall time `requests` take at `quota` (requests per window), the first window starting at once."""
    limit, window = quota
    return max(0.0, (math.ceil(requests / limit) - 1) * window) if requests else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "auditor-arg-requests")
    parser.add_argument("--detail", action="store_true", help="print each query's plan")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from auditor.snapshots.format import read_snapshot
    from auditor.snapshots.generate import generate_fleet

    args.cache.mkdir(parents=True, exist_ok=True)
    print("machines | paging | requests | cut into | least time at 15 per 5 s | planned in")
    for size in (int(value) for value in args.sizes.split(",")):
        path = args.cache / f"fleet-{size}"
        if not (path / "snapshot.json").is_file():
            generate_fleet(size, seed=7, out=path)
        subs = len(read_snapshot(path).scope["subscriptions"])
        for conservative in (False, True):
            started = time.perf_counter()
            plans = plan_scan(path, batch_size=args.batch_size, page_size=args.page_size, conservative=conservative)
            requests = sum(plan.requests for plan in plans)
            parts = sum(plan.partitioned_parts for plan in plans)
            mode = "conservative" if conservative else "lenient"
            print(
                f"{size:,} ({subs} subscriptions) | {mode} | {requests:,} | {parts:,} hash partitions | "
                f"{least_seconds(requests):,.0f} s ({requests / (QUOTA[0] / QUOTA[1]):,.0f} s at 3/s) | "
                f"{time.perf_counter() - started:.1f} s"
            )
            for plan in plans if args.detail else []:
                line = f"    {plan.ref}: {plan.rows:,} rows, {plan.requests:,} requests, {plan.parts} parts"
                print(line + (f", problems: {plan.problems[:2]}" if plan.problems else ""))
            if any(plan.problems for plan in plans):
                print("    some scope could not be cut to fit (see --detail)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
