"""The PDF's view model: top-N lists stay bounded, ranked the way an auditor reads them."""

from __future__ import annotations

from auditor.compliance.facts import Machine, PatchGroup
from auditor.compliance.rules import AssessmentState, GroupVerdict, MachineVerdict, OverduePatch, Status
from auditor.compliance.summary import Dimension, StatusCounts
from auditor.reports.pdf.model import TOP_MACHINES, cap, group_table, top_machines
from auditor.reports.pdf.operations import failure_patterns, policy_view, schedules_view
from auditor.reports.pdf.scope import source_details, source_tables
from auditor.reports.pdf.summary_section import measure
from tests.summaries import typed


def machine(i: int) -> Machine:
    rid = f"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-{i:05d}"
    return Machine(
        machine_id=rid.lower(),
        resource_id=rid,
        name=f"vm-{i:05d}",
        platform="Azure",
        subscription_id="s",
        resource_group="rg",
        location="westeurope",
        os="Windows",
        os_detail="",
        image_sku="",
        power_state="",
        environment="Production",
        tags={},
        assessment_mode="",
        patch_mode="",
        hotpatch=None,
        bypass_safety_checks=False,
        reboot_setting="",
        assessment_status="Succeeded",
        assessment_last_modified=None,
        assessment_error="",
        reboot_pending=None,
    )


def verdict(i: int, age: int | None, status: Status = Status.NON_COMPLIANT) -> MachineVerdict:
    return MachineVerdict(machine(i), AssessmentState.CURRENT, status, 3, ("Critical",), age, 0 if age else 1)


def group(i: int, classes: tuple[str, ...], age: int | None, overdue: bool = True) -> GroupVerdict:
    patch = PatchGroup(machine(i).machine_id, classes, "", 1, None, 0 if age is not None else 1)
    return GroupVerdict(patch, 15, age, 0 if age is not None else 1, overdue)


def test_top_machines_oldest_first_capped() -> None:
    verdicts = [verdict(i, i % 97 if i % 10 else None) for i in range(2000)]
    verdicts += [verdict(5000 + i, None, Status.COMPLIANT) for i in range(100)]
    result = top_machines(verdicts, [])
    assert len(result.rows) == TOP_MACHINES and result.total == 2000 and result.more == 1950
    ages = [row.oldest_age_days for row in result.rows]
    assert ages == sorted(ages, key=lambda a: -(a or 0)) and ages[0] == 96
    assert all(age is not None for age in ages)


def test_undated_only_machines_follow_dated_ones() -> None:
    result = top_machines([verdict(1, None), verdict(2, 3)], [])
    assert [row.name for row in result.rows] == ["vm-00002", "vm-00001"]


def test_oldest_overdue_group_gives_the_classifications() -> None:
    groups = [
        group(1, ("Security",), 40),
        group(1, ("Critical", "Security"), 60),
        group(1, ("Critical",), None),
        group(1, ("Updates",), 300, overdue=False),
        group(2, ("Critical",), 99),
    ]
    result = top_machines([verdict(1, 60)], groups)
    assert result.rows[0].oldest_classifications == ("Critical", "Security")


def row(key: str, machines: int, non_compliant: int) -> Dimension:
    counts = StatusCounts(
        machines=machines,
        compliant=machines - non_compliant,
        non_compliant=non_compliant,
        unknown=0,
        compliance_rate=0.0,
        compliant_with_exception=0,
        compliance_rate_without_exceptions=0.0,
        exception_rate=0.0,
    )
    return Dimension(key=key, counts=counts)


def test_group_table_keeps_key_order_when_it_fits() -> None:
    table = group_table("Environment", "Environment", [row("a", 5, 1), row("b", 5, 4)], limit=30)
    assert [r.key for r in table.rows.rows] == ["a", "b"] and not table.ranked and table.rows.more == 0


def test_group_table_ranks_and_caps_long_lists() -> None:
    rows = [row(f"sub-{i:04d}", 100, i % 50) for i in range(1000)]
    table = group_table("Subscription", "Subscription id", rows, limit=25, always_rank=True)
    assert len(table.rows.rows) == 25 and table.rows.more == 975 and table.ranked
    assert all(r.counts.non_compliant == 49 for r in table.rows.rows[:20])
    assert table.hidden_machines == 975 * 100


def test_cap() -> None:
    capped = cap(list(range(10)), 3)
    assert capped.rows == [0, 1, 2] and capped.total == 10 and capped.more == 7


def test_policy_view_ranks_and_caps() -> None:
    empty = policy_view(typed({}))
    assert empty.assignments.rows == [] and empty.mismatches.total == 0 and empty.mismatch_count == 0
    view = policy_view(
        typed(
            {
                "policy": {
                    "assignments": [{"assignment": "a", "non_compliant": 1}, {"assignment": "b", "non_compliant": 9}],
                    "mismatches": 60,
                },
                "policy_mismatches": [{"name": f"vm{i}"} for i in range(60)],
            }
        )
    )
    assert [a.assignment for a in view.assignments.rows] == ["b", "a"]
    assert len(view.mismatches.rows) == 25 and view.mismatches.more == 35 and view.mismatch_count == 60


def test_source_details_and_tables() -> None:
    source = {
        "kind": "snapshot",
        "tenant_id": "t",
        "scope": {"subscriptions": [f"s{i}" for i in range(8)]},
        "tables": {"resources": {"rows": 3, "sha256": "ab"}},
    }
    details = dict(source_details(source))
    assert details["Tenant"] == "t"
    assert details["Scope"] == "subscriptions: s0, s1, s2, s3, s4 (+3 more)"
    assert source_tables(source) == [("resources", 3, "ab")]
    assert source_tables({"tenant_id": "t"}) == []


def test_schedules_and_failure_patterns() -> None:
    # Sections a pack written before the schedule audit lacks.
    assert schedules_view(typed({})) is None and failure_patterns(typed({})) is None
    view = schedules_view(
        typed(
            {
                "schedules": {
                    "configurations": [{"key": "small", "machines": 2}, {"key": "big", "machines": 90}]
                    + [{"key": f"c{i}", "machines": 1} for i in range(40)],
                    "unscheduled_machines": 7,
                    "expired_configurations": ["old"],
                    "rules": {"expiry": "text", "runs": "r", "concurrency": "c"},
                }
            }
        )
    )
    assert view is not None
    assert [c.key for c in view.configurations.rows[:2]] == ["big", "small"]
    assert view.configurations.total == 42 and view.configurations.more == 17
    assert view.unscheduled == 7 and view.expired.rows == ["old"]
    assert view.rules == [("expiry", "text"), ("runs", "r"), ("concurrency", "c")]
    assert view.concurrency is None  # no 168-hour series, no heat map
    patterns = failure_patterns(typed({"failure_patterns": {"rule": "r", "flags": [{"key": "eastus2"}]}}))
    assert patterns is not None and [f.key for f in patterns.flags.rows] == ["eastus2"] and patterns.rule == "r"


def test_threshold_figures_in_their_unit() -> None:
    assert [measure(35.531, "%"), measure(0, "%")] == ["35.53%", "0.00%"]
    assert [measure(255.0, "machines"), measure(1, "machines"), measure(12345, "machines")] == [
        "255 machines",
        "1 machine",
        "12,345 machines",
    ]
    assert [measure(17.0, "days"), measure(1.0, "days"), measure(0, "days")] == ["17 days", "1 day", "0 days"]


def overdue(i: int, name: str, age: int | None, kb: str = "", covered: tuple[str, ...] = ()) -> OverduePatch:
    mid = machine(i).machine_id
    return OverduePatch(f"{mid}/p/{name}", mid, name, kb, "", ("Critical",), '["Critical"]', None, age, 15, covered)


def test_top_machines_name_the_oldest_overdue_patch() -> None:
    patches = [
        overdue(1, "openssl", None),
        overdue(1, "2026-08 Cumulative Update", 60, "5063467"),
        overdue(1, "Servicing Stack", 20),
        overdue(2, "curl", None),
        overdue(2, "zlib", None),
        overdue(3, "KB5063468 Security Update", 70, "5063468", ("EX-1",)),
        overdue(9, "elsewhere", 99),
    ]
    result = top_machines([verdict(1, 60), verdict(2, None), verdict(3, 70)], [], patches)
    named = {row.name: (row.oldest_patch, row.oldest_patch_exceptions) for row in result.rows}
    assert named == {
        "vm-00001": ("2026-08 Cumulative Update (KB5063467)", ()),
        "vm-00002": ("curl", ()),  # only undated patches: the first by name
        "vm-00003": ("KB5063468 Security Update", ("EX-1",)),  # the KB is in the name already
    }
    assert top_machines([verdict(1, 60)], []).rows[0].oldest_patch == ""  # packs without patch detail
