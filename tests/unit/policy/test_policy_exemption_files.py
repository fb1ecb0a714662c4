"""exemptions/<name>.toml: expiry forms, every validate rule with its pointer, and the body a ring deploys."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from auditor.policy import PolicyError
from auditor.policy.config import settings_from_dict
from auditor.policy.desired import desired_state
from auditor.policy.exemptions import describe_expiry, format_expiry, parse_expiry
from auditor.policy.load import load_tree
from auditor.policy.validate import validate_path
from tests.unit.policy.helpers import DEFINITION_SCOPE, copy_policies, settings

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DEV = "/subscriptions/11111111-1111-1111-1111-111111111111"
RG = f"{DEV}/resourceGroups/rg-legacy"
DEV_ASSIGNMENT = f"{DEV}/providers/Microsoft.Authorization/policyAssignments/aum-baseline-dev"
HAND_MADE = f"{DEV}/providers/Microsoft.Authorization/policyAssignments/hand-made"
GOOD = f"""assignment = "aum-baseline-dev"
scope = "{RG}"
category = "Waiver"
expires_on = 2027-01-15
display_name = "Legacy app servers"
description = "The vendor patches these servers until they are migrated."
policy_definition_reference_ids = ["auditHotpatch"]

[metadata]
owner = "jane.doe@contoso.com"
justification = "The vendor's support contract forbids hotpatching."
ticket = "CHG-1234"
"""


def write(policies: Path, name: str, text: str = GOOD) -> Path:
    """exemptions/<name>.toml holding `text`."""
    folder = policies / "exemptions"
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def edit(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new)


def found(policies: Path, **config: Any) -> set[tuple[str, str, str, str]]:
    """(file, pointer, rule, severity) of every finding, judged at NOW."""
    report = validate_path(policies, settings(policies, **config), now=NOW)
    return {(f.path.relative_to(policies).as_posix(), f.pointer, f.rule, f.severity) for f in report.findings}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (date(2027, 1, 15), "2027-01-15T00:00:00Z"),
        ("2027-01-15", "2027-01-15T00:00:00Z"),
        (datetime(2027, 1, 15, 9, 30, tzinfo=timezone(timedelta(hours=2))), "2027-01-15T07:30:00Z"),
        ("2027-01-15T09:30:00+02:00", "2027-01-15T07:30:00Z"),
        ("2027-01-15T07:30:00.0000000Z", "2027-01-15T07:30:00Z"),
    ],
)
def test_expiry_forms(value: Any, expected: str) -> None:
    assert format_expiry(parse_expiry(value)) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (datetime(2027, 1, 15), "a date-time needs a UTC offset"),
        ("next week", "expected a date (2027-01-15) or an RFC 3339 date-time"),
        (20270115, "expected a date or an RFC 3339 date-time, got int"),
    ],
)
def test_bad_expiry(value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_expiry(value)


def test_describe_expiry_shows_the_date_at_midnight() -> None:
    assert describe_expiry(parse_expiry("2027-01-15")) == "2027-01-15"
    assert describe_expiry(parse_expiry("2027-01-15T07:30:00Z")) == "2027-01-15T07:30:00Z"


def test_a_valid_exemption_is_clean_and_belongs_to_its_assignments_ring(tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)
    write(policies, "legacy-rg")
    assert found(policies) == set()
    state = desired_state(load_tree(policies), settings(policies), "dev")
    (exemption,) = state.exemptions
    assert exemption.id == f"{RG}/providers/Microsoft.Authorization/policyExemptions/legacy-rg"
    assert exemption.body == {
        "properties": {
            "policyAssignmentId": DEV_ASSIGNMENT,
            "exemptionCategory": "Waiver",
            "expiresOn": "2027-01-15T00:00:00Z",
            "policyDefinitionReferenceIds": ["auditHotpatch"],
            "displayName": "Legacy app servers",
            "description": "The vendor patches these servers until they are migrated.",
            "metadata": {
                "ring": "dev",
                "owner": "jane.doe@contoso.com",
                "justification": "The vendor's support contract forbids hotpatching.",
                "ticket": "CHG-1234",
                "managedBy": "auditor",
                "ownerId": "platform-team",
            },
        }
    }
    assert desired_state(load_tree(policies), settings(policies), "test").exemptions == ()


def test_assignment_by_full_id_and_someone_elses_assignment_with_a_ring(tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)
    by_id = edit(GOOD, 'assignment = "aum-baseline-dev"', f'assignment = "{DEV_ASSIGNMENT.lower()}"')
    write(policies, "by-id", by_id)
    theirs = edit(GOOD, 'assignment = "aum-baseline-dev"', f'assignment = "{HAND_MADE}"\nring = "dev"')
    write(policies, "theirs", edit(theirs, 'policy_definition_reference_ids = ["auditHotpatch"]\n', ""))
    assert found(policies) == set()
    state = desired_state(load_tree(policies), settings(policies), "dev")
    assert [e.body["properties"]["policyAssignmentId"] for e in state.exemptions] == [DEV_ASSIGNMENT, HAND_MADE]


def test_exemption_rules(tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)
    write(policies, "category", edit(GOOD, '"Waiver"', '"waiver"'))
    write(policies, "expired", edit(GOOD, "2027-01-15", "2026-11-01"))
    write(policies, "too-far", edit(GOOD, "2027-01-15", "2027-06-01"))
    write(policies, "unreadable", edit(GOOD, "2027-01-15", '"soon"'))
    write(policies, "local-time", edit(GOOD, "2027-01-15", "2027-01-15T08:00:00"))
    write(policies, "unresolved", edit(GOOD, '"aum-baseline-dev"', '"aum-nothing"'))
    write(policies, "outside", edit(GOOD, RG, "/subscriptions/33333333-3333-3333-3333-333333333333"))
    write(policies, "bad-scope", edit(GOOD, RG, "/subscriptions/nope"))
    write(policies, "member", edit(GOOD, '["auditHotpatch"]', '["auditHotpatch", "noSuchMember"]'))
    write(policies, "reserved", edit(GOOD, 'ticket = "CHG-1234"', 'ticket = "CHG-1234"\nownerId = "someone"'))
    write(policies, "renamed", 'name = "legacy"\n' + GOOD)
    write(policies, "trailing.", GOOD)
    write(policies, "no-ring", edit(GOOD, '"aum-baseline-dev"', f'"{HAND_MADE}"'))
    write(policies, "unknown-ring", edit(GOOD, '"aum-baseline-dev"', f'"{HAND_MADE}"\nring = "qa"'))
    write(policies, "wrong-ring", edit(GOOD, '"aum-baseline-dev"', '"aum-baseline-dev"\nring = "test"'))
    expired, too_far = "exemptions/expired.toml", "exemptions/too-far.toml"
    assert found(policies) == {
        ("exemptions/category.toml", "/category", "exemption-category", "error"),
        (expired, "/expires_on", "exemption-expired", "warning"),
        (too_far, "/expires_on", "exemption-expiry-horizon", "error"),
        ("exemptions/unreadable.toml", "/expires_on", "exemption-expiry", "error"),
        ("exemptions/local-time.toml", "/expires_on", "exemption-expiry", "error"),
        ("exemptions/unresolved.toml", "/assignment", "exemption-assignment-unresolved", "error"),
        ("exemptions/outside.toml", "/scope", "exemption-scope-outside", "error"),
        ("exemptions/bad-scope.toml", "/scope", "scope-invalid", "error"),
        ("exemptions/member.toml", "/policy_definition_reference_ids/1", "exemption-reference-unknown", "error"),
        ("exemptions/reserved.toml", "/metadata/ownerId", "metadata-reserved", "error"),
        ("exemptions/renamed.toml", "/name", "name-matches-file", "error"),
        ("exemptions/trailing..toml", "", "exemption-name", "error"),
        ("exemptions/no-ring.toml", "/assignment", "exemption-ring-missing", "error"),
        ("exemptions/unknown-ring.toml", "/ring", "exemption-ring-unknown", "error"),
        ("exemptions/wrong-ring.toml", "/ring", "exemption-ring-mismatch", "error"),
    }
    report = validate_path(policies, settings(policies), now=NOW)
    messages = {f.path.name: f.message for f in report.findings}
    assert messages["category.toml"] == "category must be Waiver or Mitigated, not 'waiver'; write 'Waiver'"
    assert messages["expired.toml"] == "expired on 2026-11-01: renew or remove"
    assert messages["too-far.toml"] == (
        "expires_on 2027-06-01 is 192 days away; at most 180 days are allowed ([policy].max_exemption_days)"
    )


def test_required_text_is_schema_checked(tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)
    text = edit(GOOD, 'justification = "The vendor\'s support contract forbids hotpatching."\n', "")
    write(policies, "no-why", edit(text, '"The vendor patches these servers until they are migrated."', '"  "'))
    write(policies, "extra", GOOD + 'approved = 2026-11-01\n[notes]\nx = "y"\n')
    report = validate_path(policies, settings(policies), now=NOW)
    assert {(f.path.name, f.pointer, f.rule) for f in report.findings} == {
        ("no-why.toml", "/description", "schema"),
        ("no-why.toml", "/metadata", "schema"),
        ("extra.toml", "", "schema"),
        ("extra.toml", "/metadata/approved", "schema"),
    }
    assert {f.message for f in report.findings if f.path.name == "no-why.toml"} == {
        "'  ' does not match '\\\\S'",
        "'justification' is a required property",
    }


def test_horizon_is_a_setting_and_names_ignore_case(tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)
    write(policies, "legacy-rg")
    write(policies, "Legacy-RG")
    assert found(policies, max_exemption_days=30) == {
        ("exemptions/legacy-rg.toml", "/expires_on", "exemption-expiry-horizon", "error"),
        ("exemptions/Legacy-RG.toml", "/expires_on", "exemption-expiry-horizon", "error"),
        ("exemptions/legacy-rg.toml", "", "name-duplicate", "error"),
    }
    base = {"owner_id": "x", "definition_scope": DEFINITION_SCOPE}
    assert settings_from_dict(base).max_exemption_days == 180
    with pytest.raises(PolicyError, match=r"key 'policy\.max_exemption_days': Input should be greater than or equal"):
        settings_from_dict({**base, "max_exemption_days": 0})


def test_ambiguous_names_and_members_of_a_plain_definition(tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)
    test_ring = policies / "assignments" / "test.toml"
    test_ring.write_text(test_ring.read_text().replace("aum-baseline-test", "aum-baseline-dev"))
    dev_ring = policies / "assignments" / "dev.toml"
    dev_ring.write_text(
        dev_ring.read_text() + '\n[assignments.aum-hotpatch-dev]\ndefinition = "aum-hotpatch-audit"\n'
        'display_name = "Hotpatch (dev)"\n'
    )
    write(policies, "ambiguous")
    write(
        policies,
        "chosen",
        edit(GOOD, 'assignment = "aum-baseline-dev"', 'assignment = "aum-baseline-dev"\nring = "dev"'),
    )
    write(policies, "plain", edit(GOOD, '"aum-baseline-dev"', '"aum-hotpatch-dev"'))
    assert found(policies) == {
        ("exemptions/ambiguous.toml", "/assignment", "exemption-assignment-ambiguous", "error"),
        ("exemptions/plain.toml", "/policy_definition_reference_ids", "exemption-reference-not-set", "error"),
    }
    with pytest.raises(PolicyError, match=r"ambiguous\.toml#/assignment: 'aum-baseline-dev' is an assignment of rings"):
        desired_state(load_tree(policies), settings(policies), "dev")
