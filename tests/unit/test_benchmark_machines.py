"""The Machines-sheet benchmark compares like with like: its bare loop writes the very sheet the renderer writes."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from openpyxl import load_workbook

from auditor.reports.xlsx.fleet import machine_columns

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "xlsx_machines.py"


def _benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("xlsx_machines", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cells(path: Path) -> list[list[tuple[Any, str | None, str, Any]]]:
    """Each data cell's value, link, number format and underline (style ids depend on what else the book holds)."""
    ws = load_workbook(path)["Machines"]
    return [
        [(c.value, c.hyperlink.target if c.hyperlink else None, c.number_format, c.font.u) for c in row]
        for row in ws.iter_rows(min_row=3)
    ]


def test_the_bare_loop_writes_the_renderers_cells(tmp_path: Path) -> None:
    bench = _benchmark()
    context = bench.synthetic_context(400)
    headers = [c.header for c in machine_columns(False)]
    bench.renderer_sheet(context, tmp_path / "ours.xlsx")
    bench.bare_loop(bench.prepared_rows(context), headers, tmp_path / "bare.xlsx")
    ours, bare = _cells(tmp_path / "ours.xlsx"), _cells(tmp_path / "bare.xlsx")
    assert len(ours) == 400 and ours == bare
    # Every row links to the portal, and the fleet's dates and flags arrive typed, not as text.
    assert all(row[-1][1] and row[-1][1].startswith("https://portal.azure.com/#@contoso") for row in ours)
    assert {type(row[13][0]).__name__ for row in ours} == {"datetime"}


def test_the_benchmark_runs_every_loop() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARK), "--machines", "60", "--repeat", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    shown = {line.split(":")[0].strip() for line in done.stdout.splitlines()}
    assert {"renderer", "bare loop", "plain values", "openpyxl loop", "ratio (cpu)"} <= shown
