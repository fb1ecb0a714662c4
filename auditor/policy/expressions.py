"""Azure Policy and ARM template expressions: which parameters they use, and which effect they resolve to.

A string is an expression when it starts with ``[`` (``[[`` escapes a literal bracket). ``parameters('x')``
means the policy's parameter x in a policy rule, but the template's own parameter x inside a deployment
template, and again a nested template's own parameter x inside a nested deployment whose
``expressionEvaluationOptions.scope`` is ``inner``. Names are matched ignoring case, as ARM does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from auditor.jsonvalue import JsonObject, JsonValue, as_object

_CALL = re.compile(r"\bparameters\s*\(\s*'((?:[^']|'')*)'\s*\)", re.IGNORECASE)
_ANY_CALL = re.compile(r"\bparameters\s*\(", re.IGNORECASE)
_WHOLE_REF = re.compile(r"^\[\s*parameters\s*\(\s*'([^']+)'\s*\)\s*\]$", re.IGNORECASE)
V = TypeVar("V")


def pointer_join(pointer: str, key: str | int) -> str:
    """Append one reference token to a JSON pointer (RFC 6901 escaping)."""
    return f"{pointer}/{str(key).replace('~', '~0').replace('/', '~1')}"


def is_expression(value: str) -> bool:
    """True for an ARM/policy expression string such as "[parameters('x')]"."""
    return value.startswith("[") and not value.startswith("[[") and value.endswith("]")


def lookup(mapping: Mapping[str, V], name: str) -> tuple[str, V] | None:
    """(actual key, value) of `name` in mapping, ignoring case, or None."""
    folded = name.casefold()
    return next(((key, value) for key, value in mapping.items() if key.casefold() == folded), None)


@dataclass
class Usage:
    """The parameters() calls found in one scope."""

    uses: list[tuple[str, str]] = field(default_factory=list)
    """(parameter name, JSON pointer of the string using it)."""
    dynamic: bool = False
    """Some call's name is computed, so "declared but unused" cannot be judged."""

    def names(self) -> set[str]:
        """Used names, case-folded."""
        return {name.casefold() for name, _ in self.uses}

    def add_string(self, text: str, pointer: str) -> None:
        """Record the calls in one string, if it is an expression."""
        if not is_expression(text):
            return
        literal = list(_CALL.finditer(text))
        self.uses.extend((match.group(1).replace("''", "'"), pointer) for match in literal)
        if len(_ANY_CALL.findall(text)) > len(literal):
            self.dynamic = True


def strings(node: JsonValue, pointer: str, skip: frozenset[str] = frozenset()) -> Iterator[tuple[str, str]]:
    """Every string (object keys included) under node, with its pointer; subtrees at `skip` are left out."""
    if pointer in skip:
        return
    if isinstance(node, str):
        yield node, pointer
    elif isinstance(node, dict):
        for key, value in node.items():
            child = pointer_join(pointer, key)
            if child not in skip:
                yield key, child
            yield from strings(value, child, skip)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from strings(value, pointer_join(pointer, index), skip)


def usage_of(node: JsonValue, pointer: str, skip: frozenset[str] = frozenset()) -> Usage:
    """The parameters() calls under node."""
    usage = Usage()
    for text, where in strings(node, pointer, skip):
        usage.add_string(text, where)
    return usage


@dataclass(frozen=True)
class TemplateScope:
    """One ARM template's own parameter scope."""

    pointer: str
    """Pointer of the template object."""
    declared: JsonObject
    usage: Usage


def _inner_template(node: JsonObject) -> JsonObject | None:
    """The template of a nested deployment that evaluates in its own (inner) scope."""
    if str(node.get("type", "")).casefold() != "microsoft.resources/deployments":
        return None
    properties = node.get("properties")
    if not isinstance(properties, dict):
        return None
    options = properties.get("expressionEvaluationOptions")
    inner = isinstance(options, dict) and str(options.get("scope", "")).casefold() == "inner"
    template = properties.get("template")
    return template if inner and isinstance(template, dict) else None


def template_scopes(template: JsonObject, pointer: str) -> list[TemplateScope]:
    """The scope of `template` and, recursively, of every inner-scoped nested template in it."""
    inner: list[str] = []

    def find(node: JsonValue, where: str) -> None:
        if isinstance(node, dict):
            if where != pointer and _inner_template(node) is not None:
                inner.append(pointer_join(pointer_join(where, "properties"), "template"))
            for key, value in node.items():
                find(value, pointer_join(where, key))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                find(value, pointer_join(where, index))

    find(template, pointer)
    declared = template.get("parameters")
    scopes = [
        TemplateScope(
            pointer, declared if isinstance(declared, dict) else {}, usage_of(template, pointer, frozenset(inner))
        )
    ]
    for where in inner:
        scopes.extend(template_scopes(_resolve(template, pointer, where), where))
    return scopes


def _resolve(root: JsonObject, root_pointer: str, pointer: str) -> JsonObject:
    """The object at `pointer` (one that template_scopes found, so it exists and is an object)."""
    node: JsonValue = root
    for token in pointer[len(root_pointer) :].split("/")[1:]:
        key = token.replace("~1", "/").replace("~0", "~")
        node = node[int(key)] if isinstance(node, list) else node[key] if isinstance(node, dict) else None
    return as_object(node)


def parameter_reference(value: JsonValue) -> str | None:
    """`x` when value is exactly "[parameters('x')]"."""
    match = _WHOLE_REF.match(value) if isinstance(value, str) else None
    return match.group(1) if match else None


def possible_effects(effect: JsonValue, parameters: JsonObject) -> frozenset[str] | None:
    """Every effect (lower case) a rule may take, or None when that cannot be told."""
    if not isinstance(effect, str):
        return None
    name = parameter_reference(effect)
    if name is None:
        return None if is_expression(effect) else frozenset({effect.casefold()})
    found = lookup(parameters, name)
    if found is None or not isinstance(found[1], dict):
        return None
    declaration = found[1]
    allowed = declaration.get("allowedValues")
    values = list(allowed) if isinstance(allowed, list) else []
    if "defaultValue" in declaration:
        values.append(declaration["defaultValue"])
    effects = frozenset(value.casefold() for value in values if isinstance(value, str))
    return effects or None


def resolve_value(value: JsonValue, values: JsonObject, declared: JsonObject) -> tuple[bool, JsonValue]:
    """Resolve a value passed down one level: "[parameters('x')]" takes x's value (or its default)."""
    name = parameter_reference(value)
    if name is None:
        return (not (isinstance(value, str) and is_expression(value))), value
    given = lookup(values, name)
    if given is not None:
        return True, given[1]
    found = lookup(declared, name)
    if found is not None and isinstance(found[1], dict) and "defaultValue" in found[1]:
        return True, found[1]["defaultValue"]
    return False, None


def effective_effect(effect: str, values: JsonObject, declared: JsonObject) -> str | None:
    """The effect (lower case) a definition takes with these parameter values, or None when unknown."""
    known, value = resolve_value(effect, values, declared)
    return value.casefold() if known and isinstance(value, str) else None
