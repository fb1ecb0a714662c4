"""SDK client factory: PolicyClient, AuthorizationManagementClient, PolicyInsightsClient and
ResourceManagementClient, built with one credential, endpoint and token scope, so sovereign and custom clouds
need only config."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.policyinsights import PolicyInsightsClient
from azure.mgmt.resource.policy import PolicyClient
from azure.mgmt.resource.resources import ResourceManagementClient

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

    from auditor.policy.config import PolicySettings

UNBOUND_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
"""Clients must be bound to a subscription; management-group calls never use it."""


class AzureClients:
    """Builds and caches one client per (kind, subscription)."""

    def __init__(
        self,
        credential: TokenCredential,
        *,
        base_url: str,
        credential_scope: str,
        default_subscription: str | None = None,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.credential = credential
        self.base_url = base_url.rstrip("/")
        self.credential_scopes = [credential_scope]
        self.default_subscription = default_subscription or UNBOUND_SUBSCRIPTION
        self.client_options = dict(client_options or {})
        """Extra azure-core pipeline options (retry settings, per-call policies, transport)."""
        self._cache: dict[tuple[str, str], Any] = {}

    def _get(self, kind: str, subscription_id: str | None, factory: Any) -> Any:
        key = (kind, subscription_id or self.default_subscription)
        if key not in self._cache:
            self._cache[key] = factory(
                self.credential,
                key[1],
                base_url=self.base_url,
                credential_scopes=self.credential_scopes,
                **self.client_options,
            )
        return self._cache[key]

    def policy(self, subscription_id: str | None = None) -> PolicyClient:
        """Policy definitions, initiatives and assignments."""
        client: PolicyClient = self._get("policy", subscription_id, PolicyClient)
        return client

    def authorization(self, subscription_id: str | None = None) -> AuthorizationManagementClient:
        """Role assignments."""
        client: AuthorizationManagementClient = self._get(
            "authorization", subscription_id, AuthorizationManagementClient
        )
        return client

    def insights(self, subscription_id: str | None = None) -> PolicyInsightsClient:
        """Remediations and policy states."""
        client: PolicyInsightsClient = self._get("insights", subscription_id, PolicyInsightsClient)
        return client

    def resources(self, subscription_id: str | None = None) -> ResourceManagementClient:
        """Generic resource operations: policy exemptions, which azure-mgmt-resource-policy has no client for."""
        client: ResourceManagementClient = self._get("resources", subscription_id, ResourceManagementClient)
        return client


class TenantCredential:
    """Asks every token of the configured tenant, whatever the inner credential's home tenant is."""

    def __init__(self, inner: Any, tenant_id: str) -> None:
        self.inner = inner
        self.tenant_id = tenant_id

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        """TokenCredential protocol."""
        kwargs.setdefault("tenant_id", self.tenant_id)
        return self.inner.get_token(*scopes, **kwargs)

    def get_token_info(self, *scopes: str, options: Any = None) -> Any:
        """SupportsTokenInfo protocol."""
        return self.inner.get_token_info(*scopes, options={**(options or {}), "tenant_id": self.tenant_id})

    def close(self) -> None:
        """Close the inner credential."""
        self.inner.close()


def clients_from_settings(
    settings: PolicySettings, credential: TokenCredential | None = None, **client_options: Any
) -> AzureClients:
    """Clients for the configured cloud; the credential defaults to DefaultAzureCredential."""
    if credential is None:
        from azure.identity import DefaultAzureCredential

        kwargs: dict[str, str | list[str]] = {}
        if settings.authority_host:
            kwargs["authority"] = settings.authority_host
        if settings.tenant_id:
            kwargs["additionally_allowed_tenants"] = [settings.tenant_id]
        credential = DefaultAzureCredential(**kwargs)
        if settings.tenant_id:
            credential = TenantCredential(credential, settings.tenant_id)
    return AzureClients(
        credential,
        base_url=settings.resource_manager_url,
        credential_scope=settings.token_scope(),
        default_subscription=settings.subscription_id,
        client_options=client_options,
    )
