"""Time `auditor scan` on generated fleets and compare it with the floor: DuckDB alone reading every table.

The floor reads each table file with read_json and ARG's 16 columns (dynamic ones as JSON).

Usage: python benchmarks/scan_fleet.py [--sizes 10000,100000] [--full] [--cache DIR]

Each measurement runs in its own process so peak RSS is that run's own. `--full` adds the workbook and the
PDF (the whole pipeline); without it the scan writes evidence, summary.json, breaches.json and the manifest.
Prints one line per fleet: wall seconds, peak RSS, machines per second, the floor, the ratio, and the time to load
the snapshot and run every query with nothing after (the part of the scan that is DuckDB and duckdb-kql).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORKER = r"""
import json, resource, sys, time, tempfile
from pathlib import Path
mode, snap = sys.argv[1], sys.argv[2]
start = time.perf_counter()
if mode == "floor":
    import duckdb
    # ARG's columns with dynamic values as JSON: auto-detection cannot read real tags (keys that differ
    # only in case), and this is the schema any reader of the snapshot needs.
    dynamic = {"sku", "plan", "properties", "tags", "identity", "zones", "extendedLocation"}
    names = ["id", "name", "type", "tenantId", "kind", "location", "resourceGroup", "subscriptionId", "managedBy",
             "sku", "plan", "properties", "tags", "identity", "zones", "extendedLocation"]
    columns = ", ".join(f"'{n}': '{'JSON' if n in dynamic else 'VARCHAR'}'" for n in names)
    con = duckdb.connect()
    for file in sorted(Path(snap).glob("*.jsonl.gz")):
        con.execute(f"CREATE TABLE t_{file.name.split('.')[0]} AS SELECT * FROM read_json('{file}', "
                    f"format='newline_delimited', compression='gzip', columns={{{columns}}})")
elif mode == "queries":
    from auditor.config import Config
    from auditor.kql.catalog import Catalog
    from auditor.scan import open_source, query_plan, run_queries
    source = open_source(f"snapshot:{snap}", Config())
    catalog = Catalog()
    plan = query_plan(Config(), source.default_as_of())
    run_queries(source, [catalog.get(qid)[0].render(params) for qid, params in plan], lambda *_: None, len(plan))
    source.close()
else:
    from auditor.config import Config
    from auditor.scan import scan
    from auditor.reports.json import BreachesRenderer, SummaryRenderer
    renderers = None if mode == "full" else [SummaryRenderer(), BreachesRenderer()]
    scan(Config(), source=f"snapshot:{snap}", out=Path(tempfile.mkdtemp()), renderers=renderers, use_history=False)
wall = time.perf_counter() - start
print(json.dumps({"wall": wall, "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure(mode: str, snapshot: Path) -> dict[str, float]:
    """Run one measurement in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-c", WORKER, mode, str(snapshot)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def fleet(size: int, cache: Path) -> Path:
    """Generate (once) a seeded fleet of `size` machines."""
    from auditor.snapshots.generate import generate_fleet

    path = cache / f"fleet-{size}"
    if not (path / "snapshot.json").is_file():
        start = time.perf_counter()
        generate_fleet(size, seed=7, out=path)
        print(f"generated {size:,} machines in {time.perf_counter() - start:.1f} s", flush=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--full", action="store_true", help="include the workbook and the PDF")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "auditor-bench")
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    mode = "full" if args.full else "scan"
    print(
        f"{'machines':>9} {'mode':>5} {'wall s':>8} {'peak RSS MiB':>13} {'machines/s':>11} {'floor s':>8} {'ratio':>6} "
        f"{'load+queries s':>15}"
    )
    for size in (int(s) for s in args.sizes.split(",")):
        snapshot = fleet(size, args.cache)
        floor = measure("floor", snapshot)
        queries = measure("queries", snapshot)
        run = measure(mode, snapshot)
        print(
            f"{size:>9,} {mode:>5} {run['wall']:>8.2f} {run['rss_mib']:>13.0f} {size / run['wall']:>11,.0f} "
            f"{floor['wall']:>8.2f} {run['wall'] / floor['wall']:>6.2f} {queries['wall']:>15.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
