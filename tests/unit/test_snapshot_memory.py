"""A snapshot query that runs out of DuckDB memory is retried with more, so a big fleet never fails a scan."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.config import Config
from auditor.scan import scan
from auditor.sources import snapshot


@pytest.mark.slow
def test_out_of_memory_query_is_retried_with_a_larger_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    baseline = scan(Config(), out=tmp_path / "a", use_history=False, renderers=[])
    monkeypatch.setattr(snapshot, "MEMORY_LIMIT_MIB", 1)  # far too small for the sample's queries
    seen: list[int] = []
    original = snapshot.SnapshotSource._query

    def spy(self: snapshot.SnapshotSource, text: str) -> object:
        result = original(self, text)
        seen.append(self._limit_mib)
        return result

    monkeypatch.setattr(snapshot.SnapshotSource, "_query", spy)
    squeezed = scan(Config(), out=tmp_path / "b", use_history=False, renderers=[])
    assert squeezed.summary == baseline.summary
    assert max(seen) > 1, "the limit was never raised, so the test did not exercise the retry"
