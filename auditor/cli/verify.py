"""`auditor verify PACK [--public-key FILE] [--tsa-ca FILE | --config FILE] [--replay]`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from auditor.cli.common import out
from auditor.config import load_config
from auditor.errors import ExitCode
from auditor.evidence.files import pack_files
from auditor.evidence.sign import load_public_key
from auditor.evidence.timestamp import load_ca
from auditor.evidence.verify import VerifyReport, verify_files

_SIGNATURE_NOTE = {
    "unsigned": "unsigned: integrity is checked against the manifest only (anyone able to rewrite the manifest "
    "could hide a change); sign packs with `scan --sign-key`",
    "embedded": "checked with the key embedded in manifest.sig only, so authenticity is not established; "
    "pass --public-key with the signer's public key",
    "trusted": "checked against the given public key: the pack is authentic",
}


def print_report(report: VerifyReport) -> None:
    """The short intact report, or every finding of a tampered pack."""
    if report.intact:
        out.print(f"[bold green]intact[/] {escape(report.pack)}")
        out.print(f"  {report.files_checked} files match the manifest; none missing, none added")
        out.print(f"  manifest sha256 {report.manifest_sha256}")
        if report.signature != "unsigned":
            out.print(f"  signature: {escape(report.signature_detail)}")
        out.print(f"  {_SIGNATURE_NOTE[report.signature]}")
        out.print(f"  time stamp: {escape(report.timestamp.detail)}")
        return
    out.print(f"[bold red]TAMPERED[/] {escape(report.pack)}: {len(report.findings)} problem(s)")
    for finding in report.findings:
        out.print(f"  {escape(finding.line())}")


def _configured_ca(config: Path | None) -> Path | None:
    """[evidence] timestamp_ca of `config`, a relative path taken from the config's directory."""
    if config is None:
        return None
    ca = load_config(config).evidence.timestamp_ca
    if ca is None:
        return None
    ca = ca.expanduser()
    return ca if ca.is_absolute() else config.parent / ca


def verify_command(
    pack: Path = typer.Argument(..., help="A pack directory or the .zip `scan --zip` wrote."),
    public_key: Path | None = typer.Option(
        None, "--public-key", help="The signer's Ed25519 public key (PEM); the signature must verify against it."
    ),
    tsa_ca: Path | None = typer.Option(
        None,
        "--tsa-ca",
        help="CA certificate (PEM) of the time-stamping authority; manifest.tsr must verify against it.",
    ),
    config: Path | None = typer.Option(
        None, "--config", help="auditor.toml whose [evidence] timestamp_ca is used when --tsa-ca is not given."
    ),
    replay: bool = typer.Option(
        False, "--replay", help="Also re-derive summary.json and breaches.json from the evidence and compare."
    ),
) -> None:
    """Recompute every hash and check the signature. Exit 0 intact, 1 tampered, 2 not a pack."""
    trusted = load_public_key(public_key) if public_key is not None else None
    ca_path = tsa_ca if tsa_ca is not None else _configured_ca(config)
    ca = load_ca(ca_path) if ca_path is not None else None
    with pack_files(pack) as files:
        # An explicit --tsa-ca asks for trusted time: a pack without a stamp then fails, as an unsigned one does
        # under --public-key. A CA from the config applies to every pack, stamped or not.
        report = verify_files(files, trusted, ca, require_stamp=tsa_ca is not None)
        if replay and report.intact:
            from auditor.evidence.replay import replay_differences
            from auditor.evidence.verify import Finding

            report.findings.extend(
                Finding(name, "changed", "differs from what its evidence gives") for name in replay_differences(files)
            )
    print_report(report)
    if replay and report.intact:
        out.print("  replay: summary.json and breaches.json re-derive byte for byte from the evidence")
    raise typer.Exit(int(ExitCode.OK if report.intact else ExitCode.FINDINGS))
