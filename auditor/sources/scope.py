"""What a scan covered: manifest.json's (and summary.json's) `scope`.

A live scan names the subscriptions it scanned and, from Resource Manager's subscriptions list, those its identity
can see but did not scan, so a reader can tell a scan of three subscriptions from a scan of the estate. A snapshot
scan keeps the scope its snapshot recorded when it was captured.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import AzureError

if TYPE_CHECKING:  # a snapshot scan reads its scope here without loading the Azure SDK's clients
    from auditor.sources.azure_settings import AzureSettings
    from auditor.sources.clouds import CloudEndpoints


def list_subscriptions(
    credential: Any, endpoints: CloudEndpoints, tenant_id: str, options: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Every subscription of `tenant_id` the credential can see ({id, name, state}), sorted by id.

    Resource Manager's subscriptions list (GET /subscriptions) is paged; the SDK follows its nextLink. A
    subscription of another tenant (a guest identity sees its home tenant's too) is left out.
    """
    from azure.mgmt.resource.subscriptions import SubscriptionClient

    with SubscriptionClient(
        credential, base_url=endpoints.resource_manager, credential_scopes=[endpoints.credential_scope], **options
    ) as client:
        found = {}
        for item in client.subscriptions.list():
            ident = (item.subscription_id or "").lower()
            if not ident or (item.tenant_id and item.tenant_id.lower() != tenant_id.lower()):
                continue
            # Model enums are str subclasses: str() would give the enum's name, so take the value as text.
            state = getattr(item.state, "value", item.state) or ""
            found[ident] = {"id": ident, "name": item.display_name or "", "state": f"{state}"}
    return [found[key] for key in sorted(found)]


def visible_or_error(
    credential: Any, endpoints: CloudEndpoints, tenant_id: str, options: Mapping[str, Any]
) -> tuple[list[dict[str, Any]] | None, str | None]:
    """list_subscriptions, or (None, why) when Resource Manager refused or could not be reached.

    The scope record is informational: a scan whose queries succeeded is not failed because the identity may not
    list subscriptions (e.g. a role assigned on a management group only)."""
    try:
        return list_subscriptions(credential, endpoints, tenant_id, options), None
    except AzureError as exc:
        reason = getattr(getattr(exc, "error", None), "code", None) or type(exc).__name__
        return None, f"the subscriptions list failed ({reason})"


def live_scope(
    settings: AzureSettings, visible: Sequence[Mapping[str, Any]] | None, error: str | None = None
) -> dict[str, Any]:
    """The scope of a live scan: what `[azure]` asked for, and how it compares with what the identity can see.

    - subscriptions: `subscriptions_scanned` are those configured (with their names where visible),
      `subscriptions_not_scanned` the visible ones not configured, and `subscriptions_not_visible` the configured
      ones the identity cannot see (they returned no data);
    - the whole tenant: every visible subscription is scanned;
    - management groups: the list API does not say which group holds a subscription, so the scanned and not
      scanned subscriptions are null and `visible_subscriptions` is the count the identity can see.
    """
    by_id = {str(item["id"]).lower(): dict(item) for item in visible or []}
    configured = [s.lower() for s in settings.subscriptions]
    record: dict[str, Any] = {
        "kind": "azure",
        "tenant_id": settings.tenant_id,
        "cloud": settings.cloud,
        "management_groups": list(settings.management_groups),
        "subscriptions": list(settings.subscriptions),
        "visible_subscriptions": len(by_id) if visible is not None else None,
        "subscriptions_scanned": None,
        "subscriptions_not_scanned": None,
        "subscriptions_not_visible": None,
        "subscription_list_error": error,
    }
    if settings.management_groups:
        return record
    if not configured:
        record["subscriptions_scanned"] = [by_id[key] for key in sorted(by_id)] if visible is not None else None
        record["subscriptions_not_scanned"] = [] if visible is not None else None
        return record
    record["subscriptions_scanned"] = [by_id.get(s, {"id": s, "name": "", "state": ""}) for s in sorted(configured)]
    if visible is not None:
        record["subscriptions_not_scanned"] = [by_id[key] for key in sorted(by_id) if key not in configured]
        record["subscriptions_not_visible"] = [s for s in sorted(configured) if s not in by_id]
    return record


def snapshot_scope(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The scope a snapshot recorded (its snapshot.json `scope`, with the tenant and where it came from)."""
    scope = meta.get("scope")
    recorded = dict(scope) if isinstance(scope, Mapping) else {}
    return {
        "kind": "snapshot",
        "origin": meta.get("source"),
        "tenant_id": meta.get("tenant_id"),
        **recorded,
        "subscriptions": list(recorded.get("subscriptions") or []),
        "management_groups": list(recorded.get("management_groups") or []),
    }
