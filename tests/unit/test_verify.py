"""Tampering: every change to a pack is detected and the file named; the CLI's exit codes and reports."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auditor.errors import PackError
from auditor.evidence.files import pack_files
from auditor.evidence.manifest import manifest_bytes
from auditor.evidence.replay import replay_differences
from auditor.evidence.sign import KeyPairFiles, generate_keypair, key_id, signature_bytes, signature_document
from auditor.evidence.verify import VerifyReport, verify_pack
from auditor.evidence.zipped import zip_path_for
from auditor.reports.registry import default_renderers
from tests.unit.test_evidence_pack import make_pack
from tests.unit.test_evidence_sign import run_cli


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyPairFiles:
    return generate_keypair(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory, keys: KeyPairFiles) -> Path:
    """A signed pack (with its zip) made with the default renderers, so every kind of report file is in it."""
    out = tmp_path_factory.mktemp("signed")
    return make_pack(out, sign_key=keys.private, zip_pack=True, renderers=default_renderers()).pack


@pytest.fixture(scope="module")
def unsigned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pack(tmp_path_factory.mktemp("unsigned")).pack


def copy(pack: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(pack, tmp_path / pack.name))


def flip_byte(path: Path, offset: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    at = len(data) // 2 if offset is None else offset
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def findings(report: VerifyReport) -> set[tuple[str, str]]:
    return {(f.kind, f.path) for f in report.findings}


def load(pack: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((pack / "manifest.json").read_text())
    return loaded


def rewrite_manifest(pack: Path, manifest: dict[str, Any]) -> None:
    (pack / "manifest.json").write_bytes(manifest_bytes(manifest))


def rehash(pack: Path, manifest: dict[str, Any], path: str) -> None:
    """What a careful forger does: update the changed file's size and sha256 in the manifest."""
    data = (pack / path).read_bytes()
    for entry in manifest["files"]:
        if entry["path"] == path:
            entry.update(size=len(data), sha256=hashlib.sha256(data).hexdigest())


@pytest.mark.slow
def test_untouched_packs_are_intact(signed: Path, unsigned: Path, keys: KeyPairFiles) -> None:
    assert verify_pack(unsigned).intact and verify_pack(unsigned).signature == "unsigned"
    embedded = verify_pack(signed)
    assert embedded.intact and embedded.signature == "untrusted" and not embedded.authentic
    trusted = verify_pack(signed, keys.public)
    assert trusted.authentic and trusted.signature == "trusted" and trusted.signer == keys.key_id
    assert verify_pack(zip_path_for(signed), keys.public).intact


@pytest.mark.slow
def test_one_changed_byte_in_any_file_is_named(signed: Path, tmp_path: Path) -> None:
    names = sorted(p.relative_to(signed).as_posix() for p in signed.rglob("*") if p.is_file())
    kinds = {Path(n).name.split(".", 1)[1] for n in names}
    assert {"json", "jsonl.gz"} <= kinds  # and xlsx/pdf whenever the registry renders them
    for index, name in enumerate(names):
        pack = Path(shutil.copytree(signed, tmp_path / f"case{index}"))
        flip_byte(pack / name)
        report = verify_pack(pack)
        assert not report.intact, name
        if name == "manifest.json":
            assert any(f.kind in ("changed", "signature") and "manifest.json" in f.path for f in report.findings)
        elif name == "manifest.sig":
            assert any("manifest.sig" in f.path for f in report.findings)
        else:
            assert ("changed", name) in findings(report), name


def test_removed_and_added_files_are_named(unsigned: Path, tmp_path: Path) -> None:
    pack = copy(unsigned, tmp_path)
    (pack / "breaches.json").unlink()
    (pack / "notes.txt").write_text("hello")
    (pack / "evidence" / "extra.jsonl.gz").write_bytes(b"")
    assert findings(verify_pack(pack)) == {
        ("missing", "breaches.json"),
        ("added", "notes.txt"),
        ("added", "evidence/extra.jsonl.gz"),
    }


@pytest.mark.skipif(os.name == "nt", reason="symlinks need privileges on Windows")
def test_a_symlink_is_not_a_pack_file(unsigned: Path, tmp_path: Path) -> None:
    pack = copy(unsigned, tmp_path)
    (pack / "link.json").symlink_to(pack / "summary.json")
    assert findings(verify_pack(pack)) == {("added", "link.json")}


def test_unsigned_manifest_edits_are_caught_by_consistency(unsigned: Path, tmp_path: Path) -> None:
    cases: dict[str, Callable[[dict[str, Any]], object]] = {
        "as_of": lambda m: m.update(as_of="2026-10-01T00:00:00Z"),
        "config": lambda m: m["config"]["effective"].update(max_assessment_age_days=30),
        "rows": lambda m: m["queries"][0].update(rows=m["queries"][0]["rows"] + 1),
        "text": lambda m: m["queries"][1].update(text=m["queries"][1]["text"] + " | take 1"),
        "evidence rows": lambda m: m["evidence"][0].update(rows=99),
    }
    for name, edit in cases.items():
        pack = Path(shutil.copytree(unsigned, tmp_path / name.replace(" ", "-")))
        manifest = load(pack)
        edit(manifest)
        rewrite_manifest(pack, manifest)
        report = verify_pack(pack)
        assert ("inconsistent", "manifest.json") in findings(report), name


def test_unsigned_forgery_is_beyond_verify_but_not_beyond_replay(unsigned: Path, tmp_path: Path) -> None:
    """Documented limit: without a signature verify proves integrity against the manifest only."""
    pack = copy(unsigned, tmp_path)
    summary = json.loads((pack / "summary.json").read_text())
    summary["compliant"] += 1
    (pack / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    manifest = load(pack)
    rehash(pack, manifest, "summary.json")
    rewrite_manifest(pack, manifest)
    assert verify_pack(pack).intact
    with pack_files(pack) as files:
        assert replay_differences(files) == ["summary.json"]


@pytest.mark.parametrize(
    ("queries", "problem"),
    [
        (7, "summary.json: queries is not a list"),
        ([{"id": ["a"], "version": {"v": 1}, "rows": 0}], "query ['a']@v{'v': 1} differs from summary.json's"),
    ],
)
def test_a_rehashed_summary_with_odd_query_entries_is_a_finding(
    unsigned: Path, tmp_path: Path, queries: object, problem: str
) -> None:
    """summary.json's queries are read as untrusted JSON: values of any type are findings, not a crash."""
    pack = copy(unsigned, tmp_path)
    summary = json.loads((pack / "summary.json").read_text())
    summary["queries"] = queries
    (pack / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    manifest = load(pack)
    rehash(pack, manifest, "summary.json")
    rewrite_manifest(pack, manifest)
    details = [f.detail for f in verify_pack(pack).findings]
    assert details == [problem]


def test_signed_manifest_edit_is_caught_by_the_signature(signed: Path, tmp_path: Path) -> None:
    pack = copy(signed, tmp_path)
    (pack / "summary.json").write_text((pack / "summary.json").read_text().replace('"compliant": 1', '"compliant": 2'))
    manifest = load(pack)
    rehash(pack, manifest, "summary.json")
    rewrite_manifest(pack, manifest)
    report = verify_pack(pack)
    assert [(f.kind, f.path) for f in report.findings] == [("signature", "manifest.json, manifest.sig")]
    assert report.signature == "invalid"


def test_removed_signature_is_missing(signed: Path, tmp_path: Path, keys: KeyPairFiles) -> None:
    pack = copy(signed, tmp_path)
    (pack / "manifest.sig").unlink()
    assert findings(verify_pack(pack)) == {("missing", "manifest.sig")}
    # Stripping the signing block too leaves an unsigned-looking pack: only a trusted key exposes it.
    manifest = load(pack)
    del manifest["signing"]
    rewrite_manifest(pack, manifest)
    assert verify_pack(pack).intact and verify_pack(pack).signature == "unsigned"
    # A trusted key does not make it tampered, but it is not authentic either: `verify` exits 1 for it.
    stripped = verify_pack(pack, keys.public)
    assert stripped.intact and stripped.signature == "unsigned" and not stripped.authentic


def test_resigned_by_someone_else(signed: Path, tmp_path: Path, keys: KeyPairFiles) -> None:
    pack = copy(signed, tmp_path)
    flip_byte(pack / "breaches.json", 10)
    manifest = load(pack)
    rehash(pack, manifest, "breaches.json")
    forger = Ed25519PrivateKey.generate()
    manifest["signing"]["key_id"] = key_id(forger.public_key())
    rewrite_manifest(pack, manifest)
    (pack / "manifest.sig").write_bytes(
        signature_bytes(signature_document(forger, (pack / "manifest.json").read_bytes()))
    )
    embedded = verify_pack(pack)
    assert embedded.intact and embedded.signature == "untrusted"  # why a trusted key matters
    trusted = verify_pack(pack, keys.public)
    assert trusted.intact and not trusted.authentic and trusted.signature == "untrusted"
    assert f"signed by another key, {key_id(forger.public_key())}" in trusted.signature_detail


def test_wrong_public_key(signed: Path, tmp_path: Path) -> None:
    other = generate_keypair(tmp_path, "other")
    report = verify_pack(signed, other.public)
    assert report.intact and not report.authentic and report.signature == "untrusted"
    assert "signed by another key" in report.signature_detail and other.key_id in report.signature_detail


def test_corrupt_manifest_is_tampering(unsigned: Path, tmp_path: Path) -> None:
    pack = copy(unsigned, tmp_path)
    (pack / "manifest.json").write_text("{not json")
    assert findings(verify_pack(pack)) == {("changed", "manifest.json")}


def test_zip_tampering(signed: Path, tmp_path: Path) -> None:
    original = zip_path_for(signed)
    with zipfile.ZipFile(original) as archive:
        entries = {i.filename: archive.read(i) for i in archive.infolist()}
    prefix = signed.name + "/"

    def rezip(name: str, content: dict[str, bytes]) -> Path:
        target = tmp_path / name
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
            for entry, data in content.items():
                archive.writestr(entry, data)
        return target

    changed = dict(entries)
    changed[prefix + "summary.json"] = entries[prefix + "summary.json"].replace(b'"machines": 5', b'"machines": 6')
    assert ("changed", "summary.json") in findings(verify_pack(rezip("changed.zip", changed)))
    added = {**entries, prefix + "evidence/more.jsonl.gz": b"x", "outside.txt": b"y"}
    assert findings(verify_pack(rezip("added.zip", added))) == {
        ("added", "evidence/more.jsonl.gz"),
        ("added", "outside.txt"),
    }
    removed = {k: v for k, v in entries.items() if not k.endswith("breaches.json")}
    assert findings(verify_pack(rezip("removed.zip", removed))) == {("missing", "breaches.json")}
    # A flipped byte inside a compressed entry: caught by zip's CRC or the sha256, and named.
    raw = bytearray(original.read_bytes())
    with zipfile.ZipFile(original) as archive:
        info = archive.getinfo(prefix + "evidence/machine_facts@v3.jsonl.gz")
    raw[info.header_offset + 30 + len(info.filename) + info.compress_size // 2] ^= 0xFF
    (tmp_path / "flipped.zip").write_bytes(bytes(raw))
    assert ("changed", "evidence/machine_facts@v3.jsonl.gz") in findings(verify_pack(tmp_path / "flipped.zip"))


def test_not_a_pack_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "file.txt").write_text("hi")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as archive:
        archive.writestr("readme.txt", "hi")
    for target in ("empty", "file.txt", "other.zip", "nowhere"):
        with pytest.raises(PackError) as caught:
            verify_pack(tmp_path / target)
        assert caught.value.exit_code == 2


def test_cli_exit_codes_and_reports(
    signed: Path,
    unsigned: Path,
    keys: KeyPairFiles,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run_cli(monkeypatch, capsys, "verify", str(signed), "--public-key", str(keys.public))
    assert code == 0 and out.startswith("authentic") and f"trusted key {keys.key_id}" in out
    code, out, err = run_cli(monkeypatch, capsys, "verify", str(signed))
    assert code == 1 and out.startswith("UNTRUSTED") and "no trusted key was given" in out and "--public-key" in err
    code, out, err = run_cli(monkeypatch, capsys, "verify", str(unsigned), "--replay")
    assert code == 1 and out.startswith("UNSIGNED") and "byte for byte" not in out
    code, out, err = run_cli(monkeypatch, capsys, "verify", str(unsigned), "--replay", "--integrity-only")
    assert code == 0 and out.startswith("intact") and "byte for byte" in out
    assert err.count("\n") == 1 and "anyone could have produced" in err
    pack = copy(unsigned, tmp_path)
    flip_byte(pack / "summary.json")
    (pack / "evidence" / "policy_states@v2.jsonl.gz").unlink()
    (pack / "added.txt").write_text("x")
    code, out, _ = run_cli(monkeypatch, capsys, "verify", str(pack))
    assert code == 1 and out.startswith("TAMPERED")
    for name in ("summary.json", "evidence/policy_states@v2.jsonl.gz", "added.txt"):
        assert name in out
    code, out, err = run_cli(monkeypatch, capsys, "verify", str(tmp_path / "nowhere"))
    assert code == 2 and out == "" and err.startswith("error: ") and "Traceback" not in err
    code, _, err = run_cli(monkeypatch, capsys, "verify", str(signed), "--public-key", str(tmp_path / "none.pub"))
    assert code == 2 and "cannot read public key" in err
