"""`auditor history`: the trend of past scans."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import typer
from rich.table import Table

from auditor.cli.common import config_or_default, out, pct, print_table
from auditor.compliance.metrics import DIMENSIONS
from auditor.compliance.remediation import MonthTrend, monthly_trend
from auditor.compliance.trend import HistoryRun
from auditor.errors import ConfigError
from auditor.history import DimensionRate, HistoryStore, default_path


def history_command(
    history: Path | None = typer.Option(
        None, "--history", help="History file (default: [history].path of --config, else the user state directory)."
    ),
    config: Path | None = typer.Option(None, "--config", help="auditor.toml whose [history].path to read."),
    as_json: bool = typer.Option(False, "--json", help="Print the runs as JSON."),
    dimension: str | None = typer.Option(
        None, "--dimension", help=f"Also show one dimension: {', '.join(DIMENSIONS)}."
    ),
) -> None:
    """Show the trend of past scans (oldest first)."""
    if dimension is not None and dimension not in DIMENSIONS:
        raise ConfigError(
            f"--dimension {dimension!r} is not a dimension of the history",
            f"use one of {', '.join(DIMENSIONS)}",
        )
    settings = config_or_default(config)
    path = history or (settings.history.path if settings is not None else None) or default_path()
    if not path.exists():
        runs: list[HistoryRun] = []
        trend: list[DimensionRate] = []
        remediation: list[MonthTrend] = []
    else:
        with HistoryStore(path, read_only=True) as store:
            try:
                runs = store.runs()
                trend = store.dimension_trend(dimension) if dimension else []
                remediation = monthly_trend(runs, remediated=store.remediated())
            except duckdb.CatalogException:  # a DuckDB file no scan has recorded into yet
                runs, trend, remediation = [], [], []
    if as_json:
        document = {"history": str(path), "runs": runs, "dimension": trend, "remediation": remediation}
        typer.echo(json.dumps(document, indent=2))
        return
    table = Table(title=f"Scan history ({path})", title_justify="left")
    for column in ("as of", "machines", "compliance", "change", "unknown", "breaches", "complete"):
        table.add_column(column, justify="left" if column == "as of" else "right", no_wrap=True)
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
    if runs:
        print_table(table)
    else:
        out.print(f"no scans recorded in {path}")
    for row in trend:
        out.print(f"{row['as_of']}  {row['key']:<30} {row['machines']:>8}  {row['compliance_rate']}")
    if remediation:
        months = Table(title="Remediation timeliness by month", title_justify="left")
        for column in ("month", "last scan", "within SLA", "p90 days", "left pending (history)", "p90 days (history)"):
            months.add_column(column, justify="left" if column in ("month", "last scan") else "right")
        for month in remediation:
            months.add_row(
                month["month"],
                month["as_of"] or "",
                pct(month["within_sla_rate"]),
                "" if month["p90_days"] is None else str(month["p90_days"]),
                str(month["remediated_from_history"]),
                "" if month["history_p90_days"] is None else str(month["history_p90_days"]),
            )
        out.print(months)
