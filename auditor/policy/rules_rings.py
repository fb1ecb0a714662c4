"""Lint rules for assignments/<ring>.toml."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from auditor.jsonvalue import as_array, as_object
from auditor.policy.expressions import is_expression, lookup
from auditor.policy.findings import Finding
from auditor.policy.ids import parse_scope
from auditor.policy.load import PolicyTree, RingFile
from auditor.policy.narrow import as_items, as_table
from auditor.policy.resolve import Target, resolve_target
from auditor.policy.rules_docs import value_allowed

MAINTENANCE_PARAMETER = "maintenanceConfigurationId"
"""The parameter a ring's maintenance_configuration_id is passed to."""
MAINTENANCE_ID = re.compile(
    r"^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[\w().-]+/providers/Microsoft\.Maintenance/"
    r"maintenanceConfigurations/[\w().-]+$",
    re.IGNORECASE,
)
NAME_LIMITS = {"managementGroup": 24, "subscription": 64}
"""Longest policy assignment name ARM accepts at each scope."""


def type_matches(declared_type: str, value: object) -> bool:
    """True when value fits an Azure Policy parameter type."""
    kind = declared_type.casefold()
    checks: dict[str, bool] = {
        "string": isinstance(value, str),
        "datetime": isinstance(value, str),
        "array": isinstance(value, list),
        "object": isinstance(value, Mapping),
        "boolean": isinstance(value, bool),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, int | float) and not isinstance(value, bool),
    }
    return checks.get(kind, True)


def ring_rules(
    ring: RingFile, tree: PolicyTree, rings: Sequence[str] | None, default_definition_scope: str | None
) -> Iterator[Finding]:
    """All rules for one ring file."""
    path, data = ring.path, ring.data
    if rings is not None and ring.ring not in rings:
        yield Finding(
            path, "", "ring-unknown", f"ring {ring.ring!r} is not in the configured rings ({', '.join(rings)})"
        )
    scope_kind = None
    for key in ("scope", "definition_scope"):
        if isinstance(text := data.get(key), str):
            try:
                parsed = parse_scope(text)
            except ValueError as exc:
                yield Finding(path, f"/{key}", "scope-invalid", str(exc))
            else:
                scope_kind = parsed.kind if key == "scope" else scope_kind
    maintenance = data.get("maintenance_configuration_id")
    if isinstance(maintenance, str) and not MAINTENANCE_ID.fullmatch(maintenance):
        yield Finding(
            path,
            "/maintenance_configuration_id",
            "maintenance-configuration-invalid",
            "expected /subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Maintenance/"
            "maintenanceConfigurations/<name>",
        )
    definition_scope = str(data.get("definition_scope") or default_definition_scope or "")
    wants_maintenance = False
    for name, table in as_table(data.get("assignments")).items():
        base = f"/assignments/{name}"
        limit = NAME_LIMITS.get(scope_kind or "")
        if limit is not None and len(name) > limit:
            yield Finding(
                path,
                base,
                "assignment-name-length",
                f"assignment name {name!r} is {len(name)} characters; at this scope ARM allows {limit}",
            )
        assignment = as_table(table)
        text = str(assignment.get("definition", ""))
        target = resolve_target(tree, text, definition_scope)
        if target is None:
            yield Finding(
                path,
                f"{base}/definition",
                "assignment-definition-unresolved",
                f"{text!r} is neither one of our initiatives or definitions nor a known built-in id",
            )
            continue
        wants_maintenance |= lookup(target.parameters, MAINTENANCE_PARAMETER) is not None
        yield from _parameter_rules(path, base, assignment, target, isinstance(maintenance, str))
        yield from _message_rules(path, base, assignment, target)
        for index, not_scope in enumerate(as_items(assignment.get("not_scopes"))):
            try:
                parse_scope(str(not_scope), allow_resource=True)
            except ValueError as exc:
                yield Finding(path, f"{base}/not_scopes/{index}", "scope-invalid", str(exc))
    if isinstance(maintenance, str) and not wants_maintenance:
        yield Finding(
            path,
            "/maintenance_configuration_id",
            "maintenance-configuration-unused",
            f"no assignment of this ring declares the parameter {MAINTENANCE_PARAMETER}",
            "warning",
        )


def _parameter_rules(
    path: Path, base: str, assignment: Mapping[str, object], target: Target, ring_has_maintenance: bool
) -> Iterator[Finding]:
    given = as_table(assignment.get("parameters"))
    for name, value in given.items():
        where = f"{base}/parameters/{name}"
        found = lookup(target.parameters, name)
        if found is None:
            yield Finding(path, where, "assignment-parameter-unknown", f"{target.id} declares no parameter {name!r}")
            continue
        if found[0].casefold() == MAINTENANCE_PARAMETER.casefold() and ring_has_maintenance:
            yield Finding(
                path,
                where,
                "maintenance-parameter-twice",
                "set the maintenance configuration once: the ring's maintenance_configuration_id fills it",
            )
        declaration = as_object(found[1])
        if isinstance(value, str) and is_expression(value):
            continue
        if not type_matches(str(declaration.get("type", "")), value):
            yield Finding(
                path,
                where,
                "assignment-parameter-type",
                f"{name!r} is declared {declaration.get('type')}, got {type(value).__name__}",
            )
        elif not value_allowed(value, declaration):
            yield Finding(
                path,
                where,
                "assignment-parameter-allowed",
                f"{value!r} is not among the allowedValues of {name!r}: {declaration.get('allowedValues')}",
            )
    for name, declared in target.parameters.items():
        filled = ring_has_maintenance and name.casefold() == MAINTENANCE_PARAMETER.casefold()
        if "defaultValue" not in as_object(declared) and lookup(given, name) is None and not filled:
            yield Finding(
                path,
                f"{base}/parameters",
                "assignment-parameter-missing",
                f"{target.id} needs parameter {name!r} (it has no default)",
            )


def _message_rules(path: Path, base: str, assignment: Mapping[str, object], target: Target) -> Iterator[Finding]:
    known = {ref.reference_id.casefold() for ref in target.references}
    if target.document is not None and target.kind == "set":
        members = as_array(target.document.properties.get("policyDefinitions"))
        known |= {str(as_object(member).get("policyDefinitionReferenceId", "")).casefold() for member in members}
    for index, message in enumerate(as_items(assignment.get("non_compliance_messages"))):
        reference = as_table(message).get("reference_id")
        if reference is None:
            continue
        if target.kind != "set":
            yield Finding(
                path,
                f"{base}/non_compliance_messages/{index}/reference_id",
                "non-compliance-reference",
                "reference_id only applies to an initiative assignment",
            )
        elif str(reference).casefold() not in known:
            yield Finding(
                path,
                f"{base}/non_compliance_messages/{index}/reference_id",
                "non-compliance-reference",
                f"the initiative has no member {reference!r}",
            )
