"""ARM ids and scopes: parse them, build them, compare them.

ARM hands ids back in whatever case it likes (``managementgroups``, ``microsoft.authorization``), so every
comparison here ignores case, and ids we build use the documented spelling.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Literal

ScopeKind = Literal["managementGroup", "subscription", "resourceGroup", "resource"]

_GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_MG = re.compile(r"^/providers/Microsoft\.Management/managementGroups/([\w().-]{1,90})$", re.IGNORECASE)
_SUB = re.compile(rf"^/subscriptions/({_GUID})$", re.IGNORECASE)
_RG = re.compile(rf"^/subscriptions/({_GUID})/resourceGroups/([\w().-]{{1,90}})$", re.IGNORECASE)
_RESOURCE = re.compile(
    rf"^/subscriptions/({_GUID})/resourceGroups/[\w().-]{{1,90}}/providers/[^/]+(/[^/]+/[^/]+)+$", re.I
)
GUID_RE = re.compile(rf"^{_GUID}$")
_ENCODED = re.compile(r"%(?:2f|5c|2e|00)", re.IGNORECASE)
"""Percent-encoded '/', '\\', '.' and NUL: a URL normaliser may decode them into separators or dot segments."""

AUTHZ = "/providers/Microsoft.Authorization"
POLICY_DEFINITIONS = "policyDefinitions"
POLICY_SET_DEFINITIONS = "policySetDefinitions"
POLICY_ASSIGNMENTS = "policyAssignments"
ROLE_ASSIGNMENTS = "roleAssignments"
POLICY_EXEMPTIONS = "policyExemptions"
BUILTIN_PREFIX = f"{AUTHZ}/{POLICY_DEFINITIONS}/"
"""Unscoped definition ids: built-ins, and (by our convention) references to our own definitions."""
BUILTIN_SET_PREFIX = f"{AUTHZ}/{POLICY_SET_DEFINITIONS}/"

_NAMESPACE = uuid.UUID("5b7f3c8e-2f0e-4d7b-9a52-6d1c0e6a4f10")


@dataclass(frozen=True)
class Scope:
    """A parsed ARM scope."""

    kind: ScopeKind
    id: str
    """The scope id in its documented spelling, without a trailing slash."""
    name: str
    """Management group id, subscription id, resource group name or resource id."""
    subscription_id: str | None
    """The subscription the scope is in (None for a management group)."""


def unsafe_id(text: str) -> str | None:
    """Why an ARM id or scope may not be used as written, or None.

    ARM ids become URL paths, and URLs are normalised on the way out: `vm1/../../rg-prod` reaches the resource
    group, so a plan that shows the text would misstate the scope its reviewers approve. A `.` or `..` segment,
    an empty segment, a backslash, a control character or a percent-encoded slash, backslash or dot is refused
    rather than resolved, so the id that is reviewed is the id that is sent.
    """
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in text):
        return "holds a control character"
    if "\\" in text:
        return "holds a backslash"
    if _ENCODED.search(text):
        return "holds a percent-encoded '/', '\\', '.' or NUL"
    segments = text.strip().rstrip("/").split("/")[1:]
    if any(part in (".", "..") for part in segments):
        return "has a '.' or '..' segment, which a URL normaliser would resolve to another scope"
    if any(part == "" for part in segments):
        return "has an empty segment ('//')"
    return None


def unsafe_name(name: str) -> str | None:
    """Why a resource name may not be a URL segment (`.`, `..`, a separator, `%` or a control character), or None."""
    if name in (".", ".."):
        return f"{name!r} is a dot segment, which a URL normaliser would resolve away"
    if any(c in "/\\%" or ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in name):
        return f"{name!r} holds '/', '\\', '%' or a control character"
    return None


def parse_scope(text: str, *, allow_resource: bool = False) -> Scope:
    """Parse a management group, subscription (or resource group / resource) id; ValueError if it is neither,
    or if it is not canonical (see unsafe_id)."""
    why = unsafe_id(text)
    if why is not None:
        raise ValueError(f"{text!r} {why}")
    value = text.strip().rstrip("/")
    if match := _MG.match(value):
        mg = match.group(1)
        return Scope("managementGroup", f"/providers/Microsoft.Management/managementGroups/{mg}", mg, None)
    if match := _SUB.match(value):
        sub = match.group(1).lower()
        return Scope("subscription", f"/subscriptions/{sub}", sub, sub)
    if allow_resource and (match := _RG.match(value)):
        sub = match.group(1).lower()
        return Scope("resourceGroup", f"/subscriptions/{sub}/resourceGroups/{match.group(2)}", match.group(2), sub)
    if allow_resource and (match := _RESOURCE.match(value)):
        sub = match.group(1).lower()
        rest = value[len("/subscriptions/") + 36 :]
        return Scope("resource", f"/subscriptions/{sub}{rest}", value, sub)
    raise ValueError(
        f"{text!r} is not a management group (/providers/Microsoft.Management/managementGroups/<id>)"
        " or subscription (/subscriptions/<guid>) id"
    )


def id_key(value: str) -> str:
    """The case-folded form of an id, for dict keys."""
    return value.rstrip("/").casefold()


def is_within(resource_id: str, scope_id: str) -> bool:
    """True when resource_id is scope_id or lies under it (textually; management group nesting is unknown).

    Only canonical ids can be compared as text: one with a dot segment or an encoded slash is never within."""
    if unsafe_id(resource_id) is not None or unsafe_id(scope_id) is not None:
        return False
    child, parent = id_key(resource_id), id_key(scope_id)
    return child == parent or child.startswith(parent + "/")


def child_id(scope: str, collection: str, name: str) -> str:
    """``{scope}/providers/Microsoft.Authorization/{collection}/{name}``."""
    return f"{scope.rstrip('/')}{AUTHZ}/{collection}/{name}"


def split_child_id(resource_id: str) -> tuple[str, str, str]:
    """Split a Microsoft.Authorization child id into (scope, collection, name); ValueError otherwise."""
    marker = AUTHZ.casefold() + "/"
    index = resource_id.casefold().rfind(marker)
    if index < 0:
        raise ValueError(f"{resource_id!r} is not a Microsoft.Authorization resource id")
    scope = resource_id[:index]
    parts = resource_id[index + len(marker) :].split("/")
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"{resource_id!r} is not a Microsoft.Authorization resource id")
    return scope, parts[0], parts[1]


def last_segment(resource_id: str) -> str:
    """The name at the end of an id."""
    return resource_id.rstrip("/").rsplit("/", 1)[-1]


def role_guid(role_definition_id: str) -> str:
    """The GUID of a role definition id, lower case (role ids are compared by GUID alone)."""
    return last_segment(role_definition_id).lower()


def role_definition_id(scope: Scope, guid: str) -> str:
    """The role definition id to send for a role assignment at scope."""
    if scope.subscription_id:
        return f"/subscriptions/{scope.subscription_id}{AUTHZ}/roleDefinitions/{guid}"
    return f"{AUTHZ}/roleDefinitions/{guid}"


def role_assignment_name(scope_id: str, guid: str, principal_id: str) -> str:
    """A stable role assignment name (a GUID), so that a re-run addresses the same assignment."""
    return str(uuid.uuid5(_NAMESPACE, f"{id_key(scope_id)}|{guid.lower()}|{principal_id.lower()}"))
