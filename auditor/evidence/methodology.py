"""The rules in force, in words and with their parameters, as the manifest (and a methodology section) states them.

The statements restate DESIGN.md's normative compliance rules with this run's parameters filled in, so a reader
of the pack needs nothing else to know what "compliant" meant.
"""

from __future__ import annotations

from auditor.compliance import lifecycle, remediation
from auditor.compliance.facts import UNTAGGED
from auditor.compliance.summary import Summary
from auditor.compliance.thresholds import Threshold
from auditor.config import Config
from auditor.evidence.manifest import Rules


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def _aliases(config: Config) -> str:
    if not config.environment_aliases:
        return "no aliases are configured, so each value keeps its spelling"
    parts = [
        f"{name} = {', '.join(values) or '(itself only)'}"
        for name, values in sorted(config.environment_aliases.items())
    ]
    return "values map to canonical names ignoring case (" + "; ".join(parts) + "), other values keep their spelling"


def statements(config: Config) -> list[str]:
    """The normative rules as sentences, with this config's parameters."""
    sla = (
        ", ".join(f"{name} {_days(days)}" for name, days in sorted(config.sla.items())) or "none (no patch is enforced)"
    )
    return [
        "Machines are Azure virtual machines (microsoft.compute/virtualmachines, platform Azure), Arc machines "
        "(microsoft.hybridcompute/machines, platform Arc) and Arc-enabled VMware vSphere VMs "
        "(microsoft.connectedvmwarevsphere/virtualmachines, platform vSphere), keyed by their lower-cased resource "
        "id: the machine types whose patch results Resource Graph keeps. SCVMM VMs are not among them, so they are "
        "not counted.",
        f"A machine's environment is the value of its tag {config.environment_tag!r} (tag key matched ignoring case); "
        f"{_aliases(config)}; a machine without the tag is {UNTAGGED}.",
        "A machine's assessment is 'none' without a patch assessment result, 'failed' unless its status is exactly "
        f"'Succeeded', 'stale' when last modified more than {_days(config.max_assessment_age_days)} before the "
        "as-of time, and 'current' otherwise.",
        f"SLA by classification: {sla}. A pending patch with any of these classifications is enforced with the "
        "smallest of their SLAs, and is overdue when its age in whole days since publishedDateTime exceeds that SLA.",
        "A patch without publishedDateTime (Linux) is dated by the as-of time of the earliest earlier scan in history "
        "that saw it on the same machine (evidence/first_seen.jsonl.gz); with no such scan its age is unknown and "
        "it counts as overdue.",
        "A machine is compliant when its assessment is current and it has no overdue enforced patch, non-compliant "
        "when its assessment is current and it has at least one, and unknown otherwise; unknown is not compliant.",
        "A compliance rate is 100 x compliant / machines, rounded half-up to 2 decimals, or null for an empty group.",
        f"Installation runs are those started within {_days(config.installation_window_days)} before the as-of time. "
        "Their success rate is 100 x succeeded / (succeeded + failed), rounded half-up to 2 decimals: runs that "
        "ended Succeeded or CompletedWithWarnings are succeeded (those with warnings are also counted on their own), "
        "Failed runs are failed, and runs still NotStarted or InProgress count in neither.",
    ]


def derived_statements(summary: Summary) -> list[str]:
    """The rules that the evaluation states itself (exceptions, schedules, failure patterns), as the summary
    records them, so the manifest and the reports word them once."""
    found = list(summary.exceptions_rules)
    if summary.schedules is not None:
        rules = summary.schedules.rules
        # Alphabetical by rule name, as the manifests of earlier versions list them.
        found += [text for text in (rules.concurrency, rules.expiry, rules.runs) if text]
    if summary.failure_patterns is not None:
        found += [text for text in (summary.failure_patterns.rule, summary.failure_patterns.window_rule) if text]
    return found


def rules_in_force(
    config: Config, checks: list[tuple[Threshold, float | None]], summary: Summary | None = None
) -> Rules:
    """The manifest's `rules`: parameters, the rules in words, and each threshold's requirement sentence."""
    added: list[str] = []
    # Stated only where the scan judged them: packs that predate the queries replay with the rules they had.
    if summary is not None and summary.remediation is not None:
        added += remediation.rule_statements(config.installation_window_days, config.sla)
    if summary is not None and summary.lifecycle is not None:
        added += lifecycle.rule_statements(lifecycle.load_table().last_checked)
    return {
        "parameters": {
            "environment_tag": config.environment_tag,
            "environment_aliases": {name: list(values) for name, values in sorted(config.environment_aliases.items())},
            "max_assessment_age_days": config.max_assessment_age_days,
            "installation_window_days": config.installation_window_days,
            "sla": dict(sorted(config.sla.items())),
            "unknown_age_counts_as_overdue": True,
        },
        "statements": statements(config) + (derived_statements(summary) if summary is not None else []) + added,
        "thresholds": [
            {
                "rule": t.rule,
                "dimension": t.dimension,
                "key": t.key,
                "limit": t.limit,
                "severity": t.severity,
                "query": t.query,
                "requirement": t.requirement(),
            }
            for t, _observed in checks
        ],
    }
