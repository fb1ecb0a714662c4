"""Benchmark: the Machines sheet for a large fleet, against a bare loop of the same writer.

Synthesises MachineVerdict objects directly (no scan) and writes the Machines sheet with the renderer's own code.
The renderer's rows go through RowWriter (`auditor/reports/xlsx/rows.py`), so the bare loop is the same writer
given the same cells, built beforehand (portal links included, texts through the safety rule), and saved the same
way: both write the same sheet, and the target is at most 1.3x that loop. It also times the writer on the same
values as plain Python values (links as their text: a smaller sheet), the baseline this benchmark used before, and
for reference openpyxl's own write-only loop (`ws.append(values)`), the writer the renderer used before RowWriter.
Each is run `--repeat` times, interleaved, and the best counts: timings of the same code on a shared virtual
machine spread by 10% or more. Run: `python benchmarks/xlsx_machines.py [--machines N] [--repeat K]`.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from auditor import __version__
from auditor.compliance.evaluate import Evaluation
from auditor.compliance.facts import Machine
from auditor.compliance.rules import AssessmentState, MachineVerdict, Status
from auditor.config import Config
from auditor.reports.interface import ReportContext
from auditor.reports.xlsx.fleet import machine_columns, machine_rows, write_machines
from auditor.reports.xlsx.rows import Link, RowWriter
from auditor.reports.xlsx.sheet import SafeTexts
from auditor.reports.xlsx.style import Styles, naive_utc
from auditor.reports.xlsx.workbook import save_workbook

AS_OF = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
TARGET = 1.3


def synthetic_context(machines: int, seed: int = 7) -> ReportContext:
    """A context whose evaluation holds `machines` varied verdicts (and nothing the Machines sheet ignores)."""
    rng = random.Random(seed)
    subs = [f"{i:08d}-0000-4000-8000-{rng.getrandbits(48):012x}" for i in range(40)]
    envs = ["Production", "Test", "Development", "(untagged)", "Staging"]
    verdicts = []
    for i in range(machines):
        arc = rng.random() < 0.3
        linux = rng.random() < 0.4
        sub, rg, name = rng.choice(subs), f"rg-app-{i % 300:03d}", f"{'arc' if arc else 'vm'}-{i:06d}"
        provider = "Microsoft.HybridCompute/machines" if arc else "Microsoft.Compute/virtualMachines"
        rid = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{provider}/{name}"
        status = rng.choices((Status.COMPLIANT, Status.NON_COMPLIANT, Status.UNKNOWN), weights=(80, 12, 8))[0]
        overdue = ("Critical", "Security") if status is Status.NON_COMPLIANT else ()
        machine = Machine(
            machine_id=rid.lower(),
            resource_id=rid,
            name=name,
            platform="Arc" if arc else "Azure",
            subscription_id=sub,
            resource_group=rg,
            location=rng.choice(["westeurope", "northeurope", "eastus2"]),
            os="Linux" if linux else "Windows",
            os_detail="Ubuntu 22.04" if linux else "WindowsServer 2022-datacenter",
            image_sku="" if arc else "2022-datacenter-azure-edition",
            power_state="" if arc else "PowerState/running",
            environment=rng.choice(envs),
            tags={"Environment": "prod", "owner": f"team-{i % 17}", "costCenter": "4711"},
            assessment_mode="AutomaticByPlatform",
            patch_mode=rng.choice(["AutomaticByPlatform", "Manual", "ImageDefault"]),
            hotpatch=None if linux else rng.random() < 0.5,
            bypass_safety_checks=rng.random() < 0.5,
            reboot_setting="IfRequired",
            assessment_status="Succeeded",
            assessment_last_modified=AS_OF - timedelta(hours=rng.randint(1, 200)),
            assessment_error="",
            reboot_pending=rng.random() < 0.1,
        )
        verdicts.append(
            MachineVerdict(
                machine=machine,
                assessment=AssessmentState.CURRENT if status is not Status.UNKNOWN else AssessmentState.STALE,
                status=status,
                pending_patches=rng.randint(0, 30),
                overdue_classifications=overdue,
                oldest_overdue_age_days=rng.randint(16, 90) if overdue else None,
                unknown_age_patches=0,
            )
        )
    evaluation = Evaluation(AS_OF, Config(), verdicts, [], [], {}, {"as_of": "2026-11-01T06:00:00Z"}, [], [])
    return ReportContext(
        evaluation=evaluation,
        queries=[],
        tool_version=__version__,
        run_id="bench",
        pack_id="bench",
        generated_at=AS_OF,
        source={"tenant_id": "contoso.onmicrosoft.com"},
    )


def prepared_rows(context: ReportContext) -> list[list[Any]]:
    """The Machines sheet's cells exactly as the renderer hands them to the writer (portal links included, texts
    through the safety rule), built beforehand: what the bare loop writes, so that both write the same sheet and the
    ratio is the renderer's own cost of building its rows (safety checks, labels, links) over the writer's."""
    wb = Workbook(write_only=True)
    Styles(wb)
    ws = wb.create_sheet("scratch")
    made_safe = SafeTexts(ws, machine_columns(False))
    return [list(made_safe(row)) for row in machine_rows(ws, context, {})]


def plain_rows(rows: list[list[Any]]) -> list[list[Any]]:
    """The same values as plain Python values, links as their text: the leaner sheet an earlier bare loop wrote.
    Values as openpyxl's own loop takes them too: datetimes naive (in UTC), no empty text."""

    def plain(value: Any) -> Any:
        if isinstance(value, Link):
            return value.text
        if isinstance(value, datetime):
            return naive_utc(value)
        if value == "":
            return None
        return value.value if hasattr(value, "value") and hasattr(value, "data_type") else value

    return [[plain(v) for v in row] for row in rows]


def timed(action: Callable[[], None]) -> tuple[float, float]:
    """Wall-clock and CPU seconds an action takes (CPU time is steadier on a busy machine)."""
    wall, cpu = time.perf_counter(), time.process_time()
    action()
    return time.perf_counter() - wall, time.process_time() - cpu


def renderer_sheet(context: ReportContext, path: Path) -> None:
    """The Machines sheet as the renderer writes it (styles, safety, portal links), saved as the renderer saves."""
    workbook = Workbook(write_only=True)
    Styles(workbook)
    write_machines(workbook, context, {}, "")
    save_workbook(workbook, path, context.evaluation.as_of)


def bare_loop(rows: list[list[Any]], headers: list[str], path: Path) -> None:
    """The same rows and columns through a bare loop of the renderer's writer (RowWriter), saved as it saves."""
    workbook = Workbook(write_only=True)
    Styles(workbook)  # the link style the portal links are written in
    ws = workbook.create_sheet("Machines")
    ws.append(["caption"])
    ws.append(headers)
    writer = RowWriter(ws, 3)
    for row in rows:
        writer.append(row)
    writer.close()
    save_workbook(workbook, path, AS_OF)


def openpyxl_loop(rows: list[list[Any]], headers: list[str], path: Path) -> None:
    """The same rows and columns through a bare openpyxl write-only loop (the writer before RowWriter)."""
    workbook = Workbook(write_only=True)
    ws = workbook.create_sheet("Machines")
    ws.append(["caption"])
    ws.append(headers)
    for row in rows:
        ws.append(row)
    workbook.save(path)


def main() -> None:
    """Print the best of `--repeat` interleaved timings of each, and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--machines", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5, help="interleaved runs of each; the best counts")
    parser.add_argument("--no-openpyxl", action="store_true", help="skip the reference openpyxl loop")
    args = parser.parse_args()
    context = synthetic_context(args.machines)
    rows = prepared_rows(context)
    plain = plain_rows(rows)
    headers = [c.header for c in machine_columns(False)]
    ours: list[tuple[float, float]] = []
    bare: list[tuple[float, float]] = []
    lean: list[tuple[float, float]] = []
    before: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeat):
            ours.append(timed(lambda: renderer_sheet(context, Path(tmp) / "ours.xlsx")))
            bare.append(timed(lambda: bare_loop(rows, headers, Path(tmp) / "bare.xlsx")))
            lean.append(timed(lambda: bare_loop(plain, headers, Path(tmp) / "lean.xlsx")))
            if not args.no_openpyxl:
                before.append(timed(lambda: openpyxl_loop(plain, headers, Path(tmp) / "openpyxl.xlsx")))
        sizes = {name: (Path(tmp) / f"{name}.xlsx").stat().st_size / 1e6 for name in ("ours", "bare", "lean")}
    print(f"Machines sheet, {args.machines:,} machines x {len(headers)} columns, best of {args.repeat}")
    for label, runs, size in (
        ("renderer", ours, sizes["ours"]),
        ("bare loop", bare, sizes["bare"]),
        ("plain values", lean, sizes["lean"]),
    ):
        print(
            f"  {label + ':':<16}wall {min(w for w, _ in runs):7.2f} s   cpu {min(c for _, c in runs):7.2f} s  ({size:.1f} MB)"
        )
    if before:
        print(
            f"  {'openpyxl loop:':<16}wall {min(w for w, _ in before):7.2f} s   cpu {min(c for _, c in before):7.2f} s"
        )
    for label, index in (("wall", 0), ("cpu", 1)):
        ratio = min(t[index] for t in ours) / min(t[index] for t in bare)
        print(f"  ratio ({label}): {ratio:5.2f}x  (target <= {TARGET}x: {'met' if ratio <= TARGET else 'MISSED'})")
    ratio = min(t[1] for t in ours) / min(t[1] for t in lean)
    print(f"  against the plain-values loop (cpu): {ratio:5.2f}x")


if __name__ == "__main__":
    main()
