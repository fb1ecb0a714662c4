"""The root Typer app: registers one sub-app or command per module and maps errors to exit codes."""

from __future__ import annotations

import logging
import sys

import typer

from auditor import __version__
from auditor.cli import history, keygen, policy, query, report, scan, snapshot, verify
from auditor.cli.common import err, new_app, report_error
from auditor.errors import AuditorError, ExitCode

app = new_app(
    name="auditor",
    help="Patch-compliance auditor for Azure Update Manager.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
_state = {"debug": False}


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
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
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
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(int(ExitCode.INCOMPLETE))
