"""`auditor history`: the trend of past scans."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from auditor.cli.common import config_or_default, out, pct
from auditor.compliance.trend import HistoryRun
from auditor.history import DimensionRate, HistoryStore, default_path


def history_command(
    history: Path | None = typer.Option(
        None, "--history", help="History file (default: [history].path of --config, else the user state directory)."
    ),
    config: Path | None = typer.Option(None, "--config", help="auditor.toml whose [history].path to read."),
    as_json: bool = typer.Option(False, "--json", help="Print the runs as JSON."),
    dimension: str | None = typer.Option(None, "--dimension", help="Also show one dimension, e.g. by_environment."),
) -> None:
    """Show the trend of past scans (oldest first)."""
    settings = config_or_default(config)
    path = history or (settings.history.path if settings is not None else None) or default_path()
    if not path.exists():
        runs: list[HistoryRun] = []
        trend: list[DimensionRate] = []
    else:
        with HistoryStore(path, read_only=True) as store:
            runs = store.runs()
            trend = store.dimension_trend(dimension) if dimension else []
    if as_json:
        typer.echo(json.dumps({"history": str(path), "runs": runs, "dimension": trend}, indent=2))
        return
    table = Table(title=f"Scan history ({path})", title_justify="left")
    for column in ("as of", "machines", "compliance", "change", "unknown", "breaches", "complete"):
        table.add_column(column, justify="left" if column == "as of" else "right")
    previous: float | None = None
    for run in runs:
        rate = run["compliance_rate"]
        change = "" if previous is None or rate is None else f"{rate - previous:+.2f}"
        table.add_row(
            str(run["as_of"]),
            str(run["machines"]),
            pct(rate),
            change,
            pct(run["unknown_rate"]),
            str(run["breaches"]),
            "yes" if run["complete"] else "INCOMPLETE",
        )
        previous = rate
    out.print(table if runs else f"no scans recorded in {path}")
    for row in trend:
        out.print(f"{row['as_of']}  {row['key']:<30} {row['machines']:>8}  {row['compliance_rate']}")
