"""auditor-snapshot/1: writing is deterministic; every kind of damage is refused with one clear line."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from auditor.digests import sha256_file
from auditor.errors import SnapshotError
from auditor.scan import scan
from auditor.snapshots.format import iter_table, read_snapshot
from tests.crafted import Fleet


def small(tmp_path: Path, name: str = "snap") -> Path:
    f = Fleet()
    vm = f.machine("vm1", tags={"Environment": "prod"})
    f.assessment(vm)
    f.write(tmp_path / name)
    return tmp_path / name


def test_round_trip_and_determinism(tmp_path: Path) -> None:
    one, two = small(tmp_path, "a"), small(tmp_path, "b")
    for file in sorted(p.name for p in one.iterdir()):
        assert (one / file).read_bytes() == (two / file).read_bytes(), file
    snap = read_snapshot(one)
    assert snap.tables["resources"].rows == 1
    assert next(iter_table(snap.tables["resources"]))["name"] == "vm1"
    meta = json.loads((one / "snapshot.json").read_text())
    assert meta["format"] == "auditor-snapshot/1"
    assert meta["tables"]["resources"]["sha256"] == sha256_file(one / "resources.jsonl.gz")


def rewrite_meta(path: Path, change: dict) -> None:
    meta = json.loads((path / "snapshot.json").read_text())
    meta.update(change)
    (path / "snapshot.json").write_text(json.dumps(meta))


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda p: (p / "policyresources.jsonl.gz").unlink(), "policyresources.jsonl.gz is missing"),
        (lambda p: (p / "snapshot.json").write_text("{not json"), "snapshot.json is not valid JSON"),
        (lambda p: (p / "snapshot.json").unlink(), "snapshot.json is missing"),
        (lambda p: rewrite_meta(p, {"format": "auditor-snapshot/9"}), "key 'format' is 'auditor-snapshot/9'"),
        (lambda p: rewrite_meta(p, {"captured_at": "last tuesday"}), "key 'captured_at' is 'last tuesday'"),
        (lambda p: (p / "resources.jsonl.gz").write_bytes(b"garbage"), "resources.jsonl.gz: sha256 mismatch"),
    ],
)
def test_damage_is_refused(tmp_path: Path, damage, expected: str) -> None:  # type: ignore[no-untyped-def]
    path = small(tmp_path)
    damage(path)
    with pytest.raises(SnapshotError, match=expected.replace(".", r"\.").replace("(", r"\(")) as info:
        read_snapshot(path)
    assert info.value.exit_code == 2
    assert "\n" not in info.value.message


def test_missing_required_table_is_refused(tmp_path: Path) -> None:
    path = small(tmp_path)
    meta = json.loads((path / "snapshot.json").read_text())
    del meta["tables"]["maintenanceresources"]
    (path / "snapshot.json").write_text(json.dumps(meta))
    with pytest.raises(SnapshotError, match="required table\\(s\\) missing: maintenanceresources"):
        read_snapshot(path)


def test_corrupt_gzip_with_matching_hash_is_refused_at_load(tmp_path: Path) -> None:
    path = small(tmp_path)
    bad = gzip.compress(b'{"id": "x"}\n')[:-6]  # truncated stream
    (path / "resources.jsonl.gz").write_bytes(bad)
    rewrite_meta(
        path,
        {
            "tables": {
                **json.loads((path / "snapshot.json").read_text())["tables"],
                "resources": {"rows": 1, "sha256": sha256_file(path / "resources.jsonl.gz")},
            }
        },
    )
    with pytest.raises(SnapshotError, match=r"resources\.jsonl\.gz: cannot read gzip data: .*truncated"):
        scan(source=f"snapshot:{path}", out=tmp_path / "packs")
    assert not (tmp_path / "packs").exists() or not any((tmp_path / "packs").iterdir())
