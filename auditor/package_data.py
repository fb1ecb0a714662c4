"""Locate the data directories (queries, report templates, policies, samples) in a checkout or a wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE.parent


def data_dir(name: str) -> Path:
    """Return the directory `name` (queries, report_templates, policies, samples).

    An installed wheel carries them under ``auditor/_data``; a source checkout keeps them at the repo root.
    """
    packaged = _PACKAGE / "_data" / name
    if packaged.is_dir():
        return packaged
    return _CHECKOUT / name


def sample_fleet() -> Path:
    """The bundled sample snapshot."""
    return data_dir("samples") / "fleet"


def sample_config() -> Path:
    """The bundled sample auditor.toml."""
    return data_dir("samples") / "auditor.toml"
