"""The history file is shared between processes: a lock held elsewhere is waited for, briefly, then reported as
busy (exit 4), never as bad input."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from auditor.errors import ExitCode
from auditor.history import HistoryLockedError, HistoryStore

HOLD = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); time.sleep(float(sys.argv[2]))"


def hold(path: Path, seconds: float) -> subprocess.Popen[str]:
    with HistoryStore(path):
        pass  # create the file and its tables
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    return holder


def test_a_lock_held_too_long_is_busy_not_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "history.duckdb"
    holder = hold(path, 30)
    try:
        started = time.monotonic()
        with pytest.raises(HistoryLockedError) as info:
            HistoryStore(path, read_only=True, wait=0.5)
        assert 0.3 < time.monotonic() - started < 5
    finally:
        holder.kill()
        holder.wait()
    assert info.value.exit_code == ExitCode.BUSY == 4
    assert info.value.message == f"history file {path} is locked by process {holder.pid}, still after 0.5 s"
    assert "--no-history" in info.value.hint


def test_a_lock_released_in_time_is_waited_for(tmp_path: Path) -> None:
    path = tmp_path / "history.duckdb"
    holder = hold(path, 1)
    try:
        with HistoryStore(path, wait=20) as store:
            assert store.runs() == []
    finally:
        holder.wait(timeout=30)
