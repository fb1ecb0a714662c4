"""The pack writer: layout, the staging directory, sweeping what dead writers left, and the deterministic zip.

Also home of `MemorySource` and `make_pack`, which the other evidence and verify tests use: a full scan over
inline query rows (no DuckDB), so a pack takes milliseconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from auditor.config import Config, config_from_dict
from auditor.errors import PackError
from auditor.evidence.pack import OWNER_NAME, TEMP_PREFIX, PackWriter, is_stale, sweep_stale
from auditor.evidence.zipped import ZIP_EPOCH, write_zip, zip_path_for
from auditor.kql.request import QueryRequest, QueryResult, rows_to_table
from auditor.reports.interface import Renderer
from auditor.reports.json import BreachesRenderer, SummaryRenderer
from auditor.scan import ScanResult, scan
from tests.summaries import js

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
SUB = "11111111-1111-1111-1111-111111111111"


def _machine(n: int, env: str, status: str | None, modified: str = "2026-10-31T00:00:00Z") -> dict[str, Any]:
    mid = f"/subscriptions/{SUB}/resourcegroups/rg/providers/microsoft.compute/virtualmachines/vm{n}"
    return {
        "machineId": mid,
        "id": mid,
        "name": f"vm{n}",
        "platform": "Azure",
        "subscriptionId": SUB,
        "resourceGroup": "rg",
        "location": "westeurope",
        "osRaw": "Windows" if n % 2 else "Linux",
        "tags": json.dumps({"Environment": env}),
        "assessmentMode": "AutomaticByPlatform",
        "patchMode": "AutomaticByPlatform",
        "assessmentStatus": status,
        "assessmentLastModified": modified if status else None,
    }


def _vm(n: int) -> str:
    return f"/subscriptions/{SUB}/resourcegroups/rg/providers/microsoft.compute/virtualmachines/vm{n}"


ROWS: dict[str, list[dict[str, Any]]] = {
    "machine_facts": [
        _machine(1, "prod", "Succeeded"),
        _machine(2, "prod", "Succeeded"),
        _machine(3, "dev", "Succeeded"),
        _machine(4, "dev", "Failed"),
        _machine(5, "test", None),
    ],
    "pending_patches": [
        {
            "machineId": _vm(2),
            "classifications": '["Critical"]',
            "patches": 2,
            "oldestPublished": "2026-09-01T00:00:00Z",
            "undated": 0,
        },
        {"machineId": _vm(3), "classifications": '["Security"]', "patches": 1, "oldestPublished": "", "undated": 1},
        {
            "machineId": _vm(1),
            "classifications": '["Updates"]',
            "patches": 4,
            "oldestPublished": "2026-01-01T00:00:00Z",
            "undated": 0,
        },
    ],
    "undated_patches": [
        {
            "patchKey": f"{_vm(3)}/patchassessmentresults/latest/softwarepatches/openssl",
            "machineId": _vm(3),
            "patchName": "openssl",
            "version": "3.0.2",
            "classifications": '["Security"]',
        },
    ],
    "installations": [
        {
            "id": f"{_vm(1)}/patchInstallationResults/r1",
            "machineId": _vm(1),
            "status": "Succeeded",
            "startDateTime": "2026-10-20T02:00:00Z",
            "lastModifiedDateTime": "2026-10-20T02:40:00Z",
            "installedPatchCount": 3,
            "failedPatchCount": 0,
            "pendingPatchCount": 0,
        },
        {
            "id": f"{_vm(2)}/patchInstallationResults/r2",
            "machineId": _vm(2),
            "status": "Failed",
            "startDateTime": "2026-10-21T02:00:00Z",
            "lastModifiedDateTime": "2026-10-21T02:10:00Z",
            "installedPatchCount": 1,
            "failedPatchCount": 2,
            "pendingPatchCount": 0,
            "errorCode": "PatchFailed",
        },
    ],
    "maintenance_assignments": [
        {
            "id": f"{_vm(1)}/providers/microsoft.maintenance/configurationassignments/a",
            "subscriptionId": SUB,
            "resourceId": _vm(1),
            "configurationId": "/subscriptions/x/maintenanceconfigurations/weekly",
        },
    ],
    "policy_states": [],
}

THRESHOLDS = {
    "thresholds": {
        "min_compliance_rate": 90.0,
        "max_unknown_rate": 10.0,
        "by_environment": {"Production": 95.0},
        "max_overdue_machines": {"Critical": 0},
    },
    "environment_aliases": {"Production": ["prod"], "Development": ["dev"]},
}


class MemorySource:
    """A Source over inline rows shaped as each query declares (a stand-in for a live source)."""

    name = "memory"

    def __init__(self, rows: dict[str, list[dict[str, Any]]] | None = None) -> None:
        self.rows = ROWS if rows is None else rows

    def run(self, request: QueryRequest) -> QueryResult:
        rows = self.rows.get(request.query_id, [])
        digest = hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()
        return QueryResult(request, rows_to_table(rows, request.columns), response_sha256=digest)

    def default_as_of(self) -> datetime | None:
        return AS_OF

    def fingerprint(self) -> dict[str, Any]:
        return {"kind": "memory", "tenant_id": "tenant-0", "scope": {"subscriptions": [SUB]}}

    def close(self) -> None:
        pass


def make_pack(
    out: Path,
    *,
    config: Config | None = None,
    renderers: list[Renderer] | None = None,
    sign_key: Path | None = None,
    zip_pack: bool = False,
) -> ScanResult:
    """A full scan of the inline fleet into a new pack under `out` (summary and breaches only, unless told)."""
    return scan(
        config if config is not None else config_from_dict(THRESHOLDS),
        source=MemorySource(),
        out=out,
        renderers=renderers if renderers is not None else [SummaryRenderer(), BreachesRenderer()],
        use_history=False,
        sign_key=sign_key,
        zip_pack=zip_pack,
    )


def leftovers(out: Path) -> list[str]:
    """Everything in an output directory."""
    return sorted(p.name for p in out.iterdir()) if out.exists() else []


def test_pack_layout_and_nothing_staged_left(tmp_path: Path) -> None:
    result = make_pack(tmp_path / "packs", zip_pack=True)
    assert leftovers(tmp_path / "packs") == [result.pack.name, f"{result.pack.name}.zip"]
    names = sorted(p.relative_to(result.pack).as_posix() for p in result.pack.rglob("*") if p.is_file())
    assert "manifest.json" in names and "summary.json" in names and "breaches.json" in names
    assert "evidence/machine_facts@v2.jsonl.gz" in names
    assert OWNER_NAME not in names
    assert js(result.summary)["breaches"] >= 1


def test_existing_pack_or_zip_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "p1.zip").write_bytes(b"")
    with pytest.raises(PackError, match="already exists"), PackWriter(tmp_path, "p1"):
        pass
    (tmp_path / "p2").mkdir()
    with pytest.raises(PackError, match="already exists"), PackWriter(tmp_path, "p2"):
        pass
    assert leftovers(tmp_path) == ["p1.zip", "p2"]


def test_an_exception_inside_the_writer_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), PackWriter(tmp_path, "p") as pack:
        pack.path("summary.json").write_text("{}")
        raise RuntimeError("boom")
    assert leftovers(tmp_path) == []


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _staging(out: Path, name: str, owner: dict[str, Any] | None, age: float = 0) -> Path:
    path = out / f"{TEMP_PREFIX}{name}"
    (path / "pack").mkdir(parents=True)
    if owner is not None:
        (path / OWNER_NAME).write_text(json.dumps(owner))
    if age:
        stamp = time.time() - age
        os.utime(path, (stamp, stamp))
    return path


@pytest.mark.skipif(os.name == "nt", reason="pid liveness is not probed on Windows")
def test_sweep_removes_only_what_dead_writers_left(tmp_path: Path) -> None:
    host = socket.gethostname()
    dead = _staging(tmp_path, "dead", {"pid": _dead_pid(), "host": host})
    alive = _staging(tmp_path, "alive", {"pid": os.getppid(), "host": host})
    elsewhere = _staging(tmp_path, "elsewhere", {"pid": _dead_pid(), "host": host + "-other"})
    ancient = _staging(tmp_path, "ancient", {"pid": os.getppid(), "host": host}, age=3 * 86400)
    orphan_new = _staging(tmp_path, "orphan-new", None)
    orphan_old = _staging(tmp_path, "orphan-old", None, age=3600)
    assert sorted(sweep_stale(tmp_path)) == sorted([dead, ancient, orphan_old])
    assert all(p.exists() for p in (alive, elsewhere, orphan_new))
    assert not is_stale(alive)


def test_next_writer_sweeps_stale_staging(tmp_path: Path) -> None:
    if os.name != "nt":
        _staging(tmp_path, "dead", {"pid": _dead_pid(), "host": socket.gethostname()})
    _staging(tmp_path, "ancient", None, age=3 * 86400)
    result = make_pack(tmp_path)
    assert leftovers(tmp_path) == [result.pack.name]


def test_zip_is_deterministic(tmp_path: Path) -> None:
    result = make_pack(tmp_path / "packs", zip_pack=True)
    first = zip_path_for(result.pack).read_bytes()
    again = write_zip(result.pack, tmp_path / "again.zip", result.pack.name).read_bytes()
    assert first == again
    with zipfile.ZipFile(zip_path_for(result.pack)) as archive:
        infos = archive.infolist()
    names = [i.filename for i in infos]
    assert names == sorted(names) and all(n.startswith(result.pack.name + "/") for n in names)
    assert {i.date_time for i in infos} == {ZIP_EPOCH}
    files = sorted(p.relative_to(result.pack).as_posix() for p in result.pack.rglob("*") if p.is_file())
    assert [n.split("/", 1)[1] for n in names] == files
