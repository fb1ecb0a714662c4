"""`auditor snapshot generate|capture`."""

from __future__ import annotations

from pathlib import Path

import typer

from auditor.cli.common import err, new_app, out, plain
from auditor.errors import ConfigError

app = new_app(no_args_is_help=True)


@app.command("generate")
def generate(
    machines: int = typer.Option(..., "--machines", help="Fleet size."),
    seed: int = typer.Option(0, "--seed", help="Random seed; the same seed gives the same bytes."),
    out_dir: Path = typer.Option(
        ..., "--out", help="Snapshot directory to write: new, empty, or a snapshot that holds nothing else."
    ),
) -> None:
    """Write a seeded synthetic fleet as an auditor-snapshot/1 directory."""
    from rich.progress import Progress

    from auditor.snapshots.generate import generate_fleet

    if machines < 1:
        raise ConfigError(f"--machines {machines} must be at least 1", "pass a positive fleet size")
    with Progress(console=err, transient=True) as bar:
        task = bar.add_task("generating machines", total=machines)
        snapshot = generate_fleet(machines, seed=seed, out=out_dir, progress=lambda n: bar.update(task, completed=n))
    rows = sum(t.rows for t in snapshot.tables.values())
    out.print(f"wrote {plain(str(snapshot.path))} ({machines} machines, {rows} rows)")


@app.command("capture")
def capture(
    out_dir: Path = typer.Option(..., "--out", help="Snapshot directory to write."),
    config: Path = typer.Option(..., "--config", help="auditor.toml with an [azure] section (tenant and scope)."),
) -> None:
    """Capture the live tenant's tables (within [azure]'s scope) into an auditor-snapshot/1 directory."""
    from rich.progress import Progress

    from auditor.config import load_config
    from auditor.sources.azure_settings import require_azure
    from auditor.sources.capture import capture_snapshot

    settings = require_azure(load_config(config), "snapshot capture")
    with Progress(console=err, transient=True) as bar:
        snapshot = capture_snapshot(settings, out=out_dir, progress=bar)
    rows = sum(t.rows for t in snapshot.tables.values())
    out.print(f"wrote {plain(str(snapshot.path))} ({rows} rows from tenant {plain(snapshot.tenant_id)})")
