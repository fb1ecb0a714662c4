"""[azure] settings and cloud endpoints: validation that names the key, and the endpoints each cloud uses."""

from __future__ import annotations

from typing import Any

import pytest
from azure.core import AzureClouds
from azure.core.credentials import AccessToken
from azure.identity import AzureAuthorityHosts, DefaultAzureCredential
from azure.mgmt.core.tools import get_arm_endpoints
from pydantic import ValidationError

from auditor.sources.azure_settings import AzureSettings
from auditor.sources.clouds import CLOUDS, TenantPinnedCredential, default_credential, resolve_endpoints

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SUB = "cfbbd179-59d2-4052-aa06-9270a38aa9d6"


def settings(**values: Any) -> AzureSettings:
    return AzureSettings(tenant_id=TENANT, **values)


def error_of(**values: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        settings(**values)
    return str(caught.value)


def test_defaults() -> None:
    s = settings()
    assert (s.cloud, s.batch_size, s.page_size, s.subscriptions, s.management_groups) == (
        "AzurePublic",
        100,
        1000,
        [],
        [],
    )
    assert s.scope() == {"subscriptions": [], "management_groups": []}
    assert s.max_retries > 0 and s.backoff_seconds > 0 and s.read_timeout_seconds > 0


def test_every_field_is_documented() -> None:
    assert all(field.description for field in AzureSettings.model_fields.values())


def test_subscriptions_and_management_groups_exclude_each_other() -> None:
    assert "not both" in error_of(subscriptions=[SUB], management_groups=["Production"])


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        ({"subscriptions": ["prod-subscription"]}, "subscription id 'prod-subscription' is not a GUID"),
        ({"subscriptions": [SUB, SUB.upper()]}, f"subscription {SUB} is listed more than once"),
        ({"management_groups": ["/providers/Microsoft.Management/managementGroups/x"]}, "not a management group ID"),
        ({"batch_size": 301}, "batch_size"),
        ({"page_size": 1001}, "page_size"),
        ({"cloud": "AzureGermany"}, "cloud"),
        ({"cloud": "Custom", "resource_manager_url": "https://arm.local"}, "authority_host, credential_scope"),
        ({"resource_manager_url": "http://management.azure.com"}, "must use https"),
        ({"log_analytics_workspace_id": "ws"}, "workspace id 'ws' is not a GUID"),
        ({"subscription": [SUB]}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_settings_name_the_problem(values: dict[str, Any], fragment: str) -> None:
    assert fragment in error_of(**values)


def test_bad_tenant() -> None:
    with pytest.raises(ValidationError, match="tenant_id 'contoso' is not a GUID"):
        AzureSettings(tenant_id="contoso")


def test_ids_are_normalised_and_settings_frozen() -> None:
    s = settings(subscriptions=[SUB.upper()], resource_manager_url="https://management.azure.com/")
    assert s.subscriptions == [SUB] and s.resource_manager_url == "https://management.azure.com"
    with pytest.raises(ValidationError):
        s.batch_size = 5  # type: ignore[misc]


def test_loopback_http_is_allowed_for_emulators_only() -> None:
    assert settings(resource_manager_url="http://127.0.0.1:8080").resource_manager_url == "http://127.0.0.1:8080"
    assert settings(log_analytics_url="http://localhost:9/").log_analytics_url == "http://localhost:9"


@pytest.mark.parametrize(
    ("name", "cloud", "authority"),
    [
        ("AzurePublic", AzureClouds.AZURE_PUBLIC_CLOUD, AzureAuthorityHosts.AZURE_PUBLIC_CLOUD),
        ("AzureUSGovernment", AzureClouds.AZURE_US_GOVERNMENT, AzureAuthorityHosts.AZURE_GOVERNMENT),
        ("AzureChina", AzureClouds.AZURE_CHINA_CLOUD, AzureAuthorityHosts.AZURE_CHINA),
    ],
)
def test_known_clouds_agree_with_the_sdk(name: str, cloud: AzureClouds, authority: str) -> None:
    endpoints = resolve_endpoints(settings(cloud=name))
    arm = get_arm_endpoints(cloud)
    assert endpoints == CLOUDS[name]
    assert endpoints.resource_manager + "/" == arm["resource_manager"]
    assert [endpoints.credential_scope] == arm["credential_scopes"]
    assert endpoints.authority_host == f"https://{authority}"
    assert endpoints.log_analytics_scope == f"{endpoints.log_analytics}/.default"


def test_custom_cloud_and_private_endpoints() -> None:
    custom = resolve_endpoints(
        settings(
            cloud="Custom",
            resource_manager_url="https://management.local.azurestack.external",
            authority_host="https://adfs.local.azurestack.external/adfs",
            credential_scope="https://management.adfs.azurestack.local/.default",
        )
    )
    assert custom.resource_manager == "https://management.local.azurestack.external"
    assert custom.authority_host == "https://adfs.local.azurestack.external/adfs"
    assert custom.log_analytics is None and custom.log_analytics_scope is None
    private = resolve_endpoints(settings(resource_manager_url="https://arm.privatelink.contoso.net"))
    assert private.resource_manager == "https://arm.privatelink.contoso.net"
    assert private.credential_scope == CLOUDS["AzurePublic"].credential_scope


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[tuple[str, ...], dict[str, Any]]] = []
        self.closed = False

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.calls.append((scopes, kwargs))
        return AccessToken("t", 0)

    def close(self) -> None:
        self.closed = True


def test_tokens_are_pinned_to_the_tenant() -> None:
    inner = Recorder()
    pinned = TenantPinnedCredential(inner, TENANT)
    pinned.get_token("https://management.azure.com/.default")
    assert inner.calls == [
        (("https://management.azure.com/.default",), {"claims": None, "tenant_id": TENANT, "enable_cae": False})
    ]
    pinned.close()
    assert inner.closed


def test_default_credential_is_default_azure_credential_for_the_cloud() -> None:
    credential = default_credential(resolve_endpoints(settings(cloud="AzureUSGovernment")), TENANT)
    assert isinstance(credential.inner, DefaultAzureCredential) and credential.tenant_id == TENANT
    credential.close()
