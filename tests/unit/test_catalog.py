"""The query catalog: metadata, versions, parameters and the release lock."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb_kql
import pytest

from auditor.errors import QueryError
from auditor.kql import lock
from auditor.kql.catalog import Catalog
from auditor.package_data import data_dir

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)


def test_catalog_covers_the_required_queries() -> None:
    catalog = Catalog()
    assert {
        "machine_facts",
        "pending_patches",
        "undated_patches",
        "installations",
        "maintenance_assignments",
        "policy_states",
    } <= set(catalog.queries)
    facts = catalog.queries["machine_facts"]
    assert facts.target == "arg" and facts.current in facts.versions
    assert ("tags", "string") in facts.columns


def test_released_catalog_matches_lock() -> None:
    assert lock.check(Catalog()) == []


def test_every_query_parses_and_keeps_to_arg_limits() -> None:
    for query in Catalog().queries.values():
        for number in query.versions:
            params = {"as_of": AS_OF} if "as_of" in query.params else {}
            text = query.render(params, version=number).text
            assert duckdb_kql.parse(text).ok, query.id
            lowered = text.lower()
            assert lowered.count("| join") + lowered.count("|join") <= 3, f"{query.id}: ARG allows 3 joins"
            assert lowered.count("mv-expand") <= 2, f"{query.id}: ARG allows 2 mv-expand"
            assert "order by" in lowered, f"{query.id}: pages must be ordered for stable paging"
            for banned in ("parse ", "bag_keys", "| take", "| limit", "| sample"):
                assert banned not in lowered, f"{query.id} uses {banned!r}"


def copy_catalog(tmp_path: Path) -> Path:
    root = tmp_path / "queries"
    shutil.copytree(data_dir("queries"), root)
    return root


def test_changing_a_released_file_fails_check(tmp_path: Path) -> None:
    root = copy_catalog(tmp_path)
    template = root / "installations" / "v1.kql.j2"
    template.write_text(template.read_text() + "| where 1 == 1\n")
    problems = lock.check(Catalog(root))
    assert [(p.ref, p.kind) for p in problems] == [("installations@v1", "changed")]
    with pytest.raises(QueryError, match="installations@v1: released template changed"):
        lock.release(Catalog(root))


def test_new_version_is_unreleased_until_locked(tmp_path: Path) -> None:
    root = copy_catalog(tmp_path)
    following = max(Catalog(root).queries["installations"].versions) + 1
    (root / "installations" / f"v{following}.kql.j2").write_text((root / "installations" / "v1.kql.j2").read_text())
    ref = f"installations@v{following}"
    assert [(p.ref, p.kind) for p in lock.check(Catalog(root))] == [(ref, "unreleased")]
    assert lock.release(Catalog(root)) == [ref]
    assert lock.check(Catalog(root)) == []


def test_removing_a_released_file_fails_check(tmp_path: Path) -> None:
    root = copy_catalog(tmp_path)
    current = Catalog(root).queries["policy_states"].current
    (root / "policy_states" / f"v{current}.kql.j2").rename(root / "policy_states" / f"v{current + 1}.kql.j2")
    meta = root / "policy_states" / "query.toml"
    meta.write_text(meta.read_text().replace(f"current = {current}", f"current = {current + 1}"))
    kinds = {(p.ref, p.kind) for p in lock.check(Catalog(root))}
    assert kinds == {(f"policy_states@v{current}", "missing"), (f"policy_states@v{current + 1}", "unreleased")}


def test_parameters_are_typed_and_checked() -> None:
    query, _ = Catalog().get("installations@v1")
    text = query.render({"as_of": "2026-11-01T00:00:00Z", "window_days": "7"}).text
    assert "datetime(2026-11-01T00:00:00.000000Z) - 7d" in text
    with pytest.raises(QueryError, match=r"window_days is 0, outside 1\.\.3650"):
        query.render({"as_of": AS_OF, "window_days": 0})
    with pytest.raises(QueryError, match="not a valid datetime"):
        query.render({"as_of": "yesterday"})
    with pytest.raises(QueryError, match="unknown parameter"):
        query.render({"as_of": AS_OF, "nope": 1})
    with pytest.raises(QueryError, match="as_of is required"):
        query.render({})


def test_bad_references() -> None:
    catalog = Catalog()
    with pytest.raises(QueryError, match="unknown query 'nope'"):
        catalog.get("nope")
    query, version = catalog.get("machine_facts@v1")
    assert version == 1
    with pytest.raises(QueryError, match="has no version v9"):
        query.render({}, version=9)


def test_older_versions_keep_their_own_columns() -> None:
    query, _ = Catalog().get("maintenance_runs")
    current = [name for name, _ in query.render({"as_of": AS_OF}).columns]
    first = [name for name, _ in query.render({"as_of": AS_OF}, version=1).columns]
    assert "subscriptionId" in current and "subscriptionId" not in first
    assert query.current == 3
    overdue, _ = Catalog().get("overdue_patches")
    assert [name for name, _ in overdue.render({"as_of": AS_OF}).columns][:2] == ["id", "patchKey"]
    assert overdue.render({"as_of": AS_OF}, version=2).columns[0] == ("patchKey", "string")
