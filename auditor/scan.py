"""auditor.scan(): the one place that wires source -> queries -> compliance -> reports -> pack."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TypedDict

import pyarrow as pa

from auditor import __version__
from auditor.compliance import remediation
from auditor.compliance.evaluate import REQUIRED_QUERIES
from auditor.compliance.facts import undated_table
from auditor.compliance.risk_acceptance import scan_notes
from auditor.compliance.summary import Summary
from auditor.compliance.thresholds import NO_THRESHOLDS, Breach, configured
from auditor.compliance.trend import HistoryRun
from auditor.config import Config, load_config
from auditor.control_mapping import ControlDefinition, load_controls
from auditor.digests import scope_key, sha256_hex
from auditor.errors import AuditorError, ConfigError, ExitCode
from auditor.evidence.assemble import StagedPack
from auditor.evidence.inputs import (
    CONTROLS_EVIDENCE,
    FIRST_SEEN_EVIDENCE,
    HISTORY_EVIDENCE,
    REGISTER_EVIDENCE,
    controls_table,
    first_seen_table,
    history_table,
    register_table,
)
from auditor.evidence.judge import Provenance, judge
from auditor.evidence.manifest import PARTITIONING_KEY, partitioning_entries
from auditor.evidence.pack import PackWriter
from auditor.evidence.register_record import RegisterRecord, register_record
from auditor.evidence.sign import load_private_key
from auditor.history import HistoryError, HistoryStore, default_path, read_earlier
from auditor.kql.catalog import Catalog
from auditor.kql.request import QueryRequest, QueryResult
from auditor.notify import ScanOutcome, notify
from auditor.operator import operator_record
from auditor.package_data import sample_config, sample_fleet
from auditor.publish import Publisher, publishers_for
from auditor.reports.interface import QueryRecord, Renderer
from auditor.reports.json import summary_text
from auditor.reports.registry import renderers_for
from auditor.risk_register import Register, load_register
from auditor.snapshots.format import read_snapshot
from auditor.sources.as_of import check_as_of
from auditor.sources.interface import Source, SourceProvenance
from auditor.sources.snapshot import SnapshotSource

Progress = Callable[[str, int, int], None]
"""progress(step description, steps done, steps total)."""


@dataclass(frozen=True)
class ScanResult:
    """What a scan produced."""

    pack: Path
    """The pack directory."""
    summary: Summary
    """What summary.json says, typed."""
    breaches: list[Breach]
    problems: list[str] = field(default_factory=list)
    """Why the data is incomplete (empty when complete)."""
    exit_code: ExitCode = ExitCode.OK
    warnings: list[str] = field(default_factory=list)
    """Problems the user must hear of even with --quiet: the history entry or a notification that could not be
    written (the pack is complete), or a scan without thresholds, which cannot breach."""
    notes: list[str] = field(default_factory=list)
    """Findings the pack records too, printed unless --quiet: the exception register's warnings (expiring
    exceptions, selectors that match nothing) and the rate without exceptions."""

    @property
    def complete(self) -> bool:
        """Whether every query returned complete data."""
        return not self.problems


def open_source(spec: str | Source, config: Config, *, spill_dir: Path | None = None) -> Source:
    """`sample`, `snapshot:DIR` or `azure` -> a Source (a Source instance passes through). A snapshot's DuckDB
    spills into `spill_dir` (default the system's temporary directory)."""
    if not isinstance(spec, str):
        return spec
    if spec == "sample":
        return SnapshotSource(read_snapshot(sample_fleet()), spill_dir=spill_dir)
    if spec.startswith("snapshot:"):
        directory = spec.removeprefix("snapshot:")
        if not directory:
            raise ConfigError("--source snapshot: needs a directory", "write --source snapshot:PATH")
        return SnapshotSource(read_snapshot(Path(directory).expanduser()), spill_dir=spill_dir)
    if spec == "azure":
        from auditor.sources.azure_settings import require_azure
        from auditor.sources.log_analytics import LogAnalyticsSource
        from auditor.sources.resource_graph import ResourceGraphSource
        from auditor.sources.router import TargetRouter

        azure = require_azure(config, "--source azure")
        targets: dict[str, Source] = {"arg": ResourceGraphSource.from_settings(azure)}
        if azure.log_analytics_workspace_id:
            targets["law"] = LogAnalyticsSource.from_settings(azure)
        return TargetRouter(targets)
    raise ConfigError(f"unknown source {spec!r}", "use sample, snapshot:DIR or azure")


def query_plan(config: Config, as_of: datetime) -> list[tuple[str, dict[str, datetime | int | list[str]]]]:
    """The queries a scan runs and their parameters, derived from the config and the as-of time."""
    params: dict[str, dict[str, datetime | int | list[str]]] = {
        "installations": {"as_of": as_of, "window_days": config.installation_window_days},
        "maintenance_runs": {"as_of": as_of, "window_days": config.installation_window_days},
        "installed_patches": {
            "as_of": as_of,
            "window_days": config.installation_window_days,
            "classifications": sorted(config.sla) or ["Critical"],
        },
        "overdue_patches": {
            "classifications": sorted(config.sla) or ["Critical"],
            "as_of": as_of,
            "min_sla_days": min(min(config.sla.values(), default=0), 3650),
        },
    }
    return [(query_id, params.get(query_id, {})) for query_id in REQUIRED_QUERIES]


def run_queries(src: Source, requests: list[QueryRequest], report: Progress, total: int) -> dict[str, QueryResult]:
    """Run every request on `src`, keyed by query id in request order.

    A source that sets `concurrency` above 1 (a snapshot: DuckDB leaves cores idle within one query) runs that
    many at once; live sources run one at a time, as their rate limits are shared. The first failure to arrive
    is raised, and the queries not yet started are cancelled. A source with `expect` (a snapshot) is told the
    requests first, so it can free each table once no request left reads it.
    """
    expect = getattr(src, "expect", None)
    if callable(expect):
        expect(requests)
    workers = max(1, int(getattr(src, "concurrency", 1)))
    if workers == 1:
        results: dict[str, QueryResult] = {}
        for index, request in enumerate(requests):
            report(f"query {request.ref}", index, total)
            results[request.query_id] = src.run(request)
        return results
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(src.run, request): request for request in requests}
        try:
            for done, future in enumerate(as_completed(futures), start=1):
                report(f"query {futures[future].ref}", done, total)
                future.result()
        except BaseException:
            pool.shutdown(cancel_futures=True)
            raise
        return {request.query_id: future.result() for future, request in futures.items()}


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def scan(
    config: Config | None = None,
    *,
    source: str | Source = "sample",
    out: Path | None = None,
    as_of: datetime | None = None,
    fail_on_breach: bool | None = None,
    progress: Progress | None = None,
    renderers: list[Renderer] | None = None,
    formats: Iterable[str] | None = None,
    catalog: Catalog | None = None,
    history: Path | None = None,
    use_history: bool | None = None,
    sign_key: Path | None = None,
    zip_pack: bool | None = None,
    send_notifications: bool = True,
    publishers: list[Publisher] | None = None,
) -> ScanResult:
    """Run a full scan into a new pack directory and return its result.

    With no config and the sample source, the bundled sample config is used. The as-of time is `as_of`, else the
    source's (a snapshot's captured_at), else now. History (trends, first-seen dates of undated patches) is
    read before judging and the scan is recorded after the pack is written; `use_history=False` skips both.
    Then the scan is published (`publishers`, default those of `[publish]`; `[]` for none) and `[notify]`'s
    webhooks are told (unless `send_notifications=False`); their failures are warnings.

    `formats` picks the reports by name (see reports.registry.FORMATS; summary.json and breaches.json are always
    written); `renderers` replaces the list outright.
    """
    if renderers is None and formats is not None:
        renderers = renderers_for(formats)
    if config is None:
        config = load_config(sample_config()) if source == "sample" else Config()
    catalog = catalog or Catalog()
    # [evidence] sign_key signs every scan; --sign-key (the argument) wins. A bad key fails before the queries.
    sign_key = sign_key if sign_key is not None else config.evidence.sign_key
    if sign_key is not None:
        load_private_key(sign_key)
    # A bad register fails before the (possibly long) queries run, not after.
    register = (
        load_register(config.exceptions_file, max_days=config.max_exception_days) if config.exceptions_file else None
    )
    which = "fail_on_breach = true (config)" if fail_on_breach is None else "--fail-on-breach"
    fail_on_breach = config.fail_on_breach if fail_on_breach is None else fail_on_breach
    if fail_on_breach and not configured(config.thresholds) and register is None:
        raise ConfigError(
            f"{which} needs thresholds to judge, and no thresholds are configured: the scan could never fail",
            "set limits in [thresholds] of a config (--config, see samples/auditor.toml), or drop --fail-on-breach",
        )
    register_info = register_record(config.exceptions_file) if config.exceptions_file else None
    controls = load_controls(config.control_files)
    report = progress or (lambda _step, _done, _total: None)
    # The pack's staging directory opens first: the snapshot's DuckDB spills into it, so a killed scan leaves
    # nothing anywhere else (the next scan into the same directory sweeps it).
    with PackWriter(out if out is not None else config.output.dir) as staging:
        src = open_source(source, config, spill_dir=staging.scratch)
        try:
            captured_at = src.default_as_of()
            as_of = (as_of or captured_at or _now()).astimezone(UTC)
            as_of_warning = check_as_of(as_of, captured_at, config.max_assessment_age_days)
            plan = query_plan(config, as_of)
            total = len(plan) + 2
            results = run_queries(
                src, [catalog.get(query_id)[0].render(params) for query_id, params in plan], report, total
            )
            fingerprint = src.fingerprint()
            provenance = scan_provenance(src, register_info)
        finally:
            src.close()
        enabled = config.history.enabled if use_history is None else use_history
        result = _finish(
            config,
            results,
            as_of=as_of,
            catalog=catalog,
            fingerprint=fingerprint,
            staging=staging,
            fail_on_breach=fail_on_breach,
            report=report,
            total=total,
            renderers=renderers,
            history_path=(history or config.history.path or default_path()) if enabled else None,
            sign_key=sign_key,
            zip_pack=config.output.zip if zip_pack is None else zip_pack,
            register=register,
            provenance=provenance,
            controls=controls,
        )
    if as_of_warning:
        result = replace(result, warnings=[as_of_warning, *result.warnings])
    return deliver(config, result, send_notifications=send_notifications, publishers=publishers)


def deliver(
    config: Config, result: ScanResult, *, send_notifications: bool = True, publishers: list[Publisher] | None = None
) -> ScanResult:
    """Publish, then notify, about a committed scan. The pack is already written, so each failure is a warning
    and the exit code stays as it is."""
    warnings = list(result.warnings)
    try:
        targets = publishers_for(config) if publishers is None else publishers
    except AuditorError as error:  # the pack is written: even a publisher that cannot be built is a warning
        targets, warnings = [], [*warnings, f"{error.message}; {error.hint} (the pack is complete)"]
    hooks = config.notify if send_notifications and config.notify.webhooks else None
    if not targets and hooks is None:
        return replace(result, warnings=warnings) if warnings != result.warnings else result
    try:
        outcome = ScanOutcome.from_pack(
            result.pack, result.summary, result.breaches, result.problems, config.thresholds.min_compliance_rate
        )
    except (OSError, ValueError, KeyError) as error:
        return replace(result, warnings=[*warnings, f"cannot read the pack's manifest to publish or notify: {error}"])
    for publisher in targets:
        try:
            publisher.publish(outcome)
        except AuditorError as error:
            warnings.append(f"{error.message}; {error.hint} (the pack is complete; only the publication is missing)")
        except Exception as error:  # publishing must never fail a scan whose pack is already written
            warnings.append(f"{publisher.name}: unexpected {type(error).__name__}: {error} (the pack is complete)")
    if hooks is not None:
        warnings += notify(hooks, outcome)
    return replace(result, warnings=warnings)


def query_records(results: dict[str, QueryResult], catalog: Catalog) -> list[QueryRecord]:
    """What the pack records about each query run."""
    records = []
    for query_id, result in results.items():
        request = result.request
        query, _ = catalog.get(query_id)
        records.append(
            QueryRecord(
                id=query_id,
                version=request.version,
                template_sha256=query.version(request.version).sha256,
                rendered_sha256=sha256_hex(request.text),
                rows=result.table.num_rows,
                text=request.text,
                evidence=f"evidence/{request.ref}.jsonl.gz",
                complete=result.complete,
                response_sha256=result.response_sha256,
            )
        )
    return records


class ScanProvenance(TypedDict, total=False):
    """manifest.json's `operator`, `scope` and `exceptions_register`, as a scan records them. They are written
    as their producers (auditor.operator, the source, auditor.evidence.register_record) made them."""

    operator: Mapping[str, object]
    scope: Mapping[str, object]
    exceptions_register: Mapping[str, object]


def scan_provenance(src: Source, register_info: RegisterRecord | None) -> ScanProvenance:
    """manifest.json's `operator`, `scope` and `exceptions_register`: who ran the scan, over what, with which
    register. A live source adds the token's principal and the subscriptions it could see; a snapshot its scope."""
    described = getattr(src, "provenance", None)
    found: SourceProvenance = described() if callable(described) else {}
    record = ScanProvenance(operator=operator_record(found.get("azure_principal")))
    scope = found.get("scope")
    if scope is not None:
        record["scope"] = scope
    if register_info is not None:
        record["exceptions_register"] = register_info
    return record


def exit_code_for(problems: list[str], breaches: list[Breach], fail_on_breach: bool) -> ExitCode:
    """3 when incomplete, 1 for breaches under fail-on-breach, else 0."""
    if problems:
        return ExitCode.INCOMPLETE
    if breaches and fail_on_breach:
        return ExitCode.FINDINGS
    return ExitCode.OK


def _undated(results: dict[str, QueryResult]) -> tuple[list[str], pa.ChunkedArray]:
    """The undated pending patches' keys (for history to date) and machine ids (for their sightings to be
    recorded), holding nothing else of the query tables."""
    undated = undated_table({qid: r.table for qid, r in results.items()})
    return undated.column("patchKey").to_pylist(), undated.column("machineId")


def _finish(
    config: Config,
    results: dict[str, QueryResult],
    *,
    as_of: datetime,
    catalog: Catalog,
    fingerprint: Mapping[str, object],
    staging: PackWriter,
    fail_on_breach: bool,
    report: Progress,
    total: int,
    renderers: list[Renderer] | None,
    history_path: Path | None,
    sign_key: Path | None = None,
    zip_pack: bool = False,
    register: Register | None = None,
    provenance: ScanProvenance | None = None,
    controls: tuple[ControlDefinition, ...] | None = None,
) -> ScanResult:
    run_id = str(uuid.uuid4())
    # History dates undated patches and records where each was seen; without it they are not read at all.
    # The history file is opened twice, briefly (to read here, to record at the end), never held across the
    # scan: concurrent scans sharing one file then wait for each other for a moment, not for a whole scan.
    patch_keys: list[str] = []
    sighted_on: pa.ChunkedArray | None = None
    first_seen: dict[str, datetime] = {}
    history: list[HistoryRun] = []
    if history_path is not None:
        patch_keys, sighted_on = _undated(results)
        # Undated installed patches are dated by history as pending ones are (by the key of their pending row).
        # (No local names a query table: the judge below must hold the only references, so that it can free them.)
        wanted = patch_keys + remediation.undated_keys(
            results[remediation.QUERY].table if remediation.QUERY in results else None
        )
        first_seen, history = read_earlier(history_path, wanted, as_of, scope_key(fingerprint))
    problems = [f"{r.request.ref}: {p}" for r in results.values() for p in r.problems]
    problems += [f"{r.request.ref}: incomplete" for r in results.values() if not r.complete and not r.problems]
    records = query_records(results, catalog)
    pack_id = f"pack-{as_of.strftime('%Y%m%dT%H%M%SZ')}-{run_id[:8]}"
    evidence = {record.evidence: results[record.id].table for record in records}
    evidence[FIRST_SEEN_EVIDENCE] = first_seen_table(first_seen)
    evidence[HISTORY_EVIDENCE] = history_table(history)
    if register is not None:
        evidence[REGISTER_EVIDENCE] = register_table(register)
    if controls is not None:
        evidence[CONTROLS_EVIDENCE] = controls_table(controls)
    partitioning = partitioning_entries(results)
    # From here the evidence writers and the judge hold the only references to the query tables, and each lets go
    # of a table once done with it: at fleet scale the rows (about 600 MiB at 100,000 machines) are then gone
    # before the reports are written, and mostly gone before judging ends (the scan's memory peak).
    tables = {qid: r.table for qid, r in results.items()}
    results.clear()  # the caller's dict too: nothing reads it after this
    with StagedPack(evidence, out_dir=staging.out_dir, pack_id=pack_id, sign_key=sign_key, writer=staging) as staged:
        evidence.clear()
        # The evidence files are being written on worker threads while the fleet is judged.
        report("evaluate compliance", total - 2, total)
        context = judge(
            tables,
            records,
            config=config,
            as_of=as_of,
            first_seen=first_seen,
            register=register,
            controls=controls,
            provenance=Provenance(
                run_id=run_id,
                pack_id=pack_id,
                generated_at=_now(),
                source=fingerprint,
                problems=problems,
                history=history,
                tool_version=__version__,
                recorded=provenance or {},
            ),
            consume=True,
        )
        report("write reports", total - 1, total)
        pack_warnings: list[str] = []
        pack = staged.finish(
            context,
            renderers=renderers,
            zip_pack=zip_pack,
            timestamp_url=config.evidence.timestamp_url,
            warnings=pack_warnings,
            extra_header={PARTITIONING_KEY: partitioning} if partitioning else None,
        )
    evaluation = context.evaluation
    notes = scan_notes(evaluation.exception_warnings, evaluation.summary.counts)
    warnings = ([] if configured(config.thresholds) else [NO_THRESHOLDS]) + pack_warnings
    if history_path is not None and sighted_on is not None:
        try:
            with HistoryStore(history_path) as store:
                store.record(
                    run_id=run_id,
                    as_of=as_of,
                    fingerprint=fingerprint,
                    config_sha256=config.sha256(),
                    summary=evaluation.summary,
                    # summary.json's own text: history sits below the reports that write it (docs/architecture.md)
                    document=summary_text(evaluation.summary),
                    breaches=[(b.rule, b.dimension) for b in evaluation.breaches],
                    statuses=[(v.machine.machine_id, v.status.value) for v in evaluation.verdicts],
                    sightings=zip(patch_keys, sighted_on.to_pylist(), strict=True),
                    complete=not problems,
                )
        except HistoryError as error:
            warnings.append(f"{error.message} (the pack is complete; only the history entry is missing)")
    report("done", total, total)
    code = exit_code_for(problems, evaluation.breaches, fail_on_breach)
    return ScanResult(pack, evaluation.summary, evaluation.breaches, problems, code, warnings, notes)
