"""exceptions.toml: validation (every error names the file and the entry), discovery next to the config, states."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from auditor.compliance.risk_acceptance import ExceptionOutcome, ExceptionState, exception_summary, state_on
from auditor.config import load_config
from auditor.errors import ConfigError, ExitCode
from auditor.package_data import data_dir
from auditor.risk_register import ExceptionEntry, load_register, validate_register
from tests.summaries import js

VM = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-1"
GOOD = f"""
[[exception]]
id = "EX-7"
owner = "erp-team@contoso.com"
justification = "vendor freeze"
ticket = "CHG-7"
approver = "ciso@contoso.com"
approved_on = 2026-09-02
created = 2026-09-01
expires_on = 2026-12-01
machine_ids = ["{VM}"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "exceptions.toml"
    path.write_text(text)
    return path


def test_a_good_register_loads_normalised(tmp_path: Path) -> None:
    text = (
        GOOD
        + 'tags = { app = "erp" }\nkb_ids = ["KB05031361", "5031361"]\npackages = "OpenSSL"\nclassifications = ["security"]\n'
    )
    (entry,) = load_register(write(tmp_path, text), max_days=180)
    assert (entry.id, entry.created, entry.expires_on) == ("EX-7", date(2026, 9, 1), date(2026, 12, 1))
    assert entry.machine_ids == (VM.lower(),)
    assert (entry.kb_ids, entry.packages, entry.classifications) == (("5031361",), ("openssl",), ("Security",))
    assert entry.tags == {"app": ("erp",)} and entry.narrowed_to_patches


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (('owner = "erp-team@contoso.com"\n', ""), "exception 'EX-7': missing required key 'owner'"),
        (('justification = "vendor freeze"\n', ""), "exception 'EX-7': missing required key 'justification'"),
        (("expires_on = 2026-12-01\n", ""), "exception 'EX-7': missing required key 'expires_on'"),
        (('ticket = "CHG-7"\n', ""), "exception 'EX-7': missing required key 'ticket'"),
        (
            ('justification = "vendor freeze"', 'justification = "   "'),
            "exception 'EX-7': key 'justification': is empty",
        ),
        (('id = "EX-7"\n', ""), "exception #1 (no id): missing required key 'id'"),
        (
            ("expires_on = 2026-12-01", "expires_on = 2027-03-01"),
            "exception 'EX-7': expires_on 2027-03-01 is 181 days after created 2026-09-01; the maximum is 180 days",
        ),
        (
            ("expires_on = 2026-12-01", "expires_on = 2026-08-31"),
            "exception 'EX-7': expires_on 2026-08-31 is before created 2026-09-01",
        ),
        (
            (f'machine_ids = ["{VM}"]\n', ""),
            "exception 'EX-7': selects no machine: give at least one of machine_ids, "
            "tags, subscriptions, resource_groups",
        ),
        (
            (f'machine_ids = ["{VM}"]', 'machine_ids = ["vm-1"]'),
            "exception 'EX-7': key 'machine_ids': 'vm-1' is not a machine's ARM id",
        ),
        (("ticket =", "tikcet ="), "exception 'EX-7': unknown key 'tikcet'"),
        (
            ("ticket =", 'classifications = ["Critcal"]\nticket ='),
            "exception 'EX-7': key 'classifications': unknown classification 'Critcal'",
        ),
        (("ticket =", 'kb_ids = ["Q123"]\nticket ='), "exception 'EX-7': key 'kb_ids': 'Q123' is not a KB number"),
        (
            ("ticket =", 'tags = { App = "a", app = "b" }\nticket ='),
            "exception 'EX-7': key 'tags': tag key 'app' is empty or given twice",
        ),
        (
            ("expires_on = 2026-12-01", 'expires_on = "soon"'),
            "exception 'EX-7': key 'expires_on': Input should be a valid date",
        ),
    ],
    ids=[
        "owner",
        "justification",
        "expiry",
        "ticket",
        "blank",
        "no-id",
        "past-maximum",
        "before-created",
        "no-selector",
        "bad-machine-id",
        "unknown-key",
        "unknown-classification",
        "bad-kb",
        "tag-twice",
        "bad-date",
    ],
)
def test_each_problem_names_the_file_and_the_entry(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    old, new = change
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(ConfigError) as info:
        load_register(path, max_days=180)
    assert info.value.message.startswith(f"{path}: {expected}")
    assert "\n" not in info.value.message and info.value.hint
    assert info.value.exit_code is ExitCode.BAD_INPUT


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (('approver = "ciso@contoso.com"\n', ""), "exception 'EX-7': missing required key 'approver'"),
        (("approved_on = 2026-09-02\n", ""), "exception 'EX-7': missing required key 'approved_on'"),
        (
            ('approver = "ciso@contoso.com"', 'approver = " ERP-Team@Contoso.com "'),
            "exception 'EX-7': approver 'ERP-Team@Contoso.com' is also its owner; "
            "a risk acceptance needs a second person to approve it",
        ),
        (
            ("approved_on = 2026-09-02", "approved_on = 2026-08-31"),
            "exception 'EX-7': approved_on 2026-08-31 is before created 2026-09-01",
        ),
        (('approver = "ciso@contoso.com"', 'approver = ""'), "exception 'EX-7': key 'approver': is empty"),
        (
            ("approved_on = 2026-09-02", 'approved_on = 2026-09-02\nrisk_rating = "severe"'),
            "exception 'EX-7': key 'risk_rating': 'severe' is not a risk rating; "
            "expected one of low, medium, high, critical",
        ),
    ],
    ids=["no-approver", "no-approved-on", "self-approved", "approved-before-created", "blank-approver", "bad-rating"],
)
def test_approval_problems_name_the_file_and_the_entry(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    old, new = change
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(ConfigError) as info:
        load_register(path, max_days=180)
    assert info.value.message == f"{path}: {expected}"
    assert info.value.exit_code is ExitCode.BAD_INPUT
    assert "approver" in info.value.hint or "samples/exceptions.toml" in info.value.hint


def test_approval_fields_are_read_and_normalised(tmp_path: Path) -> None:
    text = (
        GOOD.replace("approved_on = 2026-09-01\n", "")
        + 'risk_rating = "High"\ncompensating_controls = ["isolated subnet", " EDR ", "isolated subnet"]\n'
    )
    (entry,) = load_register(write(tmp_path, text), max_days=180)
    assert (entry.approver, entry.approved_on) == ("ciso@contoso.com", date(2026, 9, 2))
    assert (entry.risk_rating, entry.compensating_controls) == ("high", ("isolated subnet", "EDR"))
    one = (
        GOOD.replace("approved_on = 2026-09-02", "approved_on = 2026-09-01")
        + 'compensating_controls = "jump host only"\n'
    )
    (entry,) = load_register(write(tmp_path, one), max_days=180)
    assert (entry.approved_on, entry.compensating_controls, entry.risk_rating) == (
        date(2026, 9, 1),
        ("jump host only",),
        None,
    )


def test_a_pack_written_before_approvals_is_read_without_them() -> None:
    row = {
        "id": "EX-1",
        "owner": "o",
        "justification": "j",
        "ticket": "t",
        "created": "2026-10-01",
        "expires_on": "2026-11-01",
        "subscriptions": ["s"],
    }
    with pytest.raises(ConfigError, match="missing required key 'approver'"):
        validate_register({"exception": [row]}, max_days=180, source="evidence/exceptions.jsonl.gz")
    (entry,) = validate_register({"exception": [row]}, max_days=180, source="evidence", legacy=True)
    assert (entry.approver, entry.approved_on) == (None, None)
    # ...and its summary rows keep their old shape, so the pack still replays byte for byte.
    assert not {"approver", "approved_on", "risk_rating"} & set(
        js(exception_summary(ExceptionOutcome(entry, ExceptionState.ACTIVE, 0, ())))
    )


def test_the_maximum_is_inclusive_and_configurable(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("expires_on = 2026-12-01", "expires_on = 2027-02-28"))  # 180 days
    assert load_register(path, max_days=180)[0].duration_days == 180
    with pytest.raises(ConfigError, match="the maximum is 90 days"):
        load_register(path, max_days=90)


def test_duplicate_ids_ignore_case(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + GOOD.replace('id = "EX-7"', 'id = "ex-7"'))
    with pytest.raises(ConfigError) as info:
        load_register(path, max_days=180)
    assert (
        info.value.message == f"{path}: exception 'ex-7': duplicate id (also used by exception 'EX-7'; ids ignore case)"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[[exception\n", "invalid TOML"),
        ("owner = 'x'\n", "unknown top-level key 'owner'"),
        ("exception = 3\n", "'exception' must be an array of tables"),
    ],
)
def test_file_level_problems(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_register(write(tmp_path, text), max_days=180)
    with pytest.raises(ConfigError, match="does not exist"):
        load_register(tmp_path / "nope.toml", max_days=180)


def test_an_empty_register_is_valid(tmp_path: Path) -> None:
    assert load_register(write(tmp_path, "# nothing accepted yet\n"), max_days=180) == ()


def test_the_register_next_to_the_config_is_found(tmp_path: Path) -> None:
    (tmp_path / "auditor.toml").write_text("")
    assert load_config(tmp_path / "auditor.toml").exceptions_file is None
    write(tmp_path, GOOD)
    assert load_config(tmp_path / "auditor.toml").exceptions_file == tmp_path / "exceptions.toml"
    (tmp_path / "auditor.toml").write_text('exceptions_file = "risk/accepted.toml"\nmax_exception_days = 90\n')
    config = load_config(tmp_path / "auditor.toml")
    assert (config.exceptions_file, config.max_exception_days) == (tmp_path / "risk" / "accepted.toml", 90)


def test_the_sample_register_is_valid() -> None:
    register = load_register(data_dir("samples") / "exceptions.toml", max_days=180)
    assert [e.id for e in register] == ["EX-101", "EX-102", "EX-103", "EX-104", "EX-105"]
    assert all(e.approver and e.approved_on and e.approver.lower() != e.owner.lower() for e in register)


def _entry(created: str = "2026-10-01", expires_on: str = "2026-11-01") -> ExceptionEntry:
    return ExceptionEntry.model_validate(
        {
            "id": "EX-1",
            "owner": "o",
            "justification": "j",
            "ticket": "t",
            "approver": "a",
            "approved_on": created,
            "created": created,
            "expires_on": expires_on,
            "subscriptions": ["s"],
        }
    )


@pytest.mark.parametrize(
    ("as_of", "state"),
    [
        (datetime(2026, 9, 30, 23, 59, 59, tzinfo=UTC), ExceptionState.NOT_YET_ACTIVE),
        (datetime(2026, 10, 1, tzinfo=UTC), ExceptionState.ACTIVE),
        (datetime(2026, 10, 17, 23, 0, tzinfo=UTC), ExceptionState.ACTIVE),  # 15 days left
        (datetime(2026, 10, 18, tzinfo=UTC), ExceptionState.EXPIRING),  # 14 days left
        (datetime(2026, 11, 1, 23, 59, 59, tzinfo=UTC), ExceptionState.EXPIRING),  # the last day, to its end
        (datetime(2026, 11, 2, tzinfo=UTC), ExceptionState.EXPIRED),
    ],
)
def test_states_follow_utc_days(as_of: datetime, state: ExceptionState) -> None:
    assert state_on(_entry(), as_of, warning_days=14) is state
    assert state.in_force is (state in (ExceptionState.ACTIVE, ExceptionState.EXPIRING))
