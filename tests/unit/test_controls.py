"""Control mappings as data: loading, validation errors, and how a control is judged from summary figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.compliance.controls import evaluate_control, evaluate_controls, resolve
from auditor.config import config_from_dict
from auditor.control_mapping import BUNDLED, load_controls, parse_controls
from auditor.errors import ConfigError
from auditor.reports.json import plain

SUMMARY = {
    "compliance_rate": 92.5,
    "unknown_rate": 4.0,
    "by_classification": [
        {"classification": "Critical", "overdue_machines": 0},
        {"classification": "Security", "overdue_machines": 3},
    ],
    "installations": {"success_rate": None},
}


def one(text: str) -> dict:
    import tomllib

    [control] = parse_controls(tomllib.loads(text), source="t.toml")
    config = config_from_dict({"thresholds": {"min_compliance_rate": 90.0}})
    return plain(evaluate_control(control, SUMMARY, config))


HEAD = 'framework = "F"\n[[control]]\nid = "1.1"\ntitle = "T"\nrequires = "R"\n'


def test_bundled_frameworks_cover_the_issue_controls() -> None:
    ids = {(c.framework, c.id) for c in load_controls()}
    assert {
        ("PCI DSS v4.0.1", "6.3.3"),
        ("ISO/IEC 27001:2022", "A.8.8"),
        ("NIST SP 800-53 Rev. 5", "SI-2"),
        ("NIST SP 800-53 Rev. 5", "SI-2(3)"),
        ("SOC 2 (TSC 2017)", "CC7.1"),
        ("CIS Controls v8", "7.3"),
        ("CIS Controls v8", "7.4"),
    } <= ids
    assert sorted(p.name for p in BUNDLED.glob("*.toml")) == [
        "cis-controls-v8.toml",
        "iso-iec-27001-2022.toml",
        "nist-sp-800-53-r5.toml",
        "pci-dss-4.0.1.toml",
        "soc2-tsc-2017.toml",
    ]


def test_met_not_met_and_not_assessed() -> None:
    met = one(
        HEAD + '[[control.criterion]]\nfigure = "compliance_rate"\nlabel = "rate"\nmust_be = "at_least"\n'
        'threshold = "min_compliance_rate"\nunit = "%"\n'
    )
    assert met["status"] == "met"
    assert (met["criteria"][0]["observed"], met["criteria"][0]["limit"]) == (92.5, 90.0)
    assert met["sentence"] == "Met: rate: 92.50% (must be at least 90.00%)."
    failed = one(
        HEAD + '[[control.criterion]]\nfigure = "by_classification[classification=security].overdue_machines"\n'
        'label = "overdue"\nmust_be = "at_most"\nvalue = 0\nunit = "machines"\n'
        '[[control.criterion]]\nfigure = "remediation.p90_days"\nlabel = "p90"\nmust_be = "at_most"\nvalue = 30\n'
    )
    # A failed criterion decides, even beside one that cannot be judged.
    assert failed["status"] == "not_met"
    assert failed["sentence"] == "Not met: overdue: 3 machines (must be at most 0 machines)."
    missing = one(
        HEAD + '[[control.criterion]]\nfigure = "remediation.p90_days"\nlabel = "p90"\nmust_be = "at_most"\n'
        "value = 30\n"
    )
    assert missing["status"] == "not_assessed"
    assert "this pack has no figure remediation.p90_days" in missing["sentence"]
    unset = one(
        HEAD + '[[control.criterion]]\nfigure = "unknown_rate"\nlabel = "unknown"\nmust_be = "at_most"\n'
        'threshold = "max_unknown_rate"\nunit = "%"\n'
    )
    assert unset["status"] == "not_assessed"
    assert unset["criteria"][0]["threshold"] == "thresholds.max_unknown_rate"
    assert "sets no thresholds.max_unknown_rate" in unset["sentence"]
    null = one(
        HEAD + '[[control.criterion]]\nfigure = "installations.success_rate"\nlabel = "s"\nmust_be = "at_least"\n'
        "value = 90\n"
    )
    assert null["status"] == "not_assessed"


def test_absent_list_element_takes_if_absent_but_a_missing_section_does_not() -> None:
    assert resolve(SUMMARY, "by_classification[classification=Other].overdue_machines") is not None
    absent = one(
        HEAD + '[[control.criterion]]\nfigure = "by_classification[classification=Other].overdue_machines"\n'
        'label = "o"\nmust_be = "at_most"\nvalue = 0\nif_absent = 0\n'
    )
    assert absent["status"] == "met" and absent["criteria"][0]["observed"] == 0
    section = one(
        HEAD + '[[control.criterion]]\nfigure = "remediation.by_classification[classification=Other].dated"\n'
        'label = "o"\nmust_be = "at_most"\nvalue = 0\nif_absent = 0\n'
    )
    assert section["status"] == "not_assessed"


def test_config_figures_are_read_from_the_effective_config() -> None:
    result = one(
        HEAD + '[[control.criterion]]\nfigure = "config.sla.Critical"\nlabel = "sla"\nmust_be = "at_most"\n'
        'value = 14\nunit = "days"\n'
    )
    assert result["status"] == "not_met"
    assert result["sentence"] == "Not met: sla: 15 days (must be at most 14 days)."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            HEAD + '[[control.criterion]]\nfigure = "x"\nlabel = "l"\nmust_be = "at_most"\n',
            "exactly one of value and threshold",
        ),
        (
            HEAD + '[[control.criterion]]\nfigure = "x"\nlabel = "l"\nmust_be = "below"\nvalue = 1\n',
            "criterion.0.must_be",
        ),
        (
            HEAD + '[[control.criterion]]\nfigure = "x"\nlabel = "l"\nmust_be = "at_most"\nthreshold = "nope"\n',
            "'nope' is not a [thresholds] key",
        ),
        (
            HEAD + '[[control.criterion]]\nfigure = "a[b]"\nlabel = "l"\nmust_be = "at_most"\nvalue = 1\n',
            "malformed part",
        ),
        (
            HEAD + 'colour = "red"\n[[control.criterion]]\nfigure = "x"\nlabel = "l"\nmust_be = "at_most"\nvalue = 1\n',
            "control '1.1': key 'colour': unknown key",
        ),
        (HEAD, "control '1.1': key 'criterion'"),
        ('framework = "F"\n', "key 'control'"),
    ],
)
def test_a_bad_mapping_names_the_file_the_control_and_the_key(text: str, expected: str) -> None:
    import tomllib

    with pytest.raises(ConfigError) as caught:
        parse_controls(tomllib.loads(text), source="mine.toml")
    assert caught.value.message.startswith("mine.toml: ")
    assert expected in caught.value.message


GOOD = HEAD + '[[control.criterion]]\nfigure = "compliance_rate"\nlabel = "rate"\nmust_be = "at_least"\nvalue = 50\n'


def test_extra_files_and_folders_are_added_and_duplicates_refused(tmp_path: Path) -> None:
    folder = tmp_path / "more"
    folder.mkdir()
    (folder / "a.toml").write_text(GOOD)
    (folder / "notes.txt").write_text("ignored")
    loaded = load_controls([folder])
    assert [(c.framework, c.id) for c in loaded][-1] == ("F", "1.1")
    (tmp_path / "b.toml").write_text(GOOD.replace('"F"', '"f"'))
    with pytest.raises(ConfigError, match=r"b\.toml: control '1\.1' of f is already defined in .*a\.toml"):
        load_controls([folder, tmp_path / "b.toml"])
    with pytest.raises(ConfigError, match=r"control file .*missing\.toml does not exist"):
        load_controls([tmp_path / "missing.toml"])
    (tmp_path / "bad.toml").write_text("framework = ")
    with pytest.raises(ConfigError, match=r"bad\.toml: invalid TOML"):
        load_controls([tmp_path / "bad.toml"])


def test_results_sort_by_framework_then_id_in_document_order() -> None:
    import tomllib

    text = 'framework = "F"\n' + "".join(
        f'[[control]]\nid = "{ident}"\ntitle = "T"\nrequires = "R"\n[[control.criterion]]\nfigure = "x"\n'
        'label = "l"\nmust_be = "at_most"\nvalue = 1\n'
        for ident in ("SI-2(3)", "6.10", "SI-2", "6.3.3")
    )
    controls = parse_controls(tomllib.loads(text), source="t")
    ordered = [r.id for r in evaluate_controls(controls, {}, config_from_dict({}))]
    assert ordered == ["6.3.3", "6.10", "SI-2", "SI-2(3)"]
