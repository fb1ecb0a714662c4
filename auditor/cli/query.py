"""`auditor query list|show|render|run|check|lock`."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from auditor.cli.common import config_or_default, err, id_column, new_app, out, plain, print_table
from auditor.errors import ExitCode, QueryError
from auditor.kql import lock
from auditor.kql.catalog import Catalog

app = new_app(no_args_is_help=True)


def _params(pairs: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise QueryError(f"--param {pair!r} is not name=value", "write e.g. --param window_days=30")
        params[name.strip()] = value
    return params


@app.command("list")
def list_queries() -> None:
    """List the queries with their current versions."""
    catalog = Catalog()
    table = Table()
    for column in ("id", "current", "versions", "target", "title"):
        table.add_column(column, no_wrap=column == "id")  # ids are never cut or broken
    for query in catalog.queries.values():
        versions = ", ".join(f"v{n}" for n in sorted(query.versions))
        table.add_row(query.id, f"v{query.current}", versions, query.target, query.title)
    print_table(table)


@app.command("show")
def show(ref: str = typer.Argument(..., help="id or id@vN")) -> None:
    """Show a query's metadata and template."""
    query, version = Catalog().get(ref)
    chosen = query.version(version)
    out.print(f"[bold]{chosen.ref}[/] — {query.title}  (target {query.target}, sha256 {chosen.sha256})")
    out.print(query.description, markup=False)
    for param in query.params.values():
        out.print(f"  param {param.name}: {param.type} (default {param.default!r}) {param.description}")
    out.print(f"  columns: {', '.join(f'{n}:{t}' for n, t in query.columns)}")
    out.print(chosen.text, markup=False)


@app.command("render")
def render(
    ref: str = typer.Argument(..., help="id or id@vN"),
    param: list[str] = typer.Option([], "--param", help="name=value (repeatable)."),
) -> None:
    """Print the rendered KQL text."""
    query, version = Catalog().get(ref)
    typer.echo(query.render(_params(param), version=version).text, nl=False)


@app.command("run")
def run(
    ref: str = typer.Argument(..., help="id or id@vN"),
    param: list[str] = typer.Option([], "--param", help="name=value (repeatable)."),
    source: str = typer.Option("sample", "--source", help="sample, snapshot:DIR or azure."),
    limit: int = typer.Option(20, "--limit", help="Rows to print (0 prints all as JSON lines)."),
    config: Path | None = typer.Option(None, "--config", help="auditor.toml (its [azure] section for --source azure)."),
) -> None:
    """Run one query on a source and print its rows."""
    from auditor.config import Config
    from auditor.scan import open_source

    query, version = Catalog().get(ref)
    request = query.render(_params(param), version=version)
    src = open_source(source, config_or_default(config) or Config())
    try:
        result = src.run(request)
    finally:
        src.close()
    rows = result.table.to_pylist()
    if limit == 0:
        for row in rows:
            typer.echo(json.dumps(row))  # ASCII only: a C1 or bidi character in a name reaches no terminal raw
        return
    table = Table(title=f"{request.ref}: {len(rows)} rows")
    cells = [["" if row[n] is None else plain(str(row[n])) for n, _ in request.columns] for row in rows[:limit]]
    for index, (name, _) in enumerate(request.columns):
        if name.lower().endswith("id"):  # machineId, subscriptionId, id: cut, they identify nothing
            id_column(table, name, (line[index] for line in cells))
        else:
            table.add_column(name, overflow="fold")
    for line in cells:
        table.add_row(*line)
    print_table(table)


@app.command("check")
def check(queries: Path | None = typer.Option(None, "--queries", help="Catalog directory.")) -> None:
    """Fail when a released query file changed, is missing or a version is not released."""
    problems = lock.check(Catalog(queries))
    for problem in problems:
        err.print(f"[red]error:[/] {plain(problem.message())}")
    if problems:
        raise typer.Exit(int(ExitCode.BAD_INPUT))
    out.print("query catalog matches queries.lock")


@app.command("lock")
def lock_command(queries: Path | None = typer.Option(None, "--queries", help="Catalog directory.")) -> None:
    """Release every new query version into queries.lock (released versions never change)."""
    added = lock.release(Catalog(queries))
    out.print("released: " + (", ".join(added) if added else "nothing new"))
