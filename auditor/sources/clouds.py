"""Azure clouds: the endpoints a live source talks to, the credential it authenticates with, and `AzureSource`,
the base every live source builds on.

The known clouds are an explicit registry; `Custom` takes every endpoint from `[azure]`. TLS trust is the
standard one (`REQUESTS_CA_BUNDLE` for a private CA), and https is never switched off here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, Self, TypedDict, TypeVar, Unpack

from azure.core.credentials import AccessToken, TokenCredential
from azure.core.pipeline.policies import HTTPPolicy, SansIOHTTPPolicy
from azure.core.pipeline.policies import RetryPolicy as SdkRetryPolicy
from azure.core.rest import HttpRequest, HttpResponse
from rich.progress import Progress

from auditor import __version__
from auditor.operator import AzurePrincipal, principal_from_claims, token_claims
from auditor.sources._paging import ProgressCallback, ProgressReporter
from auditor.sources._quota import RetryPolicy
from auditor.sources.azure_settings import AzureSettings

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class CloudEndpoints:
    """Where one cloud's services live."""

    name: str
    """The `cloud` value from `[azure]`."""
    authority_host: str
    """Microsoft Entra authority that issues tokens."""
    resource_manager: str
    """Azure Resource Manager endpoint (Resource Graph is a provider under it)."""
    credential_scope: str
    """OAuth scope of Resource Manager tokens."""
    log_analytics: str | None
    """Log Analytics query endpoint; None when a Custom cloud does not set one."""

    @property
    def log_analytics_scope(self) -> str | None:
        """OAuth scope of Log Analytics tokens (the endpoint is its own audience)."""
        return None if self.log_analytics is None else self.log_analytics.rstrip("/") + "/.default"


CLOUDS: dict[str, CloudEndpoints] = {
    "AzurePublic": CloudEndpoints(
        name="AzurePublic",
        authority_host="https://login.microsoftonline.com",
        resource_manager="https://management.azure.com",
        credential_scope="https://management.azure.com/.default",
        log_analytics="https://api.loganalytics.io",
    ),
    "AzureUSGovernment": CloudEndpoints(
        name="AzureUSGovernment",
        authority_host="https://login.microsoftonline.us",
        resource_manager="https://management.usgovcloudapi.net",
        # ARM in US Government issues tokens for the `core` host, not the endpoint host.
        credential_scope="https://management.core.usgovcloudapi.net/.default",
        log_analytics="https://api.loganalytics.us",
    ),
    "AzureChina": CloudEndpoints(
        name="AzureChina",
        authority_host="https://login.chinacloudapi.cn",
        resource_manager="https://management.chinacloudapi.cn",
        credential_scope="https://management.chinacloudapi.cn/.default",
        log_analytics="https://api.loganalytics.azure.cn",
    ),
}
"""The clouds whose endpoints auditor knows."""


def resolve_endpoints(settings: AzureSettings) -> CloudEndpoints:
    """The endpoints of `settings.cloud`, with any URL set in `[azure]` taking precedence."""
    if settings.cloud == "Custom":
        # AzureSettings guarantees the three required URLs for a Custom cloud.
        assert settings.authority_host and settings.resource_manager_url and settings.credential_scope
        return CloudEndpoints(
            name="Custom",
            authority_host=settings.authority_host,
            resource_manager=settings.resource_manager_url,
            credential_scope=settings.credential_scope,
            log_analytics=settings.log_analytics_url,
        )
    base = CLOUDS[settings.cloud]
    return CloudEndpoints(
        name=base.name,
        authority_host=settings.authority_host or base.authority_host,
        resource_manager=settings.resource_manager_url or base.resource_manager,
        credential_scope=settings.credential_scope or base.credential_scope,
        log_analytics=settings.log_analytics_url or base.log_analytics,
    )


class TenantPinnedCredential:
    """Asks its inner credential for tokens of one tenant, so a scan cannot read another tenant by accident.

    DefaultAzureCredential takes no tenant of its own (each credential in its chain reads a different
    setting), but every one of them honours `tenant_id` on `get_token`.
    """

    def __init__(self, inner: TokenCredential, tenant_id: str) -> None:
        self.inner = inner
        self.tenant_id = tenant_id

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        """A token for `scopes` in the pinned tenant."""
        return self.inner.get_token(
            *scopes, claims=claims, tenant_id=tenant_id or self.tenant_id, enable_cae=enable_cae, **kwargs
        )

    def close(self) -> None:
        """Close the inner credential when it holds resources (HTTP sessions, caches)."""
        close = getattr(self.inner, "close", None)
        if callable(close):
            close()


class ClientOptions(TypedDict, total=False):
    """The azure-core keywords auditor gives an SDK client."""

    user_agent: str
    retry_policy: SdkRetryPolicy[HttpRequest, HttpResponse]
    """auditor's sources pace and retry themselves, so their clients get `no_retries()`."""
    per_call_policies: Sequence[SansIOHTTPPolicy[HttpRequest, HttpResponse] | HTTPPolicy[HttpRequest, HttpResponse]]
    """Extra pipeline policies (tests add one that lets the bearer token go to a loopback emulator)."""


class _Client(Protocol):
    def close(self) -> None: ...


_ClientT = TypeVar("_ClientT", bound=_Client)


def default_credential(endpoints: CloudEndpoints, tenant_id: str) -> TenantPinnedCredential:
    """DefaultAzureCredential (environment, workload or managed identity, Azure CLI, ...) for the cloud's
    authority, pinned to `tenant_id`."""
    from azure.identity import DefaultAzureCredential

    return TenantPinnedCredential(DefaultAzureCredential(authority=endpoints.authority_host), tenant_id)


class AzureSource(Generic[_ClientT]):
    """What the live sources share: settings, endpoints, a credential (made here unless one is lent), retry
    knobs, progress, and the SDK client options auditor insists on. Subclasses create `_client`.

    `client_kwargs` go to the SDK client (tests pass their loopback-http policy as `per_call_policies`);
    `sleep` is injectable so tests need not wait for real.
    """

    _client: _ClientT

    def __init__(
        self,
        settings: AzureSettings,
        *,
        credential: TokenCredential | None = None,
        progress: Progress | ProgressCallback | None = None,
        sleep: Callable[[float], None] = time.sleep,
        **client_kwargs: Unpack[ClientOptions],
    ) -> None:
        self.settings = settings
        self.endpoints = resolve_endpoints(settings)
        self._own_credential = credential is None
        self.credential: TokenCredential = (
            credential if credential is not None else default_credential(self.endpoints, settings.tenant_id)
        )
        self.retry = RetryPolicy.from_settings(settings)
        self._sleep = sleep
        self._progress = ProgressReporter(progress)
        self._options = self.client_options(client_kwargs)
        try:
            self._client = self._connect(self._options)
        except BaseException:
            self._close_credential()
            raise

    def _connect(self, options: ClientOptions) -> _ClientT:
        """The SDK client of this source, built with `options` (each source overrides it)."""
        raise NotImplementedError

    @classmethod
    def from_settings(
        cls,
        settings: AzureSettings,
        *,
        credential: TokenCredential | None = None,
        progress: Progress | ProgressCallback | None = None,
        **client_kwargs: Unpack[ClientOptions],
    ) -> Self:
        """The source for `[azure]`; the credential defaults to DefaultAzureCredential for its cloud."""
        return cls(settings, credential=credential, progress=progress, **client_kwargs)

    @staticmethod
    def client_options(client_kwargs: ClientOptions) -> ClientOptions:
        """SDK client keywords: auditor's user agent and no SDK retries (the sources retry, pacing themselves
        by the quota headers the SDK ignores), then whatever the caller passed."""
        return {"user_agent": f"auditor/{__version__}", "retry_policy": SdkRetryPolicy.no_retries(), **client_kwargs}

    def default_as_of(self) -> datetime | None:
        """Live data is as of now."""
        return None

    def principal(self) -> AzurePrincipal | None:
        """The Azure principal this source's access token was issued to, read from its claims (not verified).

        The SDK client already holds a token for this scope, and the credential caches it, so this asks for no
        new sign-in. None when the token is opaque or cannot be had (the scan's own queries have already shown
        whether authentication works, and who ran a scan is informational).
        """
        try:
            token = self.credential.get_token(self.endpoints.credential_scope)
        except Exception as exc:  # any credential failure: the record is informational, the scan goes on
            _LOG.warning("cannot read the access token's principal: %s", exc)
            return None
        return principal_from_claims(token_claims(token.token))

    def close(self) -> None:
        """Close the HTTP session, and the credential if this source made it."""
        self._client.close()
        self._close_credential()

    def _close_credential(self) -> None:
        if self._own_credential:
            close = getattr(self.credential, "close", None)
            if callable(close):
                close()
