"""Verify a pack (directory or zip): every hash, no file missing or added, the manifest's self-consistency, and
the signature.

What verify proves depends on the signature:
- checked against a public key obtained separately (`--public-key`): the pack is exactly what that key's holder
  signed (integrity and authenticity);
- checked against the key embedded in manifest.sig: nothing changed since someone signed it (integrity only;
  whoever edits the pack can re-sign it with a key of their own);
- unsigned: the files match the manifest (integrity against the manifest only). The manifest is also checked for
  consistency with itself and the reports, which catches careless edits but not a careful rewrite.

A time stamp (manifest.tsr, RFC 3161; see `timestamp`) is checked against the authority's CA when one is given: it
proves the manifest existed no later than the authority's time.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from auditor.digests import canonical_json, sha256_hex
from auditor.evidence.files import PackFiles, UnreadableFile, digest, pack_files, read_bytes
from auditor.evidence.manifest import (
    MANIFEST_NAME,
    SIGNATURE_NAME,
    TIMESTAMP_NAME,
    UNHASHED,
    fingerprint,
    parse_manifest,
)
from auditor.evidence.sign import check_signature, load_public_key
from auditor.evidence.timestamp import StampCheck, check_stamp, load_ca


@dataclass(frozen=True)
class Finding:
    """One way the pack differs from what its manifest (or signature) says."""

    path: str
    """The file concerned, relative to the pack root."""
    kind: str
    """`changed`, `missing`, `added`, `inconsistent`, `signature` or `timestamp`."""
    detail: str

    def line(self) -> str:
        """One line for the report."""
        return f"{self.kind:<12} {self.path}: {self.detail}"


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of verifying one pack."""

    pack: str
    manifest_sha256: str | None
    files_checked: int
    findings: list[Finding]
    signature: str
    """`unsigned`, `trusted` (valid for --public-key), `embedded` (valid for its own key) or `invalid`."""
    signature_detail: str
    manifest: Mapping[str, Any] | None = field(default=None, repr=False)
    timestamp: StampCheck = field(default_factory=lambda: StampCheck("unstamped", "not time-stamped"))
    """manifest.tsr: the RFC 3161 time stamp over the manifest, and whether it verified against the CA."""

    @property
    def intact(self) -> bool:
        """Whether nothing differs."""
        return not self.findings

    def changed_paths(self) -> list[str]:
        """The files named by findings, without repeats."""
        return list(dict.fromkeys(f.path for f in self.findings))


def verify_pack(path: Path, public_key: Path | None = None, tsa_ca: Path | None = None) -> VerifyReport:
    """Verify the pack at `path` (a directory or zip); PackError when it is not a pack or the key is unreadable.

    With `tsa_ca` the time stamp (manifest.tsr) must verify against that CA, and a pack without one is a finding.
    """
    trusted = load_public_key(public_key) if public_key is not None else None
    ca = load_ca(tsa_ca) if tsa_ca is not None else None
    with pack_files(path) as files:
        return verify_files(files, trusted, ca, require_stamp=ca is not None)


def verify_files(
    files: PackFiles,
    trusted: Ed25519PublicKey | None = None,
    tsa_ca: list[x509.Certificate] | None = None,
    *,
    require_stamp: bool = False,
) -> VerifyReport:
    """Verify an opened pack (with `require_stamp`, a pack without manifest.tsr is a finding)."""
    findings: list[Finding] = []
    try:
        data = read_bytes(files, MANIFEST_NAME)
    except UnreadableFile as exc:
        findings.append(Finding(MANIFEST_NAME, "changed", f"cannot be read ({exc})"))
        data = b""
    manifest: dict[str, Any] | None = None
    if data:
        try:
            manifest = parse_manifest(data)
        except ValueError as exc:
            findings.append(Finding(MANIFEST_NAME, "changed", f"not a valid manifest: {exc}"))
    checked = 0
    if manifest is not None:
        checked, file_findings, intact_paths = _check_files(files, manifest)
        findings += file_findings
        findings += _check_consistency(files, manifest, intact_paths)
    signature, detail, sig_findings = _check_signature(files, data, manifest, trusted)
    findings += sig_findings
    stamp, stamp_findings = _check_timestamp(files, data, tsa_ca, require_stamp)
    findings += stamp_findings
    return VerifyReport(
        pack=files.label,
        manifest_sha256=fingerprint(data) if data else None,
        files_checked=checked,
        findings=findings,
        signature=signature,
        signature_detail=detail,
        manifest=manifest,
        timestamp=stamp,
    )


def _check_files(files: PackFiles, manifest: Mapping[str, Any]) -> tuple[int, list[Finding], set[str]]:
    findings: list[Finding] = []
    listed: dict[str, Mapping[str, Any]] = {}
    for entry in manifest["files"]:
        if entry["path"] in listed or entry["path"] in UNHASHED:
            findings.append(Finding(MANIFEST_NAME, "inconsistent", f"lists {entry['path']} more than once or wrongly"))
        listed[entry["path"]] = entry
    present = set(files.names()) - UNHASHED
    intact: set[str] = set()
    for path in sorted(listed):
        entry = listed[path]
        if path not in present:
            findings.append(Finding(path, "missing", "listed in the manifest but absent"))
            continue
        try:
            size, sha = digest(files, path)
        except UnreadableFile as exc:
            findings.append(Finding(path, "changed", f"cannot be read ({exc})"))
            continue
        if sha != entry["sha256"] or size != entry["size"]:
            what = f"size {size} != {entry['size']}" if size != entry["size"] else "sha256 differs from the manifest"
            findings.append(Finding(path, "changed", what))
        else:
            intact.add(path)
    for path in sorted(present - set(listed)):
        findings.append(Finding(path, "added", "not listed in the manifest"))
    for path in files.irregular():
        findings.append(Finding(path, "added", "not a regular file of the pack"))
    return len(listed), findings, intact


def _count_lines(files: PackFiles, path: str) -> int:
    with files.open(path) as raw, gzip.GzipFile(fileobj=raw) as handle:
        return sum(1 for line in handle if line.strip())


def _json_file(files: PackFiles, path: str) -> Any:
    return json.loads(read_bytes(files, path))


def _check_consistency(files: PackFiles, manifest: Mapping[str, Any], intact: set[str]) -> list[Finding]:
    """Cross-check the manifest with itself and with the intact files it describes."""
    problems: list[str] = []
    config = manifest["config"]
    if sha256_hex(canonical_json(config["effective"])) != config["sha256"]:
        problems.append("config.sha256 does not match the effective config")
    listed = {entry["path"] for entry in manifest["files"]}
    evidence = {entry["path"]: entry for entry in manifest["evidence"]}
    for path, entry in sorted(evidence.items()):
        if path not in listed:
            problems.append(f"evidence {path} is not among the hashed files")
        elif path in intact:
            try:
                rows = _count_lines(files, path)
            except (OSError, EOFError, gzip.BadGzipFile, UnreadableFile) as exc:
                problems.append(f"evidence {path} cannot be read ({exc})")
                continue
            if rows != entry["rows"]:
                problems.append(f"evidence {path} holds {rows} rows, the manifest says {entry['rows']}")
    for query in manifest["queries"]:
        ref = f"{query['id']}@v{query['version']}"
        if sha256_hex(query["text"]) != query["rendered_sha256"]:
            problems.append(f"query {ref}: rendered_sha256 does not match its text")
        if query["evidence"] not in evidence:
            problems.append(f"query {ref}: its evidence {query['evidence']} is not described")
        elif evidence[query["evidence"]]["rows"] != query["rows"]:
            problems.append(f"query {ref}: rows {query['rows']} differ from its evidence's")
    problems += _check_reports(files, manifest, intact)
    return [Finding(MANIFEST_NAME, "inconsistent", problem) for problem in problems]


def _check_reports(files: PackFiles, manifest: Mapping[str, Any], intact: set[str]) -> list[str]:
    problems: list[str] = []
    queries = {(q["id"], q["version"]): q for q in manifest["queries"]}
    for name in ("summary.json", "breaches.json"):
        if name not in intact:
            continue
        try:
            document = _json_file(files, name)
        except (ValueError, UnreadableFile):
            problems.append(f"{name} is not valid JSON")
            continue
        if not isinstance(document, dict):
            continue
        if document.get("as_of") != manifest["as_of"]:
            problems.append(f"as_of {manifest['as_of']} differs from {name}'s {document.get('as_of')}")
        for item in document.get("queries", []) if name == "summary.json" else []:
            query = queries.get((item.get("id"), item.get("version")))
            if query is None or query["rows"] != item.get("rows") or query["template_sha256"] != item.get("sha256"):
                problems.append(f"query {item.get('id')}@v{item.get('version')} differs from summary.json's")
    return problems


def _check_timestamp(
    files: PackFiles, data: bytes, ca: list[x509.Certificate] | None, required: bool
) -> tuple[StampCheck, list[Finding]]:
    if TIMESTAMP_NAME not in files.names():
        check = check_stamp(None, data, ca)
        missing = Finding(TIMESTAMP_NAME, "missing", "the pack is not time-stamped, so no CA can vouch for its time")
        return check, [missing] if required else []
    try:
        check = check_stamp(read_bytes(files, TIMESTAMP_NAME), data, ca)
    except UnreadableFile as exc:
        return StampCheck("invalid", str(exc)), [Finding(TIMESTAMP_NAME, "changed", f"cannot be read ({exc})")]
    return check, [Finding(TIMESTAMP_NAME, "timestamp", check.detail)] if check.status == "invalid" else []


def _check_signature(
    files: PackFiles, data: bytes, manifest: Mapping[str, Any] | None, trusted: Ed25519PublicKey | None
) -> tuple[str, str, list[Finding]]:
    declared = (manifest or {}).get("signing")
    if SIGNATURE_NAME not in files.names():
        if declared is not None:
            return (
                "invalid",
                "manifest.sig is missing",
                [Finding(SIGNATURE_NAME, "missing", f"the manifest says it is signed by key {declared['key_id']}")],
            )
        if trusted is not None:
            return (
                "invalid",
                "unsigned",
                [
                    Finding(
                        SIGNATURE_NAME,
                        "missing",
                        "the pack is unsigned, so it cannot be checked against the public key",
                    )
                ],
            )
        return "unsigned", "unsigned: the files match the manifest, but nothing proves the manifest itself", []
    try:
        sig = read_bytes(files, SIGNATURE_NAME)
    except UnreadableFile as exc:
        return "invalid", str(exc), [Finding(SIGNATURE_NAME, "changed", f"cannot be read ({exc})")]
    check = check_signature(sig, data, trusted)
    if not check.valid:
        return "invalid", check.detail, [Finding(f"{MANIFEST_NAME}, {SIGNATURE_NAME}", "signature", check.detail)]
    if declared is not None and declared.get("key_id") != check.key_id and trusted is None:
        return (
            "invalid",
            "key mismatch",
            [
                Finding(
                    SIGNATURE_NAME, "signature", f"signed by {check.key_id}, the manifest names {declared['key_id']}"
                )
            ],
        )
    return ("trusted" if trusted is not None else "embedded"), check.detail, []
