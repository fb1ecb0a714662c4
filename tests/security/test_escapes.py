"""Finding 8: a pack file named with ANSI sequences could fake `verify` output; a maintenance configuration name
carried a phishing link into a Teams card."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from auditor.compliance.thresholds import Breach
from auditor.evidence.zipped import write_zip
from auditor.names import terminal_text
from auditor.notify.slack import SlackFormatter
from auditor.notify.teams import TeamsFormatter
from tests.unit.test_evidence_pack import make_pack
from tests.unit.test_evidence_sign import run_cli
from tests.unit.test_notify import outcome

# Erase the line, return to its start and print a green "intact": on a terminal, TAMPERED would vanish.
FAKE = "x\x1b[2K\r\x1b[32mintact\x1b[0m pack-ok \u202eshown-backwards"


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pack(tmp_path_factory.mktemp("packs")).pack


def test_terminal_text_makes_every_control_visible() -> None:
    assert terminal_text(FAKE) == "x\\x1b[2K\\x0d\\x1b[32mintact\\x1b[0m pack-ok \\u202eshown-backwards"
    assert terminal_text("line one\nline two\x9b", layout=True) == "line one\nline two\\x9b"
    assert terminal_text("Zürich – prod") == "Zürich – prod"


def test_an_ansi_file_name_cannot_fake_verify_output(
    pack: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (pack / FAKE).write_text("planted")
    try:
        code, out, err = run_cli(monkeypatch, capsys, "verify", str(pack), "--integrity-only")
    finally:
        (pack / FAKE).unlink()
    assert code == 1 and out.startswith("TAMPERED")
    assert not any(c in out + err for c in "\x1b\r\u202e")
    assert "x\\x1b[2K\\x0d\\x1b[32mintact" in out  # named, visibly, for what it is


def test_an_ansi_zip_entry_and_an_ansi_pack_path_are_shown_inert(
    pack: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = write_zip(pack, tmp_path / "p.zip", pack.name)
    with zipfile.ZipFile(archive, "a") as extra:
        extra.writestr(f"{pack.name}/{FAKE}", b"planted")
    code, out, err = run_cli(monkeypatch, capsys, "verify", str(archive), "--integrity-only")
    assert code == 1 and "\x1b" not in out + err and "\\x1b[32mintact" in out
    # Error messages quote names too; neither markup nor escapes in them reach the terminal.
    code, out, err = run_cli(monkeypatch, capsys, "verify", str(tmp_path / f"[bold red]{FAKE}"))
    assert code == 2 and "\x1b" not in err and "[bold red]x\\x1b" in err


def test_markdown_in_a_name_stays_text_in_a_teams_card() -> None:
    phishing = "[Renew your Azure password](https://evil.example/login)"
    breach = Breach(
        "max_schedule_expired",
        "maintenance_configuration",
        phishing,
        1.0,
        0.0,
        "high",
        f"maintenance configuration {phishing} has expired **urgently**",
        "maintenance_configurations@v1",
    )
    card = TeamsFormatter().payload(outcome((breach,), problems=(f"source {phishing} throttled",)), max_breaches=5)
    texts = [block.get("text", "") for block in card["attachments"][0]["content"]["body"]]
    shown = "\n".join(texts)
    assert "](" not in shown.replace("\\](", "")  # no live link syntax: every bracket and paren escaped
    assert "\\[Renew your Azure password\\]\\(https://evil.example/login\\)" in shown
    assert "\\*\\*urgently\\*\\*" in shown
    # Slack's mrkdwn links need < and >, which are escaped there.
    slack = json.dumps(SlackFormatter().payload(outcome((breach,)), max_breaches=5))
    assert "<https" not in slack
    link = Breach("r", "d", "k", 1.0, 0.0, "high", "see <https://evil.example|your bank>", "q@v1")
    assert "&lt;https://evil.example|your bank&gt;" in json.dumps(
        SlackFormatter().payload(outcome((link,)), max_breaches=5)
    )


def test_log_lines_show_control_characters_as_escapes() -> None:
    import logging

    from auditor.cli.logs import InertFormatter

    record = logging.LogRecord("weasyprint", logging.ERROR, __file__, 1, "Failed to load %s", (FAKE,), None)
    line = InertFormatter("%(levelname)s %(name)s: %(message)s").format(record)
    assert line.startswith("ERROR weasyprint: Failed to load x\\x1b[2K") and "\x1b" not in line


def test_policy_output_shows_a_hostile_file_name_inert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`auditor policy` prints through the same safe console as every other command: a definition file named with
    ANSI sequences cannot repaint `policy validate`'s verdict."""
    import shutil

    from auditor.package_data import data_dir

    policies = tmp_path / "policies"
    shutil.copytree(data_dir("policies"), policies)
    (policies / "definitions" / f"{FAKE}.json").write_text("{}")
    code, out, err = run_cli(monkeypatch, capsys, "policy", "validate", str(policies))
    assert code == 2
    assert not any(c in out + err for c in "\x1b\r\u202e")
    assert "\\x1b[32mintact\\x1b[0m pack-ok \\u202eshown-backwards.json#: error [schema]" in out  # named, inert


def test_query_run_json_lines_carry_no_raw_control_or_bidi_character(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`query run --limit 0` prints rows as JSON lines: a C1 CSI or a bidi override in a tag value stays an escape
    there too, and the line still parses back to the value as written."""
    from tests.crafted import Fleet

    hostile = "prod\x9b2J\u202eevil"
    f = Fleet()
    f.machine("vm-a", tags={"Environment": hostile})
    f.write(tmp_path / "snap")
    source = f"snapshot:{tmp_path / 'snap'}"
    code, out, err = run_cli(monkeypatch, capsys, "query", "run", "machine_facts", "--source", source, "--limit", "0")
    assert code == 0, err
    assert not any(c in out for c in "\x1b\x9b\u202e")
    (row,) = [json.loads(line) for line in out.splitlines()]
    assert hostile in row["tags"]  # the tags column is the tags object as JSON text
