"""Replay: rebuild every report of a pack from its own evidence, touching no source.

The manifest carries the as-of time, the effective config, the query records and each evidence file's declared
columns; `evidence/first_seen.jsonl.gz` carries the first-seen dates of undated patches and
`evidence/exceptions.jsonl.gz` the exception register the scan applied, `evidence/controls.jsonl.gz` the control
mappings it judged. evaluate() is a pure function of these, so
the rebuilt summary.json is byte-identical to the original.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from auditor.bounded import NestedTooDeeply, gzip_lines, loads
from auditor.config import config_from_dict
from auditor.errors import ConfigError, PackError
from auditor.evidence.assemble import write_pack
from auditor.evidence.files import PackFiles, UnreadableFile, pack_files, read_bytes
from auditor.evidence.inputs import (
    CONTROLS_EVIDENCE,
    FIRST_SEEN_EVIDENCE,
    HISTORY_EVIDENCE,
    REGISTER_EVIDENCE,
    controls_list,
    first_seen_map,
    history_runs,
    register_map,
)
from auditor.evidence.judge import Provenance, judge
from auditor.evidence.manifest import (
    MANIFEST_NAME,
    PROVENANCE_KEYS,
    Column,
    Manifest,
    ReplayOf,
    arrow_type,
    fingerprint,
    parse_manifest,
)
from auditor.evidence.sign import load_public_key
from auditor.evidence.verify import VerifyReport, verify_files
from auditor.jsonvalue import JsonValue
from auditor.reports.interface import QueryRecord, Renderer, ReportContext
from auditor.reports.json import breaches_document, dumps
from auditor.reports.registry import default_renderers
from auditor.timestamps import format_timestamp, parse_timestamp


@dataclass(frozen=True)
class LoadedPack:
    """A pack's evidence and the context evaluated from it."""

    manifest: Manifest
    manifest_sha256: str
    evidence: dict[str, pa.Table]
    context: ReportContext


def read_evidence(files: PackFiles, path: str, columns: list[Column]) -> pa.Table:
    """One evidence file back as Arrow, with exactly its declared columns and types."""
    names = [c["name"] for c in columns]
    values: dict[str, list[JsonValue]] = {name: [] for name in names}
    try:
        with files.open(path) as raw:
            for number, line in enumerate(gzip_lines(raw), start=1):
                row = loads(line)
                if not isinstance(row, dict) or list(row) != names:
                    raise ValueError(f"row {number} does not have the declared columns")
                for name in names:
                    values[name].append(row[name])
        arrays = [pa.array(values[c["name"]], type=arrow_type(c["type"])) for c in columns]
    except (OSError, EOFError, ValueError, UnreadableFile, pa.ArrowException, NestedTooDeeply) as exc:
        raise PackError(
            f"evidence {path} cannot be read back: {exc}", "the pack is damaged; run `auditor verify`"
        ) from exc
    return pa.Table.from_arrays(arrays, names=names) if arrays else pa.table({})


def load_pack(files: PackFiles) -> LoadedPack:
    """Read the manifest and evidence and evaluate them exactly as the scan did."""
    try:
        data = read_bytes(files, MANIFEST_NAME)
        manifest = parse_manifest(data)
    except (UnreadableFile, ValueError, NestedTooDeeply) as exc:
        raise PackError(
            f"{files.label}: {MANIFEST_NAME} is unreadable: {exc}", "the pack cannot be re-rendered"
        ) from exc
    if "period" in manifest:
        raise PackError(
            f"{files.label} is a monthly review: it holds recorded summaries, not query evidence, so it has no scan "
            "to re-render",
            "render the month again with `auditor report --period YYYY-MM --history PATH`; `auditor verify --replay` "
            "re-derives its period-summary.json",
        )
    try:
        config = config_from_dict(manifest["config"]["effective"], source=f"{files.label}/{MANIFEST_NAME} config")
    except ConfigError as exc:
        raise PackError(exc.message, "the pack was written by an incompatible auditor version") from exc
    evidence = {e["path"]: read_evidence(files, e["path"], e["columns"]) for e in manifest["evidence"]}
    queries = manifest["queries"]
    missing = [q["evidence"] for q in queries if q["evidence"] not in evidence]
    if missing:
        raise PackError(f"{files.label}: evidence {', '.join(missing)} is not described", "the pack is damaged")
    records = [
        QueryRecord(
            id=q["id"],
            version=q["version"],
            template_sha256=q["template_sha256"],
            rendered_sha256=q["rendered_sha256"],
            rows=q["rows"],
            text=q["text"],
            evidence=q["evidence"],
            complete=q["complete"],
            response_sha256=q.get("response_sha256"),
        )
        for q in queries
    ]
    context = judge(
        {r.id: evidence[r.evidence] for r in records},
        records,
        config=config,
        as_of=parse_timestamp(manifest["as_of"]),
        first_seen=first_seen_map(evidence.get(FIRST_SEEN_EVIDENCE)),
        register=register_map(evidence.get(REGISTER_EVIDENCE), max_days=config.max_exception_days),
        controls=controls_list(evidence.get(CONTROLS_EVIDENCE)),
        provenance=Provenance(
            run_id=manifest["run_id"],
            pack_id=manifest["pack_id"],
            generated_at=parse_timestamp(manifest["generated_at"]),
            source=manifest["source"],
            problems=list(manifest["problems"]),
            history=history_runs(evidence.get(HISTORY_EVIDENCE)),
            recorded={key: manifest[key] for key in PROVENANCE_KEYS if key in manifest},
        ),
    )
    return LoadedPack(manifest, fingerprint(data), evidence, context)


def _refuse_if_tampered(report: VerifyReport, label: str, force: bool, require_trust: bool) -> None:
    if force or (report.intact and (report.authentic or not require_trust)):
        return
    if report.intact:
        raise PackError(
            f"{label} is not signed by the given public key ({report.signature_detail}); refusing to re-render it",
            "run `auditor verify` for details; pass --force to re-render it anyway",
        )
    named = "; ".join(f"{f.kind} {f.path}" for f in report.findings[:5])
    more = f" (+{len(report.findings) - 5} more)" if len(report.findings) > 5 else ""
    raise PackError(
        f"{label} fails verification ({named}{more}); refusing to re-render it",
        "run `auditor verify` for details; pass --force to re-render it anyway",
    )


@dataclass(frozen=True)
class ReplayResult:
    """A re-rendered pack and the verification of its original."""

    pack: Path
    original: VerifyReport


def replay_pack(
    pack: Path,
    out_dir: Path,
    *,
    force: bool = False,
    public_key: Path | None = None,
    sign_key: Path | None = None,
    zip_pack: bool = False,
    renderers: list[Renderer] | None = None,
) -> ReplayResult:
    """Verify `pack`, then write a new pack of the same id under `out_dir` from its evidence alone."""
    trusted = load_public_key(public_key) if public_key is not None else None
    with pack_files(pack) as files:
        report = verify_files(files, trusted)
        _refuse_if_tampered(report, files.label, force, trusted is not None)
        loaded = load_pack(files)
    replay_of: ReplayOf = {
        "pack_id": loaded.manifest["pack_id"],
        "run_id": loaded.manifest["run_id"],
        "manifest_sha256": loaded.manifest_sha256,
        "replayed_at": format_timestamp(datetime.now(UTC).replace(microsecond=0)),
    }
    written = write_pack(
        loaded.context,
        loaded.evidence,
        out_dir=out_dir,
        renderers=renderers if renderers is not None else default_renderers(),
        sign_key=sign_key,
        zip_pack=zip_pack,
        extra_header={"replay_of": replay_of},
    )
    return ReplayResult(written, report)


def replay_differences(files: PackFiles) -> list[str]:
    """Re-derive summary.json and breaches.json (a monthly review: period-summary.json) in memory; name each that
    differs from the pack's copy."""
    try:
        manifest: Manifest | None = parse_manifest(read_bytes(files, MANIFEST_NAME))
    except (UnreadableFile, ValueError):
        manifest = None
    if manifest is not None and "period" in manifest:
        from auditor.evidence.period import period_differences  # the period pack reads evidence through this module

        return period_differences(files, manifest)
    context = load_pack(files).context
    expected = {"summary.json": dumps(context.summary), "breaches.json": dumps(breaches_document(context))}
    differing = []
    for name, text in expected.items():
        try:
            actual = read_bytes(files, name)
        except UnreadableFile:
            differing.append(name)
            continue
        if actual != text.encode():
            differing.append(name)
    return differing
