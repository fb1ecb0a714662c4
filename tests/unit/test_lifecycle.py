"""OS lifecycle: the shipped table, identification, ESU and the max_end_of_support_machines threshold."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from auditor.compliance.lifecycle import QUERY, assess_lifecycle, load_table, past_end
from auditor.compliance.thresholds import build_thresholds, evaluate_thresholds
from auditor.config import Thresholds
from auditor.kql.catalog import Catalog
from auditor.snapshots.format import read_snapshot
from auditor.sources.snapshot import SnapshotSource
from tests.crafted import AS_OF, Fleet
from tests.summaries import js, typed

TABLE = load_table()


@pytest.mark.parametrize(
    ("reported", "image", "expected"),
    [
        ("Windows Server 2012 R2 Datacenter 6.3.9600", "", "Windows Server 2012 R2"),
        ("", "WindowsServer 2012-Datacenter-smalldisk", "Windows Server 2012"),
        ("", "WindowsServer 2008-R2-SP1", "Windows Server 2008 R2"),
        ("", "WindowsServer 2025-datacenter-azure-edition", "Windows Server 2025"),
        ("Ubuntu 20.04.6 LTS 5.15.0-1073-azure", "", "Ubuntu 20.04 LTS"),
        ("", "0001-com-ubuntu-server-jammy 22_04-lts-gen2", "Ubuntu 22.04 LTS"),
        ("Red Hat Enterprise Linux 8.10 4.18.0-553.el8_10.x86_64", "", "Red Hat Enterprise Linux 8"),
        ("", "RHEL 7_9", "Red Hat Enterprise Linux 7"),
        ("SUSE Linux Enterprise Server 15 SP5", "", "SUSE Linux Enterprise Server 15 SP5"),
        ("", "debian-11 11-gen2", "Debian 11"),
        ("", "rockylinux-x86_64 9-base", "Rocky Linux 9"),
        ("", "almalinux-x86_64 8-gen2", "AlmaLinux 8"),
        ("", "Oracle-Linux ol79-lvm", "Oracle Linux 7"),
        ("CentOS Linux 7 (Core)", "", "CentOS 7"),
        ("", "centos-stream 9", "CentOS Stream 9"),
        # What the machine reports wins over the image it was built from (an in-place upgrade).
        ("Windows Server 2019 Datacenter", "WindowsServer 2012-R2-Datacenter", "Windows Server 2019"),
    ],
)
def test_identifies_releases(reported: str, image: str, expected: str) -> None:
    found = TABLE.identify(reported, image)
    assert found is not None and found.name == expected


@pytest.mark.parametrize(("reported", "image"), [("FreeBSD 14.1", ""), ("", "custom-golden-image v3"), ("", "")])
def test_unknown_os_is_not_guessed(reported: str, image: str) -> None:
    assert TABLE.identify(reported, image) is None


def test_table_covers_the_required_families_and_dates() -> None:
    names = {r.name: r.end_of_support for r in TABLE.releases}
    assert names["Windows Server 2012"] == names["Windows Server 2012 R2"] == date(2023, 10, 10)
    for version in ("2008", "2008 R2", "2016", "2019", "2022", "2025"):
        assert f"Windows Server {version}" in names
    for family in ("Ubuntu", "Red Hat", "SUSE", "Debian", "Rocky", "AlmaLinux", "Oracle Linux", "CentOS"):
        assert any(name.startswith(family) for name in names), family
    assert TABLE.last_checked == "2026-12-06"
    text = Path("auditor/compliance/os_lifecycle.toml").read_text()
    assert "learn.microsoft.com/lifecycle" in text and "ubuntu.com/about/release-cycle" in text


def test_end_of_support_day_is_still_supported() -> None:
    end = date(2023, 10, 10)
    assert not past_end(end, datetime(2023, 10, 10, 23, 59, tzinfo=UTC))
    assert past_end(end, datetime(2023, 10, 11, tzinfo=UTC))


def lifecycle_fleet(tmp_path: Path) -> Path:
    f = Fleet()
    sku = "Windows Server 2012 R2 Standard"
    f.machine("arc-esu", platform="Arc", os_sku=sku, esu=("Assigned", "Active"))
    f.machine("arc-key-inactive", platform="Arc", os_sku=sku, esu=("Assigned", "Inactive"))
    f.machine("arc-not-assigned", platform="Arc", os_sku=sku, esu=("NotAssigned", "Active"))
    f.machine("arc-no-profile", platform="Arc", os_sku=sku)
    f.machine("arc-ubuntu", platform="Arc", os="Linux", os_sku="Ubuntu 20.04.6 LTS")
    f.machine("vm-2019", image_sku="2019-datacenter-gensecond")
    f.machine("vm-2022", image_sku="2022-datacenter-g2")
    f.machine("vm-custom", image_offer="golden", image_sku="v3")
    f.write(tmp_path / "snap")
    return tmp_path / "snap"


def test_fleet_lifecycle_through_the_query(tmp_path: Path) -> None:
    source = SnapshotSource(read_snapshot(lifecycle_fleet(tmp_path)))
    try:
        table = source.run(Catalog().get(QUERY)[0].render({})).table
    finally:
        source.close()
    summary = js(assess_lifecycle(table, as_of=AS_OF).to_summary())
    assert summary == {
        "end_of_support": 5,
        "end_of_support_without_esu": 4,
        "unknown_os": 1,
        "by_os": [
            {"os": "(unknown)", "machines": 1, "end_of_support": None, "esu_active": 0},
            {"os": "Ubuntu 20.04 LTS", "machines": 1, "end_of_support": "2025-05-31", "esu_active": 0},
            {"os": "Windows Server 2012 R2", "machines": 4, "end_of_support": "2023-10-10", "esu_active": 1},
            {"os": "Windows Server 2019", "machines": 1, "end_of_support": "2029-01-09", "esu_active": 0},
            {"os": "Windows Server 2022", "machines": 1, "end_of_support": "2031-10-14", "esu_active": 0},
        ],
    }
    refs = {QUERY: f"{QUERY}@v1"}
    bare = typed({"compliance_rate": None})
    doc = typed({"compliance_rate": None, "lifecycle": summary})
    breaches = evaluate_thresholds(build_thresholds(Thresholds(max_end_of_support_machines=3), doc, refs))
    assert [(b.rule, b.observed, b.threshold, b.query) for b in breaches] == [
        ("max_end_of_support_machines", 4, 3, "machine_lifecycle@v1")
    ]
    assert "without an active ESU licence" in breaches[0].message
    assert not evaluate_thresholds(build_thresholds(Thresholds(max_end_of_support_machines=4), doc, refs))
    # A pack that predates the query cannot be judged on it: no breach, whatever the limit.

    assert not evaluate_thresholds(build_thresholds(Thresholds(max_end_of_support_machines=0), bare, refs))
