"""How close ResourceGraphSource pages to Resource Graph's quota, with nothing lost or repeated.

Usage: python benchmarks/arg_paging.py [--rows 125000] [--page-size 1000] [--quota 15/5] [--keep DIR]

Builds a seeded fleet whose `patchassessmentresources` table holds at least `--rows` rows, serves it from the
loopback emulator with the quota enforced (default: the real 15 requests per 5 seconds per user), and reads the
table the way `snapshot capture` does (ARG's 16 columns, 1,000 rows a page). Prints pages per second against the
quota's 3 per second, against the best any client could do for that many pages, the 429s provoked, and whether
every row arrived exactly once.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=125_000, help="rows the query must return (at least)")
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--quota", default="15/5", help="requests/seconds per user, as the emulator enforces it")
    parser.add_argument("--keep", type=Path, help="build (or reuse) the fleet here instead of a temporary dir")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))  # the emulator lives with the integration tests

    from auditor.snapshots.format import iter_table, read_snapshot
    from auditor.sources.capture import CAPTURE_QUERIES
    from auditor.sources.resource_graph import ResourceGraphSource
    from tests.integration.azure_emulator import TENANT, AzureEmulator
    from tests.integration.azure_emulator.fleet import build_fleet, subscription_ids

    limit, window = (float(part) for part in args.quota.split("/"))
    work = args.keep or Path(tempfile.mkdtemp(prefix="arg-paging-"))
    subs = subscription_ids(20)
    # ~2 rows per machine plus a random 0..40 patches each (20 on average): 22 rows per machine.
    machines_per_sub = math.ceil(args.rows / 22 / len(subs) * 1.08)
    started = time.perf_counter()
    if (work / "fleet" / "snapshot.json").is_file():
        fleet = read_snapshot(work / "fleet")
    else:
        fleet = build_fleet(
            work / "fleet",
            tenant=TENANT,
            subscriptions=subs,
            machines_per_subscription=machines_per_sub,
            patches_per_machine=40,
        )
    table = fleet.tables["patchassessmentresources"]
    expected = sorted(str(row["id"]) for row in iter_table(table))
    print(f"fleet: {len(expected):,} patchassessmentresources rows ({time.perf_counter() - started:.1f} s to build)")
    if len(expected) < args.rows:
        print(f"the fleet has fewer than {args.rows:,} rows; raise --rows", file=sys.stderr)
        return 2

    text = CAPTURE_QUERIES["patchassessmentresources"]
    with AzureEmulator(fleet, quota=(int(limit), window)) as emulator:
        # Run the query once inside the emulator so the measurement is of paging, not of DuckDB.
        emulator.engine.run(text, tuple(sorted(subs)))
        settings = emulator.settings(subscriptions=subs, page_size=args.page_size, quota_margin_seconds=0.05)
        source = ResourceGraphSource.from_settings(settings, **emulator.client_kwargs())
        started = time.perf_counter()
        fetched = source.fetch(text, label="patchassessmentresources", key="id")
        elapsed = time.perf_counter() - started
        source.close()
        assert emulator.quota is not None
        throttled = emulator.quota.throttled
        requests = emulator.arg.stats.requests

    ids = [str(row["id"]) for row in fetched.rows]
    pages = fetched.pages
    rate = pages / elapsed
    ceiling = limit / window
    # With a window that opens at the first request, `limit` pages go at once and each later group of `limit`
    # must wait a whole window: the last page cannot start before floor((pages - 1) / limit) windows have passed.
    best = math.floor((pages - 1) / limit) * window
    print(f"quota: {int(limit)} requests / {window:g} s per user = {ceiling:.2f} pages/s")
    print(f"pages: {pages} of {args.page_size} rows; requests: {requests}; 429s provoked: {throttled}")
    print(f"time: {elapsed:.2f} s (quota waits {source.governor.waited_seconds:.2f} s); best possible {best:.1f} s")
    print(
        f"rate: {rate:.3f} pages/s = {100 * rate / ceiling:.1f}% of the quota's {ceiling:.0f}/s; "
        f"{100 * best / elapsed:.1f}% of the best possible for {pages} pages"
    )
    lost = len(set(expected) - set(ids))
    repeated = len(ids) - len(set(ids))
    print(
        f"rows: {len(ids):,} received, {len(expected):,} expected, {lost} lost, {repeated} repeated; "
        f"complete={fetched.complete}"
    )
    return 0 if fetched.complete and not lost and not repeated and sorted(ids) == expected else 1


if __name__ == "__main__":
    sys.exit(main())
