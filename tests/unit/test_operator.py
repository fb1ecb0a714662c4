"""Who ran a scan: token claims, CI runs, and the register's git record in manifest.json."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from auditor.evidence.register_record import git_record, register_record
from auditor.operator import ci_run, operator_record, principal_from_claims, token_claims

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
MIRID = (
    "/subscriptions/170e2ce4-6c4f-4dd4-9566-7dce24ce4d26/resourcegroups/rg-auditor/providers/"
    "Microsoft.ManagedIdentity/userAssignedIdentities/id-auditor"
)


def jwt(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'typ': 'JWT', 'alg': 'RS256'})}.{part(claims)}.c2lnbmF0dXJl"


def test_a_managed_identity_token_names_its_principal() -> None:
    claims = {"tid": TENANT, "oid": "0b5e", "appid": "9f1c", "idtyp": "app", "xms_mirid": MIRID, "aud": "x"}
    assert token_claims(jwt(claims)) == claims
    assert principal_from_claims(claims) == {
        "type": "managed_identity",
        "tenant_id": TENANT,
        "object_id": "0b5e",
        "app_id": "9f1c",
        "managed_identity_id": MIRID,
    }


def test_user_and_service_principal_tokens() -> None:
    user = {"tid": TENANT, "oid": "u1", "appid": "04b0", "upn": "ana@contoso.com", "name": "Ana Lima", "scp": "x"}
    assert principal_from_claims(user) == {
        "type": "user",
        "tenant_id": TENANT,
        "object_id": "u1",
        "app_id": "04b0",
        "upn": "ana@contoso.com",
        "display_name": "Ana Lima",
    }
    # A v2 app-only token names the app in azp, not appid.
    app = {"tid": TENANT, "oid": "s1", "azp": "c0ffee", "idtyp": "app", "app_displayname": "auditor-ci"}
    assert principal_from_claims(app) == {
        "type": "service_principal",
        "tenant_id": TENANT,
        "object_id": "s1",
        "app_id": "c0ffee",
        "display_name": "auditor-ci",
    }


@pytest.mark.parametrize("token", ["opaque-token", "a.!!!.c", f"a.{base64.urlsafe_b64encode(b'[1]').decode()}.c"])
def test_an_opaque_or_broken_token_names_no_one(token: str) -> None:
    assert token_claims(token) == {}
    assert principal_from_claims(token_claims(token)) is None


def test_ci_runs_are_named_with_their_url() -> None:
    github = {
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "contoso/patching",
        "GITHUB_RUN_ID": "8123456789",
        "GITHUB_RUN_ATTEMPT": "2",
        "GITHUB_WORKFLOW": "nightly audit",
    }
    assert ci_run(github) == {
        "system": "github_actions",
        "url": "https://github.com/contoso/patching/actions/runs/8123456789",
        "run_id": "8123456789",
        "attempt": "2",
        "workflow": "nightly audit",
    }
    devops = {
        "SYSTEM_COLLECTIONURI": "https://dev.azure.com/contoso/",
        "SYSTEM_TEAMPROJECT": "Cloud Governance",
        "BUILD_BUILDID": "4711",
    }
    assert ci_run(devops) == {
        "system": "azure_devops",
        "url": "https://dev.azure.com/contoso/Cloud%20Governance/_build/results?buildId=4711",
        "run_id": "4711",
    }
    assert ci_run({"GITHUB_RUN_ID": "1"}) is None  # a stray variable is not a run


def test_operator_record_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("socket.gethostname", lambda: "audit-host")
    monkeypatch.setattr("getpass.getuser", lambda: "svc-audit")
    assert operator_record(None, env={}) == {
        "host": "audit-host",
        "os_user": "svc-audit",
        "ci": None,
        "azure_principal": None,
    }


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_register_record_names_the_commit_and_local_changes(tmp_path: Path) -> None:
    repo = tmp_path / "governance"
    (repo / "risk").mkdir(parents=True)
    register = repo / "risk" / "exceptions.toml"
    register.write_text("# nothing accepted yet\n")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "register")
    head = _git(repo, "rev-parse", "HEAD")
    record = register_record(register)
    assert record["file"] == "exceptions.toml" and len(record["sha256"]) == 64
    assert record["git"] == {"commit": head, "path": "risk/exceptions.toml", "tracked": True, "modified": False}
    register.write_text("# edited after review\n")
    assert git_record(register) == {"commit": head, "path": "risk/exceptions.toml", "tracked": True, "modified": True}
    untracked = repo / "risk" / "other.toml"
    untracked.write_text("")
    assert git_record(untracked) == {"commit": head, "path": "risk/other.toml", "tracked": False, "modified": None}


def test_register_record_without_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    register = tmp_path / "exceptions.toml"
    register.write_text("")
    assert register_record(register)["git"] is None  # not a work tree
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))  # git absent
    assert register_record(register) == {
        "file": "exceptions.toml",
        "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "git": None,
    }
