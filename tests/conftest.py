"""Test-wide isolation: every test gets its own history file location."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.history import STATE_ENV


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    state = tmp_path_factory.mktemp("state")
    monkeypatch.setenv(STATE_ENV, str(state))
    return state
