"""The root Typer app: registers one sub-app or command per module and maps errors to exit codes."""

from __future__ import annotations

import logging
import sys

import typer

from auditor import __version__
from auditor.bounded import NestedTooDeeply
from auditor.cli import history, keygen, policy, query, report, scan, snapshot, verify
from auditor.cli.common import err, new_app, report_error
from auditor.errors import AuditorError, ExitCode
from auditor.names import terminal_text

app = new_app(
    name="auditor",
    help="Patch-compliance auditor for Azure Update Manager.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
_state = {"debug": False}


class _InertFormatter(logging.Formatter):
    """Log lines quote names from packs, snapshots and ARM (WeasyPrint quotes a refused URL): their control
    characters are shown as escapes, as on the consoles."""

    def format(self, record: logging.LogRecord) -> str:
        return terminal_text(super().format(record), layout=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"auditor {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks and debug logs."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Patch-compliance auditor for Azure Update Manager."""
    _state["debug"] = debug
    # Logs go to stderr, so stdout stays clean for --json; --debug also shows the Azure SDK's request log.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_InertFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, handlers=[handler])
    if not debug:
        logging.getLogger("azure").setLevel(logging.ERROR)


app.command("scan")(scan.scan_command)
app.command("history")(history.history_command)
app.command("verify")(verify.verify_command)
app.command("report")(report.report_command)
app.command("keygen")(keygen.keygen_command)
app.add_typer(query.app, name="query", help="The versioned KQL query catalog.")
app.add_typer(policy.app, name="policy", help="Patch policy as code: validate, plan, deploy, remediate, status.")
app.add_typer(snapshot.app, name="snapshot", help="Make snapshots (synthetic or captured).")


def main() -> None:
    """Console-script entry point: run the app, turning AuditorError into one line and an exit code."""
    try:
        app()
    except AuditorError as error:
        if _state["debug"]:
            raise
        sys.exit(report_error(error))
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
        err.print("interrupted")
        sys.exit(int(ExitCode.INCOMPLETE))
