"""The history's first-seen dates: the earliest sighting of each patch is kept, whatever order scans are recorded in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from auditor.history import HistoryError, HistoryStore

T = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)


class Figures:
    """The figures record() reads from a Summary (a stand-in: these tests are about first-seen dates)."""

    machines = 2
    compliance_rate = 50.0
    unknown_rate = 0.0
    breaches = 0
    remediation = None
    lifecycle = None

    def dimension(self, _name: str) -> list[Any]:
        return []


def record(store: HistoryStore, as_of: datetime, sightings: list[tuple[str, str]]) -> None:
    store.record(
        run_id=f"run-{as_of:%d}",
        as_of=as_of,
        fingerprint={"tenant_id": "t"},
        config_sha256="c",
        summary=cast(Any, Figures()),
        document="{}",
        breaches=[],
        statuses=[("vm-a", "compliant"), ("vm-b", "non_compliant")],
        sightings=sightings,
        complete=True,
    )


def dates(store: HistoryStore) -> dict[str, tuple[str, datetime]]:
    rows = store._con.execute("SELECT patch_key, machine_id, first_seen FROM patch_first_seen").fetchall()
    return {key: (machine, seen.astimezone(UTC)) for key, machine, seen in rows}


def test_first_seen_keeps_the_earliest_sighting_in_any_recording_order(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / "h.duckdb") as store:
        record(store, T, [("vm-a|p1", "vm-a"), ("vm-b|p2", "vm-b"), ("vm-b|p2", "vm-b")])
        assert dates(store) == {"vm-a|p1": ("vm-a", T), "vm-b|p2": ("vm-b", T)}
        # a later scan adds only what is new
        record(store, T + timedelta(days=3), [("vm-a|p1", "vm-a"), ("vm-a|p3", "vm-a")])
        assert dates(store) == {
            "vm-a|p1": ("vm-a", T),
            "vm-b|p2": ("vm-b", T),
            "vm-a|p3": ("vm-a", T + timedelta(days=3)),
        }
        # an earlier scan recorded afterwards moves the dates of what it saw back, and nothing else
        record(store, T - timedelta(days=2), [("vm-a|p3", "vm-a"), ("vm-b|p2", "vm-b")])
        assert dates(store) == {
            "vm-a|p1": ("vm-a", T),
            "vm-b|p2": ("vm-b", T - timedelta(days=2)),
            "vm-a|p3": ("vm-a", T - timedelta(days=2)),
        }
        assert store.first_seen(["vm-a|p1", "vm-a|p3", "vm-x|p9"], T) == {"vm-a|p3": T - timedelta(days=2)}


def test_recording_the_same_scan_again_changes_nothing(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / "h.duckdb") as store:
        record(store, T, [("vm-a|p1", "vm-a")])
        before = dates(store)
        record(store, T, [("vm-a|p1", "vm-a")])
        assert dates(store) == before
        assert len(store.runs()) == 1
        assert store._con.execute("SELECT count(*) FROM machine_status").fetchone() == (2,)


def test_a_recorded_summary_that_is_no_object_is_a_one_line_error(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / "h.duckdb") as store:
        store.record(
            run_id="r",
            as_of=T,
            fingerprint={"tenant_id": "t"},
            config_sha256="c",
            summary=cast(Any, Figures()),
            document='{"machines": 2}',
            breaches=[("min_compliance_rate", "overall")],
            statuses=[],
            sightings=[],
            complete=True,
        )
        assert store.latest_summary() == {"machines": 2}
        (scan,) = store.summaries()
        assert scan["summary"] == {"machines": 2} and scan["breach_rules"] == {"min_compliance_rate": 1}
        store._con.execute("UPDATE runs SET summary = '[1, 2]'")
        with pytest.raises(HistoryError, match=r"h\.duckdb: a recorded summary is list, not a JSON object"):
            store.latest_summary()


def test_first_seen_dates_are_keyed_by_the_callers_own_strings(tmp_path: Path) -> None:
    # At 100,000 machines a copy of every key would hold ~170,000 more strings for the whole scan.
    with HistoryStore(tmp_path / "h.duckdb") as store:
        record(store, T - timedelta(days=7), [("vm-a|p1", "vm-a"), ("vm-b|p2", "vm-b")])
        wanted = ["".join(["vm-a|", "p1"]), "".join(["vm-b|", "p2"]), "vm-x|p9"]
        found = store.first_seen(wanted, T)
    assert found == {"vm-a|p1": T - timedelta(days=7), "vm-b|p2": T - timedelta(days=7)}
    assert [any(key is mine for mine in wanted) for key in found] == [True, True]
