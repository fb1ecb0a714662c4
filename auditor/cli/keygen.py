"""`auditor keygen --out DIR`: an Ed25519 key pair for signing packs."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from auditor.cli.common import out
from auditor.evidence.sign import generate_keypair


def keygen_command(
    out_dir: Path = typer.Option(..., "--out", help="Directory for <name>.key (mode 0600) and <name>.pub."),
    name: str = typer.Option("auditor-signing", "--name", help="Base name of the two key files."),
) -> None:
    """Make an Ed25519 key pair (PEM). Refuses to overwrite existing files."""
    pair = generate_keypair(out_dir, name)
    out.print(f"private key {escape(str(pair.private))} (mode 0600; keep it secret, pass it to scan --sign-key)")
    out.print(f"public key  {escape(str(pair.public))} (give it to whoever verifies: verify --public-key)")
    out.print(f"key id      {pair.key_id}")
