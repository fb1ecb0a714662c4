"""The root Typer app: registers one sub-app or command per module and maps errors to exit codes."""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType

import typer

from auditor import __version__
from auditor.bounded import NestedTooDeeply
from auditor.cli import history, keygen, policy, query, report, scan, snapshot, verify
from auditor.cli.common import err, new_app, report_error
from auditor.cli.logs import hoist_debug, setup_logging
from auditor.errors import NO_SPACE_ERRNOS, AuditorError, ExitCode, NoSpaceError, no_space

app = new_app(
    name="auditor",
    help="Patch-compliance auditor for Azure Update Manager.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
_state = {"debug": False, "interrupted": False}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"auditor {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    debug: bool = typer.Option(
        False, "--debug", help="Show tracebacks and debug logs (also accepted after the command)."
    ),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Patch-compliance auditor for Azure Update Manager."""
    _state["debug"] = debug
    # Logs go to stderr, so stdout stays clean for --json; --debug also shows the Azure SDK's request log.
    setup_logging(debug)


app.command("scan")(scan.scan_command)
app.command("history")(history.history_command)
app.command("verify")(verify.verify_command)
app.command("report")(report.report_command)
app.command("keygen")(keygen.keygen_command)
app.add_typer(query.app, name="query", help="The versioned KQL query catalog.")
app.add_typer(policy.app, name="policy", help="Patch policy as code: validate, plan, deploy, remediate, status.")
app.add_typer(snapshot.app, name="snapshot", help="Make snapshots (synthetic or captured).")


def _interrupted(_signum: int, _frame: FrameType | None) -> None:
    # Typer turns KeyboardInterrupt into a silent exit 130; the user gets one line saying why.
    _state["interrupted"] = True
    signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C stops the cleanup too
    err.print("interrupted (Ctrl-C)")
    raise KeyboardInterrupt


def main() -> None:
    """Console-script entry point: run the app, turning AuditorError into one line and an exit code.

    Ctrl-C is one line and exit 130 (the shell's code for SIGINT); a full disk is its own error and exit code
    wherever it strikes, as no command can do anything about it.
    """
    _state["debug"] = "--debug" in sys.argv[1:]
    _state["interrupted"] = False
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _interrupted)
    try:
        app(args=hoist_debug(sys.argv[1:]), prog_name="auditor")
    except AuditorError as error:
        if _state["debug"]:
            raise
        sys.exit(report_error(no_space(error) or error))
    except OSError as error:
        if _state["debug"] or error.errno not in NO_SPACE_ERRNOS:
            raise
        sys.exit(report_error(NoSpaceError.from_os_error(error)))
    except (RecursionError, NestedTooDeeply):
        # Readers of packs and snapshots turn deep JSON into an error naming the file; this catches any other
        # path (a query row's JSON parsed while judging the fleet), so it is bad input, never "tampered" (1).
        if _state["debug"]:
            raise
        sys.exit(
            report_error(
                AuditorError(
                    "the input holds JSON nested too deeply to parse",
                    "a row, snapshot.json or a pack file nests thousands of levels deep; no real Azure data does",
                )
            )
        )
    except KeyboardInterrupt:
        if not _state["interrupted"]:
            err.print("interrupted (Ctrl-C)")
        sys.exit(int(ExitCode.INTERRUPTED))
