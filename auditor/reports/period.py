"""The monthly review's reports: period-review.xlsx and period-review.pdf, both from the period summary alone."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import jinja2
from openpyxl.workbook import Workbook

from auditor.compliance.period import PeriodReview
from auditor.jsonvalue import JsonValue, as_object
from auditor.reports.interface import RenderError
from auditor.reports.json import dumps
from auditor.reports.pdf.document import environment, templates_dir, write_pdf
from auditor.reports.xlsx.archive import save_workbook
from auditor.reports.xlsx.sheet import Column, write_table
from auditor.reports.xlsx.style import Styles, naive_utc
from auditor.timestamps import format_seconds

WORKBOOK_NAME = "period-review.xlsx"
PDF_NAME = "period-review.pdf"
SUMMARY_NAME = "period-summary.json"
TEMPLATE = "period-review.html.j2"

_SCAN_COLUMNS = [
    Column("As of (UTC)", 22),
    Column("Complete", 10),
    Column("Machines", 10),
    Column("Compliant", 10),
    Column("Non-compliant", 12),
    Column("Unknown", 10),
    Column("Compliance rate", 12),
    Column("Rate without exceptions", 12),
    Column("Installation success rate", 12),
    Column("Within SLA", 10),
    Column("p90 days", 9),
    Column("Past end of support without ESU", 14),
    Column("Breaches", 9),
    Column("Run id", 38),
]


def write_period_workbook(review: PeriodReview, path: Path, stamp: datetime) -> None:
    """The review's workbook: scans, environments, remediation, failure causes, exceptions and breaches."""
    workbook = Workbook(write_only=True)
    Styles(workbook)
    props = workbook.properties
    props.created = props.modified = naive_utc(stamp)
    props.title = f"Monthly patch compliance review, {review['period']}"
    scans = review["scans"]
    suffix = "" if review["complete"] else " Some scans of the month were INCOMPLETE (Complete = no)."
    write_table(
        workbook,
        "Scans",
        _SCAN_COLUMNS,
        [
            [
                s["as_of"],
                "yes" if s["complete"] else "no",
                s["machines"],
                s["compliant"],
                s["non_compliant"],
                s["unknown"],
                s["compliance_rate"],
                s["compliance_rate_without_exceptions"],
                s["installation_success_rate"],
                s["within_sla_rate"],
                s["p90_days"],
                s["end_of_support_without_esu"],
                s["breaches"],
                s["run_id"],
            ]
            for s in scans
        ],
        caption=f"Every scan recorded as of {review['period']}, oldest first.{suffix}",
        total=len(scans),
        evidence="evidence/period_scans.jsonl.gz",
    )
    envs = review["by_environment"]
    env_columns = [Column("Environment", 22), Column("Lowest", 10), Column("Highest", 10), Column("Last", 10)]
    env_columns += [Column(s["as_of"][:16], 12) for s in scans]
    write_table(
        workbook,
        "Environments",
        env_columns,
        [[e["key"], e["lowest"], e["highest"], e["last"], *e["rates"]] for e in envs],
        caption="Compliance rate per environment at each scan of the month (blank where a scan did not see it).",
        total=len(envs),
    )
    last = review["remediation"]["last_scan"] or {}
    left = review["remediation"]["left_pending_list"]
    rem_rows: list[list[JsonValue]] = []
    if last:
        rem_rows.append(["All enforced", *_figures(last)])
        by_classification = last.get("by_classification")
        if isinstance(by_classification, dict):
            rem_rows += [[name, *_figures(f)] for name, f in sorted(by_classification.items())]
    write_table(
        workbook,
        "Remediation",
        [Column("Classification", 18), *(Column(k.replace("_", " "), 11) for k in _FIGURES)],
        rem_rows,
        caption=(
            "Patches installed in the installation window of the month's last scan, against their SLA. History saw "
            f"{left['patches']:,} tracked patches leave the pending list during the month (median "
            f"{_text(left['p50_days'])} days, 90th percentile {_text(left['p90_days'])} days from first sighting)."
        ),
        total=len(rem_rows),
        empty="The month's scans predate remediation figures.",
    )
    causes = review["installations"]["failure_causes"]
    write_table(
        workbook,
        "Failure causes",
        [Column("Error code", 36), Column("Failed runs (last scan)", 14), Column("Scans reporting it", 12)],
        [[c["code"], c["runs"], c["scans_reporting"]] for c in causes],
        caption="Why installation runs failed, in the window of the month's last scan.",
        total=len(causes),
        empty="No failed installation runs.",
    )
    exc_rows = [
        [kind, e["id"], e["owner"], e["ticket"], e["created"], e["expires_on"], e["status"]]
        for kind in ("opened", "expiring", "expired")
        for e in review["exceptions"][kind]
    ]
    write_table(
        workbook,
        "Exceptions",
        [
            Column("In the month", 12),
            Column("Exception", 14),
            Column("Owner", 30),
            Column("Ticket", 14),
            Column("Created", 12),
            Column("Expires on", 12),
            Column("Status at last scan", 14),
        ],
        exc_rows,
        caption="Risk-acceptance exceptions opened, warned as expiring, and expired during the month.",
        total=len(exc_rows),
        empty="No exception was opened, expiring or expired in the month.",
    )
    breach_rows = [
        [b["as_of"], b["breaches"], ", ".join(f"{rule} ({n})" for rule, n in (b["rules"] or {}).items())]
        for b in review["breaches"]
    ]
    write_table(
        workbook,
        "Breaches",
        [Column("As of (UTC)", 22), Column("Breaches", 10), Column("Rules breached", 80)],
        breach_rows,
        caption="Threshold breaches at each scan of the month.",
        total=len(breach_rows),
    )
    save_workbook(workbook, path, stamp)


_FIGURES = ("installed", "dated", "within_sla", "within_sla_rate", "p50_days", "p90_days")


def _figures(block: JsonValue) -> list[JsonValue]:
    """A recorded remediation block's figures (the last scan's, or one classification's), in _FIGURES order."""
    figures = as_object(block)
    return [figures.get(key) for key in _FIGURES]


def _text(value: int | None) -> str:
    return "n/a" if value is None else str(value)


def write_period_pdf(review: PeriodReview, path: Path, *, pack_id: str, generated_at: datetime) -> None:
    """The review's PDF/A-3b, with period-summary.json attached."""
    try:
        html = (
            environment(templates_dir())
            .get_template(TEMPLATE)
            .render(review=review, pack_id=pack_id, generated_at=format_seconds(generated_at))
        )
    except jinja2.TemplateError as exc:
        raise RenderError(
            f"cannot render {PDF_NAME}: template error: {exc}", "the report templates are broken; reinstall auditor"
        ) from exc
    files = [(SUMMARY_NAME, "The month's figures (auditor-period/1)", dumps(review).encode("utf-8"))]
    write_pdf(html, path, files=files, stamp=generated_at)
