"""The floors of docs/architecture.md hold: no import runs up a floor or sideways between wings, except the few
arrows the page names; the ground floor imports only itself; the compliance and JSON floors load no wing above."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "auditor"
ARCHITECTURE = ROOT / "docs" / "architecture.md"

ALLOWED_UPWARD = {
    ("auditor", "auditor.scan"): "the lazy `auditor.scan` entry point of the package",
}
"""Arrows from a lower floor to a higher one that the architecture page names (at most six)."""


def floors() -> list[list[str]]:
    """The floors of docs/architecture.md, lowest first: each a list of wings (module or package names)."""
    table = ARCHITECTURE.read_text(encoding="utf-8").split("## Floors, lowest first", 1)[1]
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| floor")]
    return [re.findall(r"`(auditor[\w.]*)`", row.split("|")[2]) for row in rows]


def wing_of(module: str, table: list[list[str]]) -> tuple[int, str]:
    """(floor index, wing) of a module: the longest wing name that is the module or a package above it."""
    best: tuple[int, str] | None = None
    for index, wings in enumerate(table):
        for wing in wings:
            # `auditor` names the package's own __init__ only, not every module below it.
            inside = module.startswith(wing + ".") and wing != "auditor"
            if (module == wing or inside) and (best is None or len(wing) > len(best[1])):
                best = (index, wing)
    if best is None:
        raise AssertionError(f"{module} is on no floor of docs/architecture.md; add it to the table")
    return best


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    relative = Path(*name.split("."))
    return (ROOT / relative.with_suffix(".py")).is_file() or (ROOT / relative / "__init__.py").is_file()


def arrows() -> set[tuple[str, str]]:
    """Every import of an auditor module by an auditor module, wherever it stands (top level or in a function)."""
    found: set[tuple[str, str]] = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        source = module_name(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("auditor"):
                assert node.module is not None
                found.add((source, node.module))
                found.update(
                    (source, f"{node.module}.{a.name}") for a in node.names if is_module(f"{node.module}.{a.name}")
                )
            elif isinstance(node, ast.Import):
                found.update((source, a.name) for a in node.names if a.name.startswith("auditor"))
    return {(a, b) for a, b in found if a != b}


def test_the_table_is_read() -> None:
    table = floors()
    assert table[0][:2] == ["auditor", "auditor.errors"] and ["auditor.compliance"] in table
    assert len(table) >= 10 and all(table)


def test_every_module_is_on_a_floor() -> None:
    table = floors()
    for path in PACKAGE.rglob("*.py"):
        wing_of(module_name(path), table)


def test_no_arrow_runs_up_a_floor_or_sideways() -> None:
    table = floors()
    upward, sideways = [], []
    for source, target in sorted(arrows()):
        (low, wing), (high, other) = wing_of(source, table), wing_of(target, table)
        if high > low and (source, target) not in ALLOWED_UPWARD:
            upward.append(f"{source} -> {target}")
        if high == low and wing != other and low != 0:
            sideways.append(f"{source} -> {target}")
    assert not upward, "imports that run up a floor: " + ", ".join(upward)
    assert not sideways, "imports between wings of one floor: " + ", ".join(sideways)
    assert len(ALLOWED_UPWARD) <= 6


def test_the_allowed_upward_arrows_exist_and_are_documented() -> None:
    found = arrows()
    page = ARCHITECTURE.read_text(encoding="utf-8")
    for source, target in ALLOWED_UPWARD:
        assert (source, target) in found, f"{source} -> {target} is allowed but no longer exists: drop it"
        assert f"`{source}` → `{target}`" in page


def test_the_ground_floor_and_config_import_no_wing() -> None:
    table = floors()
    ground = set(table[0])
    for source, target in arrows():
        if wing_of(source, table)[0] == 0 and (source, target) not in ALLOWED_UPWARD:
            assert wing_of(target, table)[0] == 0, f"ground-floor {source} imports {target}"
    config_imports = {target for source, target in arrows() if source == "auditor.config"}
    assert config_imports and config_imports <= ground


@pytest.mark.parametrize("module", ["auditor.compliance.evaluate", "auditor.reports.json"])
def test_importing_a_lower_floor_loads_no_wing_above(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith(('auditor.sources', 'auditor.policy', "
        "'auditor.cli')))))\n"
        f"assert '{module}' in sys.modules"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "", f"importing {module} loads {run.stdout.strip()}"
