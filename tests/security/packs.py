"""Shared pieces for the attack tests on packs: a small signed pack, a forger's rewrite, and the CLI in-process."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auditor.evidence.manifest import manifest_bytes
from auditor.evidence.sign import signature_bytes, signature_document


def copy(pack: Path, target: Path) -> Path:
    """A scratch copy of a pack directory."""
    return Path(shutil.copytree(pack, target))


def manifest(pack: Path) -> dict[str, Any]:
    """The pack's manifest, parsed."""
    loaded: dict[str, Any] = json.loads((pack / "manifest.json").read_text(encoding="utf-8"))
    return loaded


def forge(pack: Path, data: dict[str, Any], key: Ed25519PrivateKey | None = None) -> None:
    """What a forger does: rehash every file into the manifest, rewrite it, and sign it with a key of their own
    (or drop the signature)."""
    data["files"] = [
        {
            "path": path.relative_to(pack).as_posix(),
            "size": path.stat().st_size,
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        }
        for path in sorted(pack.rglob("*"))
        if path.is_file() and path.name not in ("manifest.json", "manifest.sig")
    ]
    data.pop("signing", None)
    (pack / "manifest.sig").unlink(missing_ok=True)
    raw = manifest_bytes(data)
    (pack / "manifest.json").write_bytes(raw)
    if key is not None:
        (pack / "manifest.sig").write_bytes(signature_bytes(signature_document(key, raw)))
