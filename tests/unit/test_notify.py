"""Notification formats (exact payloads), when each webhook fires, webhook URLs as secrets, and their config."""

from __future__ import annotations

import re
import tomllib
from datetime import UTC, datetime
from typing import Any

import pytest

from auditor.compliance.thresholds import Breach
from auditor.config import LogAnalyticsPublishSettings, NotifySettings, WebhookSettings, config_from_dict
from auditor.errors import ConfigError
from auditor.notify import FORMATTERS, NotifyError, ScanOutcome
from auditor.notify.dispatch import label, wants, webhook_url
from auditor.notify.slack import HEADER_LIMIT, SECTION_LIMIT
from auditor.notify.webhook import host_of, retry_after_seconds
from auditor.package_data import sample_config
from auditor.publish import LogAnalyticsPublisher
from tests.summaries import typed

SHA = "ab" * 32
RUN = "0f8e2d4c-1b3a-4c5d-9e6f-7a8b9c0d1e2f"
PACK = "pack-20261101T060000Z-0f8e2d4c"
OVERALL = Breach(
    "min_compliance_rate",
    "overall",
    None,
    75.0,
    90.0,
    "high",
    "compliance rate must be at least 90.00%; observed 75.00%",
    "pending_patches@v1",
)
UNKNOWN = Breach(
    "max_unknown_rate",
    "overall",
    None,
    12.5,
    10.0,
    "medium",
    "share of machines with unknown status must be at most 10.00%; observed 12.50%",
    "machine_facts@v1",
)
PROD = Breach(
    "min_compliance_rate",
    "environment",
    "R&D <prod>",
    50.0,
    95.0,
    "high",
    "compliance rate of environment R&D <prod> must be at least 95.00%; observed 50.00%",
    "pending_patches@v1",
)
SUMMARY = {
    "as_of": "2026-11-01T06:00:00Z",
    "machines": 8,
    "compliant": 6,
    "non_compliant": 1,
    "unknown": 1,
    "compliance_rate": 75.0,
    "compliance_rate_without_exceptions": 62.5,
    "compliant_with_exception": 1,
}


def outcome(
    breaches: tuple[Breach, ...] = (UNKNOWN, OVERALL, PROD),
    problems: tuple[str, ...] = (),
    target: float | None = 90.0,
    **summary: Any,
) -> ScanOutcome:
    return ScanOutcome(
        pack_id=PACK,
        run_id=RUN,
        fingerprint=SHA,
        as_of="2026-11-01T06:00:00Z",
        complete=not problems,
        problems=problems,
        summary=typed({**SUMMARY, **summary}),
        breaches=breaches,
        target=target,
        tool_version="0.1.0",
    )


def test_outcome_words() -> None:
    o = outcome()
    assert o.status == "breach"
    assert o.headline() == "Patch compliance 75.00% (target 90.00%): 3 breaches"
    assert o.top_breaches(2) == [OVERALL, PROD]  # high before medium; ties keep the pack's order
    assert outcome(breaches=(OVERALL,)).headline() == "Patch compliance 75.00% (target 90.00%): 1 breach"
    assert outcome(breaches=(), target=None).headline() == "Patch compliance 75.00%: no breaches"
    assert outcome(breaches=(), compliance_rate=None).rate_text() == "n/a (target 90.00%)"
    incomplete = outcome(problems=("installations@v1: truncated",))
    assert incomplete.status == "incomplete"
    assert incomplete.headline() == "INCOMPLETE scan. Patch compliance 75.00% (target 90.00%): 3 breaches"


FACTS = [
    ("Compliance", "75.00% (target 90.00%)"),
    ("Without exceptions", "62.50%"),
    ("Compliant with exception", "1"),
    ("Machines", "8"),
    ("Compliant", "6"),
    ("Non-compliant", "1"),
    ("Unknown", "1"),
    ("Breaches", "3"),
    ("Data", "complete"),
    ("As of", "2026-11-01T06:00:00Z"),
    ("Pack", PACK),
    ("Manifest sha256", SHA),
]


def test_teams_adaptive_card_exact() -> None:
    body = FORMATTERS["teams"].payload(outcome(), max_breaches=2)
    text = {"type": "TextBlock", "wrap": True}
    assert body == {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [
                        {
                            **text,
                            "text": "Patch compliance 75.00% (target 90.00%): 3 breaches",
                            "size": "Medium",
                            "weight": "Bolder",
                            "color": "Attention",
                            "style": "heading",
                        },
                        {"type": "FactSet", "facts": [{"title": t, "value": v} for t, v in FACTS]},
                        {**text, "text": "Top breaches", "weight": "Bolder", "spacing": "Medium"},
                        {**text, "text": f"[high] {OVERALL.message}", "spacing": "None"},
                        {
                            **text,
                            # Markdown in a name from the data is escaped: it stays text, never a link or tag.
                            "text": "[high] compliance rate of environment R&D \\<prod\\> must be at least 95.00%; "
                            "observed 50.00%",
                            "spacing": "None",
                        },
                        {**text, "text": "…and 1 more in breaches.json", "isSubtle": True},
                        {**text, "text": f"auditor 0.1.0 · run {RUN}", "size": "Small", "isSubtle": True},
                    ],
                    "msteams": {"width": "Full"},
                },
            }
        ],
    }


def test_teams_incomplete_caps_problems() -> None:
    problems = tuple(f"q{i}@v1: truncated" for i in range(7))
    card = FORMATTERS["teams"].payload(outcome(breaches=(), problems=problems), max_breaches=10)
    blocks = card["attachments"][0]["content"]["body"]
    assert blocks[0]["text"] == "INCOMPLETE scan. Patch compliance 75.00% (target 90.00%): no breaches"
    assert blocks[0]["color"] == "Warning"
    assert blocks[1] == {
        "type": "TextBlock",
        "wrap": True,
        "color": "Warning",
        "text": "INCOMPLETE: the data is incomplete, so the figures may be wrong.\n\n"
        + "\n".join(f"- q{i}@v1: truncated" for i in range(5))
        + "\n- …and 2 more",
    }
    assert {"title": "Data", "value": "INCOMPLETE"} in blocks[2]["facts"]
    assert not any(b.get("text") == "Top breaches" for b in blocks)


def test_slack_blocks_exact_and_escaped() -> None:
    body = FORMATTERS["slack"].payload(outcome(), max_breaches=10)
    assert body == {
        "text": "Patch compliance 75.00% (target 90.00%): 3 breaches",
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": "Patch compliance 75.00% (target 90.00%): 3 breaches"},
            },
            {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{t}*\n{v}"} for t, v in FACTS]},
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": (
                        "*Top breaches*\n"
                        f"• [high] {OVERALL.message}\n"
                        "• [high] compliance rate of environment R&amp;D &lt;prod&gt; must be at least 95.00%; observed 50.00%\n"
                        f"• [medium] {UNKNOWN.message}"
                    ),
                },
            },
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"auditor 0.1.0 · run {RUN}"}]},
        ],
    }


def test_slack_respects_block_limits() -> None:
    long = Breach("min_compliance_rate", "environment", "e" * 400, 1.0, 2.0, "high", "m" * 800, "q@v1")
    body = FORMATTERS["slack"].payload(outcome(breaches=(long,) * 10, problems=("p" * 5000,)), max_breaches=10)
    texts = [b["text"]["text"] for b in body["blocks"] if b["type"] == "section" and "text" in b]
    assert [len(t) for t in texts] == [SECTION_LIMIT, SECTION_LIMIT]
    assert texts[0].startswith("*INCOMPLETE*") and texts[1].endswith("…")
    assert len(body["blocks"][0]["text"]["text"]) <= HEADER_LIMIT


def test_generic_document_exact() -> None:
    body = FORMATTERS["generic"].payload(outcome(), max_breaches=1)
    assert body == {
        "format": "auditor-notification/1",
        "status": "breach",
        "headline": "Patch compliance 75.00% (target 90.00%): 3 breaches",
        "as_of": "2026-11-01T06:00:00Z",
        "complete": True,
        "problems": [],
        "compliance_rate": 75.0,
        "compliance_rate_without_exceptions": 62.5,
        "compliant_with_exception": 1,
        "target": 90.0,
        "machines": 8,
        "compliant": 6,
        "non_compliant": 1,
        "unknown": 1,
        "breaches_total": 3,
        "breaches": [
            {
                "rule": "min_compliance_rate",
                "dimension": "overall",
                "key": None,
                "observed": 75.0,
                "threshold": 90.0,
                "severity": "high",
                "message": OVERALL.message,
                "query": "pending_patches@v1",
            }
        ],
        "pack_id": PACK,
        "run_id": RUN,
        "manifest_sha256": SHA,
        "tool": {"name": "auditor", "version": "0.1.0"},
    }


@pytest.mark.parametrize(
    ("on", "expected"),
    [("always", [True, True, True]), ("breach", [False, True, True]), ("incomplete", [False, False, True])],
)
def test_when_each_webhook_fires(on: str, expected: list[bool]) -> None:
    scans = [outcome(breaches=()), outcome(), outcome(breaches=(), problems=("x@v1: truncated",))]
    assert [wants(on, s) for s in scans] == expected


def hook(**values: Any) -> Any:
    return NotifySettings.model_validate({"webhooks": [{"kind": "teams", **values}]}).webhooks[0]


def test_webhook_url_from_environment() -> None:
    env_hook = hook(url_env="TEAMS_WEBHOOK_URL")
    assert (
        webhook_url(env_hook, {"TEAMS_WEBHOOK_URL": " https://x.example/hook/s3cret \n"})
        == "https://x.example/hook/s3cret"
    )
    with pytest.raises(NotifyError, match="environment variable TEAMS_WEBHOOK_URL is not set"):
        webhook_url(env_hook, {})
    with pytest.raises(NotifyError) as info:
        webhook_url(env_hook, {"TEAMS_WEBHOOK_URL": "http://x.example/hook/s3cret"})
    assert info.value.message == "the URL in TEAMS_WEBHOOK_URL must use https (host x.example)"
    assert label(0, env_hook) == "notify.webhooks[0] (teams, TEAMS_WEBHOOK_URL)"
    assert label(2, hook(url="https://x.example:8443/hook/s3cret")) == "notify.webhooks[2] (teams, x.example:8443)"
    assert host_of("http://127.0.0.1:5000/a/b?c=d") == "127.0.0.1:5000"


def test_retry_after() -> None:
    now = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("Sun, 01 Nov 2026 06:00:30 GMT", now) == 30.0
    assert retry_after_seconds("Sun, 01 Nov 2026 05:00:00 GMT", now) == 0.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def test_config_keeps_webhook_url_out_of_packs_and_errors() -> None:
    secret = "https://contoso.webhook.office.com/webhookb2/abc/IncomingWebhook/s3cret"
    config = config_from_dict({"notify": {"webhooks": [{"kind": "teams", "url": secret}]}})
    assert config.notify.webhooks[0].url is not None
    assert config.notify.webhooks[0].url.get_secret_value() == secret
    dumped = config.canonical_json()
    assert "s3cret" not in dumped and '"url":"https://contoso.webhook.office.com/(redacted)"' in dumped
    assert "s3cret" not in repr(config)
    # a replay re-reads the effective config from the pack: the redacted form must load and hash the same
    assert config_from_dict(config.model_dump(mode="json")).sha256() == config.sha256()
    with pytest.raises(ConfigError) as info:
        config_from_dict({"notify": {"webhooks": [{"kind": "slack", "url": "http://hooks.example/T0/B0/s3cret"}]}})
    assert info.value.message == "<config>: key 'notify.webhooks[0].url': url must use https (host hooks.example)"


@pytest.mark.parametrize(
    ("webhook", "expected"),
    [
        ({"kind": "teams"}, "key 'notify.webhooks[0]': set exactly one of url and url_env"),
        ({"kind": "teams", "url": "https://a.example/x", "url_env": "X"}, "set exactly one of url and url_env"),
        ({"kind": "teams", "url_env": "TEAMS-URL"}, "url_env 'TEAMS-URL' is not an environment variable name"),
        ({"kind": "email", "url_env": "X"}, "key 'notify.webhooks[0].kind'"),
        ({"kind": "slack", "url_env": "X", "on": "never"}, "key 'notify.webhooks[0].on'"),
        ({"kind": "slack", "url_env": "X", "retries": 11}, "key 'notify.webhooks[0].retries'"),
        ({"kind": "slack", "url_env": "X", "timeout": 5}, "key 'notify.webhooks[0].timeout': unknown key"),
    ],
)
def test_webhook_config_errors(webhook: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(expected)):
        config_from_dict({"notify": {"webhooks": [webhook]}})


def test_publish_config() -> None:
    base = {"endpoint": "https://dce-1.westeurope-1.ingest.monitor.azure.com/", "rule_id": "dcr-" + "0a" * 16}
    settings = config_from_dict({"publish": {"log_analytics": base}}).publish.log_analytics
    assert settings is not None
    assert (settings.endpoint, settings.stream_name) == (
        "https://dce-1.westeurope-1.ingest.monitor.azure.com",
        "Custom-AuditorCompliance_CL",
    )
    for bad, message in [
        ({"rule_id": "my-dcr"}, "rule_id 'my-dcr' is not a DCR immutable id"),
        ({"stream_name": "AuditorCompliance_CL"}, "is not a DCR stream name"),
        ({"endpoint": "http://dce.example"}, "endpoint must use https"),
    ]:
        with pytest.raises(ConfigError, match=re.escape(message)):
            config_from_dict({"publish": {"log_analytics": {**base, **bad}}})
    custom = {
        "tenant_id": "00000000-0000-0000-0000-000000000000",
        "cloud": "Custom",
        "resource_manager_url": "https://management.local",
        "authority_host": "https://login.local",
        "credential_scope": "https://management.local/.default",
    }
    # The check spans two sections, so the publish wing makes it when it reads them (the CLI does so at load).
    with pytest.raises(ConfigError, match=re.escape("credential_scope' is required when [azure].cloud is Custom")):
        LogAnalyticsPublisher.from_config(config_from_dict({"azure": custom, "publish": {"log_analytics": base}}))
    scoped = {**base, "credential_scope": "https://monitor.local/.default"}
    publisher = LogAnalyticsPublisher.from_config(
        config_from_dict({"azure": custom, "publish": {"log_analytics": scoped}})
    )
    assert publisher is not None and publisher.scope == "https://monitor.local/.default"


def test_sample_config_documents_notify_and_publish_and_they_load() -> None:
    text = sample_config().read_text()
    for key in (*WebhookSettings.model_fields, *LogAnalyticsPublishSettings.model_fields):
        assert re.search(rf"^# (# )?{key} = ", text, re.M), f"samples/auditor.toml does not document {key}"
    # Uncomment the two sections (single-commented lines only) and load them.
    start = text.index("# [[notify.webhooks]]")
    block = "\n".join(line[2:] if re.match(r"# (\[|\w+ = )", line) else "" for line in text[start:].splitlines())
    config = config_from_dict(tomllib.loads(block))
    assert [(w.kind, w.url_env, w.on) for w in config.notify.webhooks] == [
        ("teams", "TEAMS_WEBHOOK_URL", "breach"),
        ("slack", "SLACK_WEBHOOK_URL", "always"),
    ]
    assert config.publish.log_analytics is not None
    assert config.publish.log_analytics.rule_id == "dcr-00000000000000000000000000000000"
