"""Where the shared reference data lives (`../shared/refdata`, beside the repo, not inside it), and the one rule for
tests that read it: they skip on a machine that lacks the folder, but never in CI, where it is part of the setup
and a missing folder must fail loudly instead of quietly skipping the tests that guard the real shapes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REFDATA = Path(__file__).resolve().parents[1].parent / "shared" / "refdata"


def in_ci() -> bool:
    """Whether the suite runs under CI (the CI variable set to anything but empty, 0 or false)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def needs_refdata(relative: str) -> pytest.MarkDecorator:
    """Skip when `REFDATA/relative` is absent, except in CI, where the test runs and fails on the missing files."""
    return pytest.mark.skipif(
        not (REFDATA / relative).is_dir() and not in_ci(),
        reason=f"{REFDATA / relative} is not available (it sits beside the repo, outside it)",
    )
