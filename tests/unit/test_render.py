"""KQL-safe rendering: no parameter value can change a query's structure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import duckdb_kql
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.errors import QueryError
from auditor.kql.render import kql_datetime, kql_int, kql_string, render

# Any text KQL can carry: everything but the control characters it has no escape for.
safe_text = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs",),
        blacklist_characters=[chr(c) for c in range(32) if chr(c) not in "\t\n\r"] + ["\x7f"],
    ),
    max_size=40,
)
hostile = st.sampled_from(
    ['"; | drop', "\\", '\\"', "'", "|", "\n| take 1", '")', '"; resources | project id //', '@"x"']
)


def tree_shape(text: str) -> str:
    """The parse tree with every string literal blanked, so only structure is compared."""
    result = duckdb_kql.parse(text)
    assert result.ok, result.diagnostics
    return (
        str(result.tree.toStringTree(recog=result.tree.parser)) if hasattr(result.tree, "parser") else repr(result.tree)
    )


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(value=st.one_of(safe_text, hostile, st.lists(hostile, min_size=1).map("".join)))
def test_string_literal_round_trips_exactly(value: str) -> None:
    literal = kql_string(value)
    with duckdb_kql.connect() as con:
        assert duckdb_kql.kql(con, f"print x = {literal}").fetchall() == [(value,)]


@pytest.mark.slow
@settings(max_examples=100, deadline=None)
@given(value=st.one_of(safe_text, hostile))
def test_value_cannot_change_query_structure(value: str) -> None:
    template = "resources | where name == {{ v | kql_string }} and type in~ {{ vs | kql_string_list }} | project id"
    text = render(template, {"v": value, "vs": [value, "b"]})
    benign = render(template, {"v": "a", "vs": ["a", "b"]})
    # The SQL translation differs only inside the literals: blank them and the statements are identical.
    assert _strip_literals(duckdb_kql.to_sql(text, schema=SCHEMA)) == _strip_literals(
        duckdb_kql.to_sql(benign, schema=SCHEMA)
    )


SCHEMA = {"resources": {"id": "string", "name": "string", "type": "string"}}


def _strip_literals(sql: str) -> str:
    out, i, n = [], 0, len(sql)
    while i < n:
        if sql[i] == "'":
            j = i + 1
            while j < n:
                if sql[j] == "'" and j + 1 < n and sql[j + 1] == "'":
                    j += 2
                    continue
                if sql[j] == "'":
                    break
                j += 1
            out.append("''")
            i = j + 1
        else:
            out.append(sql[i])
            i += 1
    return "".join(out)


def test_control_characters_are_refused() -> None:
    with pytest.raises(QueryError, match="control character"):
        kql_string("a\x00b")


def test_unfiltered_interpolation_is_refused() -> None:
    with pytest.raises(QueryError, match="without a KQL-safe filter"):
        render("resources | where name == {{ v }}", {"v": "x"})


def test_int_bounds_and_types() -> None:
    assert kql_int(5, 0, 10) == "5"
    with pytest.raises(QueryError):
        kql_int(11, 0, 10)
    with pytest.raises(QueryError):
        kql_int(True)
    with pytest.raises(QueryError):
        kql_int("5")


def test_datetime_literal_is_utc() -> None:
    local = datetime(2026, 11, 1, 8, 0, tzinfo=timezone(timedelta(hours=2)))
    assert kql_datetime(local) == "datetime(2026-11-01T06:00:00.000000Z)"
    with pytest.raises(QueryError):
        kql_datetime(datetime(2026, 11, 1))  # naive
    assert kql_datetime(datetime(2026, 1, 1, tzinfo=UTC)).startswith("datetime(2026-01-01T00:00:00")
