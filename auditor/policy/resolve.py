"""Resolve what a reference or an assignment points at: one of our definitions, or a known built-in.

Our initiatives name our own definitions by the unscoped id ``/providers/Microsoft.Authorization/
policyDefinitions/<name>``; built-ins use the same form with a GUID. Our files win when both match.
Assignments name their target by the plain name of one of our initiatives or definitions, or by a
built-in's id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from auditor.jsonvalue import JsonObject, as_array, as_object
from auditor.policy.ids import (
    BUILTIN_PREFIX,
    BUILTIN_SET_PREFIX,
    POLICY_DEFINITIONS,
    POLICY_SET_DEFINITIONS,
    child_id,
    id_key,
    role_guid,
)
from auditor.policy.load import Document, PolicyTree
from auditor.policy.model import DefinitionFacts, ReferenceFacts


def local_definition_id(definition_scope: str, doc: Document) -> str:
    """Where one of our documents lives once deployed."""
    collection = POLICY_SET_DEFINITIONS if doc.kind == "set" else POLICY_DEFINITIONS
    return child_id(definition_scope, collection, doc.name)


def facts_of_document(doc: Document, definition_id: str) -> DefinitionFacts:
    """Facts of a definition file."""
    rule = as_object(doc.properties.get("policyRule"))
    then = as_object(rule.get("then"))
    roles = as_array(as_object(then.get("details")).get("roleDefinitionIds"))
    role_ids = [role for role in roles if isinstance(role, str)]
    return DefinitionFacts(
        id=definition_id,
        parameters=as_object(doc.properties.get("parameters")),
        effect=str(then.get("effect", "")),
        role_guids=tuple(dict.fromkeys(role_guid(role) for role in role_ids)),
        builtin=doc.builtin,
    )


def facts_of_builtin(definition_id: str, entry: JsonObject) -> DefinitionFacts:
    """Facts of a catalogue entry."""
    roles = as_array(entry.get("roleDefinitionIds"))
    return DefinitionFacts(
        id=definition_id,
        parameters=as_object(entry.get("parameters")),
        effect=str(entry.get("effect", "")),
        role_guids=tuple(dict.fromkeys(role_guid(role) for role in roles if isinstance(role, str))),
        builtin=True,
    )


def resolve_reference(tree: PolicyTree, reference: str, definition_scope: str) -> DefinitionFacts | None:
    """The definition an initiative member points at, or None when it is neither ours nor a known built-in."""
    if id_key(reference).startswith(BUILTIN_PREFIX.casefold()):
        name = reference.rstrip("/")[len(BUILTIN_PREFIX) :]
        doc = tree.local("definition", name)
        if doc is not None:
            return facts_of_document(doc, local_definition_id(definition_scope, doc))
    for doc in tree.documents:
        if doc.kind == "definition" and doc.builtin and id_key(str(doc.data.get("id", ""))) == id_key(reference):
            return facts_of_document(doc, reference)
    entry = tree.catalog.definition(reference)
    return facts_of_builtin(reference, entry) if entry is not None else None


@dataclass(frozen=True)
class Target:
    """What an assignment assigns."""

    kind: Literal["definition", "set"]
    id: str
    parameters: JsonObject
    """Parameters the target declares."""
    definition: DefinitionFacts | None
    """For a plain definition."""
    references: tuple[ReferenceFacts, ...]
    """For an initiative: its members (unresolvable members are left out)."""
    document: Document | None
    """Our file, when the target is ours."""


def references_of(tree: PolicyTree, doc: Document, definition_scope: str) -> tuple[ReferenceFacts, ...]:
    """The resolvable members of one of our initiatives."""
    out: list[ReferenceFacts] = []
    for member in as_array(doc.properties.get("policyDefinitions")):
        if not isinstance(member, dict):
            continue
        facts = resolve_reference(tree, str(member.get("policyDefinitionId", "")), definition_scope)
        if facts is not None:
            out.append(
                ReferenceFacts(
                    str(member.get("policyDefinitionReferenceId", "")), facts, as_object(member.get("parameters"))
                )
            )
    return tuple(out)


def resolve_target(tree: PolicyTree, text: str, definition_scope: str) -> Target | None:
    """Resolve an assignment's `definition` key."""
    doc = tree.local("set", text) or tree.local("definition", text)
    if doc is not None:
        full_id = local_definition_id(definition_scope, doc)
        if doc.kind == "set":
            params = as_object(doc.properties.get("parameters"))
            return Target("set", full_id, params, None, references_of(tree, doc, definition_scope), doc)
        facts = facts_of_document(doc, full_id)
        return Target("definition", full_id, facts.parameters, facts, (), doc)
    entry = tree.catalog.definition(text)
    if entry is not None:
        facts = facts_of_builtin(text, entry)
        return Target("definition", text, facts.parameters, facts, (), None)
    if tree.catalog.set_definition(text) is not None and id_key(text).startswith(BUILTIN_SET_PREFIX.casefold()):
        entry = tree.catalog.set_definition(text) or {}
        return Target("set", text, as_object(entry.get("parameters")), None, (), None)
    return None
