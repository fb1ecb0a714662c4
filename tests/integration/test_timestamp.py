"""Trusted time: a scan stamps manifest.json at an RFC 3161 authority (a loopback `openssl ts -reply`), and
openssl and `auditor verify` both check the stamp against the authority's CA."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditor.config import Config
from auditor.errors import ExitCode
from auditor.evidence.manifest import TIMESTAMP_NAME
from auditor.evidence.timestamp import TimestampError, describe, load_ca, request_stamp, stamp_check
from auditor.evidence.verify import CHECKS, verify_pack
from auditor.reports.json import BreachesRenderer, SummaryRenderer
from auditor.scan import ScanResult, scan
from tests.crafted import Fleet
from tests.integration.test_replay import _cli
from tests.tsa import POLICY, TSA_NAME, TestAuthority

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="the loopback TSA runs openssl ts -reply")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("stamped") / "fleet"
    f = Fleet()
    f.assessment(f.machine("vm-1"))
    f.assessment(f.machine("vm-2", os="Linux"))
    f.write(path)
    return path


@pytest.fixture()
def authority(tmp_path: Path) -> Iterator[TestAuthority]:
    with TestAuthority(tmp_path / "tsa") as tsa:
        yield tsa


def _scan(fleet: Path, out: Path, url: str | None, *, zip_pack: bool = False) -> ScanResult:
    config = Config.model_validate({"evidence": {"timestamp_url": url}, "thresholds": {"min_compliance_rate": 0.0}})
    return scan(
        config,
        source=f"snapshot:{fleet}",
        out=out,
        use_history=False,
        zip_pack=zip_pack,
        renderers=[SummaryRenderer(), BreachesRenderer()],
    )


def _openssl_verify(pack: Path, ca: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "openssl",
            "ts",
            "-verify",
            "-data",
            str(pack / "manifest.json"),
            "-in",
            str(pack / TIMESTAMP_NAME),
            "-CAfile",
            str(ca),
        ],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.slow
def test_a_scan_stamps_its_manifest_and_openssl_verifies_it(
    fleet: Path, tmp_path: Path, authority: TestAuthority
) -> None:
    result = _scan(fleet, tmp_path / "packs", authority.url, zip_pack=True)
    assert result.exit_code == ExitCode.OK and result.warnings == []
    assert len(authority.requests) == 1
    checked = _openssl_verify(result.pack, authority.ca_pem)
    assert checked.returncode == 0 and "Verification: OK" in checked.stdout, checked.stderr
    stamp = describe((result.pack / TIMESTAMP_NAME).read_bytes())
    assert (stamp.authority, stamp.policy) == (f"CN={TSA_NAME},O=auditor tests", POLICY)
    # The stamp covers the manifest, so the manifest cannot list it; verify knows it by name.
    listed = [entry["path"] for entry in json.loads((result.pack / "manifest.json").read_text())["files"]]
    assert TIMESTAMP_NAME not in listed
    report = verify_pack(result.pack, checks=[*CHECKS, stamp_check(load_ca(authority.ca_pem), required=True)])
    assert report.intact and report.notes[-1] == f"time stamp: time-stamped {stamp.line()}; verified against the CA"
    zipped = result.pack.parent / f"{result.pack.name}.zip"
    assert f"{result.pack.name}/{TIMESTAMP_NAME}" in zipfile.ZipFile(zipped).namelist()
    from_zip = verify_pack(zipped, checks=[*CHECKS, stamp_check(load_ca(authority.ca_pem), required=True)])
    assert from_zip.intact and from_zip.notes[-1] == report.notes[-1]


@pytest.mark.slow
def test_verify_prints_the_time_and_authority_and_catches_a_foreign_stamp(
    fleet: Path,
    tmp_path: Path,
    authority: TestAuthority,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pack = _scan(fleet, tmp_path / "packs", authority.url).pack
    stamp = describe((pack / TIMESTAMP_NAME).read_bytes())
    code, out, _ = _cli(monkeypatch, capsys, "verify", "--integrity-only", str(pack), "--tsa-ca", str(authority.ca_pem))
    assert code == 0
    assert f"time stamp: time-stamped {stamp.time:%Y-%m-%dT%H:%M:%SZ} by CN={TSA_NAME},O=auditor tests" in out
    assert "verified against the CA" in out
    # The CA can come from the config, relative to its directory.
    (tmp_path / "auditor.toml").write_text('[evidence]\ntimestamp_ca = "tsa/ca.pem"\n')
    code, out, _ = _cli(
        monkeypatch, capsys, "verify", "--integrity-only", str(pack), "--config", str(tmp_path / "auditor.toml")
    )
    assert code == 0 and "verified against the CA" in out
    # Without a CA the stamp is shown but not vouched for.
    code, out, _ = _cli(monkeypatch, capsys, "verify", "--integrity-only", str(pack))
    assert code == 0 and "not checked (no --tsa-ca)" in out
    # Another authority's CA does not vouch for it.
    other = TestAuthority(tmp_path / "other")
    code, out, _ = _cli(monkeypatch, capsys, "verify", "--integrity-only", str(pack), "--tsa-ca", str(other.ca_pem))
    assert code == 1 and "timestamp    manifest.tsr: manifest.tsr does not verify" in out
    # A genuine stamp of other bytes, swapped in, is caught.
    (pack / TIMESTAMP_NAME).write_bytes(request_stamp(authority.url, b"another manifest\n"))
    code, out, _ = _cli(monkeypatch, capsys, "verify", "--integrity-only", str(pack), "--tsa-ca", str(authority.ca_pem))
    assert code == 1 and "Mismatch between messages" in out and _openssl_verify(pack, authority.ca_pem).returncode != 0


@pytest.mark.slow
def test_an_unreachable_authority_is_a_warning_and_the_pack_is_kept(
    fleet: Path,
    tmp_path: Path,
    authority: TestAuthority,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    authority.failing = True
    result = _scan(fleet, tmp_path / "down", authority.url)
    assert result.exit_code == ExitCode.OK and (result.pack / "summary.json").is_file()
    assert not (result.pack / TIMESTAMP_NAME).exists()
    assert result.warnings == [
        f"time-stamping authority {authority.url} answered HTTP 503; check [evidence] timestamp_url and that the "
        "authority is reachable; the pack is kept unstamped"
    ]
    url = authority.url
    authority.stop()  # nothing listens there any more
    gone = _scan(fleet, tmp_path / "gone", url)
    assert gone.exit_code == ExitCode.OK and not (gone.pack / TIMESTAMP_NAME).exists()
    assert "cannot be reached" in gone.warnings[0]
    assert verify_pack(gone.pack).intact
    # An explicit --tsa-ca asks for trusted time: an unstamped pack does not have it.
    code, out, _ = _cli(
        monkeypatch, capsys, "verify", "--integrity-only", str(gone.pack), "--tsa-ca", str(authority.ca_pem)
    )
    assert code == 1 and "missing      manifest.tsr: the pack is not time-stamped" in out


def test_request_errors_are_one_line(tmp_path: Path, authority: TestAuthority) -> None:
    authority.garbage = b"<html>proxy login</html>"
    with pytest.raises(
        TimestampError, match=r"^the answer of http://127\.0\.0\.1:\d+/tsa is not an RFC 3161 TimeStampResp"
    ):
        request_stamp(authority.url, b"{}\n")
    bad_ca = tmp_path / "bad.pem"
    bad_ca.write_text("not a certificate")
    code = subprocess.run(
        [sys.executable, "-m", "auditor", "verify", str(tmp_path), "--tsa-ca", str(bad_ca)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert code.returncode == 2 and "Traceback" not in code.stderr
    assert f"{bad_ca} holds no X.509 certificate" in code.stderr
