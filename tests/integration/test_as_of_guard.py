"""An as-of time a snapshot cannot answer for: before its capture is refused (exit 2), long after it is a warning."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from auditor.config import Config
from auditor.errors import ExitCode, SnapshotError
from auditor.reports.json import SummaryRenderer
from auditor.scan import scan
from auditor.sources.as_of import check_as_of
from auditor.timestamps import format_timestamp
from tests.crafted import AS_OF, Fleet

JUDGED = Config.model_validate({"thresholds": {"min_compliance_rate": 0.0}})
"""A config with a threshold, so the only warning a scan can give here is the as-of one."""


def _fleet(path: Path) -> Path:
    fleet = Fleet()
    fleet.assessment(fleet.machine("vm-1"))
    fleet.write(path)
    return path


def _auditor(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "auditor", *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=300
    )


def test_as_of_six_hours_before_capture_exits_2_with_one_line(tmp_path: Path) -> None:
    snapshot = _fleet(tmp_path / "snap")
    early = format_timestamp(AS_OF - timedelta(hours=6))
    result = _auditor("scan", "--source", f"snapshot:{snapshot}", "--as-of", early, "--no-history", cwd=tmp_path)
    assert result.returncode == ExitCode.BAD_INPUT == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0] == (
        f"error: --as-of {early} is before the snapshot's capture time {format_timestamp(AS_OF)}: Resource Graph "
        "keeps only the latest assessment, so the snapshot cannot show the fleet as it was then"
    )
    assert lines[1].startswith("hint: scan as of the capture time or later")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "audit-packs").exists()


def test_as_of_at_or_shortly_after_capture_is_accepted_silently(tmp_path: Path) -> None:
    snapshot = _fleet(tmp_path / "snap")
    for offset in (timedelta(0), timedelta(days=7)):
        result = scan(
            JUDGED,
            source=f"snapshot:{snapshot}",
            out=tmp_path / "packs",
            as_of=AS_OF + offset,
            use_history=False,
            renderers=[SummaryRenderer()],
        )
        assert result.exit_code == ExitCode.OK and result.warnings == []


def test_as_of_long_after_capture_warns(tmp_path: Path) -> None:
    snapshot = _fleet(tmp_path / "snap")
    late = AS_OF + timedelta(days=9)
    result = scan(
        JUDGED.model_copy(update={"max_assessment_age_days": 7}),
        source=f"snapshot:{snapshot}",
        out=tmp_path / "packs",
        as_of=late,
        use_history=False,
        renderers=[SummaryRenderer()],
    )
    assert result.exit_code == ExitCode.OK
    assert result.warnings == [
        f"--as-of {format_timestamp(late)} is 9 days after the snapshot's capture time {format_timestamp(AS_OF)}, "
        "more than max_assessment_age_days (7): assessments current at capture count as stale, and patches "
        "published since are not in the data"
    ]


def test_live_data_is_not_checked() -> None:
    assert check_as_of(AS_OF - timedelta(days=30), None, 7) is None
    with pytest.raises(SnapshotError):
        check_as_of(AS_OF - timedelta(seconds=1), AS_OF, 7)
