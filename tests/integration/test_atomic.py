"""Atomic packs: a killed or failing scan leaves no pack, no zip and no partial file; the next scan sweeps the
hidden staging directory a killed one could not remove.

SIGKILL allows no cleanup, so what survives it is by design only `.auditor-partial-*` (dot-prefixed, never named
like a pack, holding an owner file with the dead pid); see auditor/evidence/pack.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from auditor.config import Config
from auditor.evidence.pack import TEMP_PREFIX
from auditor.evidence.verify import verify_pack
from auditor.reports.interface import ReportContext
from auditor.reports.json import SummaryRenderer
from auditor.scan import scan
from tests.integration.test_replay_fleet import write_small_fleet

# `python -m auditor scan`, with one extra renderer that stalls half-way through writing the pack, so the test can
# kill the process at a known point instead of racing it.
STALLING_SCAN = r"""
import sys, time
import auditor.evidence.assemble as assemble
from auditor.reports.registry import default_renderers

class Stall:
    filename = "stall.bin"
    def render(self, context, path):
        path.write_bytes(b"half of a report")
        time.sleep(120)

assemble.default_renderers = lambda: [*default_renderers(), Stall()]
from auditor.cli.app import main
sys.argv = ["auditor", *sys.argv[1:]]
main()
"""


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_small_fleet(tmp_path_factory.mktemp("fleet") / "fleet")


def entries(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir()) if out.exists() else []


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_mid_write_leaves_no_pack_and_the_next_scan_sweeps(fleet: Path, tmp_path: Path) -> None:
    out = tmp_path / "packs"
    args = ["scan", "--source", f"snapshot:{fleet}", "--out", str(out), "--zip", "--quiet"]
    temp = tmp_path / "tmp"  # the victim's system temporary directory: it must stay empty
    temp.mkdir()
    victim = subprocess.Popen(
        [sys.executable, "-c", STALLING_SCAN, *args],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "TMPDIR": str(temp)},
    )
    try:
        deadline = time.monotonic() + 60
        while not list(out.glob(f"{TEMP_PREFIX}*/pack/stall.bin")):
            assert victim.poll() is None, victim.stderr.read() if victim.stderr else ""
            assert time.monotonic() < deadline, "the scan never reached the renderers"
            time.sleep(0.02)
        staged = list(out.glob(f"{TEMP_PREFIX}*/pack/summary.json"))
        assert staged, "the kill should land with part of the pack written"
    finally:
        victim.kill()
        victim.wait()
        if victim.stderr:
            victim.stderr.close()
    assert victim.returncode == -signal.SIGKILL
    left = entries(out)
    assert len(left) == 1 and left[0].startswith(TEMP_PREFIX), left
    # DuckDB's spill directory and openpyxl's sheet streams lived in the staging directory's scratch/, not in
    # the system's temporary directory: what the kill left is all in the one directory the next scan sweeps.
    assert (out / left[0] / "scratch").is_dir()
    assert list(temp.iterdir()) == []
    assert not any(name.startswith("pack-") for name in left)

    follow = subprocess.run(
        [sys.executable, "-m", "auditor", *args], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert follow.returncode == 0, follow.stderr
    left = entries(out)
    assert len(left) == 2 and left[1] == f"{left[0]}.zip" and left[0].startswith("pack-"), left
    assert verify_pack(out / left[0]).intact and verify_pack(out / left[1]).intact


class Boom:
    filename = "boom.txt"

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def render(self, context: ReportContext, path: Path) -> None:
        path.write_text("half")
        raise self.error


@pytest.mark.parametrize("error", [RuntimeError("renderer failed"), KeyboardInterrupt()], ids=["exception", "ctrl-c"])
def test_a_failing_renderer_leaves_nothing(fleet: Path, tmp_path: Path, error: BaseException) -> None:
    out = tmp_path / "packs"
    with pytest.raises(type(error)):
        scan(
            Config(),
            source=f"snapshot:{fleet}",
            out=out,
            use_history=False,
            zip_pack=True,
            renderers=[SummaryRenderer(), Boom(error)],
        )
    assert entries(out) == []


def test_a_bad_output_directory_is_one_clean_error(fleet: Path, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    result = subprocess.run(
        [sys.executable, "-m", "auditor", "scan", "--source", f"snapshot:{fleet}", "--out", "file/packs", "--quiet"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 2 and result.stderr.startswith("error: cannot create output directory")
    assert "Traceback" not in result.stderr


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGINT"), reason="needs SIGINT")
def test_ctrl_c_is_one_line_exit_130_and_leaves_nothing(fleet: Path, tmp_path: Path) -> None:
    out = tmp_path / "packs"
    victim = subprocess.Popen(
        [sys.executable, "-c", STALLING_SCAN, "scan", "--source", f"snapshot:{fleet}", "--out", str(out), "-q"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not list(out.glob(f"{TEMP_PREFIX}*/pack/stall.bin")):
        assert victim.poll() is None and time.monotonic() < deadline, "the scan never reached the renderers"
        time.sleep(0.02)
    victim.send_signal(signal.SIGINT)
    stdout, stderr = victim.communicate(timeout=60)
    assert (victim.returncode, stdout, stderr) == (130, "", "interrupted (Ctrl-C)\n")
    assert entries(out) == []


# A scan whose workbook fails half-written with a full disk: the sheets are streamed, charts come last.
DISK_FULL_SCAN = r"""
import errno, sys
import auditor.reports.xlsx.workbook as workbook

def full(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, "No space left on device", "audit-pack.xlsx")

workbook.add_charts = full
from auditor.cli.app import main
sys.argv = ["auditor", *sys.argv[1:]]
main()
"""


def test_a_full_disk_is_its_own_exit_code_with_no_traceback(fleet: Path, tmp_path: Path) -> None:
    out = tmp_path / "packs"
    result = subprocess.run(
        [sys.executable, "-c", DISK_FULL_SCAN, "scan", "--source", f"snapshot:{fleet}", "--out", str(out), "-q"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 5, result.stderr
    assert result.stderr.splitlines() == [
        "error: no space left on the device while writing audit-pack.xlsx",
        "hint: free disk space (or raise the quota) and run again; nothing unfinished was kept",
    ]
    assert not out.exists()
