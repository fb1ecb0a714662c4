"""The AuditorError hierarchy and the exit codes the CLI maps them to.

Every error carries one line of message, one line of hint and an exit code, so the CLI can report any failure
without a traceback.
"""

from __future__ import annotations

import errno
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
    """The data is incomplete: a live source failed, was truncated or was refused access; or sign-in failed."""
    BUSY = 4
    """A file another process holds (the history file, locked by a concurrent scan) stayed locked: retry later."""
    NO_SPACE = 5
    """The disk (or quota) is full: nothing was committed; free space and run again."""
    INTERRUPTED = 130
    """Ctrl-C (SIGINT), the shell's convention of 128 + 2: nothing unfinished was committed."""


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


class NoSpaceError(AuditorError):
    """The disk or the user's quota is full. Not bad input: the same command succeeds once there is room."""

    exit_code = ExitCode.NO_SPACE

    @classmethod
    def from_os_error(cls, error: OSError) -> NoSpaceError:
        """The one-line error for an ENOSPC/EDQUOT OSError, naming the file it struck."""
        where = f" while writing {error.filename}" if error.filename else ""
        return cls(
            f"no space left on the device{where}",
            "free disk space (or raise the quota) and run again; nothing unfinished was kept",
        )


NO_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


def no_space(error: BaseException) -> NoSpaceError | None:
    """A NoSpaceError when `error`, or any error it was raised from, is a full disk; else None.

    Layers wrap OSError in their own errors (a report that cannot be written is a RenderError); a full disk
    must still be reported as such, with its own exit code, whichever layer it surfaced in.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, NoSpaceError):
            return current
        if isinstance(current, OSError) and current.errno in NO_SPACE_ERRNOS:
            return NoSpaceError.from_os_error(current)
        current = current.__cause__ or current.__context__
    return None
