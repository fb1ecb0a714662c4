"""What the live sources make of the JSON the Azure SDK hands them: pages, cells and scope records."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from auditor.jsonvalue import JsonObject
from auditor.sources._paging import page_rows
from auditor.sources.azure_settings import AzureSettings
from auditor.sources.interface import SourceError
from auditor.sources.log_analytics import _plain
from auditor.sources.scope import Subscription, live_scope, snapshot_scope

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SUB_A = "00000000-0000-0000-0000-00000000000a"
SUB_B = "00000000-0000-0000-0000-00000000000b"


def test_a_page_is_a_list_of_objects_in_either_result_format() -> None:
    table = {"columns": [{"name": "id"}, {"name": "n"}], "rows": [["/r/1", 1], ["/r/2", None]]}
    assert page_rows(table) == [{"id": "/r/1", "n": 1}, {"id": "/r/2", "n": None}]
    assert page_rows([{"id": "/r/1"}]) == [{"id": "/r/1"}]
    assert page_rows(None) == []
    for bad in ([{"id": "/r/1"}, "/r/2"], {"id": "/r/1"}, "rows"):
        with pytest.raises(SourceError, match="not a list of objects"):
            page_rows(bad)


def test_log_analytics_cells_become_json() -> None:
    assert _plain(datetime(2026, 11, 1, 8, 30)) == "2026-11-01T08:30:00Z"
    assert _plain(date(2026, 11, 1)) == "2026-11-01"
    assert [_plain(v) for v in ("x", 3, 1.5, True, None, [1], {"a": 1})] == ["x", 3, 1.5, True, None, [1], {"a": 1}]
    with pytest.raises(SourceError, match="returned a Decimal value, which is not JSON"):
        _plain(Decimal("1.5"))


def test_live_scope_reconciles_configured_and_visible_subscriptions() -> None:
    settings = AzureSettings(tenant_id=TENANT, subscriptions=[SUB_A, "00000000-0000-0000-0000-00000000000C"])
    record = live_scope(settings, [Subscription(SUB_A, "Prod", "Enabled"), Subscription(SUB_B, "", "Disabled")])
    assert record["subscriptions_scanned"] == [
        {"id": SUB_A, "name": "Prod", "state": "Enabled"},
        {"id": "00000000-0000-0000-0000-00000000000c", "name": "", "state": ""},
    ]
    assert record["subscriptions_not_scanned"] == [{"id": SUB_B, "name": "", "state": "Disabled"}]
    assert record["subscriptions_not_visible"] == ["00000000-0000-0000-0000-00000000000c"]
    assert record["visible_subscriptions"] == 2 and record["subscription_list_error"] is None
    unseen = live_scope(settings, None, "the subscriptions list failed (AuthorizationFailed)")
    assert unseen["subscriptions_not_scanned"] is None and unseen["visible_subscriptions"] is None


def test_a_snapshot_scope_keeps_unknown_keys_and_only_lists() -> None:
    meta: JsonObject = {"source": "azure", "tenant_id": TENANT, "scope": {"subscriptions": SUB_A, "region": "emea"}}
    assert snapshot_scope(meta) == {
        "kind": "snapshot",
        "origin": "azure",
        "tenant_id": TENANT,
        "subscriptions": [],
        "region": "emea",
        "management_groups": [],
    }
    assert snapshot_scope({"scope": {"subscriptions": [SUB_A]}})["subscriptions"] == [SUB_A]
