"""Time `auditor scan` as users run it on generated fleets, against the floor: DuckDB alone reading every table.

Usage: python benchmarks/scan_fleet.py [--sizes 10000,100000] [--repeat 2] [--modes floor,default,...] [--cache DIR]

Every measurement is its own process, timed from outside as `/usr/bin/time` would (`os.wait4`): CPU seconds (user +
system, every thread), wall seconds and peak RSS. CPU seconds are the figure to compare on a shared machine; the best
of `--repeat` interleaved runs counts, and the load average is printed beside each figure. The modes:

- floor: DuckDB reads each table file with read_json and ARG's 16 columns (dynamic ones as JSON).
- default: `python -m auditor scan --source snapshot:DIR` with history on, over a history holding one earlier scan
  of the same fleet (as of a week before); the whole pack (workbook, PDF, evidence, manifest). What users run.
- no-history: the same with `--no-history`.
- scan: the scan without the workbook and the PDF, and without history (evidence, summary.json, breaches.json,
  manifest): the figure earlier versions of this benchmark printed.
- queries: load the snapshot and run every query, nothing after (the part that is DuckDB and duckdb-kql).

Ratios are to the floor measured in the same run. Targets at 100,000 machines: default <= 10x the floor's CPU
seconds with a peak RSS <= 1.5 GiB, and history adding <= 10% to the scan's CPU (default against no-history).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

FLOOR = r"""
import sys
from pathlib import Path
import duckdb
# ARG's columns with dynamic values as JSON: auto-detection cannot read real tags (keys that differ only in case), and
# this is the schema any reader of the snapshot needs.
dynamic = {"sku", "plan", "properties", "tags", "identity", "zones", "extendedLocation"}
names = ["id", "name", "type", "tenantId", "kind", "location", "resourceGroup", "subscriptionId", "managedBy",
         "sku", "plan", "properties", "tags", "identity", "zones", "extendedLocation"]
columns = ", ".join(f"'{n}': '{'JSON' if n in dynamic else 'VARCHAR'}'" for n in names)
con = duckdb.connect()
for file in sorted(Path(sys.argv[1]).glob("*.jsonl.gz")):
    con.execute(f"CREATE TABLE t_{file.name.split('.')[0]} AS SELECT * FROM read_json('{file}', "
                f"format='newline_delimited', compression='gzip', columns={{{columns}}})")
"""

QUERIES = r"""
import sys
from auditor.config import Config
from auditor.kql.catalog import Catalog
from auditor.scan import open_source, query_plan, run_queries
source = open_source(f"snapshot:{sys.argv[1]}", Config())
catalog = Catalog()
plan = query_plan(Config(), source.default_as_of())
run_queries(source, [catalog.get(qid)[0].render(params) for qid, params in plan], lambda *_: None, len(plan))
source.close()
"""

SCAN_ONLY = r"""
import sys, tempfile
from pathlib import Path
from auditor.config import Config
from auditor.scan import scan
from auditor.reports.json import BreachesRenderer, SummaryRenderer
scan(Config(), source=f"snapshot:{sys.argv[1]}", out=Path(tempfile.mkdtemp()),
     renderers=[SummaryRenderer(), BreachesRenderer()], use_history=False)
"""

MODES = ("floor", "default", "no-history", "scan", "queries")


@dataclass(frozen=True)
class Run:
    """One measured process."""

    cpu: float
    """User + system CPU seconds of the process and its threads."""
    wall: float
    rss_mib: float
    load: float
    """The one-minute load average when the run ended."""


def timed(command: list[str]) -> Run:
    """Run a command to completion and measure it from outside, as /usr/bin/time does."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parents[1]), *sys.path[1:]]))
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    errors = process.stderr.read().decode() if process.stderr else ""
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {process.returncode}:\n{errors[-2000:]}")
    # ru_maxrss is in KiB on Linux.
    return Run(usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss / 1024, os.getloadavg()[0])


def scan_command(snapshot: Path, out: Path, *extra: str) -> list[str]:
    """`auditor scan` of a snapshot, as a user types it."""
    return [sys.executable, "-m", "auditor", "scan", "--source", f"snapshot:{snapshot}", "--out", str(out), *extra]


def seeded_history(snapshot: Path, work: Path) -> Path:
    """A history file holding one scan of the fleet as of a week before its capture (made once per fleet)."""
    from auditor.snapshots.format import read_snapshot

    seed = work / "history-seed.duckdb"
    if not seed.is_file():
        captured = read_snapshot(snapshot, verify=False).captured_at
        earlier = (captured - timedelta(days=7)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        # A scan may not be dated before its snapshot's capture (Resource Graph keeps only the latest assessment),
        # so the earlier scan reads the same tables (hard links) from a snapshot captured a week before.
        before = work / "snapshot-week-before"
        shutil.rmtree(before, ignore_errors=True)
        before.mkdir(parents=True)
        for table in snapshot.glob("*.jsonl.gz"):
            os.link(table, before / table.name)
        document = json.loads((snapshot / "snapshot.json").read_text(encoding="utf-8"))
        document["captured_at"] = earlier
        (before / "snapshot.json").write_text(json.dumps(document), encoding="utf-8")
        timed(scan_command(before, work / "seed-packs", "--history", str(seed)))
        shutil.rmtree(work / "seed-packs", ignore_errors=True)
        shutil.rmtree(before, ignore_errors=True)
    return seed


def measure(mode: str, snapshot: Path, work: Path) -> Run:
    """One run of a mode in a fresh process (a fresh copy of the seeded history for the default scan)."""
    packs = work / "packs"
    try:
        if mode == "floor":
            return timed([sys.executable, "-c", FLOOR, str(snapshot)])
        if mode == "queries":
            return timed([sys.executable, "-c", QUERIES, str(snapshot)])
        if mode == "scan":
            return timed([sys.executable, "-c", SCAN_ONLY, str(snapshot)])
        if mode == "no-history":
            return timed(scan_command(snapshot, packs, "--no-history"))
        history = work / "history.duckdb"
        shutil.copyfile(seeded_history(snapshot, work), history)
        return timed(scan_command(snapshot, packs, "--history", str(history)))
    finally:
        shutil.rmtree(packs, ignore_errors=True)


def fleet(size: int, cache: Path) -> Path:
    """Generate (once) a seeded fleet of `size` machines."""
    from auditor.snapshots.generate import generate_fleet

    path = cache / f"fleet-{size}"
    if not (path / "snapshot.json").is_file():
        start = time.perf_counter()
        generate_fleet(size, seed=7, out=path)
        print(f"generated {size:,} machines in {time.perf_counter() - start:.1f} s", flush=True)
    return path


def machine() -> str:
    """Cores, memory and CPU model of this machine, for the record."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = f"{pages / 2**30:.0f} GiB RAM"
    except (OSError, ValueError):
        memory = "unknown RAM"
    return f"{os.cpu_count()} cores, {memory}, {model}, Python {sys.version.split()[0]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--repeat", type=int, default=2, help="interleaved runs of each mode; the best counts")
    parser.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, of {', '.join(MODES)}")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "auditor-bench")
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    if unknown := set(modes) - set(MODES):
        parser.error(f"unknown modes: {', '.join(sorted(unknown))}")
    if "floor" not in modes:
        modes.insert(0, "floor")  # every ratio is to the floor of the same run
    args.cache.mkdir(parents=True, exist_ok=True)
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}; best of {args.repeat}", flush=True)
    print(
        f"{'machines':>9} {'mode':>10} {'CPU s':>8} {'x floor':>8} {'wall s':>8} {'x floor':>8} "
        f"{'peak RSS MiB':>13} {'load':>5}"
    )
    for size in (int(s) for s in args.sizes.split(",")):
        snapshot = fleet(size, args.cache)
        work = args.cache / f"work-{size}"
        work.mkdir(exist_ok=True)
        if "default" in modes:
            seeded_history(snapshot, work)
        runs: dict[str, list[Run]] = {mode: [] for mode in modes}
        for _ in range(args.repeat):
            for mode in modes:
                runs[mode].append(measure(mode, snapshot, work))
        floor = min(runs["floor"], key=lambda r: r.cpu)
        best = {mode: min(found, key=lambda r: r.cpu) for mode, found in runs.items()}
        for mode, run in best.items():
            wall = min(r.wall for r in runs[mode])
            print(
                f"{size:>9,} {mode:>10} {run.cpu:>8.2f} {run.cpu / floor.cpu:>8.2f} {wall:>8.2f} "
                f"{wall / min(r.wall for r in runs['floor']):>8.2f} {run.rss_mib:>13.0f} {run.load:>5.1f}",
                flush=True,
            )
        if "default" in best and "no-history" in best:
            extra = best["default"].cpu / best["no-history"].cpu - 1
            print(f"{size:>9,} history adds {100 * extra:.1f}% CPU to the scan (default against no-history)")


if __name__ == "__main__":
    main()
