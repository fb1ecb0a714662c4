"""manifest.json: validated against the committed schema, and recording everything the issue asks for."""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from auditor import __version__
from auditor.compliance.evaluate import REQUIRED_QUERIES
from auditor.config import config_from_dict
from auditor.digests import sha256_file
from auditor.evidence.assemble import query_entry
from auditor.evidence.manifest import SCHEMA_PATH, parse_manifest, schema_errors
from auditor.kql.catalog import Catalog
from auditor.reports.interface import QueryRecord
from tests.summaries import typed
from tests.unit.test_evidence_pack import THRESHOLDS, make_pack


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pack(tmp_path_factory.mktemp("packs")).pack


@pytest.fixture(scope="module")
def manifest(pack: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((pack / "manifest.json").read_text())
    return loaded


def test_schema_is_a_valid_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(json.loads(SCHEMA_PATH.read_text()))


def test_manifest_validates(pack: Path, manifest: dict[str, Any]) -> None:
    jsonschema.validate(manifest, json.loads(SCHEMA_PATH.read_text()))
    assert parse_manifest((pack / "manifest.json").read_bytes()) == manifest


@pytest.mark.parametrize(
    ("edit", "where"),
    [
        (lambda m: m.pop("files"), "(top level)"),
        (lambda m: m["files"][0].update(sha256="XYZ"), "files/0/sha256"),
        (lambda m: m["files"][0].update(path="../escape"), "files/0/path"),
        (lambda m: m["files"][0].update(extra=1), "files/0"),
        (lambda m: m.update(as_of="yesterday"), "as_of"),
        (lambda m: m["queries"][0].pop("text"), "queries/0"),
        (lambda m: m["evidence"][0]["columns"][0].pop("type"), "evidence/0/columns/0"),
        # Keys auditor writes beyond the required ones have their types too (the Manifest type relies on it).
        (lambda m: m["rules"]["parameters"].update(unknown_age_counts_as_overdue="yes"), "rules/parameters/unknown"),
        (lambda m: m["rules"]["thresholds"][0].update(severity=1), "rules/thresholds/0/severity"),
        (lambda m: m.update(period={"format": "auditor-period/1", "period": "2026-11"}), "period"),
        (
            lambda m: m.update(
                operator={
                    "host": "h",
                    "os_user": None,
                    "azure_principal": None,
                    "ci": {"system": "github_actions", "url": "u", "run_id": "1", "attempt": 2},
                }
            ),
            "operator/ci/attempt",
        ),
    ],
)
def test_schema_rejects_broken_manifests(manifest: dict[str, Any], edit: Any, where: str) -> None:
    broken = copy.deepcopy(manifest)
    edit(broken)
    errors = schema_errors(broken)
    assert errors and errors[0].startswith(where), errors


def test_header_records_provenance_and_config(manifest: dict[str, Any]) -> None:
    config = config_from_dict(THRESHOLDS)
    assert manifest["format"] == "auditor-pack/1"
    assert manifest["tool"] == {"name": "auditor", "version": __version__}
    assert manifest["as_of"] == "2026-11-01T00:00:00Z"
    assert manifest["run_id"] and manifest["generated_at"].endswith("Z")
    assert manifest["source"] == {
        "kind": "memory",
        "tenant_id": "tenant-0",
        "scope": {"subscriptions": ["11111111-1111-1111-1111-111111111111"]},
    }
    assert manifest["config"] == {"sha256": config.sha256(), "effective": config.model_dump(mode="json")}


def test_rules_in_force_in_words(manifest: dict[str, Any]) -> None:
    rules = manifest["rules"]
    assert rules["parameters"]["sla"] == {"Critical": 15, "Security": 30}
    assert rules["parameters"]["environment_tag"] == "Environment"
    assert rules["parameters"]["environment_aliases"] == {"Development": ["dev"], "Production": ["prod"]}
    assert rules["parameters"]["max_assessment_age_days"] == 7
    text = " ".join(rules["statements"])
    for needle in (
        "'Environment'",
        "Production = prod",
        "7 days",
        "Critical 15 days, Security 30 days",
        "smallest",
        "unknown",
        "half-up",
    ):
        assert needle in text
    requirements = [t["requirement"] for t in rules["thresholds"]]
    assert "compliance rate must be at least 90.00%" in requirements
    assert "compliance rate of environment Production must be at least 95.00%" in requirements
    assert "machines with an overdue patch of classification Critical must be at most 0 machines" in requirements


def test_queries_record_template_text_and_evidence(manifest: dict[str, Any]) -> None:
    catalog = Catalog()
    ids = [q["id"] for q in manifest["queries"]]
    assert ids == list(REQUIRED_QUERIES)
    columns = {e["path"]: e["columns"] for e in manifest["evidence"]}
    rows = {e["path"]: e["rows"] for e in manifest["evidence"]}
    for query in manifest["queries"]:
        definition, _ = catalog.get(query["id"])
        assert query["template_sha256"] == definition.version(query["version"]).sha256
        assert query["rendered_sha256"] == hashlib.sha256(query["text"].encode()).hexdigest()
        assert query["evidence"] == f"evidence/{query['id']}@v{query['version']}.jsonl.gz"
        assert [(c["name"], c["type"]) for c in columns[query["evidence"]]] == list(definition.columns)
        assert rows[query["evidence"]] == query["rows"]
    assert manifest["queries"][0]["rows"] == 5


def test_every_other_file_is_hashed(pack: Path, manifest: dict[str, Any]) -> None:
    on_disk = sorted(p.relative_to(pack).as_posix() for p in pack.rglob("*") if p.is_file())
    listed = [f["path"] for f in manifest["files"]]
    assert listed == [p for p in on_disk if p not in ("manifest.json", "manifest.sig")]
    for entry in manifest["files"]:
        assert entry["sha256"] == sha256_file(pack / entry["path"])
        assert entry["size"] == (pack / entry["path"]).stat().st_size


def test_unsigned_pack_has_no_signing_block(pack: Path, manifest: dict[str, Any]) -> None:
    assert "signing" not in manifest and not (pack / "manifest.sig").exists()


def test_query_entry_records_the_live_response_hash_when_present() -> None:
    record = QueryRecord(
        id="q",
        version=1,
        template_sha256="a" * 64,
        rendered_sha256="b" * 64,
        rows=0,
        evidence="evidence/q@v1.jsonl.gz",
        complete=True,
        text="resources",
    )
    assert "response_sha256" not in query_entry(record)
    assert query_entry(replace(record, response_sha256="c" * 64))["response_sha256"] == "c" * 64


def test_manifest_rules_include_the_evaluations_own_rules() -> None:
    from auditor.config import Config
    from auditor.evidence.methodology import rules_in_force

    summary = {
        "exceptions_rules": ["An exception needs an owner."],
        "schedules": {"rules": {"expiry": "Expiry rule.", "concurrency": "Concurrency rule."}},
        "failure_patterns": {"rule": "Flag rule.", "window_rule": "Window rule."},
    }
    statements = rules_in_force(Config(), [], typed(summary))["statements"]
    assert statements[-5:] == [
        "An exception needs an owner.",
        "Concurrency rule.",
        "Expiry rule.",
        "Flag rule.",
        "Window rule.",
    ]
    assert rules_in_force(Config(), [])["statements"] == rules_in_force(Config(), [], typed({}))["statements"]
