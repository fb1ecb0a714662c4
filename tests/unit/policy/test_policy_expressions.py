"""Expression scanning, effect resolution and the property-level diff."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditor.policy.expressions import (
    effective_effect,
    pointer_join,
    possible_effects,
    resolve_value,
    template_scopes,
    usage_of,
)
from auditor.policy.normalize import DiffEntry, diff

EFFECT = {
    "effect": {
        "type": "String",
        "allowedValues": ["DeployIfNotExists", "Disabled"],
        "defaultValue": "DeployIfNotExists",
    }
}


def test_usage_of_finds_calls_skips_escapes_and_marks_dynamic_names() -> None:
    rule = {
        "if": {"field": "[concat('tags[', parameters('tagName'), ']')]", "equals": "[parameters( 'tagValue' )]"},
        "then": {"effect": "[[parameters('literal')]", "note": "parameters('not an expression')"},
    }
    usage = usage_of(rule, "/properties/policyRule")
    assert usage.uses == [
        ("tagName", "/properties/policyRule/if/field"),
        ("tagValue", "/properties/policyRule/if/equals"),
    ]
    assert not usage.dynamic
    assert usage_of({"a": "[parameters(variables('name'))]"}, "").dynamic


def test_template_scopes_split_inner_nested_templates_only() -> None:
    template = {
        "parameters": {"a": {"type": "string"}},
        "resources": [
            {
                "type": "Microsoft.Resources/deployments",
                "properties": {
                    "expressionEvaluationOptions": {"scope": "inner"},
                    "parameters": {"b": {"value": "[parameters('a')]"}},
                    "template": {
                        "parameters": {"b": {"type": "string"}},
                        "outputs": {"o": {"value": "[parameters('b')]"}},
                    },
                },
            },
            {
                "type": "Microsoft.Resources/deployments",
                "properties": {"template": {"outputs": {"o": {"value": "[parameters('a')]"}}}},
            },
        ],
    }
    outer, inner = template_scopes(template, "/t")
    assert (outer.pointer, sorted(outer.usage.uses)) == (
        "/t",
        [
            ("a", "/t/resources/0/properties/parameters/b/value"),
            ("a", "/t/resources/1/properties/template/outputs/o/value"),
        ],
    )
    assert (inner.pointer, inner.declared, inner.usage.uses) == (
        "/t/resources/0/properties/template",
        {"b": {"type": "string"}},
        [("b", "/t/resources/0/properties/template/outputs/o/value")],
    )


def test_effects() -> None:
    assert possible_effects("[parameters('Effect')]", EFFECT) == frozenset({"deployifnotexists", "disabled"})
    assert possible_effects("Modify", {}) == frozenset({"modify"})
    assert possible_effects("[if(true, 'audit', 'deny')]", {}) is None
    assert effective_effect("[parameters('effect')]", {}, EFFECT) == "deployifnotexists"
    assert effective_effect("[parameters('effect')]", {"EFFECT": "Disabled"}, EFFECT) == "disabled"
    # one level up: an initiative passes its own parameter down
    assert resolve_value("[parameters('scheduleEffect')]", {"scheduleEffect": "AuditIfNotExists"}, {}) == (
        True,
        "AuditIfNotExists",
    )
    assert resolve_value("[parameters('x')]", {}, {"x": {"type": "String", "defaultValue": "d"}}) == (True, "d")
    assert resolve_value("[parameters('x')]", {}, {"x": {"type": "String"}}) == (False, None)
    assert resolve_value("[field('type')]", {}, {}) == (False, "[field('type')]")


def test_pointer_escaping() -> None:
    assert pointer_join(pointer_join("", "a/b"), "c~d") == "/a~1b/c~0d"


def test_diff_reports_leaves_with_json_pointers() -> None:
    before = {"properties": {"parameters": {"effect": {"value": "Audit"}, "gone": {"value": 1}}, "notScopes": ["a"]}}
    after = {
        "properties": {"parameters": {"effect": {"value": "Deny"}, "new": {"value": True}}, "notScopes": ["a", "b"]}
    }
    assert diff(before, after) == [
        DiffEntry("/properties/parameters/effect/value", "replace", "Audit", "Deny"),
        DiffEntry("/properties/parameters/gone", "remove", {"value": 1}, None),
        DiffEntry("/properties/parameters/new", "add", None, {"value": True}),
        DiffEntry("/properties/notScopes", "replace", ["a"], ["a", "b"]),
    ]
    assert diff({"x": 1}, {"x": True}) == [DiffEntry("/x", "replace", 1, True)]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=12,
)


def _apply(value: Any, entries: list[DiffEntry]) -> Any:
    """Apply diff entries to a JSON value (the inverse of diff, used as an oracle)."""
    import copy

    result = copy.deepcopy(value)
    for entry in entries:
        if entry.path == "":
            result = entry.after
            continue
        tokens = [t.replace("~1", "/").replace("~0", "~") for t in entry.path.split("/")[1:]]
        node = result
        for token in tokens[:-1]:
            node = node[int(token)] if isinstance(node, list) else node[token]
        last = tokens[-1]
        if isinstance(node, list):
            node[int(last)] = entry.after
        elif entry.op == "remove":
            del node[last]
        else:
            node[last] = entry.after
    return result


@pytest.mark.slow
@given(json_values, json_values)
def test_diff_is_empty_exactly_for_equal_values_and_applies_back(before: Any, after: Any) -> None:
    entries = diff(before, after)
    assert (entries == []) == _same_json(before, after)
    assert _same_json(_apply(before, entries), after)


def _same_json(left: Any, right: Any) -> bool:
    import json

    return json.dumps(left, sort_keys=True) == json.dumps(right, sort_keys=True)
