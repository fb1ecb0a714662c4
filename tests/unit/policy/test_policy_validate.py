"""`auditor policy validate`: every rule, with the exact file and JSON pointer it reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from auditor.policy import PolicyError
from auditor.policy.findings import Finding
from auditor.policy.validate import validate_path
from tests.refdata import needs_refdata
from tests.unit.policy.helpers import REFDATA_POLICIES, REPO, copy_policies, edit_json, settings

DEFS = "definitions"
SCHEDULE = f"{DEFS}/aum-schedule-patching.json"
BASELINE = "initiatives/aum-patch-baseline.json"


def found(policies: Path, **config: Any) -> set[tuple[str, str, str, str]]:
    """(file, pointer, rule, severity) of every finding."""
    report = validate_path(policies, settings(policies, **config) if config else None)
    return {(f.path.relative_to(policies).as_posix(), f.pointer, f.rule, f.severity) for f in report.findings}


def test_shipped_policies_are_clean() -> None:
    report = validate_path(REPO / "policies", settings())
    assert report.ok and report.findings == () and report.files == 8


@needs_refdata("policies")
def test_real_builtin_definitions_pass() -> None:
    report = validate_path(REFDATA_POLICIES)
    assert report.files == 9 and report.errors == ()
    # only the initiative's members that auditor does not know by id are flagged, as warnings
    assert {(f.path.name, f.rule) for f in report.warnings} == {
        ("EssentialManagement_Onboarding.json", "reference-unresolved")
    }
    assert len(report.warnings) == 22


def test_name_and_version_house_rules(tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)

    def rename(data: dict[str, Any]) -> None:
        data["name"] = "schedule"
        data["properties"]["metadata"]["version"] = "v1"

    edit_json(policies / SCHEDULE, rename)
    assert found(policies) >= {
        (SCHEDULE, "/name", "name-matches-file", "error"),
        (SCHEDULE, "/properties/metadata/version", "version-semver", "error"),
    }


def test_parameters_declared_and_used_with_template_scopes(tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)

    def change(data: dict[str, Any]) -> None:
        rule = data["properties"]["policyRule"]
        # the policy rule uses an undeclared parameter
        rule["if"]["anyOf"][0]["allOf"][1]["in"] = "[parameters('osTypes')]"
        template = rule["then"]["details"]["deployment"]["properties"]["template"]
        # inside the template, parameters() is the template's: 'effect' is a policy parameter, not a template one
        template["variables"]["mode"] = "[parameters('effect')]"
        # a template parameter with no default that the deployment does not pass
        template["parameters"]["patchWindow"] = {"type": "string"}

    edit_json(policies / SCHEDULE, change)
    base = "/properties/policyRule/then/details/deployment/properties"
    assert found(policies) == {
        (SCHEDULE, "/properties/policyRule/if/anyOf/0/allOf/1/in", "parameter-undeclared", "error"),
        (SCHEDULE, f"{base}/template/variables/mode", "template-parameter-undeclared", "error"),
        (SCHEDULE, f"{base}/template/parameters/patchWindow", "template-parameter-unused", "warning"),
        (SCHEDULE, f"{base}/template/parameters/patchWindow", "deployment-parameter-missing", "error"),
    }


def test_policy_parameter_used_only_inside_the_template_is_unused(tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)

    def change(data: dict[str, Any]) -> None:
        data["properties"]["parameters"]["rebootSetting"] = {"type": "String", "defaultValue": "IfRequired"}
        template = data["properties"]["policyRule"]["then"]["details"]["deployment"]["properties"]["template"]
        template["parameters"]["rebootSetting"] = {"type": "string", "defaultValue": "Never"}
        template["variables"]["reboot"] = "[parameters('rebootSetting')]"

    edit_json(policies / SCHEDULE, change)
    assert found(policies) == {(SCHEDULE, "/properties/parameters/rebootSetting", "parameter-unused", "error")}


def test_nested_inner_template_has_its_own_scope(tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)
    nested = {
        "type": "Microsoft.Resources/deployments",
        "apiVersion": "2022-09-01",
        "name": "inner",
        "properties": {
            "mode": "Incremental",
            "expressionEvaluationOptions": {"scope": "inner"},
            "parameters": {"id": {"value": "[parameters('machineId')]"}},
            "template": {
                "parameters": {"id": {"type": "string"}},
                "resources": [],
                "outputs": {"o": {"type": "string", "value": "[parameters('location')]"}},
            },
        },
    }

    def change(data: dict[str, Any]) -> None:
        template = data["properties"]["policyRule"]["then"]["details"]["deployment"]["properties"]["template"]
        template["resources"].append(nested)

    edit_json(policies / SCHEDULE, change)
    inner = "/properties/policyRule/then/details/deployment/properties/template/resources/2/properties/template"
    assert found(policies) == {
        (SCHEDULE, f"{inner}/outputs/o/value", "template-parameter-undeclared", "error"),
        (SCHEDULE, f"{inner}/parameters/id", "template-parameter-unused", "warning"),
    }


def test_allowed_values_and_effect_requirements(tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)

    def change(data: dict[str, Any]) -> None:
        data["properties"]["parameters"]["effect"]["defaultValue"] = "Deny"
        details = data["properties"]["policyRule"]["then"]["details"]
        del details["roleDefinitionIds"], details["existenceCondition"], details["deployment"]

    edit_json(policies / SCHEDULE, change)
    edit_json(
        policies / f"{DEFS}/aum-periodic-assessment.json",
        lambda d: d["properties"]["policyRule"]["then"]["details"].pop("operations"),
    )
    details = "/properties/policyRule/then/details"
    assert found(policies) == {
        (SCHEDULE, "/properties/parameters/effect/defaultValue", "allowed-values-default", "error"),
        (SCHEDULE, f"{details}/roleDefinitionIds", "effect-roles", "error"),
        (SCHEDULE, f"{details}/existenceCondition", "dine-existence-condition", "error"),
        (SCHEDULE, "/properties/policyRule/then/details/deployment/properties", "dine-deployment", "error"),
        (f"{DEFS}/aum-periodic-assessment.json", f"{details}/operations", "modify-operations", "error"),
        # its only uses were in the existenceCondition and the deployment
        (SCHEDULE, "/properties/parameters/maintenanceConfigurationId", "parameter-unused", "error"),
    }


def test_initiative_references(tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)

    def change(data: dict[str, Any]) -> None:
        members = data["properties"]["policyDefinitions"]
        members[0]["policyDefinitionId"] = "/providers/Microsoft.Authorization/policyDefinitions/aum-missing"
        members[1]["policyDefinitionReferenceId"] = members[2]["policyDefinitionReferenceId"]
        members[2]["parameters"]["tagOperator"] = {"value": "Sometimes"}
        members[3]["parameters"].pop("maintenanceConfigurationId")
        members[4]["groupNames"] = ["Reporting"]
        members[5]["parameters"]["effect"] = {"value": "Modify"}

    edit_json(policies / BASELINE, change)
    members = "/properties/policyDefinitions"
    assert found(policies) == {
        (BASELINE, f"{members}/0/policyDefinitionId", "reference-unresolved", "error"),
        (BASELINE, f"{members}/2/policyDefinitionReferenceId", "reference-id-duplicate", "error"),
        (BASELINE, f"{members}/2/parameters/tagOperator/value", "reference-value-allowed", "error"),
        (BASELINE, f"{members}/3/parameters", "reference-parameter-missing", "error"),
        (BASELINE, f"{members}/4/groupNames/0", "group-undeclared", "error"),
        (BASELINE, f"{members}/5/parameters/effect/value", "reference-value-allowed", "error"),
        # member 3 no longer passes it and member 5 takes a literal: two initiative parameters are used nowhere
        (BASELINE, "/properties/parameters/hotpatchEffect", "parameter-unused", "error"),
        (BASELINE, "/properties/parameters/maintenanceConfigurationId", "parameter-unused", "error"),
    }


def test_ring_files(tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)
    ring = policies / "assignments" / "test.toml"
    text = ring.read_text().replace("aum-baseline-test", "aum-patch-baseline-for-testing")
    text = text.replace(
        'hotpatchEffect = "Audit"',
        'hotpatchEffect = "Sometimes"\nosTypes = ["Windows"]\n'
        'scheduleEffect = 3\nmaintenanceConfigurationId = "/subscriptions/x"',
    )
    text += '\n[[assignments.aum-patch-baseline-for-testing.non_compliance_messages]]\nreference_id = "nope"\nmessage = "m"\n'
    ring.write_text(text)
    (policies / "assignments" / "qa.toml").write_text(
        'scope = "/subscriptions/not-a-guid"\nidentity_location = "westeurope"\n'
        '[assignments.x]\ndefinition = "aum-nothing"\ndisplay_name = "X"\n'
    )
    base = "/assignments/aum-patch-baseline-for-testing"
    assert found(policies, rings=["dev", "test", "prod", "stage"]) == {
        ("assignments/test.toml", base, "assignment-name-length", "error"),
        ("assignments/test.toml", f"{base}/parameters/hotpatchEffect", "assignment-parameter-allowed", "error"),
        ("assignments/test.toml", f"{base}/parameters/osTypes", "assignment-parameter-unknown", "error"),
        ("assignments/test.toml", f"{base}/parameters/scheduleEffect", "assignment-parameter-type", "error"),
        (
            "assignments/test.toml",
            f"{base}/parameters/maintenanceConfigurationId",
            "maintenance-parameter-twice",
            "error",
        ),
        (
            "assignments/test.toml",
            f"{base}/non_compliance_messages/1/reference_id",
            "non-compliance-reference",
            "error",
        ),
        ("assignments/qa.toml", "", "ring-unknown", "error"),
        ("assignments/qa.toml", "/scope", "scope-invalid", "error"),
        ("assignments/qa.toml", "/assignments/x/definition", "assignment-definition-unresolved", "error"),
        ("assignments/stage.toml", "", "ring-missing", "error"),
    }


def test_missing_required_parameter_and_schema_errors(tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)
    ring = policies / "assignments" / "dev.toml"
    lines = [line for line in ring.read_text().splitlines() if not line.startswith("maintenance_configuration_id")]
    ring.write_text('enforcement = "Off"\n' + "\n".join(lines) + "\n")
    edit_json(policies / f"{DEFS}/aum-hotpatch-audit.json", lambda d: d["properties"].__setitem__("mode", 7))
    assert found(policies) == {
        ("assignments/dev.toml", "", "schema", "error"),
        (f"{DEFS}/aum-hotpatch-audit.json", "/properties/mode", "schema", "error"),
    }
    ring.write_text("\n".join(lines) + "\n")
    assert (
        "assignments/dev.toml",
        "/assignments/aum-baseline-dev/parameters",
        "assignment-parameter-missing",
        "error",
    ) in found(policies)


def test_syntax_errors_name_the_line(tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)
    (policies / DEFS / "broken.json").write_text('{\n  "name": "broken",\n  "properties": {\n')
    (policies / "assignments" / "prod.toml").write_text("scope = \n")
    report = validate_path(policies)
    assert [f.render(policies) for f in report.errors] == [
        "assignments/prod.toml#: error [syntax] invalid TOML: Invalid value (at line 1, column 9)",
        "definitions/broken.json#: error [syntax] invalid JSON at line 4 column 1: Expecting property name enclosed "
        "in double quotes",
    ]


def test_a_catalogue_that_is_not_an_object_is_named(tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)
    (policies / "builtins.json").write_text("[]")
    with pytest.raises(PolicyError) as caught:
        validate_path(policies)
    assert caught.value.message == f"{policies / 'builtins.json'}: the built-in catalogue is not a JSON object"
    assert caught.value.hint == "restore policies/builtins.json"


def test_finding_render() -> None:
    finding = Finding(Path("/x/policies/definitions/a.json"), "/properties/x~1y", "schema", "bad", "warning")
    assert finding.render(Path("/x/policies")) == "definitions/a.json#/properties/x~1y: warning [schema] bad"
