"""manifest.json's `exceptions_register`: which exceptions.toml a scan applied, by sha256 and, where the file lives in
a git work tree, by commit.

A reviewer can then find the reviewed version of the register in the repository (`git show COMMIT:PATH`) and see
whether the scan used it as committed or with local changes. Git is optional: without it, or outside a work tree,
the record has the hash only.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TypedDict

from auditor.digests import sha256_file

GIT_TIMEOUT = 10.0
"""Seconds a git call may take; a hung git (a network file system, a lock) must not hold up the scan."""


class GitRecord(TypedDict):
    """Where the register lives in git: the work tree's commit, the file's path in it, and its state."""

    commit: str
    path: str
    tracked: bool
    modified: bool | None
    """None when the file is untracked: it is in no commit to compare with."""


class RegisterRecord(TypedDict):
    """manifest.json's `exceptions_register`."""

    file: str
    sha256: str
    git: GitRecord | None


def _git(directory: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(directory), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):  # git absent, not executable, or hung
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_record(path: Path) -> GitRecord | None:
    """The commit of the work tree holding `path`, the file's path in it, and whether it is tracked or modified.

    None when git is absent or `path` is not in a work tree with at least one commit.
    """
    directory = path.parent
    top = _git(directory, "rev-parse", "--show-toplevel")
    commit = _git(directory, "rev-parse", "HEAD") if top else None
    if top is None or commit is None:
        return None
    try:
        relative = path.resolve().relative_to(Path(top).resolve()).as_posix()
    except ValueError:
        return None
    tracked = _git(directory, "ls-files", "--error-unmatch", "--", path.name) is not None
    status = _git(directory, "status", "--porcelain", "--", path.name)
    return {
        "commit": commit,
        "path": relative,
        "tracked": tracked,
        # Untracked, the file is in no commit, so "modified" has nothing to compare with.
        "modified": bool(status) if tracked and status is not None else None,
    }


def register_record(path: Path) -> RegisterRecord:
    """manifest.json's `exceptions_register` for the register file at `path` (already validated by the scan)."""
    return {"file": path.name, "sha256": sha256_file(path), "git": git_record(path)}
