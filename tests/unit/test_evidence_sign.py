"""Ed25519 keys and signatures: keygen, signing a pack, and no private key material ever leaving the key file."""

from __future__ import annotations

import base64
import json
import os
import stat
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auditor.cli.app import main
from auditor.errors import PackError
from auditor.evidence.sign import (
    PASSPHRASE_ENV,
    check_signature,
    generate_keypair,
    key_id,
    load_private_key,
    load_public_key,
    signature_bytes,
    signature_document,
)
from auditor.evidence.zipped import zip_path_for
from tests.unit.test_evidence_pack import make_pack


def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the CLI in-process; return (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["auditor", *args])
    monkeypatch.setenv("COLUMNS", "250")
    with pytest.raises(SystemExit) as exited:
        main()
    captured = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 0 if code is None else 1), captured.out, captured.err


def test_keygen_writes_a_0600_pem_pair_and_refuses_to_overwrite(tmp_path: Path) -> None:
    pair = generate_keypair(tmp_path / "keys")
    assert pair.private.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert pair.public.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    if os.name != "nt":
        assert stat.S_IMODE(pair.private.stat().st_mode) == 0o600
    assert key_id(load_private_key(pair.private).public_key()) == key_id(load_public_key(pair.public)) == pair.key_id
    before = pair.private.read_bytes()
    with pytest.raises(PackError, match="already exists"):
        generate_keypair(tmp_path / "keys")
    assert pair.private.read_bytes() == before
    with pytest.raises(PackError, match="not a plain file name"):
        generate_keypair(tmp_path, "../elsewhere")


def test_keygen_cli_prints_paths_and_key_id_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(monkeypatch, capsys, "keygen", "--out", str(tmp_path))
    assert code == 0 and "auditor-signing.key" in out and "key id" in out
    body = b"".join(
        line for line in (tmp_path / "auditor-signing.key").read_bytes().splitlines() if b"-----" not in line
    )
    assert body.decode() not in out
    code, _, err = run_cli(monkeypatch, capsys, "keygen", "--out", str(tmp_path))
    assert code == 2 and "already exists" in err and "Traceback" not in err


def test_bad_keys_are_one_line_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "junk.key").write_text("not a key")
    with pytest.raises(PackError, match="not a readable PEM private key") as caught:
        load_private_key(tmp_path / "junk.key")
    assert "not a key" not in caught.value.message
    with pytest.raises(PackError, match="cannot read signing key"):
        load_private_key(tmp_path / "missing.key")
    encrypted = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"s3cret")
    )
    (tmp_path / "enc.key").write_bytes(encrypted)
    with pytest.raises(PackError, match="is encrypted") as encrypted_error:
        load_private_key(tmp_path / "enc.key")
    assert PASSPHRASE_ENV in encrypted_error.value.hint
    monkeypatch.setenv(PASSPHRASE_ENV, "s3cret")
    assert isinstance(load_private_key(tmp_path / "enc.key"), Ed25519PrivateKey)


def test_signature_round_trip_and_failures() -> None:
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    data = b'{"format": "auditor-pack/1"}\n'
    sig = signature_bytes(signature_document(key, data))
    anyone = check_signature(sig, data)
    assert anyone.valid and not anyone.trusted and anyone.key_id == key_id(key.public_key())
    trusted = check_signature(sig, data, [other.public_key(), key.public_key()])
    assert trusted.valid and trusted.trusted
    assert not check_signature(sig, data + b" ").valid
    wrong = check_signature(sig, data, [other.public_key()])
    assert wrong.valid and not wrong.trusted and "signed by another key" in wrong.detail
    assert key_id(other.public_key()) in wrong.detail
    broken = json.loads(sig)
    broken["signature"] = "!!"
    assert "unreadable" in check_signature(json.dumps(broken).encode(), data).detail


def _needles(private: Path) -> list[bytes]:
    key = load_private_key(private)
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    pem_body = b"".join(line for line in private.read_bytes().splitlines() if b"-----" not in line)
    return [raw, raw.hex().encode(), base64.b64encode(raw), der, base64.b64encode(der), pem_body]


def test_private_key_never_reaches_the_pack_zip_or_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pair = generate_keypair(tmp_path / "keys")
    result = make_pack(tmp_path / "packs", sign_key=pair.private, zip_pack=True)
    blobs = [p.read_bytes() for p in result.pack.rglob("*") if p.is_file()]
    blobs.append(zip_path_for(result.pack).read_bytes())
    code, out, err = run_cli(monkeypatch, capsys, "verify", str(result.pack), "--public-key", str(pair.public))
    assert code == 0
    blobs.append((out + err).encode())
    for needle in _needles(pair.private):
        assert all(needle not in blob for blob in blobs)
    sig = json.loads((result.pack / "manifest.sig").read_text())
    assert sig["public_key"] == pair.public.read_text()
    manifest = json.loads((result.pack / "manifest.json").read_text())
    assert manifest["signing"] == {"algorithm": "ed25519", "key_id": pair.key_id}


def test_a_bad_sign_key_fails_before_any_pack_is_written(tmp_path: Path) -> None:
    (tmp_path / "junk.key").write_text("junk")
    with pytest.raises(PackError):
        make_pack(tmp_path / "packs", sign_key=tmp_path / "junk.key")
    assert not (tmp_path / "packs").exists() or not any((tmp_path / "packs").iterdir())
