"""`auditor verify PACK [--public-key FILE]... [--config F] [--integrity-only] [--replay]`."""

from __future__ import annotations

from pathlib import Path

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from auditor.cli.common import err, out, plain
from auditor.config import load_config
from auditor.errors import ExitCode
from auditor.evidence.files import pack_files
from auditor.evidence.sign import key_id, load_public_key
from auditor.evidence.verify import VerifyReport, verify_files

INTEGRITY_ONLY_WARNING = (
    "integrity only: the files match the manifest, but anyone could have produced a pack like this one"
)
_UNTRUSTED_HINT = "pass the signer's key with --public-key, or list it in [evidence] trusted_keys and pass --config"


def _safe(text: str) -> str:
    """Untrusted text (pack and file names, details quoting them) made inert for Rich; SafeConsole shows its
    control characters as visible escapes."""
    return plain(text)


def trusted_keys(public_keys: list[Path], config: Path | None) -> list[Ed25519PublicKey]:
    """The keys a signature must be made by: every --public-key, then `[evidence] trusted_keys` of --config."""
    paths = list(public_keys)
    if config is not None:
        paths += load_config(config).evidence.trusted_keys
    keys: dict[str, Ed25519PublicKey] = {}
    for path in paths:
        key = load_public_key(path)
        keys.setdefault(key_id(key), key)
    return list(keys.values())


def _print_files(report: VerifyReport) -> None:
    out.print(f"  {report.files_checked} files match the manifest; none missing, none added")
    out.print(f"  manifest sha256 {report.manifest_sha256}")
    for note in report.notes:
        out.print(f"  {_safe(note)}")


def print_report(report: VerifyReport, *, integrity_only: bool = False) -> bool:
    """Print the verdict (one headline, then details); return whether the pack passes."""
    pack = _safe(report.pack)
    if not report.intact:
        out.print(f"[bold red]TAMPERED[/] {pack}: {len(report.findings)} problem(s)")
        for finding in report.findings:
            out.print(f"  {_safe(finding.line())}")
        return False
    if report.signature == "trusted":
        out.print(f"[bold green]authentic[/] {pack}")
        _print_files(report)
        out.print(f"  signature: {_safe(report.signature_detail)}")
        return True
    if integrity_only:
        out.print(f"[bold green]intact[/] {pack}")
        _print_files(report)
        if report.signature == "untrusted":
            out.print(f"  signature: {_safe(report.signature_detail)}")
        err.print(f"[yellow]warning:[/] {INTEGRITY_ONLY_WARNING}")
        return True
    if report.signature == "unsigned":
        out.print(f"[bold red]UNSIGNED[/] {pack}: the files match its manifest, but nothing proves who wrote it")
        hint = "sign packs with `scan --sign-key` or [evidence] sign_key; --integrity-only checks the files alone"
    else:
        out.print(f"[bold red]UNTRUSTED[/] {pack}: the files match its manifest, but it is {_safe(_who(report))}")
        hint = _UNTRUSTED_HINT + "; --integrity-only checks the files alone"
    _print_files(report)
    err.print(f"[yellow]hint:[/] {hint}")
    return False


def _who(report: VerifyReport) -> str:
    if "not by a trusted key" in report.signature_detail:
        return report.signature_detail
    return f"signed by key {report.signer}, and no trusted key was given"


def verify_command(
    pack: Path = typer.Argument(..., help="A pack directory or the .zip `scan --zip` wrote."),
    public_key: list[Path] = typer.Option(
        [], "--public-key", metavar="FILE", help="A trusted signer's Ed25519 public key (PEM); repeat for several."
    ),
    config: Path | None = typer.Option(None, "--config", help="auditor.toml whose [evidence] trusted_keys to trust."),
    integrity_only: bool = typer.Option(
        False, "--integrity-only", help="Check the files against the manifest alone; accept any signer, or none."
    ),
    replay: bool = typer.Option(
        False, "--replay", help="Also re-derive summary.json and breaches.json from the evidence and compare."
    ),
) -> None:
    """Check the signature against a trusted key, then every hash. Exit 0 authentic (or intact with
    --integrity-only), 1 tampered, unsigned or signed by an untrusted key, 2 not a pack."""
    trusted = trusted_keys(public_key, config)
    with pack_files(pack) as files:
        report = verify_files(files, trusted, require_trust=not integrity_only)
        if replay and report.intact and (integrity_only or report.authentic):
            from auditor.evidence.replay import replay_differences
            from auditor.evidence.verify import Finding

            report.findings.extend(
                Finding(name, "changed", "differs from what its evidence gives") for name in replay_differences(files)
            )
    passed = print_report(report, integrity_only=integrity_only)
    if replay and passed:
        out.print("  replay: summary.json and breaches.json re-derive byte for byte from the evidence")
    raise typer.Exit(int(ExitCode.OK if passed else ExitCode.FINDINGS))
