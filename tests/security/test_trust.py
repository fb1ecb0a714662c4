"""Finding 4: `verify` exited 0 for a pack signed by anyone's key, because it trusted the key inside the pack."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auditor.config import config_from_dict
from auditor.evidence.sign import KeyPairFiles, generate_keypair, key_id
from auditor.evidence.verify import verify_pack
from auditor.evidence.zipped import zip_path_for
from tests.security.packs import copy, forge, manifest
from tests.unit.test_evidence_pack import THRESHOLDS, make_pack
from tests.unit.test_evidence_sign import run_cli


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyPairFiles:
    return generate_keypair(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory, keys: KeyPairFiles) -> Path:
    return make_pack(tmp_path_factory.mktemp("signed"), sign_key=keys.private, zip_pack=True).pack


def verify(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    return run_cli(monkeypatch, capsys, "verify", *args)


def test_only_a_trusted_key_passes(
    signed: Path, keys: KeyPairFiles, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = verify(monkeypatch, capsys, str(signed), "--public-key", str(keys.public))
    assert code == 0 and out.startswith("authentic") and keys.key_id in out
    code, out, _ = verify(monkeypatch, capsys, str(zip_path_for(signed)), "--public-key", str(keys.public))
    assert code == 0 and out.startswith("authentic")
    # The same pack without a trusted key: intact, but nothing says who made it.
    code, out, err = verify(monkeypatch, capsys, str(signed))
    assert code == 1 and out.startswith("UNTRUSTED") and "TAMPERED" not in out and "--public-key" in err


def test_a_pack_re_signed_by_a_forger_fails(
    signed: Path,
    keys: KeyPairFiles,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    forged = copy(signed, tmp_path / "forged")
    summary = (forged / "summary.json").read_text().replace('"compliant": 1', '"compliant": 2')
    (forged / "summary.json").write_text(summary)
    forger = Ed25519PrivateKey.generate()
    forge(forged, manifest(forged), forger)
    # What the sample pipelines did until now: exit 0, because the pack carries the forger's own public key.
    code, out, _ = verify(monkeypatch, capsys, str(forged))
    assert code == 1 and out.startswith("UNTRUSTED")
    code, out, _ = verify(monkeypatch, capsys, str(forged), "--public-key", str(keys.public))
    assert code == 1 and out.startswith("UNTRUSTED") and "signed by another key" in out
    assert key_id(forger.public_key()) in out and "TAMPERED" not in out


def test_a_wrong_public_key_is_another_key_not_tampering(
    signed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    other = generate_keypair(tmp_path, "other")
    code, out, _ = verify(monkeypatch, capsys, str(signed), "--public-key", str(other.public))
    assert code == 1 and "TAMPERED" not in out
    assert out.startswith("UNTRUSTED") and "signed by another key" in out and other.key_id in out
    report = verify_pack(signed, other.public)
    assert report.intact and report.signature == "untrusted" and not report.findings


def test_unsigned_fails_unless_integrity_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    unsigned = make_pack(tmp_path / "packs").pack
    code, out, err = verify(monkeypatch, capsys, str(unsigned))
    assert code == 1 and out.startswith("UNSIGNED") and "TAMPERED" not in out
    code, out, err = verify(monkeypatch, capsys, str(unsigned), "--integrity-only")
    assert code == 0 and out.startswith("intact")
    assert err.strip().splitlines() == [
        "warning: integrity only: the files match the manifest, but anyone could have produced a pack like this one"
    ]
    # --integrity-only never excuses a changed file.
    (unsigned / "breaches.json").write_text("[]")
    code, out, _ = verify(monkeypatch, capsys, str(unsigned), "--integrity-only")
    assert code == 1 and out.startswith("TAMPERED")


def test_trusted_keys_from_the_config(
    signed: Path,
    keys: KeyPairFiles,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = tmp_path / "auditor.toml"
    config.write_text(f'[evidence]\ntrusted_keys = ["{keys.public.as_posix()}"]\n', encoding="utf-8")
    code, out, _ = verify(monkeypatch, capsys, str(signed), "--config", str(config))
    assert code == 0 and out.startswith("authentic")
    # A relative path is taken from the config file's folder, wherever verify runs.
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "signer.pub").write_bytes(keys.public.read_bytes())
    config.write_text('[evidence]\ntrusted_keys = ["keys/signer.pub"]\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path.parent)
    code, out, _ = verify(monkeypatch, capsys, str(signed), "--config", str(config))
    assert code == 0 and out.startswith("authentic")
    config.write_text('[evidence]\ntrusted_keys = ["nowhere.pub"]\n', encoding="utf-8")
    code, _, err = verify(monkeypatch, capsys, str(signed), "--config", str(config))
    assert code == 2 and "cannot read public key" in err


def test_the_configured_sign_key_signs_every_scan_and_the_flag_wins(tmp_path: Path) -> None:
    configured = generate_keypair(tmp_path / "k1")
    flag = generate_keypair(tmp_path / "k2")
    config = config_from_dict({**THRESHOLDS, "evidence": {"sign_key": str(configured.private)}})
    by_config = make_pack(tmp_path / "a", config=config).pack
    assert verify_pack(by_config, configured.public).authentic
    by_flag = make_pack(tmp_path / "b", config=config, sign_key=flag.private).pack
    report = verify_pack(by_flag, [configured.public, flag.public])
    assert report.authentic and report.signer == flag.key_id


@pytest.mark.parametrize("name", ["github-actions.yml", "azure-pipelines.yml", "scan-and-verify.sh"])
def test_the_sample_pipelines_sign_and_verify_against_a_trusted_key(name: str) -> None:
    from tests.unit.test_pipelines import SAMPLES, used

    calls = used(name)
    verifies = [options for path, options in calls if path == ("verify",)]
    assert verifies and all({"--public-key", "--config"} & set(options) for options in verifies), name
    assert "--integrity-only" not in {option for options in verifies for option in options}
    scans = [options for path, options in calls if path == ("scan",)]
    signed_by_flag = all("--sign-key" in options for options in scans)
    assert signed_by_flag or "[evidence] sign_key" in SAMPLES[name].read_text(), name
