"""What a scan covered: manifest.json's (and summary.json's) `scope`.

A live scan names the subscriptions it scanned and, from Resource Manager's subscriptions list, those its identity
can see but did not scan, so a reader can tell a scan of three subscriptions from a scan of the estate. A snapshot
scan keeps the scope its snapshot recorded when it was captured.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from azure.core.exceptions import AzureError

from auditor.jsonvalue import JsonObject, JsonValue

if TYPE_CHECKING:  # a snapshot scan reads its scope here without loading the Azure SDK's clients
    from azure.core.credentials import TokenCredential

    from auditor.sources.azure_settings import AzureSettings
    from auditor.sources.clouds import ClientOptions, CloudEndpoints


@dataclass(frozen=True)
class Subscription:
    """A subscription as Resource Manager's subscriptions list shows it."""

    id: str
    """The subscription id, in lower case."""
    name: str
    """Its display name ('' when none is given)."""
    state: str
    """Its state as Resource Manager spells it (`Enabled`, `Disabled`, ...)."""

    def record(self) -> JsonObject:
        """The scope record's `{id, name, state}`."""
        return {"id": self.id, "name": self.name, "state": self.state}


def list_subscriptions(
    credential: TokenCredential, endpoints: CloudEndpoints, tenant_id: str, options: ClientOptions
) -> list[Subscription]:
    """Every subscription of `tenant_id` the credential can see, sorted by id.

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
            found[ident] = Subscription(ident, item.display_name or "", f"{state}")
    return [found[key] for key in sorted(found)]


def visible_or_error(
    credential: TokenCredential, endpoints: CloudEndpoints, tenant_id: str, options: ClientOptions
) -> tuple[list[Subscription] | None, str | None]:
    """list_subscriptions, or (None, why) when Resource Manager refused or could not be reached.

    The scope record is informational: a scan whose queries succeeded is not failed because the identity may not
    list subscriptions (e.g. a role assigned on a management group only)."""
    try:
        return list_subscriptions(credential, endpoints, tenant_id, options), None
    except AzureError as exc:
        reason = getattr(getattr(exc, "error", None), "code", None) or type(exc).__name__
        return None, f"the subscriptions list failed ({reason})"


def live_scope(settings: AzureSettings, visible: Sequence[Subscription] | None, error: str | None = None) -> JsonObject:
    """The scope of a live scan: what `[azure]` asked for, and how it compares with what the identity can see.

    - subscriptions: `subscriptions_scanned` are those configured (with their names where visible),
      `subscriptions_not_scanned` the visible ones not configured, and `subscriptions_not_visible` the configured
      ones the identity cannot see (they returned no data);
    - the whole tenant: every visible subscription is scanned;
    - management groups: the list API does not say which group holds a subscription, so the scanned and not
      scanned subscriptions are null and `visible_subscriptions` is the count the identity can see.
    """
    by_id = {item.id.lower(): item.record() for item in visible or []}
    configured = [s.lower() for s in settings.subscriptions]
    record: JsonObject = {
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


def snapshot_scope(meta: Mapping[str, JsonValue]) -> JsonObject:
    """The scope a snapshot recorded (its snapshot.json `scope`, with the tenant and where it came from).

    The recorded scope's keys are kept as written, those auditor does not know too; its two lists are lists.
    """
    scope = meta.get("scope")
    recorded = dict(scope) if isinstance(scope, dict) else {}
    subscriptions, groups = (recorded.get(key) for key in ("subscriptions", "management_groups"))
    return {
        "kind": "snapshot",
        "origin": meta.get("source"),
        "tenant_id": meta.get("tenant_id"),
        **recorded,
        "subscriptions": list(subscriptions) if isinstance(subscriptions, list) else [],
        "management_groups": list(groups) if isinstance(groups, list) else [],
    }
