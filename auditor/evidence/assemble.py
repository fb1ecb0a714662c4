"""Assemble a pack from an evaluation: evidence files, renderers, manifest, signature and zip; atomically.

Used by a scan (tables from a source) and by a replay (tables from a pack's own evidence), so both write the
same files in the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pyarrow as pa

from auditor.evidence import manifest as manifest_mod
from auditor.evidence.methodology import rules_in_force
from auditor.evidence.pack import PackWriter, write_table_jsonl_gz
from auditor.evidence.sign import ALGORITHM, key_id, load_private_key, signature_bytes, signature_document
from auditor.evidence.zipped import write_zip
from auditor.reports.interface import Renderer, ReportContext
from auditor.reports.registry import default_renderers
from auditor.timestamps import format_timestamp


def query_entry(record: Any) -> dict[str, Any]:
    """A query's manifest entry, from a QueryRecord (with `response_sha256` when the record has one)."""
    entry: dict[str, Any] = {
        "id": record.id,
        "version": record.version,
        "template_sha256": record.template_sha256,
        "rendered_sha256": record.rendered_sha256,
        "rows": record.rows,
        "evidence": record.evidence,
        "complete": record.complete,
        "text": record.text,
    }
    # Live sources hash the rows they received; QueryRecord carries it once the scan records it.
    response = getattr(record, "response_sha256", None)
    if response:
        entry["response_sha256"] = response
    return entry


def manifest_header(context: ReportContext, evidence: Mapping[str, pa.Table] | None = None) -> dict[str, Any]:
    """The manifest's description of the run: tool, times, source, config, rules, queries and evidence columns."""
    evaluation = context.evaluation
    config = evaluation.config
    return {
        "tool": {"name": "auditor", "version": context.tool_version},
        "run_id": context.run_id,
        "pack_id": context.pack_id,
        "generated_at": format_timestamp(context.generated_at),
        "as_of": context.summary["as_of"],
        "complete": not context.problems,
        "problems": list(context.problems),
        "source": dict(context.source),
        "config": {"sha256": config.sha256(), "effective": config.model_dump(mode="json")},
        "rules": rules_in_force(config, evaluation.threshold_checks, context.summary),
        "queries": [query_entry(r) for r in context.queries],
        "evidence": manifest_mod.evidence_entries(evidence or {}),
    }


def write_pack(
    context: ReportContext | Callable[[], ReportContext],
    evidence: Mapping[str, pa.Table],
    *,
    out_dir: Path,
    pack_id: str | None = None,
    renderers: list[Renderer] | None = None,
    sign_key: Path | None = None,
    zip_pack: bool = False,
    extra_header: Mapping[str, Any] | None = None,
    staging: PackWriter | None = None,
) -> Path:
    """Write evidence (pack-relative path -> rows), every report and the manifest; return the pack directory.

    With `sign_key` (an Ed25519 PEM private key) manifest.sig signs the manifest; with `zip_pack` the pack is also
    written as `<pack_id>.zip` beside the directory. `extra_header` adds manifest keys (e.g. `replay_of`).
    `staging` is an open PackWriter to write into (its directory then holds the caller's temporary files too).

    `context` may be a function that builds it (a scan passes its evaluation step, with `pack_id`): the evidence
    files are then written on worker threads while it runs. DuckDB writes them without holding the GIL, so
    judging the fleet and compressing its evidence share the machine's cores instead of queueing.
    """
    signer = load_private_key(sign_key) if sign_key is not None else None  # fail before any work is done
    name = context.pack_id if isinstance(context, ReportContext) else pack_id
    if not name:
        raise ValueError("write_pack needs pack_id when context is built lazily")
    # A scan passes the writer it opened before its queries (their temporary files live in its staging
    # directory); it stays the scan's to close.
    writer = nullcontext(staging) if staging is not None else PackWriter(out_dir, name)
    with writer as pack, ThreadPoolExecutor(max_workers=2) as pool:
        writes = [pool.submit(write_table_jsonl_gz, pack.path(rel), table) for rel, table in evidence.items()]
        built = context if isinstance(context, ReportContext) else context()
        for renderer in renderers if renderers is not None else default_renderers():
            renderer.render(built, pack.path(renderer.filename))
        for write in writes:
            write.result()
        header = manifest_header(built, evidence)
        header.update(extra_header or {})
        if signer is not None:
            header["signing"] = {"algorithm": ALGORITHM, "key_id": key_id(signer.public_key())}
        data = manifest_mod.write_manifest(pack.root, manifest_mod.build_manifest(pack.root, header))
        if signer is not None:
            pack.path(manifest_mod.SIGNATURE_NAME).write_bytes(signature_bytes(signature_document(signer, data)))
        if zip_pack:
            write_zip(pack.root, pack.zip_path, built.pack_id)
        return pack.commit(name)
