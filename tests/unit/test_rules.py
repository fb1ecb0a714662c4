"""The normative compliance rules, one edge at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from auditor.compliance import facts, metrics, rules
from auditor.compliance.facts import PatchGroup, UndatedPatch
from auditor.compliance.rules import AssessmentState

T = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
SLA = {"Critical": 15, "Security": 30}


@pytest.mark.parametrize(
    ("status", "modified", "expected"),
    [
        (None, None, AssessmentState.NONE),
        ("Failed", T, AssessmentState.FAILED),
        ("InProgress", T, AssessmentState.FAILED),
        ("CompletedWithWarnings", T, AssessmentState.FAILED),
        ("succeeded", T, AssessmentState.FAILED),  # compared exactly
        ("Succeeded", T - timedelta(days=7), AssessmentState.CURRENT),  # exactly at the limit: not before it
        ("Succeeded", T - timedelta(days=7, microseconds=1), AssessmentState.STALE),
        ("Succeeded", T - timedelta(days=7, seconds=1), AssessmentState.STALE),
        ("Succeeded", None, AssessmentState.STALE),
        ("Succeeded", T - timedelta(hours=1), AssessmentState.CURRENT),
    ],
)
def test_assessment_state_edges(status: str | None, modified: datetime | None, expected: AssessmentState) -> None:
    assert rules.assessment_state(status, modified, T, 7) is expected


def test_age_is_floor_of_whole_days() -> None:
    assert rules.age_days(T - timedelta(days=15), T) == 15
    assert rules.age_days(T - timedelta(days=15, seconds=1), T) == 15
    assert rules.age_days(T - timedelta(days=16) + timedelta(seconds=1), T) == 15
    assert rules.age_days(T - timedelta(days=16), T) == 16
    assert rules.age_days(T + timedelta(hours=1), T) == -1


def test_effective_sla_is_smallest_enforced() -> None:
    assert rules.effective_sla(("Critical", "Security"), SLA) == 15
    assert rules.effective_sla(("Security", "Other"), SLA) == 30
    assert rules.effective_sla(("Other", "Updates"), SLA) is None
    assert rules.effective_sla((), SLA) is None


def group(
    classes: tuple[str, ...], published: datetime | None, *, patches: int = 1, undated: int = 0, machine: str = "m1"
) -> PatchGroup:
    return PatchGroup(machine, classes, str(list(classes)), patches, published, undated)


def judge(
    *groups: PatchGroup, undated: tuple[UndatedPatch, ...] = (), first_seen: dict[str, datetime] | None = None
) -> list[rules.GroupVerdict]:
    return rules.judge_groups(groups, undated, sla=SLA, as_of=T, first_seen=first_seen or {})


def test_sla_boundary_exact() -> None:
    at_sla, past_sla = judge(
        group(("Critical",), T - timedelta(days=15, hours=23)),  # age 15: not greater than 15
        group(("Critical",), T - timedelta(days=16)),  # age 16
    )
    assert (at_sla.oldest_age_days, at_sla.overdue) == (15, False)
    assert (past_sla.oldest_age_days, past_sla.overdue) == (16, True)


def test_patch_with_several_classifications_takes_smallest_sla() -> None:
    (verdict,) = judge(group(("Security", "Critical"), T - timedelta(days=20)))
    assert verdict.sla_days == 15
    assert verdict.overdue is True
    (security_only,) = judge(group(("Security",), T - timedelta(days=20)))
    assert security_only.overdue is False


def test_unenforced_patch_is_never_overdue() -> None:
    (verdict,) = judge(group(("Other",), T - timedelta(days=400)))
    assert (verdict.sla_days, verdict.overdue) == (None, False)


def test_missing_published_date_without_history_is_overdue() -> None:
    (verdict,) = judge(group(("Security",), None, undated=1))
    assert verdict.unknown_age == 1
    assert verdict.overdue is True


def test_missing_published_date_dated_by_earlier_scan() -> None:
    g = group(("Security",), None, undated=1)
    patch = UndatedPatch("key-1", "m1", "openssl", "3.0", g.classifications_text)
    recent = judge(g, undated=(patch,), first_seen={"key-1": T - timedelta(days=10)})[0]
    assert (recent.unknown_age, recent.oldest_age_days, recent.overdue) == (0, 10, False)
    old = judge(g, undated=(patch,), first_seen={"key-1": T - timedelta(days=31)})[0]
    assert (old.oldest_age_days, old.overdue) == (31, True)


def test_first_seen_at_as_of_itself_does_not_date_the_patch() -> None:
    g = group(("Security",), None, undated=1)
    patch = UndatedPatch("key-1", "m1", "openssl", "3.0", g.classifications_text)
    (verdict,) = judge(g, undated=(patch,), first_seen={"key-1": T})
    assert verdict.unknown_age == 1 and verdict.overdue


def test_rate_rounds_half_up_and_is_null_when_empty() -> None:
    assert metrics.rate(1, 3) == 33.33
    assert metrics.rate(2, 3) == 66.67
    assert metrics.rate(1, 8) == 12.5
    assert metrics.rate(1, 800) == 0.13  # 0.125 rounds half-up (banker's rounding would give 0.12)
    assert metrics.rate(0, 0) is None
    assert metrics.status_counts([]).compliance_rate is None


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"Environment": "prod"}, "Production"),
        ({"environment": "PRD"}, "Production"),
        ({"ENVIRONMENT": " Prod "}, "Production"),
        ({"Environment": "Dev"}, "Dev"),  # no alias: spelling kept
        ({"Environment": ""}, "(untagged)"),
        ({"owner": "x"}, "(untagged)"),
        ({"environment": "dev", "Environment": "prod"}, "Production"),  # exact key spelling wins
    ],
)
def test_environment_resolution(tags: dict[str, str], expected: str) -> None:
    index = facts.alias_index({"Production": ["prod", "prd"]})
    assert facts.resolve_environment(tags, "Environment", index) == expected


def test_os_normalisation() -> None:
    assert facts.normalise_os("windows") == "Windows"
    assert facts.normalise_os("Linux") == "Linux"
    assert facts.normalise_os("") == "(unknown)"


def test_classification_parsing_is_case_insensitive_and_deduplicated() -> None:
    assert facts.parse_classifications('["critical","Security","CRITICAL"]') == ("Critical", "Security")
    assert facts.parse_classifications('"Other"') == ("Other",)
    assert facts.parse_classifications("") == ()
