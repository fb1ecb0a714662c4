"""A live scan through the emulator records who ran it (the managed identity's token) and what it covered."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from auditor.config import Config
from auditor.evidence.manifest import schema_errors
from auditor.reports.json import SummaryRenderer
from auditor.scan import scan
from auditor.snapshots.format import Snapshot
from auditor.sources.log_analytics import LogAnalyticsSource
from auditor.sources.resource_graph import ResourceGraphSource
from auditor.sources.router import TargetRouter
from tests.integration.azure_emulator import TENANT, AzureEmulator
from tests.integration.azure_emulator.auth import IDENTITY_CLIENT_ID, IDENTITY_OBJECT_ID, IDENTITY_RESOURCE_ID
from tests.integration.azure_emulator.fleet import AS_OF, build_fleet, subscription_ids

SUBS = subscription_ids(4)
IDLE = "0d6bd3b1-0000-4000-8000-00000000a11e"
"""A subscription the identity can see that holds no machines and that the scans below leave out."""
GUEST = "9e1c7a55-0000-4000-8000-0000000f0e16"
"""A subscription of another tenant the identity can also see (a guest); never part of this tenant's scope."""
MISSING = "4c0ffee0-0000-4000-8000-000000000404"
"""Configured, but the identity cannot see it."""
EXTRA = (
    {"id": IDLE, "name": "Sandbox", "state": "Disabled"},
    {"id": GUEST, "name": "Partner tenant", "tenant": "11111111-2222-3333-4444-555555555555"},
)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    return build_fleet(
        tmp_path_factory.mktemp("provenance") / "fleet", tenant=TENANT, subscriptions=SUBS, machines_per_subscription=2
    )


def _manifest(pack: Path) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((pack / "manifest.json").read_text())
    assert schema_errors(manifest) == []
    return manifest


def _scan(emulator: AzureEmulator, out: Path, **settings: Any) -> Path:
    kwargs = emulator.client_kwargs()
    source = TargetRouter(
        {
            "arg": ResourceGraphSource.from_settings(emulator.settings(**settings), **kwargs),
            "law": LogAnalyticsSource.from_settings(emulator.settings(**settings), **kwargs),
        }
    )
    result = scan(Config(), source=source, out=out, as_of=AS_OF, use_history=False, renderers=[SummaryRenderer()])
    assert result.problems == []
    # summary.json reports the same scope as the manifest.
    assert json.loads((result.pack / "summary.json").read_text())["scope"] == _manifest(result.pack)["scope"]
    return result.pack


def test_a_live_scan_names_the_managed_identity_and_the_subscriptions_left_out(fleet: Snapshot, tmp_path: Path) -> None:
    scanned = sorted([*SUBS[:2], MISSING])
    with AzureEmulator(fleet, quota=None, extra_subscriptions=EXTRA, subscriptions_page_size=2) as emulator:
        pack = _scan(emulator, tmp_path / "live", subscriptions=scanned)
        pages = emulator.subscriptions.requests
    manifest = _manifest(pack)
    assert manifest["operator"]["azure_principal"] == {
        "type": "managed_identity",
        "tenant_id": TENANT,
        "object_id": IDENTITY_OBJECT_ID,
        "app_id": IDENTITY_CLIENT_ID,
        "managed_identity_id": IDENTITY_RESOURCE_ID,
    }
    assert manifest["operator"]["host"] and "os_user" in manifest["operator"]
    scope = manifest["scope"]
    # 4 snapshot subscriptions + the idle one + the guest's: 6 items at 2 a page, so the nextLinks were followed.
    assert pages == 3
    assert (scope["kind"], scope["tenant_id"], scope["visible_subscriptions"]) == ("azure", TENANT, 5)
    assert [s["id"] for s in scope["subscriptions_scanned"]] == scanned
    assert {s["id"]: s["name"] for s in scope["subscriptions_scanned"]}[MISSING] == ""
    assert scope["subscriptions_not_scanned"] == sorted(
        [{"id": sub, "name": f"Subscription {sub[:8]}", "state": "Enabled"} for sub in SUBS[2:]]
        + [{"id": IDLE, "name": "Sandbox", "state": "Disabled"}],
        key=lambda s: s["id"],
    )
    assert scope["subscriptions_not_visible"] == [MISSING]
    assert scope["subscription_list_error"] is None


def test_a_refused_subscriptions_list_is_recorded_not_fatal(fleet: Snapshot, tmp_path: Path) -> None:
    with AzureEmulator(fleet, quota=None) as emulator:
        emulator.subscriptions.refuse = True
        pack = _scan(emulator, tmp_path / "refused", subscriptions=SUBS[:1])
    scope = _manifest(pack)["scope"]
    assert scope["subscription_list_error"] == "the subscriptions list failed (AuthorizationFailed)"
    assert (scope["visible_subscriptions"], scope["subscriptions_not_scanned"]) == (None, None)
    assert scope["subscriptions_scanned"] == [{"id": SUBS[0], "name": "", "state": ""}]


def test_a_whole_tenant_scan_scans_every_visible_subscription(fleet: Snapshot, tmp_path: Path) -> None:
    with AzureEmulator(fleet, quota=None, extra_subscriptions=EXTRA[:1]) as emulator:
        pack = _scan(emulator, tmp_path / "tenant")
    scope = _manifest(pack)["scope"]
    assert [s["id"] for s in scope["subscriptions_scanned"]] == sorted([*SUBS, IDLE])
    assert (scope["subscriptions"], scope["subscriptions_not_scanned"]) == ([], [])
