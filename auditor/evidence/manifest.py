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
from typing import Any

import jsonschema
import pyarrow as pa

from auditor.bounded import loads
from auditor.digests import sha256_file
from auditor.errors import PackError
from auditor.kql.request import ARROW_TYPES
from auditor.names import is_relative_path

MANIFEST_FORMAT = "auditor-pack/1"
MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "manifest.sig"
UNHASHED = frozenset({MANIFEST_NAME, SIGNATURE_NAME})
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "manifest.v1.json"
_KIND_OF_TYPE = {arrow: kind for kind, arrow in ARROW_TYPES.items()}
PACK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
"""A pack id, matched whole: it names the pack's directory."""


def file_entries(root: Path) -> list[dict[str, Any]]:
    """path, size and sha256 of every file in the pack except the manifest and its signature."""
    entries = []
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


def evidence_entries(evidence: Mapping[str, pa.Table]) -> list[dict[str, Any]]:
    """Each evidence file's rows and declared columns, so a replay reads it back with the same types."""
    return [
        {
            "path": path,
            "rows": table.num_rows,
            "columns": [{"name": field.name, "type": column_kind(field.type)} for field in table.schema],
        }
        for path, table in sorted(evidence.items())
    ]


def build_manifest(root: Path, header: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest: `header` (tool, run, source, config, rules, queries, evidence) plus the file hashes."""
    return {"format": MANIFEST_FORMAT, **header, "files": file_entries(root)}


def manifest_bytes(manifest: Mapping[str, Any]) -> bytes:
    """The canonical bytes of a manifest (what a signature covers)."""
    return (json.dumps(manifest, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode()


def write_manifest(root: Path, manifest: Mapping[str, Any]) -> bytes:
    """Write manifest.json and return its bytes."""
    data = manifest_bytes(manifest)
    (root / MANIFEST_NAME).write_bytes(data)
    return data


def fingerprint(data: bytes) -> str:
    """The manifest's sha256: the pack's fingerprint."""
    return hashlib.sha256(data).hexdigest()


@cache
def schema() -> dict[str, Any]:
    """The committed JSON Schema of auditor-pack/1."""
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded


def schema_errors(manifest: Any) -> list[str]:
    """Where `manifest` breaks the schema, one line each (empty when valid)."""
    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(manifest), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(top level)'}: {e.message}" for e in errors]


def parse_manifest(data: bytes) -> dict[str, Any]:
    """Parse and schema-check manifest bytes; ValueError with one line when they are not a valid manifest."""
    try:
        manifest = loads(data)
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors, as is too deep a nesting
        raise ValueError(f"not valid JSON ({exc})") from exc
    if not isinstance(manifest, dict):
        raise ValueError("not a JSON object")
    if manifest.get("format") != MANIFEST_FORMAT:
        raise ValueError(f"format is {manifest.get('format')!r}, expected {MANIFEST_FORMAT!r}")
    unsafe = unsafe_names(manifest)
    if unsafe:
        raise ValueError(unsafe[0])
    problems = schema_errors(manifest)
    if problems:
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ValueError(f"does not match the auditor-pack/1 schema: {problems[0]}{more}")
    return manifest


def _entries(manifest: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = manifest.get(key)
    return [e for e in value if isinstance(e, Mapping)] if isinstance(value, list) else []


def unsafe_names(manifest: Mapping[str, Any]) -> list[str]:
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
