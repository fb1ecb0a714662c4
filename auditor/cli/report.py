"""`auditor report PACK --out DIR`: re-render a pack from its own evidence."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from auditor.cli.common import err, out
from auditor.evidence.replay import replay_pack


def report_command(
    pack: Path = typer.Argument(..., help="A pack directory or the .zip `scan --zip` wrote."),
    out_dir: Path | None = typer.Option(
        None, "--out", help="Directory for the re-rendered pack (default: `replayed` beside the pack)."
    ),
    force: bool = typer.Option(False, "--force", help="Re-render even when the pack fails verification."),
    public_key: Path | None = typer.Option(None, "--public-key", help="Verify the signature against this key first."),
    sign_key: Path | None = typer.Option(None, "--sign-key", help="Sign the re-rendered pack's manifest."),
    zip_pack: bool = typer.Option(False, "--zip", help="Also write the re-rendered pack as one zip file."),
) -> None:
    """Rebuild summary.json, breaches.json and every report from the pack's evidence, touching no source."""
    target = out_dir if out_dir is not None else pack.resolve().parent / "replayed"
    result = replay_pack(pack, target, force=force, public_key=public_key, sign_key=sign_key, zip_pack=zip_pack)
    if not result.original.intact:
        err.print(
            f"[yellow]warning:[/] re-rendered a pack that fails verification ({len(result.original.findings)} problem(s))"
        )
    out.print(f"re-rendered {escape(str(pack))} -> {escape(str(result.pack))}")
