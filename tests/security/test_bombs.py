"""Finding 3: decompression bombs. A 568 KB pack zip whose evidence inflated to 3 GiB with no newline took
`verify` to 6.4 GB; a 4 MB gzip of blank lines cost a scan 67 s. Both are now refused in seconds, with a bounded
amount of memory, as tampering (exit 1) or bad input (exit 2)."""

from __future__ import annotations

import io
import json
import resource
import time
import zipfile
import zlib
from pathlib import Path

import pytest

from auditor.bounded import InputTooLarge, gunzip_chunks, split_lines
from auditor.digests import sha256_file
from auditor.evidence.verify import verify_pack
from auditor.evidence.zipped import write_zip
from tests.crafted import Fleet
from tests.security.packs import copy, forge, manifest
from tests.unit.test_evidence_pack import make_pack
from tests.unit.test_evidence_sign import run_cli

MEMBER = 16 << 20


def gzip_bomb(path: Path, byte: bytes, gib: float) -> Path:
    """`gib` GiB of `byte` as concatenated gzip members: a few MB on disk, built in a fraction of a second."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    member = packer.compress(byte * MEMBER) + packer.flush()
    path.write_bytes(member * int(gib * (1 << 30) // MEMBER))
    return path


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.fixture(scope="module")
def bomb_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An unsigned pack zip whose machine_facts evidence inflates to 3 GiB of one endless line."""
    base = tmp_path_factory.mktemp("bomb")
    pack = copy(make_pack(base / "packs").pack, base / "work" / "pack-bomb")
    data = manifest(pack)
    target = next(e["path"] for e in data["evidence"] if e["path"].startswith("evidence/machine_facts"))
    gzip_bomb(pack / target, b"A", 3)
    data["pack_id"] = "pack-bomb"
    forge(pack, data)
    archive = write_zip(pack, base / "pack-bomb.zip", "pack-bomb")
    assert archive.stat().st_size < 1 << 20  # small on disk: the zip deflates the repeated members again
    return archive


def test_verify_refuses_the_evidence_bomb_quickly_in_bounded_memory(
    bomb_pack: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    before, started = peak_mib(), time.monotonic()
    code, out, _ = run_cli(monkeypatch, capsys, "verify", str(bomb_pack), "--integrity-only")
    assert time.monotonic() - started < 20
    assert peak_mib() - before < 400  # the report's 6.4 GB is gone: at most a line cap and a chunk are held
    assert code == 1 and out.startswith("TAMPERED")
    assert "machine_facts@v2.jsonl.gz cannot be read (inflates more than 200:1" in out


def test_an_untrusted_pack_is_never_inflated(
    bomb_pack: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    code, out, _ = run_cli(monkeypatch, capsys, "verify", str(bomb_pack))
    assert code == 1 and out.startswith("UNSIGNED") and "nothing was inflated" in out
    assert time.monotonic() - started < 20


def test_re_rendering_the_bomb_is_bad_input(
    bomb_pack: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(monkeypatch, capsys, "report", str(bomb_pack), "--out", str(tmp_path / "r"), "--force")
    assert code == 2 and "a decompression bomb?" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 2
    assert not (tmp_path / "r").exists()


def test_a_zip_entry_that_inflates_too_far_is_flagged_unread(tmp_path: Path) -> None:
    pack = make_pack(tmp_path / "packs").pack
    archive = write_zip(pack, tmp_path / "p.zip", pack.name)
    with zipfile.ZipFile(archive, "a", zipfile.ZIP_DEFLATED) as extra:
        extra.writestr(f"{pack.name}/evidence/zeros.bin", b"\0" * (64 << 20))
    report = verify_pack(archive)
    assert [f.path for f in report.findings] == [f"{pack.name}/evidence/zeros.bin"]
    detail = report.findings[0].detail
    assert detail.startswith(f"inflates {64 << 20:,} bytes from ") and detail.endswith("over 200:1")


def test_an_endless_line_is_cut_at_the_line_cap() -> None:
    """The line cap on its own (the ratio cap fires first on the 3 GiB bomb above): no line is held past it."""
    chunks = (b"x" * (1 << 20) for _ in range(64))  # 64 MiB, no newline, never all in memory at once
    with pytest.raises(InputTooLarge, match="has a line longer than 16 MiB"):
        list(split_lines(chunks))
    assert list(split_lines([b'{"a":1}\n\n  \n{"b"', b":2}\n"])) == [b'{"a":1}', b'{"b":2}']


def test_a_snapshot_of_blank_lines_is_refused_in_seconds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet = Fleet()
    fleet.assessment(fleet.machine("vm1"))
    snapshot = fleet.write(tmp_path / "snap").path
    bomb = gzip_bomb(snapshot / "resources.jsonl.gz", b"\n", 4)
    assert bomb.stat().st_size < 5 << 20
    meta = json.loads((snapshot / "snapshot.json").read_text())
    meta["tables"]["resources"]["sha256"] = sha256_file(bomb)
    (snapshot / "snapshot.json").write_text(json.dumps(meta))
    started = time.monotonic()
    code, _, err = run_cli(
        monkeypatch, capsys, "scan", "--source", f"snapshot:{snapshot}", "--out", str(tmp_path / "o"), "--no-history"
    )
    assert time.monotonic() - started < 10
    assert code == 2 and "resources.jsonl.gz: inflates more than 200:1" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_corrupt_or_truncated_gzip_is_a_plain_value_error() -> None:
    whole = zlib.compressobj(6, zlib.DEFLATED, 31)
    data = whole.compress(b'{"a":1}\n' * 1000) + whole.flush()
    for broken, why in ((data[:-9], "ends early"), (data[:10] + b"\xff" * 64, "not valid gzip data")):
        with pytest.raises(ValueError, match=why):
            list(split_lines(gunzip_chunks(io.BytesIO(broken))))
    assert len(list(split_lines(gunzip_chunks(io.BytesIO(data + data))))) == 2000  # concatenated members
