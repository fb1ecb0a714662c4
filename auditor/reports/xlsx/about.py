"""The About sheet: provenance, the effective config and its hash, and the rules in words with their parameters.

The rules are DESIGN.md's normative compliance rules, stated with this scan's config filled in, so a reader can
check any figure in the workbook by hand without reading the tool's source.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from openpyxl.workbook import Workbook

from auditor.compliance.installs import FAILED, SUCCEEDED
from auditor.compliance.rules import COMPLETED_WITH_WARNINGS
from auditor.config import Config
from auditor.reports.interface import ReportContext
from auditor.reports.provenance import operator_lines, scope_lines, scope_sentence, signatories
from auditor.reports.xlsx.schedules import summary_rules
from auditor.reports.xlsx.sheet import Form
from auditor.reports.xlsx.style import Styles, styled

ABOUT = "About"
SIGN_HERE = "_" * 40
"""A line to sign or date on, printed or typed over."""


def _aliases(config: Config) -> str:
    if not config.environment_aliases:
        return "No aliases are configured, so each tag value is its own environment, spelt as written."
    pairs = "; ".join(
        f"{name} ← {', '.join(values) or '(itself only)'}"
        for name, values in sorted(config.environment_aliases.items())
    )
    return (
        f"Tag values are mapped to environments, ignoring case: {pairs}. A canonical name is its own alias, and "
        "a value with no alias keeps its spelling as written."
    )


def _sla(config: Config) -> str:
    if not config.sla:
        return "No classification has an SLA, so no patch is enforced and no machine can be non-compliant."
    listed = ", ".join(f"{name} {days} days" for name, days in sorted(config.sla.items(), key=lambda i: (i[1], i[0])))
    return (
        f"SLA per classification: {listed}. A pending patch is enforced when one of its classifications has an "
        "SLA, and takes the smallest of them. It is overdue when its age is greater than its SLA. Patches of other "
        "classifications are reported but never make a machine non-compliant."
    )


def rules_in_words(config: Config) -> list[tuple[str, str]]:
    """The compliance rules as (name, sentence), with the config's parameters filled in."""
    days = config.max_assessment_age_days
    return [
        (
            "Machines",
            "Azure virtual machines (resources of type microsoft.compute/virtualmachines, platform Azure) "
            "and Arc-enabled servers (microsoft.hybridcompute/machines, platform Arc). A machine is keyed "
            "by its resource id in lower case.",
        ),
        (
            "Operating system",
            "The first non-empty of properties.osName, properties.osType and "
            "properties.storageProfile.osDisk.osType, normalised to Windows or Linux.",
        ),
        (
            "Environment",
            f"The value of the tag '{config.environment_tag}' (the tag name matches in any case). "
            f"{_aliases(config)} A machine without the tag is '(untagged)'.",
        ),
        (
            "Assessment",
            "A machine's latest patch assessment is: none when there is no assessment result; failed when "
            "its status is anything but exactly Succeeded (InProgress and CompletedWithWarnings are "
            f"failed); stale when it was last modified more than {days} days before the as-of time, or "
            "has no modification time; otherwise current. " + COMPLETED_WITH_WARNINGS,
        ),
        (
            "Patch age",
            "Whole days from a pending patch's publishedDateTime to the as-of time, rounded down. A patch "
            "with no publishedDateTime (as on Linux) is dated by the earliest earlier scan in history that "
            "saw the same patch on the same machine; with no such scan its age is unknown, and an unknown "
            "age counts as past its SLA (conservative). A scan never dates a patch from itself.",
        ),
        ("SLA", _sla(config)),
        (
            "Machine status",
            "compliant: assessment current and no overdue enforced patch. non_compliant: assessment "
            "current and at least one overdue enforced patch. unknown: assessment none, failed or "
            "stale; unknown machines count as not compliant.",
        ),
        (
            "Compliance rate",
            "100 × compliant machines ÷ machines, rounded half-up to 2 decimals; a group with no "
            "machines has no rate. Rates in this workbook are these percentages (0 to 100).",
        ),
        (
            "By classification",
            "Each pending patch counts once under every classification it has, over all machines "
            "in scope whatever their assessment state. Overdue machines are those with a patch of "
            "that classification past the patch's own SLA.",
        ),
        (
            "Installations",
            f"Runs that started in the {config.installation_window_days} days before the as-of time. "
            f"Success rate = runs that ended {' or '.join(sorted(SUCCEEDED))} ÷ runs that ended "
            f"{' or '.join(sorted(SUCCEEDED | FAILED))}; runs still in progress are not judged.",
        ),
        ("Periodic assessment", "On when the machine's assessmentMode is AutomaticByPlatform."),
        (
            "Schedules",
            "A machine is scheduled when a maintenance configuration assignment covers it, either directly "
            "or through a dynamic scope whose filter it matches.",
        ),
    ]


def _flatten(value: Any, prefix: str) -> list[tuple[str, Any]]:
    if isinstance(value, Mapping):
        out: list[tuple[str, Any]] = []
        for key, item in value.items():
            out += _flatten(item, f"{prefix} › {key}" if prefix else str(key))
        return out
    if isinstance(value, list):
        return [(prefix, ", ".join(map(str, value)) or "(none)")]
    return [(prefix, value)]


def write_about(workbook: Workbook, context: ReportContext) -> Form:
    """Write the About sheet."""
    evaluation = context.evaluation
    config = evaluation.config
    form = Form(workbook, ABOUT, (30, 120))
    ws = form.ws
    form.add(styled(ws, "About this pack", Styles.TITLE), height=22)
    form.blank()
    form.section("Provenance")
    form.pair("Tool", f"auditor {context.tool_version}")
    form.pair("Run ID", context.run_id)
    form.pair("Pack ID", context.pack_id)
    form.pair("As of (UTC)", evaluation.as_of, Styles.DATE)
    form.pair("Generated at (UTC)", context.generated_at, Styles.DATE)
    form.pair("Data complete", "no: " + "; ".join(context.problems) if context.problems else "yes", Styles.WRAP)
    form.pair("Summary format", context.summary.format)
    form.blank()
    form.section("Who ran it and what it covered")
    form.pair("Scope", scope_sentence(context.provenance.get("scope"), context.source), Styles.WRAP)
    for label, value in [
        *scope_lines(context.provenance.get("scope"), limit=None),
        *operator_lines(context.provenance.get("operator")),
    ]:
        form.pair(label, value, Styles.WRAP)
    form.blank()
    form.section("Source")
    for label, value in _flatten(dict(context.source), ""):
        form.pair(label, value, Styles.WRAP)
    form.blank()
    form.section("Configuration")
    form.pair("Config sha256", config.sha256())
    form.pair("Effective config (canonical JSON)", config.canonical_json(), Styles.CODE)
    form.blank()
    form.section("Rules")
    for name, sentence in [*rules_in_words(config), *summary_rules(context.summary)]:
        form.pair(name, sentence, Styles.WRAP)
    form.blank()
    form.section("Thresholds")
    if not evaluation.threshold_checks:
        form.pair("(none)", "No thresholds are configured.")
    for number, (threshold, _) in enumerate(evaluation.threshold_checks, start=1):
        requirement = threshold.requirement()
        form.pair(
            f"{number}. {threshold.rule}",
            f"{requirement[:1].upper()}{requirement[1:]} (severity {threshold.severity}).",
            Styles.WRAP,
        )
    form.blank()
    form.section("Reading this workbook")
    for label, text in (
        ("Times", "Every time is UTC."),
        ("Rates", "Rates are percentages from 0 to 100, exactly as in summary.json, shown with a % sign."),
        ("Links", "Resource ids open the resource in the Azure portal; the Summary's contents link to each sheet."),
        ("Text", "Text from the data is stored as text and never evaluated, even when it starts with = + - or @."),
    ):
        form.pair(label, text, Styles.WRAP)
    people = signatories(config.report)
    if people:
        form.blank()
        form.section("Sign-off")
        for person in people:
            form.pair(person.capacity, f"{person.name}, {person.role}", Styles.WRAP)
            # Empty cells to sign and date by hand, or to type into: the printed sheet has lines there.
            form.pair("Signature", SIGN_HERE)
            form.pair("Date", SIGN_HERE)
    return form
