"""samples/pipelines: every auditor command and flag the samples use exists in the CLI, and each sample has the
shape its scheduler needs (OIDC, schedules, artifacts that survive a failed scan, failure by exit code)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from auditor.cli.app import app

PIPELINES = Path(__file__).resolve().parents[2] / "samples" / "pipelines"
SAMPLES = {
    "github-actions.yml": PIPELINES / "github-actions.yml",
    "azure-pipelines.yml": PIPELINES / "azure-pipelines.yml",
    "scan-and-verify.sh": PIPELINES / "scan-and-verify.sh",
    "crontab": PIPELINES / "crontab",
    "auditor-scan.service": PIPELINES / "systemd" / "auditor-scan.service",
    "auditor-scan.timer": PIPELINES / "systemd" / "auditor-scan.timer",
}

# `auditor` in command position: not part of a path component, a file name or a word, and not the user field
# of a crontab line (`auditor  auditor scan`). Comments are checked too, so a commented alternative cannot rot.
_INVOCATION = re.compile(r"(?<![\w.@=-])(?:/[\w./-]*/)?auditor[ \t]+(?!auditor\b)(?=[-a-z])(?P<rest>[^\n]*)")
_SHELL_END = re.compile(r"\s(?:>>?|<|\|\|?|&&|;|2>&1)|\)|;")
_PIPELINE_VARIABLE = re.compile(r"\$\([\w.]+\)|\$\{\{[^}]*\}\}")  # $(Build.Id), ${{ vars.X }}: not shell syntax


def cli_tree() -> dict[tuple[str, ...], set[str]]:
    """Command path -> its option spellings, from the Typer app as click sees it."""
    tree: dict[tuple[str, ...], set[str]] = {}

    def walk(command: Any, path: tuple[str, ...]) -> None:
        tree[path] = {"--help"} | {o for p in command.params for o in (*p.opts, *p.secondary_opts) if o.startswith("-")}
        for name, sub in (getattr(command, "commands", None) or {}).items():
            walk(sub, (*path, name))

    walk(typer.main.get_command(app), ())
    return tree


def invocations(text: str) -> list[tuple[int, list[str]]]:
    """(line number, argv after `auditor`) of every auditor command line, with `\\` continuations joined."""
    lines = text.splitlines()
    found: list[tuple[int, list[str]]] = []
    index = 0
    while index < len(lines):
        number, line = index + 1, lines[index]
        while line.rstrip().endswith("\\") and index + 1 < len(lines):
            index += 1
            line = line.rstrip()[:-1] + " " + lines[index].strip()
        for match in _INVOCATION.finditer(line):
            rest = _SHELL_END.split(_PIPELINE_VARIABLE.sub("VALUE", match.group("rest")), maxsplit=1)[0]
            try:
                argv = shlex.split(rest, comments=False)
            except ValueError:
                argv = rest.split()
            found.append((number, argv))
        index += 1
    return found


def check(argv: list[str], tree: dict[tuple[str, ...], set[str]]) -> tuple[tuple[str, ...], list[str]]:
    """The command path argv names and the options it uses; fails on an unknown command or option."""
    path: tuple[str, ...] = ()
    options: list[str] = []
    for token in argv:
        if token.startswith("-"):
            option = token.split("=", 1)[0]
            assert option in tree[path], f"`auditor {' '.join(path)}` has no option {option}"
            options.append(option)
        elif (*path, token) in tree and not options:
            path = (*path, token)
        else:  # an argument or an option's value, once a command is named
            assert path, f"unknown auditor command {token!r}"
    assert path, f"no auditor command in {argv}"
    return path, options


def used(name: str) -> list[tuple[tuple[str, ...], list[str]]]:
    tree = cli_tree()
    result = []
    for number, argv in invocations(SAMPLES[name].read_text()):
        try:
            result.append(check(argv, tree))
        except AssertionError as error:
            raise AssertionError(f"{name}:{number}: {error}") from None
    return result


def test_cli_tree_is_introspected() -> None:
    tree = cli_tree()
    assert {"--source", "--config", "--fail-on-breach", "--json", "--no-notify", "--no-publish"} <= tree[("scan",)]
    assert "--public-key" in tree[("verify",)]
    assert ("query", "check") in tree


def test_extraction_joins_continuations_and_stops_at_shell_operators() -> None:
    text = (
        "run: |\n"
        '  auditor scan --source azure --config "$C" \\\n'
        "    --fail-on-breach --json > out.json\n"
        '  pack=$(jq -r .pack out.json) && /opt/auditor/venv/bin/auditor verify "$pack"\n'
        "Description=Patch-compliance scan (auditor)\n"
        "30 5 * * 1-5  auditor  auditor query check; echo done\n"
        'inlineScript: auditor scan --config "$(AUDITOR_CONFIG)" --out ${{ vars.OUT }} --json\n'
        "cat /etc/auditor/auditor.toml auditor.env\n"
    )
    assert invocations(text) == [
        (2, ["scan", "--source", "azure", "--config", "$C", "--fail-on-breach", "--json"]),
        (4, ["verify", "$pack"]),
        (6, ["query", "check"]),
        (7, ["scan", "--config", "VALUE", "--out", "VALUE", "--json"]),
    ]


def test_unknown_flags_and_commands_fail() -> None:
    tree = cli_tree()
    with pytest.raises(AssertionError, match="has no option --fail-on-breaches"):
        check(["scan", "--fail-on-breaches"], tree)
    with pytest.raises(AssertionError, match="unknown auditor command 'scna'"):
        check(["scna", "--json"], tree)
    with pytest.raises(AssertionError, match="no auditor command"):
        check(["--debug"], tree)
    assert check(["query", "render", "installations", "--param", "window_days=3"], tree) == (
        ("query", "render"),
        ["--param"],
    )


@pytest.mark.parametrize("name", ["github-actions.yml", "azure-pipelines.yml", "scan-and-verify.sh", "crontab"])
def test_pipelines_scan_azure_fail_on_breach_and_verify(name: str) -> None:
    calls = used(name)
    scans = [options for path, options in calls if path == ("scan",)]
    assert scans, f"{name} runs no scan"
    assert all({"--source", "--config", "--fail-on-breach"} <= set(o) for o in scans)
    assert "--source azure" in SAMPLES[name].read_text()
    if name != "crontab":  # the crontab calls the wrapper, which verifies
        assert any(path == ("verify",) for path, _ in calls), f"{name} does not verify the pack"
        assert any("--json" in o for o in scans)


def test_systemd_units() -> None:
    for path, _ in used("auditor-scan.service"):
        assert path == ("scan",)

    def sections(text: str) -> dict[str, dict[str, list[str]]]:
        out: dict[str, dict[str, list[str]]] = {}
        current = ""
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("["):
                current = line.strip("[]")
                out[current] = {}
                continue
            key, value = line.split("=", 1)
            out[current].setdefault(key, []).append(value)
        return out

    service = sections(SAMPLES["auditor-scan.service"].read_text())
    timer = sections(SAMPLES["auditor-scan.timer"].read_text())
    assert service["Service"]["Type"] == ["oneshot"]
    assert service["Service"]["ExecStart"] == ["/opt/auditor/scan-and-verify.sh"]
    assert "PATH=/opt/auditor/venv/bin:/usr/bin:/bin" in service["Service"]["Environment"]
    assert service["Service"]["StateDirectory"] == ["auditor"]
    assert timer["Timer"]["Unit"] == ["auditor-scan.service"]
    assert timer["Timer"]["OnCalendar"] == ["Mon..Fri *-*-* 05:30:00"]
    assert timer["Timer"]["Persistent"] == ["true"]
    assert timer["Install"]["WantedBy"] == ["timers.target"]


def test_wrapper_exits_with_the_scan_code() -> None:
    text = SAMPLES["scan-and-verify.sh"].read_text()
    assert text.startswith("#!/bin/sh\n")
    assert SAMPLES["scan-and-verify.sh"].stat().st_mode & 0o111, "the wrapper must be executable"
    assert "code=$?" in text and text.rstrip().endswith('exit "$code"')


def test_crontab_schedule() -> None:
    entries = [
        line.split()
        for line in SAMPLES["crontab"].read_text().splitlines()
        if line.strip() and not line.startswith("#") and "=" not in line.split()[0]
    ]
    assert entries == [
        [
            "30",
            "5",
            "*",
            "*",
            "1-5",
            "auditor",
            "/opt/auditor/scan-and-verify.sh",
            ">>",
            "/var/log/auditor/scan.log",
            "2>&1",
        ]
    ]


def _cron_ok(expression: str) -> bool:
    fields = expression.split()
    return len(fields) == 5 and all(re.fullmatch(r"[\d*,/-]+", f) for f in fields)


def test_github_actions_shape() -> None:
    doc = yaml.safe_load(SAMPLES["github-actions.yml"].read_text())
    triggers = doc.get("on", doc.get(True))  # YAML 1.1 reads the key `on` as true
    assert [_cron_ok(s["cron"]) for s in triggers["schedule"]] == [True]
    assert doc["permissions"]["id-token"] == "write"
    steps = doc["jobs"]["scan"]["steps"]
    uses = {s.get("uses", "").split("@")[0]: s for s in steps}
    assert "client-id" in uses["azure/login"]["with"] and "client-secret" not in uses["azure/login"]["with"]
    assert uses["actions/upload-artifact"]["if"] == "always()"
    assert "audit-packs/" in uses["actions/upload-artifact"]["with"]["path"]
    scan = next(s for s in steps if s.get("id") == "scan")
    assert "if" not in scan and "continue-on-error" not in scan  # a breach (exit 1) fails the job
    verify = next(s for s in steps if "auditor verify" in s.get("run", ""))
    assert verify["if"].startswith("always()")
    order = [s.get("uses", s.get("name", "")).split("@")[0] for s in steps]
    assert order.index("azure/login") < order.index("Scan") < order.index("actions/upload-artifact")


def test_azure_devops_shape() -> None:
    doc = yaml.safe_load(SAMPLES["azure-pipelines.yml"].read_text())
    assert doc["trigger"] == "none" and doc["pr"] == "none"
    assert [(_cron_ok(s["cron"]), s["always"]) for s in doc["schedules"]] == [(True, True)]
    steps = doc["jobs"][0]["steps"]
    tasks = {s.get("task"): s for s in steps if "task" in s}
    scan = tasks["AzureCLI@2"]
    assert scan["inputs"]["azureSubscription"] and scan["inputs"]["scriptType"] == "bash"
    assert "--fail-on-breach" in scan["inputs"]["inlineScript"] and "condition" not in scan
    assert scan["env"]["TEAMS_WEBHOOK_URL"] == "$(TEAMS_WEBHOOK_URL)"
    assert tasks["PublishPipelineArtifact@1"]["condition"] == "always()"
    verify = next(s for s in steps if "auditor verify" in s.get("script", ""))
    assert verify["condition"] == "always()"
