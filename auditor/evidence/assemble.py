"""Assemble a pack from an evaluation: evidence files, renderers, manifest, signature and zip; atomically.

Used by a scan (tables from a source) and by a replay (tables from a pack's own evidence), so both write the
same files in the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType

import pyarrow as pa

from auditor.evidence import manifest as manifest_mod
from auditor.evidence.manifest import EvidenceEntry, ManifestExtras, ManifestHeader, QueryEntry
from auditor.evidence.methodology import rules_in_force
from auditor.evidence.pack import PackWriter, write_table_jsonl_gz
from auditor.evidence.sign import ALGORITHM, key_id, load_private_key, signature_bytes, signature_document
from auditor.evidence.timestamp import TimestampError, request_stamp
from auditor.evidence.zipped import write_zip
from auditor.reports.interface import QueryRecord, Renderer, ReportContext
from auditor.reports.registry import default_renderers
from auditor.timestamps import format_timestamp

_LOG = logging.getLogger(__name__)


def query_entry(record: QueryRecord) -> QueryEntry:
    """A query's manifest entry (with `response_sha256` when the record has one)."""
    entry: QueryEntry = {
        "id": record.id,
        "version": record.version,
        "template_sha256": record.template_sha256,
        "rendered_sha256": record.rendered_sha256,
        "rows": record.rows,
        "evidence": record.evidence,
        "complete": record.complete,
        "text": record.text,
    }
    if record.response_sha256:  # live sources hash the rows they received
        entry["response_sha256"] = record.response_sha256
    return entry


def manifest_header(context: ReportContext, evidence: list[EvidenceEntry]) -> ManifestHeader:
    """The manifest's description of the run: tool, times, source, config, rules, queries and `evidence` (the
    evidence files' entries, manifest.evidence_entries), then the provenance the context recorded (operator, scope,
    exceptions register)."""
    evaluation = context.evaluation
    config = evaluation.config
    header: ManifestHeader = {
        "tool": {"name": "auditor", "version": context.tool_version},
        "run_id": context.run_id,
        "pack_id": context.pack_id,
        "generated_at": format_timestamp(context.generated_at),
        "as_of": context.summary.as_of,
        "complete": not context.problems,
        "problems": list(context.problems),
        "source": dict(context.source),
        "config": {"sha256": config.sha256(), "effective": config.model_dump(mode="json")},
        "rules": rules_in_force(config, evaluation.threshold_checks, context.summary),
        "queries": [query_entry(r) for r in context.queries],
        "evidence": evidence,
    }
    for key in manifest_mod.PROVENANCE_KEYS:
        if key in context.provenance:
            header[key] = context.provenance[key]
    return header


def _stamp(target: Path, url: str, manifest: bytes, warnings: list[str] | None) -> None:
    try:
        target.write_bytes(request_stamp(url, manifest))
    except TimestampError as error:  # trusted time is worth a warning, never the pack
        note = f"{error.message}; {error.hint}"
        if warnings is not None:
            warnings.append(note)
        else:
            _LOG.warning("%s", note)


class StagedPack:
    """A pack being assembled, in its staging directory until `finish` commits it.

    Opening it starts writing the evidence files on worker threads. DuckDB writes them without holding the GIL, so
    a scan judges the fleet (the one judge, `auditor.evidence.judge`) while its evidence is compressed, and the two
    share the machine's cores instead of queueing. `finish(context)` then takes the built context: it renders the
    reports, waits for the evidence, writes the manifest (and signature, and zip) and renames the pack into place.
    Leaving the block without `finish` removes the staging directory, so no partial pack is ever left.

    It keeps no reference to a table once that table is written (the manifest needs only its rows and columns),
    so a caller that lets go of its own frees each table's memory as soon as both are done with it.
    """

    def __init__(
        self,
        evidence: Mapping[str, pa.Table],
        *,
        out_dir: Path,
        pack_id: str,
        sign_key: Path | None = None,
        writer: PackWriter | None = None,
    ) -> None:
        self.pack_id = pack_id
        self._evidence: Mapping[str, pa.Table] | None = evidence
        self._entries = manifest_mod.evidence_entries(evidence)
        self._out_dir = out_dir
        self._sign_key = sign_key
        self._writer = writer
        self._stack = ExitStack()

    def __enter__(self) -> StagedPack:
        self._signer = load_private_key(self._sign_key) if self._sign_key is not None else None  # before any work
        with ExitStack() as stack:
            # A scan passes the writer it opened before its queries (their temporary files live in its staging
            # directory); that writer stays the scan's to close.
            self._pack = self._writer or stack.enter_context(PackWriter(self._out_dir, self.pack_id))
            pool = stack.enter_context(ThreadPoolExecutor(max_workers=2))
            evidence, self._evidence = self._evidence or {}, None
            self._writes = [
                pool.submit(write_table_jsonl_gz, self._pack.path(rel), table) for rel, table in evidence.items()
            ]
            self._stack = stack.pop_all()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stack.__exit__(kind, error, trace)

    def finish(
        self,
        context: ReportContext,
        *,
        renderers: list[Renderer] | None = None,
        zip_pack: bool = False,
        extra_header: ManifestExtras | None = None,
        timestamp_url: str | None = None,
        warnings: list[str] | None = None,
    ) -> Path:
        """Render every report from `context`, write the manifest and commit the pack; return its directory.

        With `timestamp_url` an RFC 3161 authority stamps the manifest (manifest.tsr); when it fails, the reason is
        appended to `warnings` (or logged) and the pack is written unstamped.
        """
        if context.pack_id != self.pack_id:
            raise ValueError(f"context of pack {context.pack_id} cannot finish pack {self.pack_id}")
        pack = self._pack
        for renderer in renderers if renderers is not None else default_renderers():
            renderer.render(context, pack.path(renderer.filename))
        for write in self._writes:
            write.result()
        header: ManifestHeader = {**manifest_header(context, self._entries), **(extra_header or {})}
        if self._signer is not None:
            header["signing"] = {"algorithm": ALGORITHM, "key_id": key_id(self._signer.public_key())}
        data = manifest_mod.write_manifest(pack.root, manifest_mod.build_manifest(pack.root, header))
        if self._signer is not None:
            pack.path(manifest_mod.SIGNATURE_NAME).write_bytes(signature_bytes(signature_document(self._signer, data)))
        if timestamp_url:
            _stamp(pack.path(manifest_mod.TIMESTAMP_NAME), timestamp_url, data, warnings)
        if zip_pack:
            write_zip(pack.root, pack.zip_path, context.pack_id)
        return pack.commit(self.pack_id)


def write_pack(
    context: ReportContext,
    evidence: Mapping[str, pa.Table],
    *,
    out_dir: Path,
    renderers: list[Renderer] | None = None,
    sign_key: Path | None = None,
    zip_pack: bool = False,
    extra_header: ManifestExtras | None = None,
) -> Path:
    """Write evidence (pack-relative path -> rows), every report of the built `context` and the manifest; return
    the pack directory.

    With `sign_key` (an Ed25519 PEM private key) manifest.sig signs the manifest; with `zip_pack` the pack is also
    written as `<pack_id>.zip` beside the directory. `extra_header` adds manifest keys (e.g. `replay_of`). A scan
    that wants to judge while the evidence is written opens a StagedPack itself.
    """
    with StagedPack(evidence, out_dir=out_dir, pack_id=context.pack_id, sign_key=sign_key) as staged:
        return staged.finish(context, renderers=renderers, zip_pack=zip_pack, extra_header=extra_header)
