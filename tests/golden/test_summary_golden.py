"""summary.json (`auditor-summary/1`) is byte-identical to the committed golden files on every pinned fleet."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import pytest

from auditor.reports.json import load_summary, summary_text
from tests.golden.cases import CASES, GOLDEN


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_summary_bytes_match_the_golden_file(name: str, tmp_path: Path) -> None:
    expected = (GOLDEN / f"{name}.summary.json").read_text(encoding="utf-8")
    actual = CASES[name](tmp_path)
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True), actual.splitlines(keepends=True), "golden", "now", n=2
            )
        )
        pytest.fail(f"summary.json of {name!r} moved from its golden file:\n{diff[:4000]}")


def test_the_goldens_cover_the_optional_sections() -> None:
    """The pinned fleets include one with schedules and exceptions and one without schedules, so both sides of
    every optional section are held to bytes."""
    texts = {name: (GOLDEN / f"{name}.summary.json").read_text(encoding="utf-8") for name in CASES}
    assert '"schedules": {' in texts["schedules"] and '"schedules"' not in texts["old_pack"]
    assert '"failure_patterns"' not in texts["old_pack"]
    assert '"remediation": {' in texts["sample"] and '"remediation"' not in texts["old_pack"]
    assert '"lifecycle": {' in texts["sample"] and '"lifecycle"' not in texts["old_pack"]
    assert '"exception_warnings": [\n    {' in texts["exceptions"]
    assert '"breaches": 0' not in texts["crafted_breaches"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_summary_reads_back_to_the_same_bytes(name: str) -> None:
    """load_summary is the writer's walk in reverse: every golden summary reads back and writes the same bytes."""
    text = (GOLDEN / f"{name}.summary.json").read_text(encoding="utf-8")
    assert summary_text(load_summary(json.loads(text))) == text


def test_a_summary_missing_a_key_names_it() -> None:
    data = json.loads((GOLDEN / "old_pack.summary.json").read_text(encoding="utf-8"))
    del data["installations"]["by_environment"]
    with pytest.raises(ValueError, match=r"summary\.installations\.by_environment is missing"):
        load_summary(data)
    # An optional section may be missing: the pack predates it.
    assert load_summary(json.loads((GOLDEN / "old_pack.summary.json").read_text())).schedules is None
