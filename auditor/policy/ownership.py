"""Ownership marks: auditor touches only what carries its own managedBy and owner id.

Policy resources carry them in ``properties.metadata``; role assignments have no metadata, so they carry them
in ``properties.description`` as ``managedBy=auditor;ownerId=<id>;policyAssignment=<id>``.
"""

from __future__ import annotations

from collections.abc import Mapping

from auditor.jsonvalue import JsonObject, JsonValue, as_object
from auditor.policy import MANAGED_BY
from auditor.policy.model import Resource

METADATA_MANAGED_BY = "managedBy"
METADATA_OWNER = "ownerId"


def stamp(metadata: Mapping[str, JsonValue] | None, owner_id: str) -> JsonObject:
    """metadata plus auditor's ownership keys."""
    return {**(metadata or {}), METADATA_MANAGED_BY: MANAGED_BY, METADATA_OWNER: owner_id}


def role_description(owner_id: str, policy_assignment_id: str) -> str:
    """The description auditor writes on the role assignments it creates."""
    return f"{METADATA_MANAGED_BY}={MANAGED_BY};{METADATA_OWNER}={owner_id};policyAssignment={policy_assignment_id}"


def _parse_description(text: str) -> dict[str, str]:
    pairs = (item.split("=", 1) for item in text.split(";") if "=" in item)
    return {key.strip(): value.strip() for key, value in pairs}


def owner_of(resource: Resource) -> tuple[str | None, str | None]:
    """(managedBy, ownerId) of a deployed resource; (None, None) when it carries no marks."""
    properties = as_object(resource.body.get("properties"))
    if resource.kind == "roleAssignment":
        marks = _parse_description(str(properties.get("description") or ""))
        return marks.get(METADATA_MANAGED_BY), marks.get(METADATA_OWNER)
    metadata = properties.get("metadata") or {}
    if not isinstance(metadata, dict):
        return None, None
    managed_by, owner = metadata.get(METADATA_MANAGED_BY), metadata.get(METADATA_OWNER)
    return (str(managed_by) if managed_by is not None else None, str(owner) if owner is not None else None)


def is_owned(resource: Resource, owner_id: str) -> bool:
    """True when auditor with this owner id created the resource."""
    return owner_of(resource) == (MANAGED_BY, owner_id)


def describe_owner(resource: Resource) -> str:
    """Who owns a resource, in words, for conflict messages."""
    managed_by, owner = owner_of(resource)
    if managed_by is None:
        return "not managed by auditor"
    return f"managedBy={managed_by}, ownerId={owner or '(none)'}"
