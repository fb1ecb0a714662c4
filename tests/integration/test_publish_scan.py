"""A scan publishes, then notifies, after its pack is committed; failures are warnings that change neither the
pack nor the exit code; `scan --json` still prints exactly one JSON object on stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from auditor.cli.app import app
from auditor.config import Config, config_from_dict
from auditor.errors import ExitCode
from auditor.evidence.manifest import fingerprint
from auditor.publish import LogAnalyticsPublisher
from auditor.reports.json import BreachesRenderer, SummaryRenderer
from auditor.scan import ScanResult, deliver, scan
from tests.crafted import SUB, Fleet, days_ago
from tests.integration.azure_emulator.auth import AllowLoopbackHttp, FakeCredential
from tests.integration.test_notify import SECRET_PATH, Receiver, Reply
from tests.integration.test_publish import RULE_ID, STREAM, IngestionEmulator
from tests.summaries import typed


def snapshot(path: Path) -> Path:
    """Three machines: Production compliant and non-compliant (an overdue Critical patch), Dev unknown."""
    f = Fleet()
    good = f.machine("vm-good", tags={"Environment": "Production"})
    f.assessment(good)
    bad = f.machine("vm-bad", tags={"Environment": "Production"})
    f.assessment(bad)
    f.patch(bad, "kb1", ["Critical"], published=days_ago(40))
    dev = f.machine("vm-dev", tags={"Environment": "Dev"})
    f.assessment(dev, status="Failed")
    f.write(path)
    return path


def config(endpoint: str, *webhooks: dict[str, Any]) -> Config:
    return config_from_dict(
        {
            "thresholds": {"min_compliance_rate": 90, "by_environment": {"Production": 95}},
            "publish": {
                "log_analytics": {"endpoint": endpoint, "rule_id": RULE_ID, "stream_name": STREAM, "max_retries": 0}
            },
            "notify": {"webhooks": list(webhooks)},
        }
    )


def loopback_publisher(cfg: Config) -> LogAnalyticsPublisher:
    made = LogAnalyticsPublisher.from_config(cfg, credential=FakeCredential(), per_call_policies=[AllowLoopbackHttp()])
    assert made is not None
    return made


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One scan with a working Logs Ingestion endpoint, a working Teams webhook (URL from the environment) and
    a Slack webhook that answers 404."""
    root = tmp_path_factory.mktemp("scan")
    with IngestionEmulator() as emulator, Receiver() as receiver:
        cfg = config(
            emulator.endpoint,
            {"kind": "teams", "url_env": "AUDITOR_TEST_TEAMS_URL"},
            {"kind": "slack", "url": receiver.url("/services/T0/B0/s3cret"), "retries": 0},
        )
        receiver.script = [Reply(200), Reply(404)]
        os.environ["AUDITOR_TEST_TEAMS_URL"] = receiver.url()
        try:
            result = scan(
                cfg,
                source=f"snapshot:{snapshot(root / 'snap')}",
                out=root / "packs",
                use_history=False,
                renderers=[SummaryRenderer(), BreachesRenderer()],
                fail_on_breach=True,
                publishers=[loopback_publisher(cfg)],
            )
        finally:
            del os.environ["AUDITOR_TEST_TEAMS_URL"]
    return result, emulator, receiver


def test_the_scan_publishes_then_notifies(scanned: Any) -> None:
    result, emulator, receiver = scanned
    manifest = json.loads((result.pack / "manifest.json").read_text())
    summary = json.loads((result.pack / "summary.json").read_text())
    assert (summary["machines"], summary["compliant"], summary["non_compliant"], summary["unknown"]) == (3, 1, 1, 1)
    assert result.exit_code is ExitCode.FINDINGS  # breaches with fail_on_breach; the 404 changes nothing

    [upload] = emulator.uploads
    metrics = {(r["Dimension"], r["Key"]): r for r in upload.rows if r["RecordType"] == "metric"}
    assert sorted(metrics) == [
        ("environment", "Dev"),
        ("environment", "Production"),
        ("overall", None),
        ("subscription", SUB),
    ]
    overall, prod = metrics[("overall", None)], metrics[("environment", "Production")]
    assert (overall["Machines"], overall["Compliant"], overall["ComplianceRate"], overall["Target"]) == (
        3,
        1,
        33.33,
        90.0,
    )
    assert (prod["Machines"], prod["NonCompliant"], prod["ComplianceRate"], prod["Target"], prod["Breaches"]) == (
        2,
        1,
        50.0,
        95.0,
        1,
    )
    assert overall["Breaches"] == len(result.breaches) == summary["breaches"] == 2
    breaches = [
        (r["Dimension"], r["Key"], r["Observed"], r["Threshold"]) for r in upload.rows if r["RecordType"] == "breach"
    ]
    assert breaches == [("overall", None, 33.33, 90.0), ("environment", "Production", 50.0, 95.0)]
    assert {(r["PackId"], r["RunId"], r["ManifestSha256"], r["TimeGenerated"]) for r in upload.rows} == {
        (
            result.pack.name,
            manifest["run_id"],
            fingerprint((result.pack / "manifest.json").read_bytes()),
            "2026-11-01T06:00:00Z",
        )
    }

    teams, slack = receiver.requests
    assert teams.path == SECRET_PATH and slack.path == "/services/T0/B0/s3cret"
    assert upload.at < teams.at < slack.at  # publish, then notify, in config order
    card = teams.body["attachments"][0]["content"]
    facts = {f["title"]: f["value"] for f in card["body"][1]["facts"]}
    assert card["body"][0]["text"] == "Patch compliance 33.33% (target 90.00%): 2 breaches"
    assert (facts["Pack"], facts["Manifest sha256"]) == (result.pack.name, overall["ManifestSha256"])
    assert slack.body["text"] == "Patch compliance 33.33% (target 90.00%): 2 breaches"
    assert result.warnings == [
        f"notify.webhooks[1] (slack, {receiver.host}): webhook {receiver.host} refused the message: HTTP 404 "
        "(the pack is complete; only this notification is missing)"
    ]


def test_failures_never_change_the_pack_or_the_exit_code(scanned: Any) -> None:
    result, emulator, receiver = scanned
    before = {p.name: p.read_bytes() for p in result.pack.iterdir() if p.is_file()}
    quiet = replace(result, warnings=[])
    # Both endpoints are closed now: every delivery fails.
    cfg = config(emulator.endpoint, {"kind": "generic", "url": receiver.url(), "retries": 0, "on": "always"})
    after = deliver(cfg, quiet, publishers=[loopback_publisher(cfg)])
    host = emulator.endpoint.removeprefix("http://")
    assert after.warnings == [
        f"publish.log_analytics: {host} could not be reached (ServiceRequestError); check the endpoint and the "
        "network path to it (the pack is complete; only the publication is missing)",
        f"notify.webhooks[0] (generic, {receiver.host}): webhook {receiver.host} failed after 1 attempt: "
        "ConnectionRefusedError: Connection refused (the pack is complete; only this notification is missing)",
    ]
    assert (after.exit_code, after.pack, after.summary, after.breaches) == (
        result.exit_code,
        result.pack,
        result.summary,
        result.breaches,
    )
    assert {p.name: p.read_bytes() for p in result.pack.iterdir() if p.is_file()} == before
    # Turned off, nothing is attempted at all.
    assert deliver(cfg, quiet, send_notifications=False, publishers=[]) is quiet


def test_cli_flags_reach_the_core(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []

    def fake_scan(config: Any, **kwargs: Any) -> ScanResult:
        seen.append(kwargs)
        return ScanResult(
            tmp_path,
            typed(
                {
                    "as_of": "2026-11-01T06:00:00Z",
                    "machines": 0,
                    "compliant": 0,
                    "non_compliant": 0,
                    "unknown": 0,
                    "compliance_rate": None,
                    "by_environment": [],
                }
            ),
            [],
            warnings=["notify.webhooks[0] (teams, X): failed"],
        )

    monkeypatch.setattr("auditor.cli.scan.scan", fake_scan)
    runner = CliRunner()
    plain = runner.invoke(app, ["scan", "--json"])
    off = runner.invoke(app, ["scan", "--json", "--no-notify", "--no-publish"])
    assert (plain.exit_code, off.exit_code) == (0, 0)
    assert [(k["send_notifications"], k["publishers"]) for k in seen] == [(True, None), (False, [])]
    assert json.loads(plain.stdout)["warnings"] == ["notify.webhooks[0] (teams, X): failed"]


def test_scan_json_prints_one_object_with_publish_and_notify_on(tmp_path: Path) -> None:
    snapshot(tmp_path / "snap")
    with Receiver(Reply(200), Reply(500)) as receiver:
        (tmp_path / "auditor.toml").write_text(
            "[thresholds]\nmin_compliance_rate = 90\n\n"
            '[[notify.webhooks]]\nkind = "teams"\nurl_env = "TEAMS_WEBHOOK_URL"\n\n'
            f'[[notify.webhooks]]\nkind = "generic"\nurl = "{receiver.url("/generic/s3cret")}"\nretries = 0\n\n'
            # No network: product code will not send a token over http, so it stops before asking the credential
            # (which could only use the environment anyway).
            '[publish.log_analytics]\nendpoint = "http://127.0.0.1:9"\n'
            f'rule_id = "{RULE_ID}"\nmax_retries = 0\n'
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "IDENTITY_", "MSI_"))}
        env.update(
            {"COLUMNS": "200", "TEAMS_WEBHOOK_URL": receiver.url(), "AZURE_TOKEN_CREDENTIALS": "EnvironmentCredential"}
        )
        ran = subprocess.run(
            [
                sys.executable,
                "-m",
                "auditor",
                "scan",
                "--source",
                "snapshot:snap",
                "--config",
                "auditor.toml",
                "--out",
                "packs",
                "--json",
                "--no-history",
                "--fail-on-breach",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
    assert ran.returncode == 1, ran.stderr  # the breach decides; failed deliveries do not
    document, end = json.JSONDecoder().raw_decode(ran.stdout)
    assert ran.stdout[end:].strip() == ""  # exactly one object
    assert (document["machines"], document["compliance_rate"], document["exit_code"]) == (3, 33.33, 1)
    assert document["warnings"] == [
        "publish.log_analytics: 127.0.0.1:9: the Azure SDK sends tokens over https only; use the https endpoint "
        "the data collection rule or endpoint shows (the pack is complete; only the publication is missing)",
        f"notify.webhooks[1] (generic, {receiver.host}): webhook {receiver.host} failed after 1 attempt: HTTP 500 "
        "(the pack is complete; only this notification is missing)",
    ]
    assert "warning: notify.webhooks[1] (generic" in ran.stderr
    assert "s3cret" not in ran.stdout + ran.stderr and SECRET_PATH not in ran.stdout + ran.stderr
    teams, generic = receiver.requests
    facts = {f["title"]: f["value"] for f in teams.body["attachments"][0]["content"]["body"][1]["facts"]}
    assert facts["Pack"] == Path(document["pack"]).name
    assert generic.body["pack_id"] == Path(document["pack"]).name and generic.body["breaches_total"] == 1
