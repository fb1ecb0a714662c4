"""Update Manager's patch classifications, with its spelling; matching ignores case."""

from __future__ import annotations

CLASSIFICATIONS: tuple[str, ...] = (
    "Critical",
    "Security",
    "UpdateRollup",
    "FeaturePack",
    "ServicePack",
    "Definition",
    "Tools",
    "Updates",
    "Other",
)
_BY_LOWER = {name.lower(): name for name in CLASSIFICATIONS}


def canonical(name: str) -> str:
    """Update Manager's spelling of a classification; unknown names keep their spelling."""
    return _BY_LOWER.get(name.strip().lower(), name.strip())


def is_known(name: str) -> bool:
    """Whether `name` (any case) is one of Update Manager's classifications."""
    return name.strip().lower() in _BY_LOWER
