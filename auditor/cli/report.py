"""`auditor report PACK --out DIR`: re-render a pack from its own evidence; `auditor report --period YYYY-MM
--history PATH --out DIR`: render the monthly review of the scans recorded in that month."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from auditor.cli.common import config_or_default, err, out
from auditor.errors import ConfigError
from auditor.evidence.replay import replay_pack


def report_command(
    pack: Path | None = typer.Argument(
        None, help="A pack directory or the .zip `scan --zip` wrote (omit with --period)."
    ),
    out_dir: Path | None = typer.Option(
        None, "--out", help="Directory for the re-rendered pack (default: `replayed` beside the pack)."
    ),
    force: bool = typer.Option(False, "--force", help="Re-render even when the pack fails verification."),
    public_key: Path | None = typer.Option(None, "--public-key", help="Verify the signature against this key first."),
    sign_key: Path | None = typer.Option(None, "--sign-key", help="Sign the re-rendered pack's manifest."),
    zip_pack: bool = typer.Option(False, "--zip", help="Also write the re-rendered pack as one zip file."),
    period: str | None = typer.Option(
        None, "--period", help="Render the monthly review of this month (YYYY-MM) from --history instead."
    ),
    history: Path | None = typer.Option(None, "--history", help="With --period: the history file of the scans."),
    config: Path | None = typer.Option(
        None, "--config", help="With --period: the config whose rules the review states."
    ),
) -> None:
    """Rebuild summary.json, breaches.json and every report from the pack's evidence, touching no source; or, with
    --period, render a monthly review pack from every scan the history recorded in that month."""
    if period is not None:
        if pack is not None:
            raise ConfigError("give either a PACK or --period, not both", "drop PACK to render a monthly review")
        _period_pack(period, history, out_dir, config, sign_key, zip_pack)
        return
    if pack is None:
        raise ConfigError("auditor report needs a PACK (or --period YYYY-MM)", "see `auditor report --help`")
    target = out_dir if out_dir is not None else pack.resolve().parent / "replayed"
    result = replay_pack(pack, target, force=force, public_key=public_key, sign_key=sign_key, zip_pack=zip_pack)
    if not result.original.intact:
        err.print(
            f"[yellow]warning:[/] re-rendered a pack that fails verification ({len(result.original.findings)} problem(s))"
        )
    out.print(f"re-rendered {escape(str(pack))} -> {escape(str(result.pack))}")


def _period_pack(
    period: str, history: Path | None, out_dir: Path | None, config: Path | None, sign_key: Path | None, zip_pack: bool
) -> None:
    """`report --period`: the monthly review pack (kept apart from the re-render path and its checks)."""
    from auditor.evidence.period import write_period_pack
    from auditor.history import default_path

    settings = config_or_default(config)
    written = write_period_pack(
        history or (settings.history.path if settings is not None else None) or default_path(),
        period,
        out_dir=out_dir
        if out_dir is not None
        else (settings.output.dir if settings is not None else Path("audit-packs")),
        config=settings,
        sign_key=sign_key,
        zip_pack=zip_pack,
    )
    out.print(f"rendered the {escape(period)} review -> {escape(str(written))}")
