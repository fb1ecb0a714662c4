"""Lint rules for policy definitions and initiatives (beyond their JSON Schema)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from auditor.jsonvalue import JsonObject, as_array, as_object
from auditor.policy.expressions import (
    Usage,
    is_expression,
    lookup,
    pointer_join,
    possible_effects,
    template_scopes,
    usage_of,
)
from auditor.policy.findings import Finding
from auditor.policy.ids import BUILTIN_PREFIX, id_key
from auditor.policy.load import Document, PolicyTree
from auditor.policy.model import REMEDIABLE_EFFECTS
from auditor.policy.resolve import resolve_reference

SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
KNOWN_EFFECTS = frozenset(
    {
        "append",
        "audit",
        "auditifnotexists",
        "deny",
        "denyaction",
        "deployifnotexists",
        "disabled",
        "manual",
        "modify",
        "mutate",
    }
)
MODES = ("All", "Indexed")
"""The resource manager modes of a policy definition."""
PROVIDER_MODES = (
    "Microsoft.Kubernetes.Data",
    "Microsoft.KeyVault.Data",
    "Microsoft.Network.Data",
    "Microsoft.ManagedHSM.Data",
    "Microsoft.DataFactory.Data",
    "Microsoft.MachineLearningServices.v2.Data",
    "Microsoft.LoadTestService.Data",
)
"""The documented Resource Provider modes (the first three generally available, the others in preview)."""
_RULE = "/properties/policyRule"
_DETAILS = f"{_RULE}/then/details"
_DEPLOYMENT = f"{_DETAILS}/deployment/properties"


def value_allowed(value: object, declaration: JsonObject) -> bool:
    """True when value is among allowedValues (each element, for an array of scalars); strings ignore case."""
    allowed = declaration.get("allowedValues")
    if not isinstance(allowed, list) or not allowed:
        return True

    def same(left: object, right: object) -> bool:
        if isinstance(left, str) and isinstance(right, str):
            return left.casefold() == right.casefold()
        return bool(left == right)

    if any(same(value, item) for item in allowed):
        return True
    if isinstance(value, list) and not any(isinstance(item, list) for item in allowed):
        return all(any(same(element, item) for item in allowed) for element in value)
    return False


def own_rules(doc: Document) -> Iterator[Finding]:
    """House rules for our own files: name equals the file name, metadata.version is semver."""
    name = doc.data.get("name")
    if not isinstance(name, str):
        yield Finding(doc.path, "/name", "name-matches-file", f"name is missing; set it to {doc.path.stem!r}")
    elif name != doc.path.stem:
        yield Finding(
            doc.path, "/name", "name-matches-file", f"name {name!r} differs from the file name {doc.path.stem!r}"
        )
    version = as_object(doc.properties.get("metadata")).get("version")
    if not isinstance(version, str) or not SEMVER.match(version):
        shown = "is missing" if version is None else f"{version!r} is not semver (MAJOR.MINOR.PATCH)"
        yield Finding(doc.path, "/properties/metadata/version", "version-semver", f"metadata.version {shown}")


def parameter_rules(
    doc: Document,
    declared: JsonObject,
    usage: Usage,
    base: str,
    *,
    template: bool = False,
    unused_severity: str = "error",
) -> Iterator[Finding]:
    """Every used parameter is declared, every declared one is used, and defaults are allowed values."""
    prefix = "template-" if template else ""
    names = {key.casefold() for key in declared}
    for name, where in usage.uses:
        if name.casefold() not in names:
            scope = "the template's parameters" if template else "parameters"
            yield Finding(
                doc.path, where, f"{prefix}parameter-undeclared", f"parameters('{name}') is not declared in {scope}"
            )
    if not usage.dynamic:
        used = usage.names()
        for key in declared:
            if key.casefold() not in used:
                yield Finding(
                    doc.path,
                    pointer_join(base, key),
                    f"{prefix}parameter-unused",
                    f"parameter {key!r} is declared but never used",
                    "warning" if unused_severity == "warning" else "error",
                )
    for key, item in declared.items():
        declaration = as_object(item)
        if "defaultValue" in declaration and not value_allowed(declaration["defaultValue"], declaration):
            yield Finding(
                doc.path,
                pointer_join(pointer_join(base, key), "defaultValue"),
                "allowed-values-default",
                f"defaultValue {declaration['defaultValue']!r} of {key!r} is not among its allowedValues",
            )


def _deployment_rules(doc: Document, deployment: JsonObject) -> Iterator[Finding]:
    properties = as_object(deployment.get("properties"))
    template = properties.get("template")
    if not isinstance(template, dict) or not isinstance(properties.get("mode"), str):
        yield Finding(
            doc.path, _DEPLOYMENT, "dine-deployment", "deployment needs properties.mode and properties.template"
        )
        return
    for scope in template_scopes(template, f"{_DEPLOYMENT}/template"):
        yield from parameter_rules(
            doc,
            scope.declared,
            scope.usage,
            pointer_join(scope.pointer, "parameters"),
            template=True,
            unused_severity="warning",
        )
    declared = as_object(template.get("parameters"))
    passed = as_object(properties.get("parameters"))
    for name in passed:
        if lookup(declared, name) is None:
            yield Finding(
                doc.path,
                f"{_DEPLOYMENT}/parameters/{name}",
                "deployment-parameter-unknown",
                f"the deployment passes {name!r}, which the template does not declare",
            )
    for name, declaration in declared.items():
        if "defaultValue" not in as_object(declaration) and lookup(passed, name) is None:
            yield Finding(
                doc.path,
                f"{_DEPLOYMENT}/template/parameters/{name}",
                "deployment-parameter-missing",
                f"template parameter {name!r} has no defaultValue and the deployment does not pass it",
            )


def effect_rules(doc: Document) -> Iterator[Finding]:
    """DeployIfNotExists and Modify need roleDefinitionIds; DINE also an existenceCondition and a deployment."""
    then = as_object(as_object(doc.properties.get("policyRule")).get("then"))
    effects = possible_effects(then.get("effect"), as_object(doc.properties.get("parameters")))
    if effects is None:
        yield Finding(
            doc.path,
            f"{_RULE}/then/effect",
            "effect-unresolved",
            "the effect is an expression auditor cannot resolve; role and remediation checks are skipped",
            "warning",
        )
        return
    for effect in sorted(effects - KNOWN_EFFECTS):
        yield Finding(
            doc.path, f"{_RULE}/then/effect", "effect-unknown", f"{effect!r} is not a known effect", "warning"
        )
    details = as_object(then.get("details"))
    if effects & REMEDIABLE_EFFECTS:
        roles = details.get("roleDefinitionIds")
        if not isinstance(roles, list) or not roles:
            yield Finding(
                doc.path,
                f"{_DETAILS}/roleDefinitionIds",
                "effect-roles",
                f"effect {'/'.join(sorted(effects & REMEDIABLE_EFFECTS))} needs roleDefinitionIds",
            )
    if "deployifnotexists" in effects:
        if not isinstance(details.get("existenceCondition"), dict):
            yield Finding(
                doc.path,
                f"{_DETAILS}/existenceCondition",
                "dine-existence-condition",
                "DeployIfNotExists needs an existenceCondition",
            )
        yield from _deployment_rules(doc, as_object(details.get("deployment")))
    if "modify" in effects:
        operations = details.get("operations")
        if not isinstance(operations, list) or not operations:
            yield Finding(doc.path, f"{_DETAILS}/operations", "modify-operations", "Modify needs details.operations")


def mode_rules(doc: Document) -> Iterator[Finding]:
    """properties.mode is All, Indexed or a documented Resource Provider mode (ARM ignores its case)."""
    mode = doc.properties.get("mode")
    if not isinstance(mode, str):
        return  # the schema requires a string
    valid = MODES + PROVIDER_MODES
    if mode.casefold() not in {m.casefold() for m in valid}:
        yield Finding(
            doc.path,
            "/properties/mode",
            "definition-mode",
            f"mode {mode!r} is not a policy mode; use All, Indexed or a Resource Provider mode "
            f"({', '.join(PROVIDER_MODES)})",
        )


def definition_rules(doc: Document) -> Iterator[Finding]:
    """All rules for a policy definition."""
    if not doc.builtin:
        yield from own_rules(doc)
    yield from mode_rules(doc)
    rule = doc.properties.get("policyRule")
    skip = frozenset({f"{_DEPLOYMENT}/template"})
    usage = usage_of(rule, _RULE, skip)
    yield from parameter_rules(doc, as_object(doc.properties.get("parameters")), usage, "/properties/parameters")
    yield from effect_rules(doc)


def set_rules(doc: Document, tree: PolicyTree) -> Iterator[Finding]:
    """All rules for an initiative."""
    if not doc.builtin:
        yield from own_rules(doc)
    declared = as_object(doc.properties.get("parameters"))
    members = as_array(doc.properties.get("policyDefinitions"))
    usage = usage_of(members, "/properties/policyDefinitions")
    yield from parameter_rules(doc, declared, usage, "/properties/parameters")
    groups = {
        str(as_object(group).get("name", "")).casefold()
        for group in as_array(doc.properties.get("policyDefinitionGroups"))
    }
    seen: set[str] = set()
    for index, item in enumerate(members):
        member = as_object(item)
        base = f"/properties/policyDefinitions/{index}"
        reference_id = str(member.get("policyDefinitionReferenceId", ""))
        if reference_id.casefold() in seen:
            yield Finding(
                doc.path,
                f"{base}/policyDefinitionReferenceId",
                "reference-id-duplicate",
                f"policyDefinitionReferenceId {reference_id!r} is used twice",
            )
        seen.add(reference_id.casefold())
        for group_index, group in enumerate(as_array(member.get("groupNames"))):
            if str(group).casefold() not in groups:
                yield Finding(
                    doc.path,
                    f"{base}/groupNames/{group_index}",
                    "group-undeclared",
                    f"group {group!r} is not in policyDefinitionGroups",
                )
        yield from _member_rules(doc, tree, member, base)


def _member_rules(doc: Document, tree: PolicyTree, member: JsonObject, base: str) -> Iterator[Finding]:
    reference = str(member.get("policyDefinitionId", ""))
    facts = resolve_reference(tree, reference, "")
    if facts is None:
        if doc.builtin and id_key(reference).startswith(BUILTIN_PREFIX.casefold()):
            yield Finding(
                doc.path,
                f"{base}/policyDefinitionId",
                "reference-unresolved",
                f"{reference} is a built-in auditor does not know; its parameters are not checked",
                "warning",
            )
            return
        hint = (
            ""
            if id_key(reference).startswith(BUILTIN_PREFIX.casefold())
            else ("; name our own definitions as /providers/Microsoft.Authorization/policyDefinitions/<name>")
        )
        yield Finding(
            doc.path,
            f"{base}/policyDefinitionId",
            "reference-unresolved",
            f"{reference} is neither a file in definitions/ nor a known built-in{hint}",
        )
        return
    passed = as_object(member.get("parameters"))
    for name, value in passed.items():
        found = lookup(facts.parameters, name)
        if found is None:
            yield Finding(
                doc.path,
                f"{base}/parameters/{name}",
                "reference-parameter-unknown",
                f"{reference} declares no parameter {name!r}",
            )
            continue
        literal = as_object(value).get("value")
        if not (isinstance(literal, str) and is_expression(literal)) and not value_allowed(
            literal, as_object(found[1])
        ):
            yield Finding(
                doc.path,
                f"{base}/parameters/{name}/value",
                "reference-value-allowed",
                f"{literal!r} is not among the allowedValues of {name!r}",
            )
    for name, declaration in facts.parameters.items():
        if "defaultValue" not in as_object(declaration) and lookup(passed, name) is None:
            yield Finding(
                doc.path,
                f"{base}/parameters",
                "reference-parameter-missing",
                f"{reference} needs parameter {name!r} (it has no default)",
            )
