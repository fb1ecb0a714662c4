"""Finding 9: deeply nested JSON in manifest.sig (or the manifest, or a row) raised an uncaught RecursionError
and exited 1, the breach/tampered code. It is bad input: exit 2 with one line."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from auditor.bounded import NestedTooDeeply, loads
from tests.security.packs import copy, forge, manifest
from tests.unit.test_evidence_pack import make_pack
from tests.unit.test_evidence_sign import run_cli

DEEP = b"[" * 30_000 + b"]" * 30_000  # under manifest.sig's 64 KiB cap, far past the recursion limit


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pack(tmp_path_factory.mktemp("packs")).pack


def one_error_line(err: str) -> bool:
    lines = err.strip().splitlines()
    return len(lines) == 2 and lines[0].startswith("error: ") and lines[1].startswith("hint: ")


def test_loads_turns_recursion_into_its_own_error() -> None:
    with pytest.raises(NestedTooDeeply):
        loads(DEEP)
    assert not isinstance(NestedTooDeeply("x"), ValueError)  # never mistaken for a changed byte
    assert loads(b"[[[1]]]") == [[[1]]]


@pytest.mark.parametrize("name", ["manifest.sig", "manifest.json", "summary.json"])
def test_deep_json_in_a_pack_file_is_exit_2(
    name: str, pack: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    forged = copy(pack, tmp_path / "pack")
    (forged / name).write_bytes(DEEP)
    if name == "summary.json":
        forge(forged, manifest(forged))  # the manifest vouches for it, so it is parsed
    code, out, err = run_cli(monkeypatch, capsys, "verify", str(forged), "--integrity-only")
    assert code == 2 and out == "" and one_error_line(err), err
    assert "nested too deeply" in err and "Traceback" not in err


def test_deep_json_in_an_evidence_row_is_exit_2_on_replay(
    pack: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    forged = copy(pack, tmp_path / "pack")
    data = manifest(forged)
    target = data["evidence"][0]["path"]
    (forged / target).write_bytes(gzip.compress(DEEP + b"\n"))
    forge(forged, data)
    code, _, err = run_cli(monkeypatch, capsys, "report", str(forged), "--out", str(tmp_path / "r"), "--force")
    assert code == 2 and one_error_line(err) and "nested too deeply" in err
