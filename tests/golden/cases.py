"""The fleets whose summary.json is pinned byte for byte under tests/golden/summaries/.

Each case builds its fleet, scans (or evaluates) it and returns summary.json's text. The files were written by
the code before the summary became a typed tree, so a difference means the contract moved. Regenerate only on a
deliberate change to `auditor-summary/1`: `python -m tests.golden.cases` (and say why in the commit).
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from auditor.compliance.evaluate import evaluate
from auditor.config import Config, config_from_dict, load_config
from auditor.kql.catalog import Catalog
from auditor.reports.json import SummaryRenderer
from auditor.scan import ScanResult, query_plan, scan
from auditor.snapshots.format import read_snapshot
from auditor.snapshots.generate import generate_fleet
from auditor.sources.snapshot import SnapshotSource
from tests.crafted import AS_OF
from tests.integration.test_exceptions_scan import REGISTER, exception_fleet
from tests.integration.test_replay_fleet import write_small_fleet
from tests.integration.test_scan_crafted import crafted
from tests.integration.test_schedules import schedule_fleet

GOLDEN = Path(__file__).parent / "summaries"

BREACHING = {
    "environment_aliases": {"Production": ["prod", "prd"], "Development": ["dev"]},
    "thresholds": {
        "min_compliance_rate": 90.0,
        "max_unknown_rate": 10.0,
        "by_environment": {"Production": 99.0},
        "max_overdue_machines": {"Critical": 0},
    },
}


def _summary(result: ScanResult) -> str:
    return (result.pack / "summary.json").read_text(encoding="utf-8")


def _json_only() -> list[SummaryRenderer]:
    return [SummaryRenderer()]


def sample(tmp: Path) -> str:
    """The bundled sample fleet and config at its default as-of time (what `auditor scan --no-history` does)."""
    return _summary(scan(source="sample", out=tmp / "packs", use_history=False, renderers=_json_only()))


def generated(tmp: Path) -> str:
    """A 300-machine generated fleet with the default config: no register, no thresholds."""
    generate_fleet(300, seed=11, out=tmp / "snap")
    return _summary(
        scan(Config(), source=f"snapshot:{tmp / 'snap'}", out=tmp / "p", use_history=False, renderers=_json_only())
    )


def crafted_breaches(tmp: Path) -> str:
    """The crafted fleet of the scan tests under thresholds that breach."""
    snap = crafted(tmp)
    config = config_from_dict(BREACHING)
    return _summary(scan(config, source=f"snapshot:{snap}", out=tmp / "p", use_history=False, renderers=_json_only()))


def exceptions(tmp: Path) -> str:
    """The exception fleet with a register: excepted machines, an expired exception, warnings."""
    exception_fleet()[0].write(tmp / "snap")
    folder = tmp / "cfg"
    folder.mkdir()
    (folder / "auditor.toml").write_text("[thresholds]\nmin_compliance_rate = 10\n")
    (folder / "exceptions.toml").write_text(REGISTER)
    config = load_config(folder / "auditor.toml")
    return _summary(
        scan(config, source=f"snapshot:{tmp / 'snap'}", out=tmp / "p", use_history=False, renderers=_json_only())
    )


def schedules(tmp: Path) -> str:
    """The schedule fleet with small pattern groups and a low concurrency limit (flags, peaks, breaches)."""
    schedule_fleet().write(tmp / "snap")
    config = config_from_dict(
        {
            "schedules": {"pattern_min_runs": 4, "max_concurrent_machines": 2},
            "thresholds": {"max_unscheduled_machines": 0, "max_window_exceeded_rate": 40.0},
        }
    )
    return _summary(
        scan(config, source=f"snapshot:{tmp / 'snap'}", out=tmp / "p", use_history=False, renderers=_json_only())
    )


def history_dated(tmp: Path) -> str:
    """The crafted fleet scanned twice with history: the second scan dates the undated patch from the first."""
    snap = crafted(tmp)
    config = config_from_dict({"environment_aliases": {"Production": ["prod", "prd"]}})
    history = tmp / "history.duckdb"
    scan(config, source=f"snapshot:{snap}", out=tmp / "p", history=history, renderers=_json_only())
    later = scan(
        config,
        source=f"snapshot:{snap}",
        out=tmp / "p",
        history=history,
        as_of=AS_OF + timedelta(days=5),
        renderers=_json_only(),
    )
    return _summary(later)


def old_pack(tmp: Path) -> str:
    """A pack from before the schedule audit, the overdue-patch detail, remediation and OS lifecycle: those tables
    are missing, so the summary has no schedules, failure_patterns, remediation or lifecycle sections."""
    snap = write_small_fleet(tmp / "fleet")
    source = SnapshotSource(read_snapshot(snap))
    catalog = Catalog()
    config = Config()
    as_of = source.default_as_of() or AS_OF
    try:
        tables = {qid: source.run(catalog.get(qid)[0].render(p)).table for qid, p in query_plan(config, as_of)}
    finally:
        source.close()
    for gone in (
        "maintenance_configurations",
        "maintenance_runs",
        "overdue_patches",
        "installed_patches",
        "machine_lifecycle",
    ):
        del tables[gone]
    evaluation = evaluate(tables, config=config, as_of=as_of, query_refs={})
    return render_summary(evaluation)


def render_summary(evaluation: object) -> str:
    """summary.json's text for an Evaluation, through the one JSON writer."""
    from auditor.reports.json import dumps

    return dumps(evaluation.summary)  # type: ignore[attr-defined]


CASES: dict[str, Callable[[Path], str]] = {
    "sample": sample,
    "generated": generated,
    "crafted_breaches": crafted_breaches,
    "exceptions": exceptions,
    "schedules": schedules,
    "history_dated": history_dated,
    "old_pack": old_pack,
}


def main() -> None:
    """Rewrite every golden file (or those named on the command line)."""
    GOLDEN.mkdir(exist_ok=True)
    for name in sys.argv[1:] or CASES:
        with tempfile.TemporaryDirectory() as tmp:
            (GOLDEN / f"{name}.summary.json").write_text(CASES[name](Path(tmp)), encoding="utf-8")
        print(f"wrote {name}")


if __name__ == "__main__":
    main()
