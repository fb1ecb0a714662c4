"""manifest.json (`auditor-pack/1`): what the pack holds, where it came from, and the sha256 of every file."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from auditor.snapshots.format import sha256_file

MANIFEST_FORMAT = "auditor-pack/1"
MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "manifest.sig"
UNHASHED = frozenset({MANIFEST_NAME, SIGNATURE_NAME})


def file_entries(root: Path) -> list[dict[str, Any]]:
    """path, size and sha256 of every file in the pack except the manifest and its signature."""
    entries = []
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = file.relative_to(root).as_posix()
        if relative in UNHASHED:
            continue
        entries.append({"path": relative, "size": file.stat().st_size, "sha256": sha256_file(file)})
    return entries


def build_manifest(root: Path, header: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest: `header` (tool, run, source, config, queries, rules...) plus the file hashes."""
    return {"format": MANIFEST_FORMAT, **header, "files": file_entries(root)}


def write_manifest(root: Path, manifest: Mapping[str, Any]) -> bytes:
    """Write manifest.json and return its bytes (what a signature covers)."""
    data = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode()
    (root / MANIFEST_NAME).write_bytes(data)
    return data


def fingerprint(manifest_bytes: bytes) -> str:
    """The manifest's sha256: the pack's fingerprint."""
    return hashlib.sha256(manifest_bytes).hexdigest()
