"""SnapshotSource loads a table when a query first needs it, and runs queries from several threads at once."""

from __future__ import annotations

import gzip
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from auditor.errors import SnapshotError
from auditor.kql.catalog import Catalog
from auditor.package_data import sample_fleet
from auditor.snapshots.format import read_snapshot
from auditor.sources.snapshot import MEMORY_LIMIT_MIB, SnapshotSource
from tests.crafted import Fleet


def test_a_query_loads_only_the_tables_it_declares() -> None:
    source = SnapshotSource(read_snapshot(sample_fleet()))
    try:
        request = Catalog().get("machine_facts")[0].render({})
        assert request.tables == ("resources", "patchassessmentresources")
        rows = source.run(request).table.num_rows
        assert source._loaded == {"resources", "patchassessmentresources"}
        assert rows == 1500
    finally:
        source.close()


def test_a_table_missing_from_the_declaration_is_loaded_and_the_query_retried() -> None:
    source = SnapshotSource(read_snapshot(sample_fleet()))
    try:
        request = replace(Catalog().get("machine_facts")[0].render({}), tables=("resources",))
        assert source.run(request).table.column("assessmentStatus").null_count < 1500
        assert source._loaded == set(source.snapshot.tables)
    finally:
        source.close()


def test_duckdb_is_capped_and_spills_into_the_given_directory(tmp_path: Path) -> None:
    source = SnapshotSource(read_snapshot(sample_fleet()), spill_dir=tmp_path)
    try:
        limit, spill = source._con.execute(
            "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
        ).fetchone() or ("", "")
        assert (limit, Path(spill).parent) == (f"{MEMORY_LIMIT_MIB:.1f} MiB", tmp_path)
    finally:
        source.close()
    assert list(tmp_path.iterdir()) == []  # the spill directory goes with the source


def test_an_expected_table_is_dropped_once_the_last_query_declaring_it_has_run() -> None:
    catalog = Catalog()
    facts, pending, policy = (
        catalog.get(q)[0].render({}) for q in ("machine_facts", "pending_patches", "policy_states")
    )
    source = SnapshotSource(read_snapshot(sample_fleet()))

    def tables() -> set[str]:
        return {row[0] for row in source._con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}

    try:
        source.expect([facts, pending, policy])
        source.run(facts)
        # resources is read by no query still expected; patchassessmentresources is, by pending_patches
        assert {"resources", "patchassessmentresources"} - tables() == {"resources"}
        source.run(pending)
        assert "patchassessmentresources" not in tables()
        assert source.run(policy).table.num_rows > 0
        assert source._loaded == set()
        # a query nobody announced still runs: it loads what it needs again
        assert source.run(facts).table.num_rows == 1500
    finally:
        source.close()


def test_nothing_is_dropped_after_a_query_that_read_every_table() -> None:
    catalog = Catalog()
    undeclared = replace(catalog.get("machine_facts")[0].render({}), tables=())
    pending = catalog.get("pending_patches")[0].render({})
    source = SnapshotSource(read_snapshot(sample_fleet()))
    try:
        source.expect([undeclared, pending])
        source.run(undeclared)
        source.run(pending)
        assert source._loaded == set(source.snapshot.tables)
    finally:
        source.close()


@pytest.mark.slow
def test_concurrent_queries_return_what_one_at_a_time_returns() -> None:
    catalog = Catalog()
    ids = ["machine_facts", "policy_states", "pending_patches", "maintenance_assignments", "subscriptions"]
    requests = [catalog.get(query_id)[0].render({}) for query_id in ids]
    alone = SnapshotSource(read_snapshot(sample_fleet()))
    together = SnapshotSource(read_snapshot(sample_fleet()))
    try:
        expected = [alone.run(request).table for request in requests]
        with ThreadPoolExecutor(max_workers=3) as pool:
            got = [result.table for result in pool.map(together.run, requests)]
        assert [t.num_rows for t in got] == [t.num_rows for t in expected]
        assert all(a.equals(b) for a, b in zip(expected, got, strict=True))
    finally:
        alone.close()
        together.close()


def test_an_oversized_row_is_named_as_such_not_as_corruption(tmp_path: Path) -> None:
    f = Fleet()
    vm = f.machine("vm1")
    f.assessment(vm)
    snapshot = f.write(tmp_path / "snap")
    big = {"id": "/subscriptions/s/x", "type": "t", "properties": {"blob": "a" * (40 << 20)}}
    with gzip.open(snapshot.tables["policyresources"].path, "wt") as handle:
        handle.write(json.dumps(big) + "\n")
    source = SnapshotSource(read_snapshot(snapshot.path, verify=False))
    try:
        with pytest.raises(SnapshotError) as info:
            source._ensure_tables(["policyresources"])
    finally:
        source.close()
    assert info.value.message == (
        f"{snapshot.tables['policyresources'].path}: a row of table policyresources is larger than DuckDB's limit "
        "of 16 MiB for one JSON object"
    )
    assert "corrupt" not in info.value.hint and info.value.exit_code == 2
