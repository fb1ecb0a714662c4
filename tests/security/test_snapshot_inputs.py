"""Findings 6, 7 and 9 on snapshots: `la_*` names went into SQL unchecked; `snapshot generate --out` deleted any
folder with a snapshot.json in it; deeply nested JSON raised a RecursionError that exited 1."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from auditor.digests import sha256_file
from auditor.errors import SnapshotError
from auditor.snapshots.format import iter_table, quote_identifier, read_snapshot
from auditor.sources.snapshot import SnapshotSource
from tests.crafted import Fleet
from tests.unit.test_evidence_sign import run_cli

DEEP = "[" * 100_000 + "]" * 100_000


def small(path: Path) -> Path:
    fleet = Fleet()
    fleet.assessment(fleet.machine("vm1", tags={"Environment": "Production"}))
    return fleet.write(path).path


def add_table(snapshot: Path, name: str, rows: bytes) -> None:
    """Add a table file and its snapshot.json entry by hand, as an attacker would."""
    (snapshot / f"{name}.jsonl.gz").write_bytes(gzip.compress(rows))
    meta = json.loads((snapshot / "snapshot.json").read_text())
    meta["tables"][name] = {"rows": 1, "sha256": sha256_file(snapshot / f"{name}.jsonl.gz")}
    (snapshot / "snapshot.json").write_text(json.dumps(meta))


@pytest.mark.parametrize(
    "name",
    ['la_x" AS SELECT 1; DROP TABLE "resources', "la_../../etc/passwd", "la_Heartbeat", "la_", "la_a\nb"],
)
def test_log_analytics_table_names_are_whitelisted(name: str, tmp_path: Path) -> None:
    snapshot = small(tmp_path / "snap")
    meta = json.loads((snapshot / "snapshot.json").read_text())
    meta["tables"][name] = {"rows": 1, "sha256": "0" * 64}
    (snapshot / "snapshot.json").write_text(json.dumps(meta))
    with pytest.raises(SnapshotError, match="not a valid Log Analytics table name") as caught:
        read_snapshot(snapshot)
    assert caught.value.exit_code == 2


def test_a_valid_log_analytics_table_loads_under_a_quoted_name(tmp_path: Path) -> None:
    snapshot = small(tmp_path / "snap")
    add_table(snapshot, "la_update_summary", b'{"Computer":"vm1","Count":1}\n')
    source = SnapshotSource(read_snapshot(snapshot))
    try:
        source._ensure_tables(["la_update_summary"])
        assert source._cursor().execute('SELECT "Computer" FROM "la_update_summary"').fetchall() == [("vm1",)]
    finally:
        source.close()
    assert quote_identifier('a"b') == '"a""b"'


def test_generate_refuses_a_folder_with_anything_besides_a_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = small(tmp_path / "home")
    (home / "thesis.docx").write_bytes(b"four years of work")
    code, _, err = run_cli(monkeypatch, capsys, "snapshot", "generate", "--machines", "3", "--out", str(home))
    assert code == 2 and "'thesis.docx' besides the snapshot" in err and "Traceback" not in err
    assert (home / "thesis.docx").read_bytes() == b"four years of work"
    # A folder whose snapshot.json is not a valid snapshot is not one either.
    other = tmp_path / "other"
    other.mkdir()
    (other / "snapshot.json").write_text('{"format": "something-else"}')
    code, _, err = run_cli(monkeypatch, capsys, "snapshot", "generate", "--machines", "3", "--out", str(other))
    assert code == 2 and "is not a valid snapshot" in err and (other / "snapshot.json").exists()


def test_generate_replaces_a_lone_valid_snapshot_and_fills_an_empty_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    old = small(tmp_path / "old")
    code, _, _ = run_cli(monkeypatch, capsys, "snapshot", "generate", "--machines", "3", "--out", str(old))
    assert code == 0 and read_snapshot(old).meta["generator"]["machines"] == 3
    (tmp_path / "empty").mkdir()
    code, _, _ = run_cli(
        monkeypatch, capsys, "snapshot", "generate", "--machines", "3", "--out", str(tmp_path / "empty")
    )
    assert code == 0 and (tmp_path / "empty" / "snapshot.json").is_file()
    (tmp_path / "file").write_text("x")
    with pytest.raises(SnapshotError, match="not a directory"):
        Fleet().write(tmp_path / "file")
    assert (tmp_path / "file").read_text() == "x"


def test_deep_json_in_snapshot_json_is_bad_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshot = small(tmp_path / "snap")
    meta = json.loads((snapshot / "snapshot.json").read_text())
    (snapshot / "snapshot.json").write_text(json.dumps(meta)[:-1] + ', "x": ' + DEEP + "}")
    code, _, err = run_cli(
        monkeypatch, capsys, "scan", "--source", f"snapshot:{snapshot}", "--out", str(tmp_path / "o")
    )
    assert code == 2 and "snapshot.json holds JSON nested too deeply" in err
    assert len(err.strip().splitlines()) == 2 and "Traceback" not in err


def test_deep_json_in_a_row_is_bad_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet = Fleet()
    vm = fleet.machine("vm1")
    fleet.assessment(vm)
    fleet.tables["resources"][0]["tags"] = {"Environment": json.loads("[" * 500 + "]" * 500)}
    snapshot = fleet.write(tmp_path / "snap").path
    # DuckDB reads the row; the nesting is deepened past Python's limit in the file itself.
    raw = gzip.decompress((snapshot / "resources.jsonl.gz").read_bytes()).decode()
    raw = raw.replace("[" * 500 + "]" * 500, DEEP)
    (snapshot / "resources.jsonl.gz").write_bytes(gzip.compress(raw.encode()))
    meta = json.loads((snapshot / "snapshot.json").read_text())
    meta["tables"]["resources"]["sha256"] = sha256_file(snapshot / "resources.jsonl.gz")
    (snapshot / "snapshot.json").write_text(json.dumps(meta))
    with pytest.raises(SnapshotError, match="row 1 holds JSON nested too deeply"):
        list(iter_table(read_snapshot(snapshot).tables["resources"]))
    code, _, err = run_cli(
        monkeypatch, capsys, "scan", "--source", f"snapshot:{snapshot}", "--out", str(tmp_path / "o"), "--no-history"
    )
    assert code == 2 and "nested too deeply" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 2
