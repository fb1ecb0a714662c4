"""Shared CLI pieces: consoles, error reporting, progress, option parsing."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from auditor.config import Config, load_config, read_section
from auditor.errors import AuditorError, ConfigError
from auditor.timestamps import parse_timestamp

out = Console(highlight=False, soft_wrap=True)
"""stdout: results."""
err = Console(stderr=True, highlight=False, soft_wrap=True)
"""stderr: progress, warnings, errors."""


def pct(value: float | None) -> str:
    """A rate for the terminal: `87.50%`, or `—` when there is none."""
    return "—" if value is None else f"{value:.2f}%"


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def terminal_text(text: str) -> str:
    """Text from outside (a message naming a file, key or value) made safe for a Rich console: control
    characters (ANSI escapes among them) become `?` and Rich markup such as `[azure]` prints as written."""
    return escape(_CONTROL.sub("?", text))


def new_app(**kwargs: Any) -> typer.Typer:
    """A Typer (sub-)app whose help texts print as written: `[azure]` and `[notify]` are config sections to
    auditor, not Rich markup, and plain help reads well in CI logs too."""
    return typer.Typer(rich_markup_mode=None, **kwargs)


def report_error(error: AuditorError) -> int:
    """Print one line of message and one of hint to stderr; return the exit code. Every sub-app uses this."""
    err.print(f"[bold red]error:[/] {terminal_text(error.message)}", soft_wrap=True)
    if error.hint:
        err.print(f"[yellow]hint:[/] {terminal_text(error.hint)}", soft_wrap=True)
    return int(error.exit_code)


def warn(message: str) -> None:
    """Print one warning line to stderr."""
    err.print(f"[yellow]warning:[/] {terminal_text(message)}", soft_wrap=True)


def parse_as_of(value: str | None) -> datetime | None:
    """--as-of as an aware UTC datetime."""
    if value is None:
        return None
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        raise ConfigError(f"--as-of {value!r} is not an RFC 3339 time", "write e.g. 2026-11-01T00:00:00Z") from exc


def config_or_default(path: Path | None) -> Config | None:
    """The config at `path`, with every wing's section checked now rather than when first used; or None so the
    core picks its default."""
    if path is None:
        return None
    config = load_config(path)
    # The CLI sits above every wing, so it can check them all at load: a misspelt [azure] or [policy] key is an
    # error on any command, not only on the command that reads that section.
    from auditor.policy.config import PolicySettings
    from auditor.publish import LogAnalyticsPublisher
    from auditor.sources.azure_settings import azure_settings

    azure_settings(config)
    read_section(config, "policy", PolicySettings)
    LogAnalyticsPublisher.from_config(config)
    return config


@contextmanager
def progress_bar(enabled: bool = True) -> Iterator[Callable[[str, int, int], None]]:
    """A Rich progress bar on stderr, yielded as a `progress(step, done, total)` callback."""
    if not enabled:
        yield lambda _s, _d, _t: None
        return
    bar = Progress(
        TextColumn("{task.description:<36}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
    with bar:
        task = bar.add_task("starting", total=1)

        def update(step: str, done: int, total: int) -> None:
            bar.update(task, description=step, completed=done, total=total)

        yield update
