"""The AuditorError hierarchy and the exit codes the CLI maps them to.

Every error carries one line of message, one line of hint and an exit code, so the CLI can report any failure
without a traceback.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Documented process exit codes (see README)."""

    OK = 0
    """Success: the scan ran, the pack is intact, the plan has no changes."""
    FINDINGS = 1
    """Breaches with --fail-on-breach, a tampered pack, or a plan with changes under --detailed-exitcode."""
    BAD_INPUT = 2
    """Bad input: config, snapshot, query catalog, command-line arguments."""
    INCOMPLETE = 3
    """The data is incomplete: a live source failed, was truncated or was refused access."""


class AuditorError(Exception):
    """Base of every error the CLI turns into one line of message and one line of hint."""

    exit_code: ExitCode = ExitCode.BAD_INPUT

    def __init__(self, message: str, hint: str = "", *, exit_code: ExitCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


class ConfigError(AuditorError):
    """auditor.toml (or another user-written file) is missing, unreadable or invalid."""


class SnapshotError(AuditorError):
    """A snapshot directory is missing, malformed or fails its integrity checks."""


class QueryError(AuditorError):
    """The query catalog is inconsistent, a query is unknown, or a parameter is invalid."""


class PackError(AuditorError):
    """An audit pack cannot be written, read or re-rendered."""
