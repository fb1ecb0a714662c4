"""Who ran a scan, what it covered, and who signs the pack off: the words the PDF cover, its sign-off page and the
workbook's About sheet share.

Read from manifest.json's provenance keys (`ReportContext.provenance`: `operator`, `scope`) with `.get()`, since a
pack written before they existed has neither; then the source fingerprint's tenant and scope stand in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from auditor.config import ReportSettings

MAX_LISTED = 5
"""Subscriptions named before the rest become "+N more" (the workbook's About sheet names them all)."""


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _texts(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


def _subscription(item: Any) -> str:
    if isinstance(item, Mapping):
        name, ident, state = str(item.get("name") or ""), str(item.get("id") or ""), str(item.get("state") or "")
        label = f"{name} ({ident})" if name else ident
        return f"{label}, {state}" if state and state != "Enabled" else label
    return str(item)


def listing(items: Sequence[Any], limit: int | None = MAX_LISTED) -> str:
    """Subscriptions (ids or {id, name, state}) as one text, the rest as "+N more" past `limit`."""
    shown = [_subscription(item) for item in (items if limit is None else items[:limit])]
    extra = len(items) - len(shown)
    return ", ".join(shown) + (f" (+{extra} more)" if extra > 0 else "") if items else "(none)"


def scope_sentence(scope: Mapping[str, Any] | None, source: Mapping[str, Any]) -> str:
    """What was scanned, in a few words: "3 subscriptions of tenant T (2 more visible, not scanned)".

    Never "tenant T" alone unless the whole tenant was scanned: a scan of some subscriptions or management groups
    names them, and a pack that recorded no scope says so.
    """
    given = _mapping(scope)
    record = given or _mapping(source.get("scope"))
    tenant = str(given.get("tenant_id") or source.get("tenant_id") or source.get("tenant") or "")
    of_tenant = f" of tenant {tenant}" if tenant else ""
    groups, subscriptions = _texts(record.get("management_groups")), _texts(record.get("subscriptions"))
    parts = []
    if groups:
        parts.append(f"management group {groups[0]}" if len(groups) == 1 else f"{len(groups)} management groups")
    if subscriptions:
        parts.append(
            f"subscription {subscriptions[0]}" if len(subscriptions) == 1 else f"{len(subscriptions)} subscriptions"
        )
    if parts:
        text = ", ".join(parts) + of_tenant
    elif record:
        text = f"the whole tenant {tenant}" if tenant else "the whole tenant"
    elif tenant:
        text = f"tenant {tenant}, scope not recorded"
    else:
        text = "scope not recorded"
    notes = []
    if given.get("kind") == "snapshot" or source.get("kind") == "snapshot":
        origin = given.get("origin") or source.get("source")
        notes.append(f"{origin} snapshot" if origin else "snapshot")
    left_out = record.get("subscriptions_not_scanned")
    if isinstance(left_out, list) and left_out:
        notes.append(f"{len(left_out)} more visible, not scanned")
    return text + (f" ({'; '.join(notes)})" if notes else "")


def scope_lines(scope: Mapping[str, Any] | None, *, limit: int | None = MAX_LISTED) -> list[tuple[str, str]]:
    """(label, text) rows detailing the scope: what was scanned, what the identity could see but was left out."""
    record = _mapping(scope)
    if not record:
        return []
    rows: list[tuple[str, str]] = []
    groups = _texts(record.get("management_groups"))
    if groups:
        rows.append(("Management groups scanned", listing(groups, limit)))
    scanned = record.get("subscriptions_scanned")
    configured = record.get("subscriptions")
    if isinstance(scanned, list):
        rows.append(("Subscriptions scanned", listing(scanned, limit)))
    elif isinstance(configured, list) and configured:
        rows.append(("Subscriptions scanned", listing(configured, limit)))
    not_scanned = record.get("subscriptions_not_scanned")
    if isinstance(not_scanned, list):
        rows.append(("Visible, not scanned", listing(not_scanned, limit)))
    elif groups and record.get("visible_subscriptions") is not None:
        rows.append(
            (
                "Visible subscriptions",
                f"{record['visible_subscriptions']}; the subscriptions list does not say which management group "
                "holds each, so those left out are not named",
            )
        )
    not_visible = record.get("subscriptions_not_visible")
    if isinstance(not_visible, list) and not_visible:
        rows.append(("Configured, not visible", listing(not_visible, limit) + " (the identity cannot read them)"))
    if record.get("subscription_list_error"):
        rows.append(("Subscriptions list", f"{record['subscription_list_error']}: what was left out is not known"))
    return rows


def principal_text(principal: Mapping[str, Any]) -> str:
    """An Azure principal in words: "managed identity id-auditor (object id …, app id …)"."""
    kind = str(principal.get("type") or "principal").replace("_", " ")
    resource = str(principal.get("managed_identity_id") or "")
    name = principal.get("upn") or principal.get("display_name") or (resource.rsplit("/", 1)[-1] if resource else "")
    ids = [
        f"{label} {principal[key]}"
        for key, label in (("object_id", "object id"), ("app_id", "app id"))
        if principal.get(key)
    ]
    head = f"{kind} {name}" if name else kind
    tail = f" in tenant {principal['tenant_id']}" if principal.get("tenant_id") else ""
    return head + (f" ({', '.join(ids)})" if ids else "") + tail


def operator_lines(operator: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """(label, text) rows saying who ran the scan; empty for a pack that does not record it."""
    record = _mapping(operator)
    if not record:
        return []
    user, host = record.get("os_user"), record.get("host")
    rows = [("Run by", f"{user}@{host}" if user else f"an unknown user on {host}")]
    ci = _mapping(record.get("ci"))
    if ci:
        system = {"github_actions": "GitHub Actions", "azure_devops": "Azure DevOps"}.get(str(ci.get("system")), "CI")
        rows.append(("CI run", f"{system}: {ci.get('url')}"))
    principal = _mapping(record.get("azure_principal"))
    rows.append(
        ("Azure principal", principal_text(principal) + " (from the access token; not verified)")
        if principal
        else ("Azure principal", "none: the scan read a snapshot, not Azure")
    )
    return rows


@dataclass(frozen=True)
class Signatory:
    """One line of the sign-off block."""

    capacity: str
    """"Prepared by" or "Reviewed by"."""
    name: str
    role: str


def signatories(settings: ReportSettings) -> list[Signatory]:
    """The sign-off block's people, from `[report]` (empty when neither is configured)."""
    return [
        Signatory(capacity, person.name, person.role)
        for capacity, person in (("Prepared by", settings.prepared_by), ("Reviewed by", settings.reviewed_by))
        if person is not None
    ]
