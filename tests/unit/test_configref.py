"""docs/config-reference.md is generated from the config models and must not go stale."""

from __future__ import annotations

from pathlib import Path

from auditor.config import Config
from auditor.configref import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "config-reference.md"


def test_reference_is_current() -> None:
    assert DOC.read_text() == render(), "run: python -m auditor.configref > docs/config-reference.md"


def test_reference_lists_every_top_level_key() -> None:
    text = render()
    for name in Config.model_fields:
        assert f"| `{name}` |" in text
    assert "## [thresholds]" in text and "## [azure]" in text
