"""Lint rules for exemptions/<name>.toml (beyond their JSON Schema)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta

from auditor.jsonvalue import as_array, as_object
from auditor.policy.exemptions import (
    CATEGORIES,
    RESERVED_METADATA,
    ExemptionTarget,
    Unresolved,
    describe_expiry,
    parse_expiry,
    resolve_exemption,
)
from auditor.policy.findings import Finding
from auditor.policy.ids import id_key, is_within, parse_scope
from auditor.policy.load import ExemptionFile, PolicyTree
from auditor.policy.narrow import as_items, as_table
from auditor.policy.resolve import resolve_target

NAME = re.compile(r"^[^<>*%&:\\?+/#]{0,63}[^<>*%&:\\?+/#. ]$")
"""ARM's policy exemption names: 1-64 characters, none of <>*%&:\\?+/#, not ending in a dot or a space."""


def exemption_rules(
    file: ExemptionFile,
    tree: PolicyTree,
    rings: Sequence[str] | None,
    default_definition_scope: str | None,
    max_days: int,
    now: datetime,
) -> Iterator[Finding]:
    """All rules for one exemption file."""
    path, data = file.path, file.data
    name = data.get("name")
    if name is not None and name != file.name:
        yield Finding(path, "/name", "name-matches-file", f"name {name!r} differs from the file name {file.name!r}")
    if not NAME.fullmatch(file.name):
        yield Finding(
            path,
            "",
            "exemption-name",
            f"{file.name!r} is not a valid exemption name (1-64 characters, no <>*%&:\\?+/#)",
        )
    target: ExemptionTarget | None
    try:
        target = resolve_exemption(tree, data)
    except Unresolved as problem:
        target = None
        yield Finding(path, problem.pointer, problem.rule, problem.message)
    if target is not None and rings is not None and target.ring not in rings:
        yield Finding(path, "/assignment", "ring-unknown", f"ring {target.ring!r} is not a configured ring")
    yield from _scope_rules(file, target)
    category = str(data.get("category", ""))
    if category not in CATEGORIES:
        spelled = next((c for c in CATEGORIES if c.casefold() == category.casefold()), None)
        hint = f"; write {spelled!r}" if spelled else ""
        yield Finding(
            path, "/category", "exemption-category", f"category must be Waiver or Mitigated, not {category!r}{hint}"
        )
    yield from _expiry_rules(file, max_days, now)
    for key in as_table(data.get("metadata")):
        if key.casefold() in RESERVED_METADATA:
            yield Finding(path, f"/metadata/{key}", "metadata-reserved", f"auditor writes metadata.{key} itself")
    if target is not None:
        yield from _reference_rules(file, tree, target, default_definition_scope)


def _scope_rules(file: ExemptionFile, target: ExemptionTarget | None) -> Iterator[Finding]:
    try:
        scope = parse_scope(str(file.data.get("scope", "")), allow_resource=True)
    except ValueError as exc:
        yield Finding(file.path, "/scope", "scope-invalid", str(exc))
        return
    # Management group nesting is unknown offline, so only subscription and resource group assignments are checked.
    assignment_scope = parse_scope(target.assignment_scope, allow_resource=True) if target else None
    if (
        assignment_scope is not None
        and assignment_scope.kind in ("subscription", "resourceGroup")
        and not is_within(scope.id, assignment_scope.id)
    ):
        yield Finding(
            file.path,
            "/scope",
            "exemption-scope-outside",
            f"the exemption must lie at or under its assignment's scope {assignment_scope.id}",
        )


def _expiry_rules(file: ExemptionFile, max_days: int, now: datetime) -> Iterator[Finding]:
    try:
        expiry = parse_expiry(file.data.get("expires_on"))
    except ValueError as exc:
        yield Finding(file.path, "/expires_on", "exemption-expiry", f"expires_on: {exc}")
        return
    if expiry <= now:
        yield Finding(
            file.path,
            "/expires_on",
            "exemption-expired",
            f"expired on {describe_expiry(expiry)}: renew or remove",
            "warning",
        )
    elif expiry > now + timedelta(days=max_days):
        days = (expiry - now).days
        yield Finding(
            file.path,
            "/expires_on",
            "exemption-expiry-horizon",
            f"expires_on {describe_expiry(expiry)} is {days} days away; at most {max_days} days are allowed "
            "([policy].max_exemption_days)",
        )


def _reference_rules(
    file: ExemptionFile, tree: PolicyTree, target: ExemptionTarget, default_definition_scope: str | None
) -> Iterator[Finding]:
    references = as_items(file.data.get("policy_definition_reference_ids"))
    if not references or target.spec is None or target.ring_file is None:
        return  # someone else's assignment: auditor cannot see its members
    definition_scope = str(target.ring_file.data.get("definition_scope") or default_definition_scope or "")
    resolved = resolve_target(tree, str(target.spec.get("definition", "")), definition_scope)
    if resolved is None:
        return  # assignment-definition-unresolved reports it
    if resolved.kind != "set":
        yield Finding(
            file.path,
            "/policy_definition_reference_ids",
            "exemption-reference-not-set",
            "policy_definition_reference_ids only apply to the assignment of an initiative",
        )
        return
    known = {ref.reference_id.casefold() for ref in resolved.references}
    if resolved.document is not None:
        members = as_array(resolved.document.properties.get("policyDefinitions"))
        known |= {str(as_object(member).get("policyDefinitionReferenceId", "")).casefold() for member in members}
    if not known:
        return  # a built-in initiative whose members auditor does not know
    for index, reference in enumerate(references):
        if str(reference).casefold() not in known:
            yield Finding(
                file.path,
                f"/policy_definition_reference_ids/{index}",
                "exemption-reference-unknown",
                f"the initiative of {target.assignment_id.rsplit('/', 1)[1]!r} has no member {reference!r}",
            )


def duplicate_exemptions(files: Sequence[ExemptionFile]) -> Iterator[Finding]:
    """Two files whose exemptions would have the same id (names ignore case in ARM)."""
    seen: dict[str, ExemptionFile] = {}
    for file in files:
        try:
            scope = parse_scope(str(file.data.get("scope", "")), allow_resource=True).id
        except ValueError:
            continue
        key = f"{id_key(scope)}|{file.name.casefold()}"
        if key in seen:
            yield Finding(
                file.path, "", "name-duplicate", f"{seen[key].path.name} names the same exemption (names ignore case)"
            )
        seen.setdefault(key, file)
