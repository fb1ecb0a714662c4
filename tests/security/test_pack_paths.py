"""Finding 1: `auditor report --force` wrote outside --out through a manifest path with a newline and `..`."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.errors import PackError
from auditor.evidence.files import DirFiles
from auditor.evidence.manifest import manifest_bytes, parse_manifest, schema_errors
from auditor.evidence.pack import PackWriter
from auditor.names import contained, is_relative_path
from tests.security.packs import copy, forge, manifest
from tests.unit.test_evidence_pack import make_pack
from tests.unit.test_evidence_sign import run_cli

TRICK = "evidence/q\n/../../../../../victim.txt"


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pack(tmp_path_factory.mktemp("packs")).pack


def test_the_schema_alone_no_longer_admits_the_newline_trick() -> None:
    data = {"path": TRICK}
    assert is_relative_path("evidence/q@v1.jsonl.gz") and not is_relative_path(TRICK)
    assert schema_errors({"files": [data]})  # the pattern now refuses control characters too
    assert not is_relative_path("evidence/../x") and not is_relative_path("/etc/passwd")


def test_report_force_refuses_a_manifest_path_leading_out(
    pack: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    work = tmp_path / "deep" / "er" / "still" / "deeper" / "work"
    forged = copy(pack, work / "pack")
    data = manifest(forged)
    entry = next(e for e in data["evidence"] if e["path"].startswith("evidence/machine_facts"))
    original = entry["path"]
    entry["path"] = TRICK
    for query in data["queries"]:
        if query["evidence"] == original:
            query["evidence"] = TRICK
    forge(forged, data)
    code, out, err = run_cli(monkeypatch, capsys, "report", str(forged), "--out", str(work / "rebuilt"), "--force")
    assert code == 2, (out, err)
    assert err.startswith("error: ") and "not a plain relative path" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 2  # one line of message, one of hint
    assert not list(tmp_path.rglob("victim.txt"))
    assert not (work / "rebuilt").exists()


def test_a_pack_id_with_a_trailing_newline_is_refused_whole(pack: Path) -> None:
    data = manifest(pack)
    data["pack_id"] = data["pack_id"] + "\n"
    assert not schema_errors(data)  # `$` in the schema's pattern matches before a final newline
    with pytest.raises(ValueError, match=r"pack_id .* is not a plain name"):
        parse_manifest(manifest_bytes(data))


def test_writes_stay_under_the_pack_root(tmp_path: Path) -> None:
    with PackWriter(tmp_path / "out", "p1") as writer:
        assert writer.path("evidence/ok.jsonl.gz").parent.name == "evidence"
        for bad in ("../../escape.txt", "/tmp/escape.txt", "evidence/../../x", "a\nb", "a\\b"):
            with pytest.raises(PackError, match="refusing to write"):
                writer.path(bad)
    assert not (tmp_path / "escape.txt").exists()
    with pytest.raises(PackError, match="not a plain directory name"):
        PackWriter(tmp_path / "out", "../p2")


@pytest.mark.skipif(not hasattr(Path, "symlink_to"), reason="needs symlinks")
def test_containment_follows_symlinks(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(tmp_path)
    with pytest.raises(ValueError, match="leads outside"):
        contained(root, "link/escape.txt")


def test_reads_go_only_through_names_the_verifier_listed(pack: Path, tmp_path: Path) -> None:
    (pack.parent / "secret.txt").write_text("not part of the pack")
    files = DirFiles(pack)
    assert "summary.json" in files.names()
    for name in ("../secret.txt", "/etc/passwd", "evidence/../summary.json"):
        with pytest.raises(FileNotFoundError):
            files.open(name)
