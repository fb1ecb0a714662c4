"""queries.lock: released query versions are immutable; new behaviour goes into a new version."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from auditor.errors import QueryError
from auditor.kql.catalog import Catalog

LOCK_FORMAT = "auditor-queries-lock/1"
LOCK_NAME = "queries.lock"


@dataclass(frozen=True)
class LockProblem:
    """One way the catalog disagrees with its lock."""

    ref: str
    kind: str
    """`changed` (a released file's hash differs), `missing` (a released file is gone), `unreleased` (no entry)."""

    def message(self) -> str:
        """One line for the user."""
        return {
            "changed": f"{self.ref}: released template changed; put new behaviour in a new version",
            "missing": f"{self.ref}: released template is missing",
            "unreleased": f"{self.ref}: not in queries.lock; release it with `auditor query lock`",
        }[self.kind]


def read_lock(catalog: Catalog) -> dict[str, str]:
    """The released versions and their sha256, by `id@vN`."""
    path = catalog.root / LOCK_NAME
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise QueryError(f"{path} is not valid JSON: {exc.msg}", "restore it from version control") from exc
    if not isinstance(data, dict) or data.get("format") != LOCK_FORMAT or not isinstance(data.get("released"), dict):
        raise QueryError(f"{path}: expected {{'format': '{LOCK_FORMAT}', 'released': {{...}}}}", "restore it")
    return {str(k): str(v) for k, v in data["released"].items()}


def check(catalog: Catalog) -> list[LockProblem]:
    """Compare every version file with the lock."""
    released = read_lock(catalog)
    problems: list[LockProblem] = []
    present = {v.ref: v for v in catalog.all_versions()}
    for ref, digest in sorted(released.items()):
        if ref not in present:
            problems.append(LockProblem(ref, "missing"))
        elif present[ref].sha256 != digest:
            problems.append(LockProblem(ref, "changed"))
    problems.extend(LockProblem(ref, "unreleased") for ref in sorted(present) if ref not in released)
    return problems


def release(catalog: Catalog) -> list[str]:
    """Add every unreleased version to the lock; refuses when a released file changed. Returns the new refs."""
    blocking = [p for p in check(catalog) if p.kind != "unreleased"]
    if blocking:
        raise QueryError(blocking[0].message(), "restore the released file and add a new version instead")
    released = read_lock(catalog)
    added = []
    for version in catalog.all_versions():
        if version.ref not in released:
            released[version.ref] = version.sha256
            added.append(version.ref)
    path: Path = catalog.root / LOCK_NAME
    payload = {"format": LOCK_FORMAT, "released": dict(sorted(released.items()))}
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return added
