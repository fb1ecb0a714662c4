"""Finding 5: a zip with a shell script prepended, a directory entry carrying data, or an entry outside the pack
folder verified as intact."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from auditor.evidence.sign import KeyPairFiles, generate_keypair
from auditor.evidence.verify import verify_pack
from auditor.evidence.zipped import zip_path_for
from tests.unit.test_evidence_pack import make_pack
from tests.unit.test_evidence_sign import run_cli


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyPairFiles:
    return generate_keypair(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def packed(tmp_path_factory: pytest.TempPathFactory, keys: KeyPairFiles) -> Path:
    pack = make_pack(tmp_path_factory.mktemp("signed"), sign_key=keys.private, zip_pack=True).pack
    return zip_path_for(pack)


def rezip(source: Path, target: Path, extra: list[tuple[zipfile.ZipInfo | str, bytes]]) -> Path:
    """A copy of the pack zip with `extra` entries added (the signed entries untouched)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            new.writestr(info, old.read(info))
        for name, data in extra:
            new.writestr(name, data)
    return target


def findings(path: Path, keys: KeyPairFiles) -> set[tuple[str, str]]:
    report = verify_pack(path, keys.public)
    return {(f.path, f.detail) for f in report.findings}


def test_bytes_before_the_first_entry(
    packed: Path,
    keys: KeyPairFiles,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    polyglot = tmp_path / "polyglot.zip"
    script = b"#!/bin/sh\necho pwned\nexit 0\n"
    polyglot.write_bytes(script + packed.read_bytes())
    assert zipfile.ZipFile(polyglot).testzip() is None  # the zip still reads as before
    assert findings(polyglot, keys) == {("(zip)", f"{len(script)} unaccounted bytes before the first entry")}
    code, out, _ = run_cli(monkeypatch, capsys, "verify", str(polyglot), "--public-key", str(keys.public))
    assert code == 1 and out.startswith("TAMPERED") and "unaccounted bytes" in out


def test_a_directory_entry_that_carries_data(packed: Path, keys: KeyPairFiles, tmp_path: Path) -> None:
    prefix = zipfile.ZipFile(packed).namelist()[0].split("/", 1)[0]
    smuggled = rezip(packed, tmp_path / "dir.zip", [(f"{prefix}/evidence/hidden/", b"#!/bin/sh\nrm -rf ~\n")])
    assert findings(smuggled, keys) == {(f"{prefix}/evidence/hidden/", "a directory entry that carries data")}
    empty = rezip(packed, tmp_path / "empty-dir.zip", [(f"{prefix}/evidence/more/", b"")])
    assert verify_pack(empty, keys.public).authentic  # an empty directory entry is harmless


def test_entries_outside_the_pack_folder(packed: Path, keys: KeyPairFiles, tmp_path: Path) -> None:
    prefix = zipfile.ZipFile(packed).namelist()[0].split("/", 1)[0]
    outside = rezip(
        packed,
        tmp_path / "outside.zip",
        [("README.txt", b"trust me"), ("other-pack/summary.json", b"{}"), (f"{prefix}/../up.txt", b"x")],
    )
    found = findings(outside, keys)
    assert ("README.txt", f"outside the pack folder {prefix}/") in found
    assert ("other-pack/summary.json", f"outside the pack folder {prefix}/") in found
    assert (f"{prefix}/../up.txt", "an unsafe name (absolute, '..', backslash or control character)") in found
