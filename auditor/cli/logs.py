"""Logging for the CLI: everything goes to stderr (stdout stays clean for --json and -q), libraries stay quiet.

Third-party loggers (WeasyPrint, fontTools, the Azure SDK) log at INFO and DEBUG freely and warn about things a
user can do nothing about; they stay at WARNING (the Azure SDK at ERROR: its warnings repeat our own retries)
unless --debug, and the known harmless warnings below are dropped.
"""

from __future__ import annotations

import logging
import sys

from auditor.names import terminal_text

QUIET_LIBRARIES = {"weasyprint": logging.WARNING, "fontTools": logging.WARNING, "azure": logging.ERROR}
"""Library loggers and the level they keep unless --debug."""
HARMLESS = (
    # WeasyPrint without a working libharfbuzz-subset embeds whole fonts instead of subsets: a larger PDF, the same
    # pages. Installing libharfbuzz-subset0 removes the cause (see README, Setup).
    ("weasyprint", 'Unable to subset "%s" with HarfBuzz'),
)
"""(logger name, message template) of warnings that change nothing a user sees."""
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _StderrHandler(logging.Handler):
    """Writes to whatever sys.stderr is at the time of the record (tests and Typer's runner swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


class InertFormatter(logging.Formatter):
    """Log lines quote names from packs, snapshots and ARM (WeasyPrint quotes a refused URL): their control
    characters are shown as escapes, as on the consoles."""

    def format(self, record: logging.LogRecord) -> str:
        """The formatted line with its control characters made visible."""
        return terminal_text(super().format(record), layout=True)


class HarmlessFilter(logging.Filter):
    """Drops the records listed in HARMLESS."""

    def filter(self, record: logging.LogRecord) -> bool:
        """False for a known harmless record."""
        return not any(record.name.startswith(name) and record.msg == message for name, message in HARMLESS)


def setup_logging(debug: bool) -> None:
    """Route logging to stderr at WARNING (DEBUG with `debug`), quieting the libraries in QUIET_LIBRARIES.

    Safe to call more than once in a process: the handler it installs replaces the previous one.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _StderrHandler):
            root.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(InertFormatter(FORMAT))
    if not debug:
        handler.addFilter(HarmlessFilter())
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.WARNING)
    for name, level in QUIET_LIBRARIES.items():
        logging.getLogger(name).setLevel(logging.DEBUG if debug else level)


def hoist_debug(argv: list[str]) -> list[str]:
    """Move `--debug` given after a command (`auditor scan --debug`) to the front, where the root option is read.

    Only arguments before a `--` separator count; everything after it is left as written.
    """
    end = argv.index("--") if "--" in argv else len(argv)
    if "--debug" not in argv[:end]:
        return argv
    return ["--debug", *[arg for arg in argv[:end] if arg != "--debug"], *argv[end:]]
