"""Rich rendering of validation reports, plans, gates, deploy steps, remediations and compliance."""

from __future__ import annotations

import json
from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from auditor.jsonvalue import JsonValue
from auditor.policy.deploy import Applied
from auditor.policy.gate import GateResult
from auditor.policy.plan import Change, Plan
from auditor.policy.remediate import RemediationOutcome
from auditor.policy.status import AssignmentCompliance
from auditor.policy.validate import ValidationReport

STYLES = {
    "create": "green",
    "update": "yellow",
    "delete": "red",
    "conflict": "bold magenta",
    "orphan": "cyan",
    "unchanged": "dim",
}
ROLE_NAMES = {
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
    "9980e02c-c2be-4d73-94e8-173b1dc7cf3c": "Virtual Machine Contributor",
    "cd570a14-e51a-42ad-bac8-bafd67325302": "Azure Connected Machine Resource Administrator",
}
"""Names of the built-in roles our policies use, for display only (plans compare role GUIDs)."""
SIGNS = {"create": "+", "update": "~", "delete": "-", "conflict": "!", "orphan": "?", "unchanged": "="}


def _short(value: JsonValue, limit: int = 70) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else json.dumps(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_validation(report: ValidationReport, console: Console) -> None:
    """One line per finding, then a summary."""
    for finding in report.findings:
        style = "red" if finding.severity == "error" else "yellow"
        console.print(Text(finding.render(report.root), style=style))
    verdict = "[green]valid[/green]" if report.ok else "[red]invalid[/red]"
    console.print(f"{report.files} files: {verdict}, {len(report.errors)} errors, {len(report.warnings)} warnings")


def _name(change: Change) -> str:
    if change.kind == "policyExemption":
        return f"{change.label} at {change.id.rsplit('/providers/', 1)[0].rsplit('/', 1)[-1]}"
    if change.kind != "roleAssignment":
        return change.label
    role = ROLE_NAMES.get(change.role_guid, change.role_guid)
    return f"{role} for {change.depends_on.rsplit('/', 1)[-1]} at {change.scope.rsplit('/', 1)[-1]}"


def render_plan(plan: Plan, console: Console, *, show_unchanged: bool = False) -> None:
    """The plan as a table, then the property-level diff of every update."""
    rows = [c for c in plan.changes if show_unchanged or c.action != "unchanged"]
    console.print(f"policy plan for ring [bold]{escape(plan.ring)}[/bold] at {plan.scope}")
    if rows:
        table = Table()
        for column in ("", "action", "kind", "name", "details"):
            table.add_column(column, overflow="fold")
        for change in rows:
            details = change.note or (f"{len(change.diff)} properties" if change.diff else "")
            table.add_row(
                SIGNS[change.action], change.action, change.kind, _name(change), details, style=STYLES[change.action]
            )
        console.print(table)
    for change in plan.of("update"):
        console.print(Text(f"~ {change.kind} {change.label}", style="yellow"))
        for entry in change.diff:
            before = "" if entry.op == "add" else _short(entry.before)
            after = "" if entry.op == "remove" else _short(entry.after)
            console.print(
                f"    {entry.path}: {before} → {after}"
                if entry.op == "replace"
                else f"    {entry.path}: {entry.op} {before or after}"
            )
    for flag in plan.flags:
        console.print(Text(f"! {flag.kind} {flag.label}: {flag.message}", style="bold yellow"))
    counts = plan.counts()
    summary = ", ".join(f"{counts[a]} to {a}" for a in ("create", "update", "delete") if counts[a])
    extra = [f"{counts[a]} {a}" for a in ("conflict", "orphan", "unchanged") if counts[a]]
    if plan.foreign:
        extra.append(f"{plan.foreign} of other owners left alone")
    if plan.flags:
        extra.append(f"{len(plan.flags)} flagged")
    console.print(f"Plan: {summary or 'no changes'}" + (f" ({', '.join(extra)})" if extra else "") + ".")


def render_gate(result: GateResult | None, console: Console) -> None:
    """The gate check, one line per threshold."""
    if result is None:
        console.print("gate: none to check for this ring")
        return
    for index, line in enumerate(result.lines()):
        style = "green" if result.passed else "red"
        console.print(Text(line, style=style if index == 0 else ""))


def render_applied(step: Applied, console: Console) -> None:
    """One deploy step."""
    tries = f" after {step.attempts} tries" if step.attempts > 1 else ""
    console.print(f"{step.outcome} {step.kind} {step.id}{tries}")


def render_remediations(outcomes: Sequence[RemediationOutcome], console: Console) -> None:
    """Each remediation task and how it ended."""
    table = Table(title="remediation")
    for column in ("assignment", "member", "state", "deployments", "failed"):
        table.add_column(column)
    for outcome in outcomes:
        table.add_row(
            outcome.assignment_id.rsplit("/", 1)[-1],
            outcome.reference_id or "-",
            outcome.state,
            f"{outcome.succeeded}/{outcome.total}",
            str(outcome.failed),
            style="green" if outcome.ok else "red",
        )
    console.print(table)


def render_status(rows: Sequence[AssignmentCompliance], console: Console) -> None:
    """Compliance per assignment."""
    table = Table(title="policy compliance")
    for column in ("scope", "assignment", "ours", "compliant", "non-compliant", "other", "rate"):
        table.add_column(column)
    for row in rows:
        rate = "-" if row.compliance_rate is None else f"{row.compliance_rate:.2f}%"
        table.add_row(
            row.scope,
            row.assignment_id.rsplit("/", 1)[-1],
            "yes" if row.owned else "",
            str(row.compliant),
            str(row.non_compliant),
            str(row.other),
            rate,
        )
    console.print(table)
