"""A plain (non-editable) install finds queries/, report_templates/, policies/ and the sample fleet."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    src = tmp_path_factory.mktemp("src") / "auditor-src"
    # Build from a copy so the checkout's own build/ never matters.
    shutil.copytree(
        ROOT,
        src,
        ignore=shutil.ignore_patterns(
            ".git",
            "audit-packs",
            "build",
            "dist",
            "*.egg-info",
            "__pycache__",
            ".mypy_cache",
            ".ruff_cache",
            ".pytest_cache",
            ".hypothesis",
        ),
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(src)],
        check=True,
        timeout=300,
    )
    (built,) = out.glob("auditor-*.whl")
    return built


def test_wheel_carries_the_data(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "auditor/_data/queries/queries.lock" in names
    assert "auditor/_data/queries/machine_facts/v1.kql.j2" in names
    assert "auditor/_data/samples/fleet/snapshot.json" in names
    assert "auditor/_data/samples/auditor.toml" in names
    assert "auditor/schemas/summary.v1.json" in names
    assert "auditor/controls/pci-dss-4.0.1.toml" in names and "auditor/controls/nist-sp-800-53-r5.toml" in names
    assert any(n.startswith("auditor/_data/policies/") for n in names)
    assert any(n.startswith("auditor/_data/report_templates/") for n in names)


def run(args: list[str], *, timeout: int, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run a step; on failure, fail with its exit code and output, not a bare CalledProcessError."""
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)
    assert result.returncode == 0, f"{' '.join(args[:4])}… exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.mark.slow
def test_installed_tool_scans_the_sample_without_the_source_tree(wheel: Path, tmp_path: Path) -> None:
    # A venv of its own, without the test runner's site-packages: the wheel must bring every dependency it needs
    # (pip resolves them from its configured index or cache), as a user's `pip install .` does.
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)], timeout=120)
    python = venv / "bin" / "python"
    run([str(python), "-m", "pip", "install", "-q", str(wheel)], timeout=600)
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    where = run(
        [
            str(python),
            "-c",
            "import auditor, auditor.package_data as r; print(auditor.__file__); print(r.data_dir('queries'))",
        ],
        cwd=work,
        env=env,
        timeout=120,
    )
    module_file, queries = where.stdout.split()
    assert str(venv) in module_file and str(venv) in queries, "the installed copy must be used, not the checkout"
    result = subprocess.run(
        [str(venv / "bin" / "auditor"), "scan", "--quiet", "--no-history"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    (pack,) = (work / "audit-packs").iterdir()
    assert result.stdout == f"{pack.relative_to(work)}\n"
    summary = json.loads((pack / "summary.json").read_text())
    assert summary["machines"] == 1500
    assert {q["id"] for q in summary["queries"]} >= {"machine_facts", "pending_patches"}
    assert {p.name for p in pack.iterdir()} >= {"audit-pack.xlsx", "audit-pack.pdf", "manifest.json"}
    # The bundled control mappings came from the installed package.
    assert {(c["framework"], c["id"]) for c in summary["controls"]} >= {("PCI DSS v4.0.1", "6.3.3")}
