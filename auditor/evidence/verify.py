"""Verify a pack (directory or zip): every hash, no file missing or added, the manifest's self-consistency, and
the signature.

What verify proves depends on the signature:
- made by a trusted key (`--public-key`, `[evidence] trusted_keys`): the pack is exactly what that key's holder
  signed (integrity and authenticity). Only this verdict passes `auditor verify` by default;
- made by another key, or by a key when none is trusted: nothing changed since someone signed it (integrity
  only; whoever edits the pack can re-sign it with a key of their own);
- unsigned: the files match the manifest (integrity against the manifest only). The manifest is also checked for
  consistency with itself and the reports, which catches careless edits but not a careful rewrite.

The signature is checked first, on the raw manifest bytes, before anything else of the pack is parsed; when trust
is required and not established, compressed evidence is not inflated at all. Every other read is bounded
(`auditor.bounded`), so a crafted pack is a finding, never a MemoryError.

The checks after the signature run in order from CHECKS, each a function of the opened pack that returns its
findings and notes, so a further check (an RFC 3161 time stamp, say) is one more entry.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from auditor.bounded import MAX_SIGNATURE_BYTES, NestedTooDeeply, gzip_lines, loads
from auditor.digests import canonical_json, sha256_hex
from auditor.errors import PackError
from auditor.evidence.files import PackFiles, UnreadableFile, digest, pack_files, read_bytes
from auditor.evidence.manifest import (
    MANIFEST_NAME,
    SIGNATURE_NAME,
    UNHASHED,
    FileEntry,
    Manifest,
    fingerprint,
    parse_manifest,
)
from auditor.evidence.sign import SignatureCheck, check_signature, load_public_key
from auditor.jsonvalue import JsonValue


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


@dataclass
class OpenedPack:
    """What each check sees: the files, the manifest (raw and parsed) and the signature's verdict."""

    files: PackFiles
    manifest_bytes: bytes
    manifest: Manifest | None
    signature: SignatureCheck | None
    """None when the pack is unsigned."""
    trusted_keys: tuple[Ed25519PublicKey, ...]
    inflate: bool
    """Whether compressed content may be parsed: not when trust is required and the signer is not trusted."""
    intact: set[str] = field(default_factory=set)
    """Files whose size and sha256 match the manifest (filled by the hash check, read by later checks)."""


@dataclass(frozen=True)
class CheckResult:
    """What one check found."""

    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Lines for an intact pack's report (what was checked, and against what)."""
    checked: int = 0
    """Files this check compared with the manifest."""


PackCheck = Callable[[OpenedPack], CheckResult]


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of verifying one pack."""

    pack: str
    manifest_sha256: str | None
    files_checked: int
    findings: list[Finding]
    signature: str
    """`unsigned`, `trusted` (made by a trusted key), `untrusted` (sound, by a key not trusted) or `invalid`."""
    signature_detail: str
    signer: str | None = None
    """Key id of the key that signed the manifest, when the signature is sound."""
    notes: list[str] = field(default_factory=list)
    manifest: Manifest | None = field(default=None, repr=False)

    @property
    def intact(self) -> bool:
        """Whether nothing differs: integrity, whoever signed."""
        return not self.findings

    @property
    def authentic(self) -> bool:
        """Whether the pack is intact and signed by a trusted key."""
        return self.intact and self.signature == "trusted"

    def changed_paths(self) -> list[str]:
        """The files named by findings, without repeats."""
        return list(dict.fromkeys(f.path for f in self.findings))


def verify_pack(
    path: Path,
    public_key: Path | Sequence[Path] | None = None,
    *,
    require_trust: bool = False,
    checks: Sequence[PackCheck] | None = None,
) -> VerifyReport:
    """Verify the pack at `path` (a directory or zip) against the public key(s) given; PackError when it is not a
    pack or a key is unreadable. `checks` replaces CHECKS (e.g. with a time-stamp check added)."""
    keys = [public_key] if isinstance(public_key, Path) else list(public_key or [])
    trusted = [load_public_key(key) for key in keys]
    with pack_files(path) as files:
        return verify_files(files, trusted, require_trust=require_trust, checks=checks)


def verify_files(
    files: PackFiles,
    trusted: Sequence[Ed25519PublicKey] | Ed25519PublicKey | None = None,
    *,
    require_trust: bool = False,
    checks: Sequence[PackCheck] | None = None,
) -> VerifyReport:
    """Verify an opened pack: the signature against `trusted` first, then each of `checks` (default CHECKS).

    With `require_trust`, a pack whose signer is not trusted has its files hashed but its compressed evidence
    left unparsed: the verdict is already a failure, and a bomb then costs nothing.
    """
    keys = (trusted,) if isinstance(trusted, Ed25519PublicKey) else tuple(trusted or ())
    try:
        return _verify(files, keys, require_trust, CHECKS if checks is None else checks)
    except NestedTooDeeply as exc:
        # Bad input rather than a changed byte: a file built to crash JSON parsers (exit 2, one line).
        raise PackError(
            f"{files.label}: a file {exc}", "this is not a pack auditor wrote; nothing in it was trusted"
        ) from exc


def _verify(
    files: PackFiles, keys: tuple[Ed25519PublicKey, ...], require_trust: bool, checks: Sequence[PackCheck]
) -> VerifyReport:
    findings: list[Finding] = []
    try:
        data = read_bytes(files, MANIFEST_NAME)
    except UnreadableFile as exc:
        findings.append(Finding(MANIFEST_NAME, "changed", f"cannot be read ({exc})"))
        data = b""
    # The signature first, over the raw bytes: nothing else of the pack has been parsed yet.
    sig_bytes, sig_problem = _read_signature(files)
    check = check_signature(sig_bytes, data, keys) if sig_bytes is not None else None
    manifest: Manifest | None = None
    if data:
        try:
            manifest = parse_manifest(data)
        except ValueError as exc:
            findings.append(Finding(MANIFEST_NAME, "changed", f"not a valid manifest: {exc}"))
    signature, detail, more = _signature_verdict(check, sig_problem, manifest)
    findings += more
    opened = OpenedPack(files, data, manifest, check, keys, inflate=not require_trust or signature == "trusted")
    notes: list[str] = []
    checked = 0
    for run in checks:
        result = run(opened)
        findings += result.findings
        notes += result.notes
        checked += result.checked
    return VerifyReport(
        pack=files.label,
        manifest_sha256=fingerprint(data) if data else None,
        files_checked=checked,
        findings=findings,
        signature=signature,
        signature_detail=detail,
        signer=check.key_id if check is not None and check.valid else None,
        notes=notes,
        manifest=manifest,
    )


def _read_signature(files: PackFiles) -> tuple[bytes | None, Finding | None]:
    """manifest.sig's bytes (None when there is none), or the finding that it cannot be read."""
    if SIGNATURE_NAME not in files.names():
        return None, None
    try:
        return read_bytes(files, SIGNATURE_NAME, MAX_SIGNATURE_BYTES), None
    except UnreadableFile as exc:
        return None, Finding(SIGNATURE_NAME, "changed", f"cannot be read ({exc})")


def _signature_verdict(
    check: SignatureCheck | None, problem: Finding | None, manifest: Manifest | None
) -> tuple[str, str, list[Finding]]:
    """(state, detail, findings) of the signature; findings only for tampering, not for an untrusted signer."""
    declared = manifest.get("signing") if manifest is not None else None
    if problem is not None:
        return "invalid", problem.detail, [problem]
    if check is None:
        if declared is not None:
            detail = f"the manifest says it is signed by key {declared['key_id']}"
            return "invalid", "manifest.sig is missing", [Finding(SIGNATURE_NAME, "missing", detail)]
        return "unsigned", "unsigned: the files match the manifest, but nothing proves the manifest itself", []
    if not check.valid:
        return "invalid", check.detail, [Finding(f"{MANIFEST_NAME}, {SIGNATURE_NAME}", "signature", check.detail)]
    if declared is not None and declared["key_id"] != check.key_id:
        detail = f"signed by {check.key_id}, the manifest names {declared['key_id']}"
        return "invalid", "key mismatch", [Finding(SIGNATURE_NAME, "signature", detail)]
    return ("trusted" if check.trusted else "untrusted"), check.detail, []


def check_hashes(pack: OpenedPack) -> CheckResult:
    """Every file's size and sha256 against the manifest; none missing, none added, nothing irregular."""
    if pack.manifest is None:
        return CheckResult()
    findings: list[Finding] = []
    listed: dict[str, FileEntry] = {}
    for entry in pack.manifest["files"]:
        if entry["path"] in listed or entry["path"] in UNHASHED:
            findings.append(Finding(MANIFEST_NAME, "inconsistent", f"lists {entry['path']} more than once or wrongly"))
        listed[entry["path"]] = entry
    present = set(pack.files.names()) - UNHASHED
    for path in sorted(listed):
        entry = listed[path]
        if path not in present:
            findings.append(Finding(path, "missing", "listed in the manifest but absent"))
            continue
        try:
            size, sha = digest(pack.files, path)
        except UnreadableFile as exc:
            findings.append(Finding(path, "changed", f"cannot be read ({exc})"))
            continue
        if sha != entry["sha256"] or size != entry["size"]:
            what = f"size {size} != {entry['size']}" if size != entry["size"] else "sha256 differs from the manifest"
            findings.append(Finding(path, "changed", what))
        else:
            pack.intact.add(path)
    for path in sorted(present - set(listed)):
        findings.append(Finding(path, "added", "not listed in the manifest"))
    for path, why in pack.files.irregular():
        findings.append(Finding(path, "added", why))
    return CheckResult(findings, checked=len(listed))


def _count_lines(files: PackFiles, path: str) -> int:
    with files.open(path) as raw:
        return sum(1 for _ in gzip_lines(raw))


def _json_file(files: PackFiles, path: str) -> JsonValue:
    document: JsonValue = loads(read_bytes(files, path))
    return document


def check_consistency(pack: OpenedPack) -> CheckResult:
    """Cross-check the manifest with itself and with the intact files it describes."""
    manifest = pack.manifest
    if manifest is None:
        return CheckResult()
    problems: list[str] = []
    config = manifest["config"]
    if sha256_hex(canonical_json(config["effective"])) != config["sha256"]:
        problems.append("config.sha256 does not match the effective config")
    listed = {entry["path"] for entry in manifest["files"]}
    evidence = {entry["path"]: entry for entry in manifest["evidence"]}
    for path, entry in sorted(evidence.items()):
        if path not in listed:
            problems.append(f"evidence {path} is not among the hashed files")
        elif path in pack.intact and pack.inflate:
            try:
                rows = _count_lines(pack.files, path)
            except (OSError, EOFError, ValueError, UnreadableFile) as exc:
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
    problems += _check_reports(pack.files, manifest, pack.intact)
    notes = [] if pack.inflate else ["evidence rows not counted: the signer is not trusted, so nothing was inflated"]
    return CheckResult([Finding(MANIFEST_NAME, "inconsistent", problem) for problem in problems], notes)


def _check_reports(files: PackFiles, manifest: Manifest, intact: set[str]) -> list[str]:
    problems: list[str] = []
    queries = {(q["id"], q["version"]): q for q in manifest["queries"]}
    for name in ("summary.json", "breaches.json"):
        if name not in intact:
            continue
        try:
            document = _json_file(files, name)
        except (ValueError, UnreadableFile) as exc:
            problems.append(f"{name} is not valid JSON ({exc})")
            continue
        if not isinstance(document, dict):
            continue
        if document.get("as_of") != manifest["as_of"]:
            problems.append(f"as_of {manifest['as_of']} differs from {name}'s {document.get('as_of')}")
        entries = document.get("queries", []) if name == "summary.json" else []
        if not isinstance(entries, list):
            problems.append(f"{name}: queries is not a list")
            continue
        for item in entries:
            if not isinstance(item, dict):
                problems.append(f"{name}: a query entry is not an object")
                continue
            ident, version = item.get("id"), item.get("version")
            # What summary.json says may be anything; an id or version of another type matches no query.
            query = queries.get((ident, version)) if isinstance(ident, str) and isinstance(version, int) else None
            if query is None or query["rows"] != item.get("rows") or query["template_sha256"] != item.get("sha256"):
                problems.append(f"query {item.get('id')}@v{item.get('version')} differs from summary.json's")
    return problems


CHECKS: tuple[PackCheck, ...] = (check_hashes, check_consistency)
"""The checks after the signature, in order (check_consistency reads what check_hashes found intact)."""
