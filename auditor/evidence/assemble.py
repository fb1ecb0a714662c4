"""Assemble a pack from an evaluation: evidence files, renderers, manifest; atomically.

Used by a scan (tables from a source) and by a replay (tables from a pack's own evidence), so both write the
same files in the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pyarrow as pa

from auditor.evidence import manifest as manifest_mod
from auditor.evidence.pack import PackWriter, write_table_jsonl_gz
from auditor.reports.interface import Renderer, ReportContext
from auditor.reports.registry import default_renderers
from auditor.snapshots.format import format_timestamp


def manifest_header(context: ReportContext) -> dict[str, object]:
    """The manifest's description of the run: tool, times, source, config, rules and queries."""
    config = context.evaluation.config
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
        "queries": [
            {
                "id": r.id,
                "version": r.version,
                "template_sha256": r.template_sha256,
                "rendered_sha256": r.rendered_sha256,
                "rows": r.rows,
                "evidence": r.evidence,
                "complete": r.complete,
            }
            for r in context.queries
        ],
    }


def write_pack(
    context: ReportContext,
    evidence: Mapping[str, pa.Table],
    *,
    out_dir: Path,
    renderers: list[Renderer] | None = None,
    sign_key: Path | None = None,
    zip_pack: bool = False,
) -> Path:
    """Write evidence (pack-relative path -> rows), every report and the manifest; return the pack directory."""
    with PackWriter(out_dir, context.pack_id) as pack:
        for relative, table in evidence.items():
            write_table_jsonl_gz(pack.path(relative), table)
        for renderer in renderers if renderers is not None else default_renderers():
            renderer.render(context, pack.path(renderer.filename))
        manifest_mod.write_manifest(pack.root, manifest_mod.build_manifest(pack.root, manifest_header(context)))
        return pack.commit()
