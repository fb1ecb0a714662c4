"""The query catalog: metadata, versions, parameters and the release lock."""

from __future__ import annotations

import re
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


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_TABULAR = re.compile(r"\|\s*(order by|sort by|[a-z][a-z-]*)")
_FUNCTION = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\(")
_WORD_OPERATORS = re.compile(
    r"(?<![\w.])(matches regex|!?has_any|!?has_all|!?has_cs|!?hasprefix|!?hassuffix|!?has|!?contains_cs|!?contains"
    r"|!?startswith|!?endswith|!?in~|!?in|and|or|not|between)(?![\w~])"
)
_SYMBOL_OPERATORS = re.compile(r"(=~|!~|==|!=|<=|>=|<|>|%|/|\*|\+|(?<=\s)-(?=\s))")
_TIMESPAN = re.compile(r"(?<![\w.])\d+(?:d|h|m|s|ms)\b")


def kql_constructs(text: str) -> set[str]:
    """The tabular operators, join flavours, functions, scalar operators and literal forms a query text uses."""
    bare = _STRING.sub('""', text)
    found = {match.group(1) for match in _TABULAR.finditer(bare)}
    found |= {f"kind={flavour}" for flavour in re.findall(r"kind\s*=\s*([a-z]+)", bare)}
    found |= {match.group(1) for match in _FUNCTION.finditer(bare)}
    found |= {match.group(1) for match in _WORD_OPERATORS.finditer(bare)}
    found |= {match.group(1) for match in _SYMBOL_OPERATORS.finditer(re.sub(r"kind\s*=\s*[a-z]+", "", bare))}
    if _TIMESPAN.search(bare):
        found.add("timespan")
    return found


def supported_constructs() -> set[str]:
    """The first column of queries/ARG_SUPPORT.md's construct table."""
    text = (data_dir("queries") / "ARG_SUPPORT.md").read_text(encoding="utf-8")
    return set(re.findall(r"^\| `([^`]+)` \|", text, re.MULTILINE))


def current_texts() -> dict[str, str]:
    """Every current query as a scan runs it: whole, and as one hash partition where it declares a key."""
    texts = {}
    for query in Catalog().queries.values():
        params = {"as_of": AS_OF} if "as_of" in query.params else {}
        request = query.render(params)
        texts[request.ref] = request.text
        if request.partitioned is not None:
            texts[f"{request.ref} partition"] = request.partitioned(1, 4)
    return texts


def test_released_queries_use_only_documented_resource_graph_constructs() -> None:
    supported = supported_constructs()
    assert {"where", "summarize", "has", "hash", "in~"} <= supported and "has_any" not in supported
    for ref, text in current_texts().items():
        undocumented = kql_constructs(text) - supported
        assert not undocumented, f"{ref} uses {sorted(undocumented)}, not shown supported in queries/ARG_SUPPORT.md"


def test_the_construct_check_sees_what_it_must() -> None:
    """The extraction is what makes the check able to fail: it must see an undocumented operator, and not see
    operators inside string literals."""
    old = Catalog().queries["overdue_patches"].render({"as_of": AS_OF}, version=2).text
    assert "has_any" in kql_constructs(old) and "has_any" not in supported_constructs()
    assert kql_constructs('t | where a has "x has_any y" | project b = strlen(c) | order by b asc') == {
        "where",
        "has",
        "project",
        "strlen",
        "order by",
    }
    assert {"%", "hash", "==", "timespan"} <= kql_constructs("t | where hash(x) % 4 == 1 | where d < ago(7d)")


def test_no_query_a_scan_runs_uses_has_any() -> None:
    for ref, text in current_texts().items():
        assert "has_any" not in text, ref


def test_partition_keys_are_declared_where_results_cannot_page() -> None:
    """Strictly read, a summarize or an id-less output gets one page: each such query can be cut by a key."""
    for query in Catalog().queries.values():
        request = query.render({"as_of": AS_OF} if "as_of" in query.params else {})
        names = [name for name, _ in request.columns]
        if "summarize" in request.text or "id" not in names:
            assert request.partition_key in names, request.ref
            assert "| where hash(" not in request.text
            assert f"| where hash({request.partition_key}) % 4 == 1\n" in request.partitioned(1, 4)  # type: ignore[misc]
        else:
            assert parse_last_order(request.text)[0] in ("id", "machineId", "configurationId"), request.ref


def parse_last_order(text: str) -> list[str]:
    return [item.split()[0] for item in text.rsplit("order by", 1)[1].split(",")]


def test_a_partition_key_must_be_an_output_column(tmp_path: Path) -> None:
    root = copy_catalog(tmp_path)
    meta = root / "pending_patches" / "query.toml"
    meta.write_text(meta.read_text().replace('key = "machineId"', 'key = "patchKey"'))
    with pytest.raises(QueryError, match=r"partition\.key is 'patchKey', which is not an output column"):
        Catalog(root)
    meta.write_text(meta.read_text().replace('key = "patchKey"', 'key = "machineId"'))
    template = root / "pending_patches" / "v2.kql.j2"
    template.write_text(template.read_text().replace("{{ partition_filter }}", ""))
    with pytest.raises(QueryError, match=re.escape("has no {{ partition_filter }}")):
        Catalog(root)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("min = 1\n", 'min = "1"\n', r"installations/query\.toml: params\.window_days\.min must be a int"),
        ('tables = ["patchinstallationresources"]', "tables = [1]", r"key 'tables' must be a list of table names"),
        ('[[columns]]\nname = "id"', "[[columns]]\nname = 7", r"columns\[0\]\.name must be a str"),
        ("[params.window_days]\ntype", "[params]\nwindow_days = 3\n[params.x]\ntype", r"params\.window_days must be a"),
    ],
)
def test_a_malformed_query_toml_is_named_not_a_traceback(tmp_path: Path, old: str, new: str, message: str) -> None:
    root = copy_catalog(tmp_path)
    meta = root / "installations" / "query.toml"
    assert old in meta.read_text()
    meta.write_text(meta.read_text().replace(old, new, 1))
    with pytest.raises(QueryError, match=message):
        Catalog(root)
