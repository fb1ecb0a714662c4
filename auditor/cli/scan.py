"""`auditor scan`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypedDict

import typer
from rich.table import Table

from auditor.cli.common import config_or_default, out, parse_as_of, pct, plain, print_table, progress_bar, warn
from auditor.compliance.thresholds import BreachRow
from auditor.evidence.sign import load_private_key
from auditor.jsonvalue import JsonValue
from auditor.reports.json import plain as as_json_value
from auditor.scan import ScanResult, scan


def print_summary(result: ScanResult) -> None:
    """The Rich summary: overall, then per environment."""
    s = result.summary
    c = s.counts
    out.print(
        f"[bold]Compliance {pct(c.compliance_rate)}[/] ({pct(c.compliance_rate_without_exceptions)} without "
        f"exceptions)  machines {c.machines}  compliant {c.compliant}  non-compliant {c.non_compliant}  "
        f"unknown {c.unknown}  breaches {s.breaches}  (as of {s.as_of})"
    )
    table = Table(title="By environment", title_justify="left")
    for column in ("Environment", "Machines", "Compliant", "Non-compliant", "Unknown", "Rate", "Without exceptions"):
        table.add_column(column, justify="left" if column == "Environment" else "right", no_wrap=True)
    for row in s.by_environment:
        table.add_row(
            plain(row.key),
            str(row.counts.machines),
            str(row.counts.compliant),
            str(row.counts.non_compliant),
            str(row.counts.unknown),
            pct(row.counts.compliance_rate),
            pct(row.counts.compliance_rate_without_exceptions),
        )
    print_table(table)
    for breach in result.breaches:
        out.print(f"[red]breach[/] {plain(breach.message)}")
    if result.problems:
        out.print("[bold red]INCOMPLETE[/]: " + plain("; ".join(result.problems)))
    out.print(f"pack: {plain(str(result.pack))}")


def scan_command(
    source: str = typer.Option("sample", "--source", help="sample, snapshot:DIR or azure."),
    config: Path | None = typer.Option(None, "--config", help="auditor.toml (default: the sample's with the sample)."),
    out_dir: Path | None = typer.Option(None, "--out", help="Directory for the new pack (default ./audit-packs)."),
    as_of: str | None = typer.Option(None, "--as-of", help="As-of time (RFC 3339); default the snapshot's time."),
    fail_on_breach: bool | None = typer.Option(
        None, "--fail-on-breach/--no-fail-on-breach", help="Exit 1 when thresholds are breached."
    ),
    history: Path | None = typer.Option(None, "--history", help="History file (default: the user state directory)."),
    no_history: bool = typer.Option(False, "--no-history", help="Neither read nor record scan history."),
    quiet: bool = typer.Option(
        False,
        "--quiet",
        "-q",
        help="Print only the pack's path (stdout), and warnings the pack does not record and errors (stderr).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON result object to stdout (logs go to stderr)."),
    sign_key: Path | None = typer.Option(None, "--sign-key", help="Ed25519 private key (PEM) to sign the manifest."),
    zip_pack: bool | None = typer.Option(None, "--zip/--no-zip", help="Also write the pack as one zip file."),
    no_notify: bool = typer.Option(False, "--no-notify", help="Post to none of the [notify] webhooks."),
    no_publish: bool = typer.Option(False, "--no-publish", help="Publish nothing to the [publish] targets."),
    formats: str | None = typer.Option(
        None,
        "--formats",
        help="Reports to write, comma-separated: json (always written), xlsx, pdf. Default: all. "
        "`auditor report PACK` renders the others later.",
    ),
) -> None:
    """Run a full scan into a new audit pack."""
    if sign_key is not None:
        load_private_key(sign_key)  # a bad key fails before a long scan, not after it
    with progress_bar(not quiet and not as_json) as progress:
        result = scan(
            config_or_default(config),
            source=source,
            out=out_dir,
            as_of=parse_as_of(as_of),
            fail_on_breach=fail_on_breach,
            progress=progress,
            sign_key=sign_key,
            zip_pack=zip_pack,
            history=history,
            use_history=False if no_history else None,
            send_notifications=not no_notify,
            publishers=[] if no_publish else None,
            formats=formats.split(",") if formats is not None else None,
        )
    if as_json:
        typer.echo(json.dumps(result_document(result), indent=2))
    elif quiet:
        typer.echo(str(result.pack))  # for scripts: `pack=$(auditor scan -q)`
    else:
        print_summary(result)
    # Quiet keeps what the pack does not say (a lost history entry, a scan that cannot breach); the register's
    # notes are in the pack.
    for warning in result.warnings if quiet else [*result.notes, *result.warnings]:
        warn(warning)
    raise typer.Exit(int(result.exit_code))


class ResultDocument(TypedDict):
    """What `scan --json` prints (auditor-scan-result/1)."""

    format: str
    pack: str
    exit_code: int
    complete: bool
    problems: list[str]
    as_of: str
    machines: int
    compliant: int
    non_compliant: int
    unknown: int
    compliance_rate: float | None
    by_environment: JsonValue
    """summary.json's `by_environment`."""
    breaches: list[BreachRow]
    warnings: list[str]


def result_document(result: ScanResult) -> ResultDocument:
    """The machine-readable result of `scan --json`."""
    s = result.summary
    return ResultDocument(
        format="auditor-scan-result/1",
        pack=str(result.pack),
        exit_code=int(result.exit_code),
        complete=result.complete,
        problems=result.problems,
        as_of=s.as_of,
        machines=s.counts.machines,
        compliant=s.counts.compliant,
        non_compliant=s.counts.non_compliant,
        unknown=s.counts.unknown,
        compliance_rate=s.counts.compliance_rate,
        by_environment=as_json_value(s.by_environment),
        breaches=[b.to_json() for b in result.breaches],
        warnings=[*result.notes, *result.warnings],
    )
