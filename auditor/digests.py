"""Hashes and the canonical JSON they are taken over.

Ground floor: imports nothing of auditor's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def sha256_hex(data: bytes | str) -> str:
    """Hex sha256 of bytes, or of a string's UTF-8 bytes."""
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def canonical_json(value: Any, *, ensure_ascii: bool = True) -> str:
    """Compact JSON with sorted keys: the form config, scope and response hashes are taken over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=ensure_ascii)


def json_sha256(value: Any) -> str:
    """sha256 of a value's canonical JSON."""
    return sha256_hex(canonical_json(value))


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def scope_key(fingerprint: Mapping[str, Any]) -> str:
    """What identifies the estate a scan covered: tenant and scope, not the data's content."""
    return sha256_hex(
        canonical_json({"tenant_id": fingerprint.get("tenant_id", ""), "scope": fingerprint.get("scope", {})})
    )
