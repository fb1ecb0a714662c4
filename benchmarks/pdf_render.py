"""Benchmark: audit-pack.pdf render time and page count as the fleet grows.

    python benchmarks/pdf_render.py                      # 10,000 and 100,000 machines
    python benchmarks/pdf_render.py --machines 1000 --fleet synthetic

`--fleet generated` (the default when auditor.snapshots.generate is present) writes a seeded synthetic snapshot and
runs a real scan over it; `--fleet synthetic` skips the snapshot and feeds evaluate() query rows made here (with the
patch-level overdue detail and a small exceptions register), which needs nothing but the compliance code. Either way only the PdfRenderer is timed. Target: at most 40 pages and
20 s at 100,000 machines, because every PDF list is capped (full detail lives in the workbook and evidence).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pypdf

from auditor import __version__
from auditor.compliance.evaluate import REQUIRED_QUERIES, evaluate
from auditor.config import Config, load_config
from auditor.errors import QueryError
from auditor.kql.catalog import Catalog
from auditor.kql.request import ARROW_TYPES
from auditor.package_data import sample_config
from auditor.reports.interface import QueryRecord, ReportContext
from auditor.reports.pdf.document import PdfRenderer
from auditor.risk_register import Register, validate_register
from auditor.scan import query_plan, scan

AS_OF = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
ENVIRONMENTS = ("prod", "Production", "dev", "test", "uat", "Staging", "")
CLASSES = ('["Critical"]', '["Security"]', '["Security","Critical"]', '["Updates"]', '["Definition"]', '["Other"]')
ERRORS = ("PatchInstallationFailed", "MaintenanceWindowExceeded", "VMAgentNotResponding", "RebootFailed")


class TimedPdf:
    """The PdfRenderer with a stopwatch."""

    filename = PdfRenderer.filename

    def __init__(self) -> None:
        self.seconds = 0.0

    def render(self, context: ReportContext, path: Path) -> None:
        started = time.perf_counter()
        PdfRenderer().render(context, path)
        self.seconds = time.perf_counter() - started


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def synthetic_tables(machines: int, seed: int) -> dict[str, list[dict[str, Any]]]:
    """Query result rows (the shapes the catalog's queries return) for a fleet of `machines`."""
    rng = random.Random(seed)
    tables: dict[str, list[dict[str, Any]]] = {name: [] for name in REQUIRED_QUERIES}
    for i in range(machines):
        sub = f"{i % 400:08x}-0000-4000-8000-{i % 400:012x}"
        arc = rng.random() < 0.2
        kind = "Microsoft.HybridCompute/machines" if arc else "Microsoft.Compute/virtualMachines"
        rid = f"/subscriptions/{sub}/resourceGroups/rg-app-{i % 37:02d}/providers/{kind}/vm-{i:06d}"
        mid = rid.lower()
        linux = rng.random() < 0.4
        env = rng.choice(ENVIRONMENTS)
        assessed = rng.random() < 0.93
        tables["machine_facts"].append(
            {
                "machineId": mid,
                "id": rid,
                "name": f"vm-{i:06d}",
                "platform": "Arc" if arc else "Azure",
                "subscriptionId": sub,
                "resourceGroup": f"rg-app-{i % 37:02d}",
                "location": "westeurope",
                "osRaw": "Linux" if linux else "Windows",
                "osSku": "",
                "osVersion": "",
                "imageOffer": "",
                "imageSku": "",
                "powerState": "PowerState/running",
                "tags": json.dumps({"Environment": env} if env else {}),
                "assessmentMode": "AutomaticByPlatform" if rng.random() < 0.7 else "ImageDefault",
                "patchMode": "AutomaticByPlatform",
                "hotpatch": "",
                "bypassSafetyChecks": "",
                "rebootSetting": "",
                "assessmentStatus": ("Succeeded" if rng.random() < 0.95 else "Failed") if assessed else None,
                "assessmentLastModified": _iso(AS_OF - timedelta(days=rng.choice((1, 1, 1, 2, 9))))
                if assessed
                else None,
                "assessmentError": "",
                "rebootPending": "false",
            }
        )
        for classes in rng.sample(CLASSES, rng.randint(0, 3)):
            undated = 1 if linux and rng.random() < 0.2 else 0
            oldest = AS_OF - timedelta(days=rng.randint(1, 60))
            tables["pending_patches"].append(
                {
                    "machineId": mid,
                    "classifications": classes,
                    "patches": rng.randint(1, 5) + undated,
                    "oldestPublished": _iso(oldest),
                    "undated": undated,
                }
            )
            if "Critical" in classes or "Security" in classes:
                # The patch-level detail the top machines name their oldest overdue patch from.
                tables["overdue_patches"].append(
                    {
                        "patchKey": f"{mid}/p/kb{i}{len(classes)}",
                        "machineId": mid,
                        "patchName": f"{oldest:%Y-%m} Cumulative Update for Windows Server",
                        "kbId": f"KB50{i:05d}",
                        "version": "",
                        "classifications": classes,
                        "publishedDateTime": _iso(oldest),
                    }
                )
            if undated and ("Critical" in classes or "Security" in classes):
                tables["undated_patches"].append(
                    {
                        "patchKey": f"{mid}/p/{classes}",
                        "machineId": mid,
                        "patchName": "openssl",
                        "version": "3.0",
                        "classifications": classes,
                    }
                )
        for run in range(rng.randint(0, 2)):
            failed = rng.random() < 0.1
            start = AS_OF - timedelta(days=rng.uniform(1, 29))
            tables["installations"].append(
                {
                    "id": f"{rid}/patchInstallationResults/{run}",
                    "machineId": mid,
                    "status": "Failed" if failed else "Succeeded",
                    "startDateTime": _iso(start),
                    "lastModifiedDateTime": _iso(start + timedelta(minutes=rng.randint(5, 90))),
                    "maintenanceWindowExceeded": "false",
                    "installedPatchCount": 3,
                    "failedPatchCount": int(failed),
                    "pendingPatchCount": 0,
                    "errorCode": rng.choice(ERRORS) if failed else "",
                    "startedBy": "Platform",
                    "rebootStatus": "NotNeeded",
                    "maintenanceRunId": "",
                }
            )
        if rng.random() < 0.6:
            tables["maintenance_assignments"].append(
                {
                    "id": f"{rid}/providers/Microsoft.Maintenance/configurationAssignments/weekly",
                    "subscriptionId": sub,
                    "resourceId": rid,
                    "configurationId": f"/subscriptions/{sub}/maintenanceconfigurations/weekly",
                    "filter": "",
                }
            )
    return tables


def synthetic_register() -> Register:
    """A register with an exception in each state, so the PDF's exceptions section has its usual shape."""
    entries = [
        {
            "id": f"EX-{n}",
            "owner": "app-team@contoso.com",
            "justification": "Vendor certification pending. " * 4,
            "ticket": f"CHG-{n}",
            "approver": "risk-board@contoso.com",
            "approved_on": created,
            "created": created,
            "expires_on": expires,
            "tags": {"Environment": env},
            **({"classifications": ["Security"]} if n % 2 else {}),
        }
        for n, (created, expires, env) in enumerate(
            [
                ("2026-09-01", "2027-01-31", "prod"),
                ("2026-06-01", "2026-11-10", "dev"),
                ("2026-05-01", "2026-10-15", "test"),
                ("2026-10-01", "2026-12-31", "nowhere"),
            ],
            start=101,
        )
    ]
    return validate_register({"exception": entries}, max_days=180, source="benchmark")


def synthetic_context(machines: int, seed: int, config: Config) -> ReportContext:
    """A ReportContext from evaluate() over synthetic query rows, with the catalog's real query texts."""
    catalog = Catalog()
    tables = {
        name: pa.Table.from_pylist(rows) if rows else _empty(catalog, name)
        for name, rows in synthetic_tables(machines, seed).items()
    }
    records = []
    for query_id, params in query_plan(config, AS_OF):
        query, _ = catalog.get(query_id)
        version = query.version()
        try:
            text = query.render(params).text
        except QueryError:
            # A query whose parameters the plan does not supply yet: the appendix shows its template instead,
            # which costs the same to lay out.
            text = version.text
        records.append(
            QueryRecord(
                query_id,
                version.version,
                version.sha256,
                "-",
                tables[query_id].num_rows,
                text,
                f"evidence/{version.ref}.jsonl.gz",
            )
        )
    evaluation = evaluate(
        tables, config=config, as_of=AS_OF, query_refs={r.id: r.ref for r in records}, register=synthetic_register()
    )
    return ReportContext(
        evaluation,
        records,
        __version__,
        "benchmark",
        "pack-benchmark",
        datetime.now(UTC),
        {"kind": "benchmark", "tenant_id": "synthetic"},
    )


def _empty(catalog: Catalog, query_id: str) -> pa.Table:
    """No rows, with the query's declared columns (for tables the synthetic fleet does not model)."""
    query, _ = catalog.get(query_id)
    return pa.table({name: pa.array([], ARROW_TYPES[kind]) for name, kind in query.columns})


def run(machines: int, fleet: str, seed: int, workdir: Path) -> dict[str, Any]:
    """Render one pack's PDF and return its figures."""
    config = load_config(sample_config())
    timer = TimedPdf()
    pdf = workdir / f"{fleet}-{machines}.pdf"
    if fleet == "generated":
        from auditor.snapshots.generate import generate_fleet

        snapshot = workdir / f"fleet-{machines}"
        generate_fleet(machines, seed=seed, out=snapshot)
        result = scan(
            config, source=f"snapshot:{snapshot}", out=workdir / "packs", use_history=False, renderers=[timer]
        )
        (result.pack / timer.filename).replace(pdf)
    else:
        timer.render(synthetic_context(machines, seed, config), pdf)
    return {
        "machines": machines,
        "fleet": fleet,
        "pages": len(pypdf.PdfReader(pdf).pages),
        "render_seconds": round(timer.seconds, 2),
        "pdf_kib": round(pdf.stat().st_size / 1024),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--machines", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--fleet", choices=("generated", "synthetic"), default=None)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    fleet = args.fleet
    if fleet is None:
        try:
            import auditor.snapshots.generate  # noqa: F401
        except ImportError:
            fleet = "synthetic"
        else:
            fleet = "generated"
    with tempfile.TemporaryDirectory(prefix="pdf-bench-") as tmp:
        for machines in args.machines:
            figures = run(machines, fleet, args.seed, Path(tmp))
            print(json.dumps(figures), flush=True)
            if figures["pages"] > 40 or figures["render_seconds"] > 20:
                print(f"over target (40 pages, 20 s) at {machines} machines", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
