"""auditor-snapshot/1: writing is deterministic; every kind of damage is refused with one clear line."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from auditor.digests import sha256_file
from auditor.errors import SnapshotError
from auditor.scan import scan
from auditor.snapshots.format import check_table_file, iter_table, read_snapshot
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
        (lambda p: rewrite_meta(p, {"source": "aws"}), "key 'source' is 'aws', expected 'azure' or 'synthetic'"),
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


def test_corrupt_gzip_with_matching_hash_is_refused(tmp_path: Path) -> None:
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


def restate_rows(path: Path, table: str, rows: object) -> None:
    meta = json.loads((path / "snapshot.json").read_text())
    meta["tables"][table]["rows"] = rows
    (path / "snapshot.json").write_text(json.dumps(meta))


@pytest.mark.parametrize("off_by", [1, -1])
def test_a_row_count_that_disagrees_with_the_file_is_refused(tmp_path: Path, off_by: int) -> None:
    path = small(tmp_path)
    restate_rows(path, "resources", 1 + off_by)
    with pytest.raises(SnapshotError) as info:
        read_snapshot(path)
    assert info.value.message == (
        f"{path / 'snapshot.json'}: key 'tables.resources.rows' says {1 + off_by} rows, but resources.jsonl.gz holds 1"
    )
    assert info.value.exit_code == 2


def test_rows_are_counted_across_gzip_members_and_without_a_final_newline(tmp_path: Path) -> None:
    file = tmp_path / "t.jsonl.gz"
    file.write_bytes(gzip.compress(b'{"a":1}\n{"a":2}\n') + gzip.compress(b'{"a":3}\n{"a":4}'))
    assert check_table_file(file) == (sha256_file(file), 4)
    file.write_bytes(gzip.compress(b""))
    assert check_table_file(file)[1] == 0
    file.write_bytes(gzip.compress(b'{"a":1}\n' * 5000)[:-20])
    with pytest.raises(ValueError, match="truncated"):
        check_table_file(file)


@pytest.mark.parametrize("count", [None, [1], {"n": 1}, "one", float("inf"), float("nan")])
def test_a_row_count_that_is_not_a_number_is_refused(tmp_path: Path, count: object) -> None:
    path = small(tmp_path)
    restate_rows(path, "resources", count)  # json writes inf and nan as Infinity and NaN, which it also reads
    with pytest.raises(SnapshotError) as info:
        read_snapshot(path)
    assert info.value.message == f"{path / 'snapshot.json'}: key 'tables.resources.rows' is not a number"


@pytest.mark.parametrize("count", ["1", 1.0, True])
def test_a_row_count_is_read_as_int_reads_it(tmp_path: Path, count: object) -> None:
    path = small(tmp_path)
    restate_rows(path, "resources", count)
    assert read_snapshot(path).tables["resources"].rows == 1


def test_a_row_that_is_not_an_object_is_named(tmp_path: Path) -> None:
    path = small(tmp_path)
    table = read_snapshot(path).tables["resources"]
    table.path.write_bytes(gzip.compress(b'{"id": "a"}\n[1, 2]\n'))
    rows = iter_table(table)
    assert next(rows) == {"id": "a"}
    with pytest.raises(SnapshotError) as info:
        next(rows)
    assert info.value.message == f"{table.path}: row 2 is not a JSON object"
