"""manifest.json (`auditor-pack/1`): what the pack holds, where it came from, and the sha256 of every file.

The manifest carries everything a replay needs besides the evidence itself: the as-of time, the effective config,
each query's record (with its rendered text) and each evidence file's declared columns. Its JSON Schema is
`auditor/schemas/manifest.v1.json`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Final, NotRequired, TypedDict, TypeGuard

import jsonschema
import pyarrow as pa

from auditor.bounded import loads
from auditor.digests import sha256_file
from auditor.errors import PackError
from auditor.evidence.register_record import RegisterRecord
from auditor.jsonvalue import JsonObject, JsonValue
from auditor.kql.request import ARROW_TYPES, QueryResult
from auditor.names import is_relative_path
from auditor.operator import Operator

MANIFEST_FORMAT = "auditor-pack/1"
MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "manifest.sig"
TIMESTAMP_NAME = "manifest.tsr"
"""The RFC 3161 time-stamp response over manifest.json; it stamps the manifest, so the manifest cannot list it."""
UNHASHED = frozenset({MANIFEST_NAME, SIGNATURE_NAME, TIMESTAMP_NAME})
PROVENANCE_KEYS: Final = ("operator", "scope", "exceptions_register")
"""Manifest keys saying who ran the scan, over what, with which register; a replay keeps the original's."""
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "manifest.v1.json"
_KIND_OF_TYPE = {arrow: kind for kind, arrow in ARROW_TYPES.items()}
PACK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
"""A pack id, matched whole: it names the pack's directory."""


class FileEntry(TypedDict):
    """A hashed file of the pack."""

    path: str
    size: int
    sha256: str


class Column(TypedDict):
    """An evidence column as declared: its name and type (a key of ARROW_TYPES, or Arrow's own name)."""

    name: str
    type: str


class EvidenceEntry(TypedDict):
    """An evidence file: its rows and declared columns, in order."""

    path: str
    rows: int
    columns: list[Column]


class PartitionRequest(TypedDict):
    """One request a live source read a query in: a scope, and a hash partition of it (null for all of it)."""

    scope: str
    partition: int | None
    partitions: int | None
    rows: int
    pages: int


class PartitioningEntry(TypedDict):
    """How a live source read one query."""

    query: str
    key: str | None
    requests: list[PartitionRequest]


class QueryEntry(TypedDict):
    """A query as run: its version, hashes, rows, evidence file and rendered text."""

    id: str
    version: int
    template_sha256: str
    rendered_sha256: str
    rows: int
    evidence: str
    complete: bool
    text: str
    response_sha256: NotRequired[str]
    """Live sources: sha256 of the rows the service returned."""


class Tool(TypedDict):
    """The tool that wrote the pack."""

    name: str
    version: str


class ConfigEntry(TypedDict):
    """The effective config and its sha256 (over its canonical JSON)."""

    sha256: str
    effective: JsonObject


class RuleParameters(TypedDict):
    """The parameters of the normative rules."""

    environment_tag: str
    environment_aliases: dict[str, list[str]]
    max_assessment_age_days: int
    installation_window_days: int
    sla: dict[str, int]
    unknown_age_counts_as_overdue: NotRequired[bool]
    """Written by every version that states it; older packs lack it."""


class ThresholdEntry(TypedDict):
    """A threshold in force and its requirement sentence."""

    rule: str
    dimension: str
    key: str | None
    limit: float
    severity: NotRequired[str]
    query: NotRequired[str]
    requirement: str


class Rules(TypedDict):
    """The rules in force: parameters, the rules in words, and the thresholds."""

    parameters: RuleParameters
    statements: list[str]
    thresholds: list[ThresholdEntry]


class ReplayOf(TypedDict):
    """The pack a replay re-rendered."""

    pack_id: str
    run_id: str
    manifest_sha256: str
    replayed_at: NotRequired[str]


class Signing(TypedDict):
    """The algorithm and key id of the signature in manifest.sig."""

    algorithm: str
    key_id: str


PeriodHeader = TypedDict("PeriodHeader", {"format": str, "period": str, "from": str, "until": str})
"""A monthly review's period: its format (auditor-period/1), the month, and the instants it runs [from, until)."""


class ManifestExtras(TypedDict, total=False):
    """The keys a manifest has only sometimes: provenance, live partitioning, replay, signature, period."""

    operator: Operator
    scope: JsonObject
    exceptions_register: RegisterRecord
    partitioning: list[PartitioningEntry]
    replay_of: ReplayOf
    signing: Signing
    period: PeriodHeader


class ManifestHeader(ManifestExtras):
    """The manifest's description of a run: everything but its format and the file hashes."""

    tool: Tool
    run_id: str
    pack_id: str
    generated_at: str
    as_of: str
    complete: bool
    problems: list[str]
    source: JsonObject
    """The source fingerprint: a snapshot's table hashes, or a live scan's tenant and scopes."""
    config: ConfigEntry
    rules: Rules
    queries: list[QueryEntry]
    evidence: list[EvidenceEntry]


class Manifest(ManifestHeader):
    """manifest.json (auditor-pack/1). Its JSON Schema fixes the type of every key declared here."""

    format: str
    files: list[FileEntry]


def file_entries(root: Path) -> list[FileEntry]:
    """path, size and sha256 of every file in the pack except the manifest and its signature."""
    entries: list[FileEntry] = []
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = file.relative_to(root).as_posix()
        if relative in UNHASHED:
            continue
        entries.append({"path": relative, "size": file.stat().st_size, "sha256": sha256_file(file)})
    return entries


def column_kind(data_type: pa.DataType) -> str:
    """The declared column type (a key of ARROW_TYPES) of an Arrow type; other types keep Arrow's name."""
    return _KIND_OF_TYPE.get(data_type, str(data_type))


def arrow_type(kind: str) -> pa.DataType:
    """The Arrow type of a declared column type; PackError for a type this version cannot read."""
    if kind in ARROW_TYPES:
        return ARROW_TYPES[kind]
    try:
        return pa.type_for_alias(kind)
    except ValueError as exc:
        raise PackError(
            f"manifest.json declares unknown column type {kind!r}", "re-render with a newer auditor"
        ) from exc


def evidence_entries(evidence: Mapping[str, pa.Table]) -> list[EvidenceEntry]:
    """Each evidence file's rows and declared columns, so a replay reads it back with the same types."""
    return [
        {
            "path": path,
            "rows": table.num_rows,
            "columns": [{"name": field.name, "type": column_kind(field.type)} for field in table.schema],
        }
        for path, table in sorted(evidence.items())
    ]


PARTITIONING_KEY: Final = "partitioning"
"""The manifest key recording how a live source read each query: its scopes, batches and hash partitions."""


def partitioning_entries(results: Mapping[str, QueryResult]) -> list[PartitioningEntry]:
    """Each query a live source read, with the requests it was read in and their row counts (empty offline).

    A partition is `hash(<key>) % partitions == partition` on the query's declared key; null for a whole scope.
    """
    return [
        {
            "query": result.request.ref,
            "key": result.request.partition_key,
            "requests": [
                {
                    "scope": piece.scope,
                    "partition": piece.partition,
                    "partitions": piece.partitions,
                    "rows": piece.rows,
                    "pages": piece.pages,
                }
                for piece in result.pieces
            ],
        }
        for result in results.values()
        if result.pieces
    ]


def build_manifest(root: Path, header: ManifestHeader) -> Manifest:
    """The manifest: `header` (tool, run, source, config, rules, queries, evidence) plus the file hashes."""
    return {"format": MANIFEST_FORMAT, **header, "files": file_entries(root)}


def manifest_bytes(manifest: Manifest) -> bytes:
    """The canonical bytes of a manifest (what a signature covers)."""
    return (json.dumps(manifest, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode()


def write_manifest(root: Path, manifest: Manifest) -> bytes:
    """Write manifest.json and return its bytes."""
    data = manifest_bytes(manifest)
    (root / MANIFEST_NAME).write_bytes(data)
    return data


def fingerprint(data: bytes) -> str:
    """The manifest's sha256: the pack's fingerprint."""
    return hashlib.sha256(data).hexdigest()


@cache
def _validator() -> jsonschema.Draft202012Validator:
    """A validator of the committed JSON Schema of auditor-pack/1."""
    schema: JsonObject = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def schema_errors(manifest: JsonValue) -> list[str]:
    """Where `manifest` breaks the schema, one line each (empty when valid)."""
    errors = sorted(_validator().iter_errors(manifest), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(top level)'}: {e.message}" for e in errors]


def _conforms(document: JsonObject) -> TypeGuard[Manifest]:
    """Whether `document` meets the auditor-pack/1 schema, and so holds every key of Manifest with its type."""
    return _validator().is_valid(document)


def parse_manifest(data: bytes) -> Manifest:
    """Parse and schema-check manifest bytes; ValueError with one line when they are not a valid manifest."""
    try:
        document: JsonValue = loads(data)
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors, as is too deep a nesting
        raise ValueError(f"not valid JSON ({exc})") from exc
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    if document.get("format") != MANIFEST_FORMAT:
        raise ValueError(f"format is {document.get('format')!r}, expected {MANIFEST_FORMAT!r}")
    unsafe = unsafe_names(document)
    if unsafe:
        raise ValueError(unsafe[0])
    if not _conforms(document):
        problems = schema_errors(document)
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ValueError(f"does not match the auditor-pack/1 schema: {problems[0]}{more}")
    return document


def _entries(manifest: Mapping[str, object], key: str) -> list[Mapping[str, object]]:
    value = manifest.get(key)
    return [e for e in value if isinstance(e, Mapping)] if isinstance(value, list) else []


def unsafe_names(manifest: Mapping[str, object]) -> list[str]:
    """Each pack id or path in a manifest that is not a plain name, matched whole (any structure is accepted).

    JSON Schema patterns are searched, not matched whole, so a newline can hide a `..` segment from them; these
    names become file names when a pack is verified or re-rendered, so they are checked here first, and the
    message names the offending value rather than a regular expression.
    """
    problems = []
    pack_id = manifest.get("pack_id")
    if isinstance(pack_id, str) and not PACK_ID.fullmatch(pack_id):
        problems.append(f"pack_id {pack_id!r} is not a plain name")
    paths = [("files", e.get("path")) for e in _entries(manifest, "files")]
    paths += [("evidence", e.get("path")) for e in _entries(manifest, "evidence")]
    paths += [("queries", q.get("evidence")) for q in _entries(manifest, "queries")]
    for where, path in paths:
        if isinstance(path, str) and not is_relative_path(path):
            problems.append(f"{where}: path {path!r} is not a plain relative path")
    return problems
