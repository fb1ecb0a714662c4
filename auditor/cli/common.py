"""Shared CLI pieces: consoles, error reporting, progress, option parsing."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import typer
from rich.console import Console, ConsoleOptions, RenderableType
from rich.markup import escape
from rich.measure import Measurement
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from auditor.config import Config, load_config, read_section
from auditor.errors import AuditorError, ConfigError
from auditor.names import terminal_text
from auditor.timestamps import parse_timestamp


class SafeConsole(Console):
    """A Rich console that shows control characters in any string it renders as visible escapes.

    Names from packs, snapshots, tags and ARM reach the terminal inside messages and table cells; an escape
    sequence in one could recolour, overwrite or hide the lines around it (a fake `intact`). Every string passes
    through render_str, so the text is made inert there, before markup is parsed; Rich's own styling is applied
    afterwards and is unaffected.
    """

    def render_str(self, text: str, **kwargs: object) -> Text:
        """Rich's render_str, on the text with its control characters made visible (newlines and tabs kept)."""
        return super().render_str(terminal_text(text, layout=True), **kwargs)  # type: ignore[arg-type]

    def render(self, renderable: RenderableType, options: ConsoleOptions | None = None) -> Iterable[Segment]:
        """Rich's render, with the text of every segment made inert: a `Text` built from outside data never passes
        through render_str. Rich's own control segments (cursor moves of a progress bar) pass as they are."""
        for segment in super().render(renderable, options):
            yield segment if segment.control else Segment(terminal_text(segment.text, layout=True), segment.style)


PIPE_WIDTH = 160
"""Width of tables outside a terminal (CI logs, pipes, files), unless COLUMNS asks for more: Rich's 80 would
squeeze every table into wrapped cells that no log viewer can read."""


def pipe_width(stream: TextIO) -> int | None:
    """None (Rich measures the terminal) for a terminal, else at least PIPE_WIDTH columns."""
    try:
        if stream.isatty():
            return None
    except (AttributeError, ValueError):
        pass
    columns = os.environ.get("COLUMNS", "")
    return max(PIPE_WIDTH, int(columns) if columns.isdigit() else 0)


out = SafeConsole(highlight=False, soft_wrap=True, width=pipe_width(sys.stdout))
"""stdout: results."""
err = SafeConsole(stderr=True, highlight=False, soft_wrap=True, width=pipe_width(sys.stderr))
"""stderr: progress, warnings, errors."""


def pct(value: float | None) -> str:
    """A rate for the terminal: `87.50%`, or `—` when there is none."""
    return "—" if value is None else f"{value:.2f}%"


def plain(text: str) -> str:
    """Text from outside (a message naming a file, key or value) for Rich markup: `[azure]` prints as written.
    SafeConsole makes its control characters visible."""
    return escape(text)


def new_app(**kwargs: Any) -> typer.Typer:
    """A Typer (sub-)app whose help texts print as written: `[azure]` and `[notify]` are config sections to
    auditor, not Rich markup, and plain help reads well in CI logs too."""
    return typer.Typer(rich_markup_mode=None, **kwargs)


def report_error(error: AuditorError) -> int:
    """Print one line of message and one of hint to stderr; return the exit code. Every sub-app uses this."""
    err.print(f"[bold red]error:[/] {plain(error.message)}", soft_wrap=True)
    if error.hint:
        err.print(f"[yellow]hint:[/] {plain(error.hint)}", soft_wrap=True)
    return int(error.exit_code)


def warn(message: str) -> None:
    """Print one warning line to stderr."""
    err.print(f"[yellow]warning:[/] {plain(message)}", soft_wrap=True)


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


def print_table(table: Table) -> None:
    """Print a table on stdout. Outside a terminal (where no screen limits the width) it gets its natural width,
    at least PIPE_WIDTH, so no cell is cut or folded: a CI log is read by searching, and a broken id is lost."""
    if out.is_terminal:
        out.print(table)
        return
    natural = Measurement.get(out, out.options.update(width=1 << 16), table).maximum
    out.print(table, width=max(out.width, natural))


def id_column(table: Table, name: str, values: Iterable[str] = ()) -> None:
    """Add a column of identifiers: never wrapped, and at least as wide as its longest value."""
    table.add_column(name, no_wrap=True, min_width=max((len(v) for v in values), default=len(name)))
