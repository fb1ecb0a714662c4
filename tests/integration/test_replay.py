"""Replay: `auditor report PACK` rebuilds every report from the pack's evidence alone, byte for byte."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from auditor.cli.app import main
from auditor.config import Config, config_from_dict, load_config
from auditor.errors import PackError
from auditor.evidence.files import pack_files
from auditor.evidence.replay import FIRST_SEEN_EVIDENCE, load_pack, replay_pack
from auditor.evidence.verify import verify_pack
from auditor.evidence.zipped import zip_path_for
from auditor.package_data import sample_config, sample_fleet
from auditor.reports.interface import Renderer
from auditor.reports.json import BreachesRenderer, SummaryRenderer
from auditor.reports.registry import default_renderers
from auditor.scan import scan
from auditor.snapshots.format import write_snapshot
from auditor.snapshots.generate import generate_fleet
from auditor.sources.snapshot import SnapshotSource
from tests.integration.test_replay_fleet import SUBS, fleet_tables, write_small_fleet
from tests.summaries import js

BREACHING = {
    "environment_aliases": {"Production": ["prod"], "Development": ["dev"]},
    "thresholds": {
        "min_compliance_rate": 90.0,
        "max_unknown_rate": 10.0,
        "min_schedule_coverage": 50.0,
        "by_environment": {"Production": 99.0},
        "max_overdue_machines": {"Critical": 0},
    },
}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_small_fleet(tmp_path_factory.mktemp("fleet") / "fleet")


def _no_source(*_args: object, **_kwargs: object) -> None:
    raise AssertionError("a replay opened a source")


def _files(pack: Path) -> dict[str, bytes]:
    return {p.relative_to(pack).as_posix(): p.read_bytes() for p in pack.rglob("*") if p.is_file()}


def json_only() -> list[Renderer]:
    """summary.json and breaches.json only: fast, for tests that do not need the human reports."""
    return [SummaryRenderer(), BreachesRenderer()]


def assert_replays_identically(pack: Path, out: Path, renderers: list[Renderer] | None = None) -> Path:
    """Replay `pack`; summary.json, breaches.json and the evidence must come back byte for byte.

    The other reports (xlsx, pdf) must all be rebuilt; their bytes are the renderers' business (timestamps).
    """
    replayed = replay_pack(pack, out, renderers=renderers).pack
    before, after = _files(pack), _files(replayed)
    assert sorted(before) == sorted(after)
    for name in before:
        if name in ("summary.json", "breaches.json") or name.startswith("evidence/"):
            assert after[name] == before[name], f"{name} differs after replay"
    assert verify_pack(replayed).intact
    manifest = json.loads(after["manifest.json"])
    original = json.loads(before["manifest.json"])
    assert manifest["replay_of"]["pack_id"] == pack.name
    assert manifest["replay_of"]["manifest_sha256"] == hashlib.sha256(before["manifest.json"]).hexdigest()
    for key in ("as_of", "config", "rules", "queries", "evidence", "source", "run_id", "operator", "scope"):
        assert manifest[key] == original[key], key
    # Who ran the scan, what it covered and which register it applied describe the evidence, not the replay.
    assert manifest.get("exceptions_register") == original.get("exceptions_register")
    return replayed


@pytest.mark.parametrize(
    ("config", "full"),
    [(Config(), False), pytest.param(config_from_dict(BREACHING), True, marks=pytest.mark.slow)],
    ids=["defaults", "breaching-all-reports"],
)
def test_replay_is_byte_identical(
    fleet: Path, tmp_path: Path, config: Config, full: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    renderers = default_renderers() if full else json_only()
    result = scan(config, source=f"snapshot:{fleet}", out=tmp_path / "packs", use_history=False, renderers=renderers)
    if config.thresholds.min_compliance_rate is not None:
        assert len(result.breaches) >= 3
    # A replay touches no source: every way of opening or querying one now fails the test.
    monkeypatch.setattr("auditor.scan.open_source", _no_source)
    monkeypatch.setattr(SnapshotSource, "__init__", _no_source)
    monkeypatch.setattr(SnapshotSource, "run", _no_source)
    assert_replays_identically(result.pack, tmp_path / "replayed", default_renderers() if full else json_only())


@pytest.mark.slow
def test_replay_uses_the_first_seen_dates_in_the_pack(fleet: Path, tmp_path: Path) -> None:
    history = tmp_path / "history.duckdb"
    # The same fleet captured a week earlier (a snapshot cannot be judged as of a time before its capture).
    earlier = tmp_path / "earlier"
    write_snapshot(
        earlier,
        fleet_tables(),
        source="synthetic",
        captured_at=datetime(2026, 10, 25, tzinfo=UTC),
        tenant_id="tenant-0",
        scope={"subscriptions": list(SUBS)},
    )
    scan(Config(), source=f"snapshot:{earlier}", out=tmp_path / "early", history=history, renderers=json_only())
    result = scan(Config(), source=f"snapshot:{fleet}", out=tmp_path / "packs", history=history, renderers=json_only())
    with pack_files(result.pack) as files:
        first_seen = load_pack(files).evidence[FIRST_SEEN_EVIDENCE]
    assert first_seen.num_rows >= 1
    assert js(result.summary)["unknown_age_patches"] == 0
    assert_replays_identically(result.pack, tmp_path / "replayed", json_only())


def test_replay_from_the_zip(fleet: Path, tmp_path: Path) -> None:
    result = scan(
        config_from_dict(BREACHING),
        source=f"snapshot:{fleet}",
        out=tmp_path / "packs",
        use_history=False,
        zip_pack=True,
        renderers=json_only(),
    )
    replayed = replay_pack(zip_path_for(result.pack), tmp_path / "replayed", renderers=json_only()).pack
    assert (replayed / "summary.json").read_bytes() == (result.pack / "summary.json").read_bytes()


def test_replay_of_a_generated_fleet(tmp_path: Path) -> None:
    snapshot = generate_fleet(60, seed=7, out=tmp_path / "fleet")
    result = scan(
        load_config(sample_config()),
        source=f"snapshot:{snapshot.path}",
        out=tmp_path / "packs",
        use_history=False,
        renderers=json_only(),
    )
    assert_replays_identically(result.pack, tmp_path / "replayed", json_only())


def test_replay_of_the_sample_fleet(tmp_path: Path) -> None:
    assert (sample_fleet() / "snapshot.json").is_file(), "the bundled sample fleet belongs to the project"
    result = scan(source="sample", out=tmp_path / "packs", use_history=False, renderers=json_only())
    assert result.breaches, "the sample config has thresholds the sample fleet breaches"
    assert_replays_identically(result.pack, tmp_path / "replayed", json_only())


def _cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["auditor", *args])
    monkeypatch.setenv("COLUMNS", "250")
    with pytest.raises(SystemExit) as exited:
        main()
    captured = capsys.readouterr()
    return int(exited.value.code or 0), captured.out, captured.err


@pytest.mark.slow
def test_report_cli_refuses_a_tampered_pack_unless_forced(
    fleet: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    result = scan(
        Config(), source=f"snapshot:{fleet}", out=tmp_path / "packs", use_history=False, renderers=json_only()
    )
    code, out, _ = _cli(monkeypatch, capsys, "report", str(result.pack), "--out", str(tmp_path / "ok"))
    assert code == 0 and "re-rendered" in out
    tampered = Path(shutil.copytree(result.pack, tmp_path / "tampered" / result.pack.name))
    (tampered / "summary.json").write_text("{}\n")
    code, out, err = _cli(monkeypatch, capsys, "report", str(tampered), "--out", str(tmp_path / "no"))
    lines = err.strip().splitlines()
    assert code == 2 and lines[0].startswith("error: ") and "changed summary.json" in lines[0]
    assert "--force" in lines[1] and "Traceback" not in err and not (tmp_path / "no").exists()
    code, _, err = _cli(monkeypatch, capsys, "report", str(tampered), "--out", str(tmp_path / "forced"), "--force")
    assert code == 0 and "warning" in err
    forced = tmp_path / "forced" / result.pack.name
    assert (forced / "summary.json").read_bytes() == (result.pack / "summary.json").read_bytes()
    code, _, err = _cli(monkeypatch, capsys, "report", str(tmp_path / "nowhere"))
    assert code == 2 and "does not exist" in err


def test_replay_refuses_unreadable_evidence_even_when_forced(fleet: Path, tmp_path: Path) -> None:
    result = scan(
        Config(), source=f"snapshot:{fleet}", out=tmp_path / "packs", use_history=False, renderers=json_only()
    )
    (result.pack / "evidence" / "machine_facts@v3.jsonl.gz").write_bytes(b"garbage")
    with pytest.raises(PackError, match="fails verification"):
        replay_pack(result.pack, tmp_path / "a")
    with pytest.raises(PackError, match=r"machine_facts@v3\.jsonl\.gz cannot be read back"):
        replay_pack(result.pack, tmp_path / "b", force=True)
    assert not (tmp_path / "b").exists() or not any((tmp_path / "b").iterdir())


@pytest.mark.slow
def test_replay_keeps_the_trend_of_earlier_scans(tmp_path: Path) -> None:
    from datetime import timedelta

    from auditor.config import Config
    from auditor.evidence.inputs import HISTORY_EVIDENCE
    from auditor.evidence.replay import load_pack
    from auditor.scan import scan
    from tests.crafted import AS_OF, Fleet

    fleet = Fleet()
    vm = fleet.machine("vm1")
    fleet.assessment(vm)
    fleet.write(tmp_path / "snap")
    history = tmp_path / "history.duckdb"
    scan(Config(), source=f"snapshot:{tmp_path / 'snap'}", out=tmp_path / "p", history=history, as_of=AS_OF)
    later = scan(
        Config(),
        source=f"snapshot:{tmp_path / 'snap'}",
        out=tmp_path / "p",
        history=history,
        as_of=AS_OF + timedelta(days=1),
    )
    from auditor.evidence.files import pack_files

    with pack_files(later.pack) as files:
        loaded = load_pack(files)
    assert [run["as_of"] for run in loaded.context.history] == ["2026-11-01T06:00:00Z"]
    assert loaded.evidence[HISTORY_EVIDENCE].num_rows == 1
