"""Shared helpers for the policy unit tests: a scratch copy of policies/ and JSON edits by pointer."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from auditor.policy.config import PolicySettings, settings_from_dict
from tests.refdata import REFDATA

REPO = Path(__file__).resolve().parents[3]
REFDATA_POLICIES = REFDATA / "policies"
DEFINITION_SCOPE = "/providers/Microsoft.Management/managementGroups/contoso"


def copy_policies(tmp_path: Path) -> Path:
    """A scratch copy of the shipped policies/ tree."""
    target = tmp_path / "policies"
    shutil.copytree(REPO / "policies", target)
    return target


def edit_json(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """Load, change in place, save."""
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def settings(policies: Path | None = None, **overrides: Any) -> PolicySettings:
    """Settings for tests."""
    base: dict[str, Any] = {"owner_id": "platform-team", "definition_scope": DEFINITION_SCOPE}
    if policies is not None:
        base["policies_dir"] = str(policies)
    return settings_from_dict({**base, **overrides})
