"""Resource Manager's subscriptions list (GET /subscriptions), paged with nextLink like the real service.

By default the identity sees every subscription the snapshot has rows for; `extra` adds subscriptions it can see
but that hold no data (e.g. ones a scan leaves out), with their display names and states.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .reply import Reply, error

PATH = "/subscriptions"
API_VERSIONS = ("2016-06-01", "2020-01-01", "2021-01-01", "2022-12-01")


class SubscriptionsApi:
    """GET /subscriptions?api-version=...: the visible subscriptions, `page_size` per page."""

    def __init__(self, tenant: str, subscriptions: Sequence[dict[str, Any]], page_size: int = 100) -> None:
        self.tenant = tenant
        self.subscriptions = list(subscriptions)
        self.page_size = page_size
        self.requests = 0
        self.refuse = False
        """Answer 403, as Resource Manager does for an identity with no role that lists subscriptions."""

    def handle(self, url: str, host: str) -> Reply:
        """One page of the list; `$skiptoken` is the index of its first item."""
        self.requests += 1
        if self.refuse:
            return error(403, "AuthorizationFailed", "The client does not have authorization to list subscriptions.")
        query = parse_qs(urlsplit(url).query)
        version = query.get("api-version", [None])[0]
        if version not in API_VERSIONS:
            return error(400, "InvalidApiVersionParameter", f"The api-version '{version}' is invalid.")
        try:
            start = int(query.get("$skiptoken", ["0"])[0])
        except ValueError:
            return error(400, "InvalidSkipToken", "The skip token is invalid.")
        page = self.subscriptions[start : start + self.page_size]
        body: dict[str, Any] = {"value": [self._item(item) for item in page]}
        if start + self.page_size < len(self.subscriptions):
            body["nextLink"] = f"http://{host}{PATH}?api-version={version}&$skiptoken={start + self.page_size}"
        return Reply(200, body)

    def _item(self, item: dict[str, Any]) -> dict[str, Any]:
        sub = item["id"]
        return {
            "id": f"/subscriptions/{sub}",
            "authorizationSource": "RoleBased",
            "managedByTenants": [],
            "subscriptionId": sub,
            "tenantId": item.get("tenant", self.tenant),
            "displayName": item.get("name", f"Subscription {sub[:8]}"),
            "state": item.get("state", "Enabled"),
            "subscriptionPolicies": {
                "locationPlacementId": "Public_2014-09-01",
                "quotaId": "EnterpriseAgreement_2014-09-01",
                "spendingLimit": "Off",
            },
        }
