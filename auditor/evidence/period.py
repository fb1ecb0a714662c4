"""The period pack: a monthly review rendered from every scan the history recorded in one month.

It is a pack like a scan's: evidence files (the recorded summaries and the patches history saw leave the pending
list), the review as period-summary.json, a workbook and a PDF, a hashed manifest (auditor-pack/1, so `auditor
verify` checks it) and, with a key, a signature; written to a staging directory and renamed into place.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from auditor import __version__
from auditor.compliance.period import PERIOD_FORMAT, RecordedScan, build_review, month_bounds
from auditor.compliance.remediation import RemediatedRow
from auditor.compliance.summary import Summary
from auditor.config import Config
from auditor.errors import AuditorError, PackError
from auditor.evidence import manifest as manifest_mod
from auditor.evidence.files import PackFiles, UnreadableFile, read_bytes
from auditor.evidence.manifest import Manifest, ManifestHeader
from auditor.evidence.methodology import rules_in_force
from auditor.evidence.pack import PackWriter, write_table_jsonl_gz
from auditor.evidence.replay import read_evidence
from auditor.evidence.sign import ALGORITHM, key_id, load_private_key, signature_bytes, signature_document
from auditor.evidence.zipped import write_zip
from auditor.history import HistoryStore
from auditor.reports.json import dumps, load_summary
from auditor.reports.period import PDF_NAME, SUMMARY_NAME, WORKBOOK_NAME, write_period_pdf, write_period_workbook
from auditor.timestamps import format_timestamp, parse_timestamp

SCANS_EVIDENCE = "evidence/period_scans.jsonl.gz"
REMEDIATED_EVIDENCE = "evidence/period_remediated.jsonl.gz"


class PeriodError(AuditorError):
    """The period or its history cannot give a review (bad input: exit 2)."""


def scans_table(scans: Sequence[Mapping[str, object]]) -> pa.Table:
    """The recorded scans as evidence rows: their ids, times and whole summary.json (as JSON text)."""
    return pa.table(
        {
            "run_id": pa.array([s["run_id"] for s in scans], pa.string()),
            "as_of": pa.array([s["as_of"] for s in scans], pa.string()),
            "scope_key": pa.array([s.get("scope_key") for s in scans], pa.string()),
            "complete": pa.array([s["complete"] for s in scans], pa.bool_()),
            "breach_rules": pa.array([json.dumps(s.get("breach_rules") or {}) for s in scans], pa.string()),
            "summary": pa.array([json.dumps(s["summary"], sort_keys=False) for s in scans], pa.string()),
        }
    )


def _instant(row: Mapping[str, object], name: str) -> str:
    value = row[name]
    if not isinstance(value, datetime):
        raise TypeError(f"remediated patch {row.get('patch_key')!r}: {name} is not a time")
    return format_timestamp(value)


def remediated_table(rows: Sequence[Mapping[str, object]]) -> pa.Table:
    """Patches history saw leave the pending list, as evidence rows."""
    names = ("patch_key", "machine_id")
    times = ("first_seen", "last_seen", "remediated_by")
    return pa.table(
        {
            **{name: pa.array([r[name] for r in rows], pa.string()) for name in names},
            **{name: pa.array([_instant(r, name) for r in rows], pa.string()) for name in times},
        }
    )


def _month(history: Path, period: str) -> tuple[datetime, datetime]:
    """The month's bounds; PeriodError when the period is malformed or the history file is missing."""
    try:
        bounds = month_bounds(period)
    except ValueError as exc:
        raise PeriodError(str(exc), "write the month as --period 2026-11") from exc
    if not history.is_file():
        raise PeriodError(f"history file {history} does not exist", "pass --history PATH of the scans' history")
    return bounds


def period_differences(files: PackFiles, manifest: Manifest) -> list[str]:
    """Re-derive period-summary.json from the pack's own evidence; ["period-summary.json"] when it differs."""
    columns = {entry["path"]: entry["columns"] for entry in manifest["evidence"]}
    try:
        scan_rows = read_evidence(files, SCANS_EVIDENCE, columns[SCANS_EVIDENCE]).to_pylist()
        fixed_rows = read_evidence(files, REMEDIATED_EVIDENCE, columns[REMEDIATED_EVIDENCE]).to_pylist()
        scans = [
            RecordedScan(
                run_id=row["run_id"],
                as_of=row["as_of"],
                scope_key=row["scope_key"],
                complete=row["complete"],
                breach_rules=json.loads(row["breach_rules"]),
                summary=json.loads(row["summary"]),
            )
            for row in scan_rows
        ]
        remediated = [
            RemediatedRow(
                patch_key=row["patch_key"],
                machine_id=row["machine_id"],
                first_seen=parse_timestamp(row["first_seen"]),
                last_seen=parse_timestamp(row["last_seen"]),
                remediated_by=parse_timestamp(row["remediated_by"]),
            )
            for row in fixed_rows
        ]
        expected = dumps(build_review(manifest["period"]["period"], scans, remediated)).encode()
        actual = read_bytes(files, SUMMARY_NAME)
    except (KeyError, ValueError, UnreadableFile) as exc:
        raise PackError(f"{files.label}: the review cannot be re-derived: {exc}", "the pack is damaged") from exc
    return [] if actual == expected else [SUMMARY_NAME]


def _typed(summary: object) -> Summary | None:
    """The last scan's summary as a typed tree, for the rules it states; None when an older version wrote it."""
    if not isinstance(summary, Mapping):
        return None
    try:
        return load_summary(summary)
    except (ValueError, TypeError):
        return None


def write_period_pack(
    history: Path,
    period: str,
    *,
    out_dir: Path,
    config: Config | None = None,
    scope: str | None = None,
    sign_key: Path | None = None,
    zip_pack: bool = False,
) -> Path:
    """Render the monthly review of `period` (YYYY-MM) from `history` into a new pack under `out_dir`."""
    signer = load_private_key(sign_key) if sign_key is not None else None  # fail before any work is done
    start, end = _month(history, period)
    # The scans as of within the month, and the remediations history can date up to its end.
    with HistoryStore(history, read_only=True) as store:
        scans = store.summaries(scope=scope, since=start, before=end)
        remediated = [r for r in store.remediated(scope=scope, before=end) if r["remediated_by"] >= start]
    if not scans:
        raise PeriodError(
            f"{history} records no scan as of within {period}", "run `auditor history` to see the recorded scans"
        )
    config = config or Config()
    review = build_review(period, scans, remediated)
    run_id = str(uuid.uuid4())
    generated = datetime.now(UTC).replace(microsecond=0)
    pack_id = f"period-{period}-{run_id[:8]}"
    evidence = {SCANS_EVIDENCE: scans_table(scans), REMEDIATED_EVIDENCE: remediated_table(remediated)}
    incomplete = [f"scan as of {s['as_of']} (run {s['run_id']}) was incomplete" for s in scans if not s["complete"]]
    with PackWriter(out_dir, pack_id) as pack:
        for relative, table in evidence.items():
            write_table_jsonl_gz(pack.path(relative), table)
        pack.path(SUMMARY_NAME).write_text(dumps(review), encoding="utf-8")
        write_period_workbook(review, pack.path(WORKBOOK_NAME), generated)
        write_period_pdf(review, pack.path(PDF_NAME), pack_id=pack_id, generated_at=generated)
        header: ManifestHeader = {
            "tool": {"name": "auditor", "version": __version__},
            "run_id": run_id,
            "pack_id": pack_id,
            "generated_at": format_timestamp(generated),
            "as_of": scans[-1]["as_of"],
            "complete": not incomplete,
            "problems": incomplete,
            "source": {
                "kind": "history",
                "history": str(history),
                "scans": [{"run_id": s["run_id"], "as_of": s["as_of"], "scope_key": s["scope_key"]} for s in scans],
            },
            "config": {"sha256": config.sha256(), "effective": config.model_dump(mode="json")},
            "rules": rules_in_force(config, [], _typed(scans[-1]["summary"])),
            "queries": [],
            "evidence": manifest_mod.evidence_entries(evidence),
            "period": {"format": PERIOD_FORMAT, "period": period, "from": review["from"], "until": review["until"]},
        }
        if signer is not None:
            header["signing"] = {"algorithm": ALGORITHM, "key_id": key_id(signer.public_key())}
        data = manifest_mod.write_manifest(pack.root, manifest_mod.build_manifest(pack.root, header))
        if signer is not None:
            pack.path(manifest_mod.SIGNATURE_NAME).write_bytes(signature_bytes(signature_document(signer, data)))
        if zip_pack:
            write_zip(pack.root, pack.zip_path, pack_id)
        return pack.commit()
