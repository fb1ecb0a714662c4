"""`auditor policy`: validate, plan, deploy, remediate and status, over auditor.policy.workflow."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from auditor.cli.common import new_app, out, report_error
from auditor.config import load_config
from auditor.errors import AuditorError, ExitCode
from auditor.package_data import data_dir
from auditor.policy import PolicyError
from auditor.policy import workflow as wf
from auditor.policy.arm import PolicyArm
from auditor.policy.azure import clients_from_settings
from auditor.policy.config import PolicySettings, load_policy_settings
from auditor.policy.deploy import Applied
from auditor.policy.gate import GateResult
from auditor.policy.plan import Plan, write_plan
from auditor.policy.validate import validate_path
from auditor.policy.view import (
    render_applied,
    render_gate,
    render_plan,
    render_remediations,
    render_status,
    render_validation,
)

app = new_app(help="Patch policy as code: validate, plan, deploy, remediate, status.", no_args_is_help=True)
DEFAULT_CONFIG = Path("auditor.toml")


def _default_arm(settings: PolicySettings) -> PolicyArm:
    return PolicyArm(clients_from_settings(settings))


make_arm: Callable[[PolicySettings], PolicyArm] = _default_arm
"""How commands reach Azure (tests swap in clients bound to the loopback emulator)."""

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="auditor.toml with a [policy] table.")]
RingOpt = Annotated[str, typer.Option("--ring", "-r", help="Ring to work on (see [policy].rings).")]
PruneOpt = Annotated[bool, typer.Option("--prune", help="Delete owned resources that are no longer desired.")]


def fail(exc: AuditorError) -> NoReturn:
    """Print `error:` and `hint:` to stderr and exit with the error's code (no traceback)."""
    raise typer.Exit(report_error(exc))


@contextmanager
def errors() -> Iterator[None]:
    """Turn any AuditorError into fail()."""
    try:
        yield
    except AuditorError as exc:
        fail(exc)


def _config_file(config: Path | None) -> Path | None:
    return config if config is not None else (DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None)


def _config_path(config: Path | None) -> Path:
    path = _config_file(config)
    if path is None:
        raise PolicyError("no auditor.toml in this directory", "pass --config with a [policy] table")
    return path


def _settings(config: Path | None) -> PolicySettings:
    return load_policy_settings(_config_path(config))


class RichHooks:
    """Deploy hooks that print with rich and ask before applying."""

    def __init__(self, *, yes: bool) -> None:
        self.yes = yes

    def gate(self, result: GateResult | None) -> None:
        render_gate(result, out)

    def plan(self, plan: Plan) -> None:
        render_plan(plan, out)

    def confirm(self, plan: Plan) -> bool:
        if self.yes:
            return True
        if not sys.stdin.isatty():
            raise PolicyError(
                "refusing to deploy without --yes in a non-interactive session",
                "review `auditor policy plan`, then run deploy with --yes (or --plan plan.json --yes)",
            )
        return typer.confirm("Apply these changes?", default=False)

    def applied(self, step: Applied) -> None:
        render_applied(step, out)


@app.command()
def validate(
    path: Annotated[Path | None, typer.Argument(help="policies/ tree, folder or file.")] = None,
    config: ConfigOpt = None,
) -> None:
    """Check policy files against JSON Schema and the lint rules."""
    with errors():
        settings = load_policy_settings(config) if config else None
        report = validate_path(path or (None if settings else data_dir("policies")), settings)
        render_validation(report, out)
    if not report.ok:
        raise typer.Exit(int(ExitCode.BAD_INPUT))


@app.command()
def plan(
    ring: RingOpt,
    config: ConfigOpt = None,
    prune: PruneOpt = False,
    out_file: Annotated[Path, typer.Option("--out", help="Where to write plan.json.")] = Path("plan.json"),
    detailed_exitcode: Annotated[
        bool, typer.Option("--detailed-exitcode", help="Exit 1 when there are changes.")
    ] = False,
    show_unchanged: Annotated[bool, typer.Option("--show-unchanged")] = False,
) -> None:
    """Diff what ring R wants against what is deployed; print it and write plan.json."""
    with errors():
        settings = _settings(config)
        result = wf.plan_ring(settings, ring, make_arm(settings), prune=prune)
        render_plan(result, out, show_unchanged=show_unchanged)
        write_plan(result, out_file)
    if detailed_exitcode and result.has_changes:
        raise typer.Exit(int(ExitCode.FINDINGS))


@app.command()
def deploy(
    ring: RingOpt,
    config: ConfigOpt = None,
    prune: PruneOpt = False,
    plan_file: Annotated[Path | None, typer.Option("--plan", help="Apply this plan.json (refused if stale).")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Deploy even if the previous ring's gate is not met.")] = False,
    remediate: Annotated[bool, typer.Option("--remediate", help="Then run remediation tasks.")] = False,
    history: Annotated[Path | None, typer.Option("--history", help="Scan history file for the gate.")] = None,
) -> None:
    """Apply ring R: definitions, initiatives, assignments, role assignments (then remediation)."""
    with errors():
        settings = _settings(config)
        reader = wf.open_history(history or load_config(_config_path(config)).history.path)
        outcome = wf.deploy_ring(
            settings,
            ring,
            make_arm(settings),
            hooks=RichHooks(yes=yes),
            reader=reader,
            prune=prune,
            plan_file=plan_file,
            force=force,
            with_remediation=remediate,
        )
        out.print("deploy cancelled; nothing changed" if outcome.declined else "deploy complete")
        if outcome.remediations:
            render_remediations(outcome.remediations, out)


@app.command(name="remediate")
def remediate_command(ring: RingOpt, config: ConfigOpt = None) -> None:
    """Create remediation tasks for every DeployIfNotExists/Modify member and wait for them."""
    with errors():
        settings = _settings(config)
        outcomes = wf.remediate_ring(settings, ring, make_arm(settings))
        render_remediations(outcomes, out)
    if not all(outcome.ok for outcome in outcomes):
        raise typer.Exit(int(ExitCode.FINDINGS))


@app.command(name="status")
def status_command(
    ring: Annotated[str | None, typer.Option("--ring", "-r", help="One ring (default: all).")] = None,
    config: ConfigOpt = None,
) -> None:
    """Compliance per assignment (latest policy states summary)."""
    with errors():
        settings = _settings(config)
        rows = wf.status(settings, [ring] if ring else list(settings.rings), make_arm(settings))
        render_status(rows, out)
