"""Seed the emulator's built-in definitions from a catalogue such as policies/builtins.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .state import ArmState


def builtin_stub(name: str, entry: dict[str, Any]) -> dict[str, Any]:
    """A built-in definition with the catalogue's parameters, effect and roles (its rule body is a stand-in)."""
    details = {"roleDefinitionIds": entry.get("roleDefinitionIds") or []}
    return {
        "name": name,
        "properties": {
            "displayName": entry.get("displayName", name),
            "mode": "Indexed",
            "version": entry.get("version", "1.0.0"),
            "metadata": {"category": entry.get("category", "")},
            "parameters": entry.get("parameters") or {},
            "policyRule": {
                "if": {"field": "type", "equals": "Microsoft.Compute/virtualMachines"},
                "then": {"effect": entry["effect"], "details": details},
            },
        },
    }


def seed_builtins(state: ArmState, catalogue: Path) -> None:
    """Serve every definition of the catalogue as a built-in."""
    data = json.loads(catalogue.read_text(encoding="utf-8"))
    for name, entry in (data.get("policyDefinitions") or {}).items():
        state.add_builtin(builtin_stub(name, entry))
