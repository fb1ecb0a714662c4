"""`auditor policy validate`: JSON Schema checks plus lint rules over a policies/ tree.

Microsoft's built-in definitions (policyType BuiltIn) pass the same checks, except the house rules for our own
files (the name equals the file name, metadata.version is semver).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from auditor.policy import PolicyError
from auditor.policy.config import DEFAULT_MAX_EXEMPTION_DAYS, PolicySettings
from auditor.policy.expressions import pointer_join
from auditor.policy.findings import Finding
from auditor.policy.load import Document, PolicyTree, load_tree
from auditor.policy.rules_docs import definition_rules, set_rules
from auditor.policy.rules_exemptions import duplicate_exemptions, exemption_rules
from auditor.policy.rules_ids import tree_id_findings
from auditor.policy.rules_rings import ring_rules

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
SCHEMAS = {
    "definition": "policy-definition",
    "set": "policy-set-definition",
    "ring": "ring",
    "exemption": "policy-exemption",
}


@cache
def _validators() -> dict[str, Draft202012Validator]:
    loaded = {
        key: json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))
        for key, name in SCHEMAS.items()
    }
    registry: Registry[Any] = Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema)) for schema in loaded.values()
    )
    return {key: Draft202012Validator(schema, registry=registry) for key, schema in loaded.items()}


def schema_findings(path: Path, data: object, which: str) -> Iterator[Finding]:
    """One finding per JSON Schema violation, at the pointer of the offending value."""
    for error in sorted(_validators()[which].iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        pointer = ""
        for part in error.absolute_path:
            pointer = pointer_join(pointer, part)
        yield Finding(path, pointer, "schema", error.message)


@dataclass(frozen=True)
class ValidationReport:
    """Everything validate found."""

    root: Path
    files: int
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> tuple[Finding, ...]:
        """Findings that fail validation."""
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        """Findings worth a look that do not fail validation."""
        return tuple(f for f in self.findings if f.severity == "warning")

    @property
    def ok(self) -> bool:
        """True when there is no error."""
        return not self.errors


def _duplicates(documents: Sequence[Document]) -> Iterator[Finding]:
    seen: dict[tuple[str, str], Path] = {}
    for doc in documents:
        key = (doc.kind, doc.name.casefold())
        if key in seen:
            yield Finding(doc.path, "/name", "name-duplicate", f"{doc.name!r} is also the name of {seen[key].name}")
        seen.setdefault(key, doc.path)


def _order(finding: Finding) -> tuple[str, tuple[tuple[int, int, str], ...], str, str]:
    tokens = tuple((0, int(t), "") if t.isdigit() else (1, 0, t) for t in finding.pointer.split("/"))
    return (str(finding.path), tokens, finding.rule, finding.message)


def validate_tree(
    tree: PolicyTree,
    *,
    rings: Sequence[str] | None = None,
    definition_scope: str | None = None,
    max_exemption_days: int = DEFAULT_MAX_EXEMPTION_DAYS,
    now: datetime | None = None,
) -> ValidationReport:
    """Validate a loaded tree; `rings` (from config) also checks that every ring has its file. Exemption expiries
    are judged at `now` (default: the current time)."""
    now = now or datetime.now(UTC)
    findings = [Finding(p.path, p.pointer, "syntax", p.message) for p in tree.problems]
    findings.extend(_duplicates(tree.documents))
    for doc in tree.documents:
        schema = list(schema_findings(doc.path, doc.data, doc.kind))
        findings.extend(schema)
        if not schema:
            findings.extend(definition_rules(doc) if doc.kind == "definition" else set_rules(doc, tree))
    for ring in tree.rings:
        schema = list(schema_findings(ring.path, ring.data, "ring"))
        findings.extend(schema)
        if not schema:
            findings.extend(ring_rules(ring, tree, rings, definition_scope))
    findings.extend(duplicate_exemptions(tree.exemptions))
    for exemption in tree.exemptions:
        schema = list(schema_findings(exemption.path, exemption.data, "exemption"))
        findings.extend(schema)
        if not schema:
            findings.extend(exemption_rules(exemption, tree, rings, definition_scope, max_exemption_days, now))
    for name in rings or ():
        if tree.ring(name) is None:
            findings.append(
                Finding(
                    tree.root / "assignments" / f"{name}.toml",
                    "",
                    "ring-missing",
                    f"ring {name!r} is configured but has no assignments file",
                )
            )
    # Non-canonical ids anywhere in a file; where another rule already failed the same value, its finding says it.
    reported = {(f.path, f.pointer) for f in findings if f.severity == "error"}
    findings.extend(f for f in tree_id_findings(tree) if (f.path, f.pointer) not in reported)
    files = len(tree.documents) + len(tree.rings) + len(tree.exemptions) + len(tree.problems)
    return ValidationReport(tree.root, files, tuple(sorted(set(findings), key=_order)))


def validate_path(
    path: Path | None = None, settings: PolicySettings | None = None, *, now: datetime | None = None
) -> ValidationReport:
    """Validate a policies/ tree, a folder of policy files or one file (default: the configured tree)."""
    if path is None:
        if settings is None:
            raise PolicyError("nothing to validate", "pass a path or --config")
        path = settings.resolved_policies_dir()
    tree = load_tree(path)
    own_tree = settings is not None and path.resolve() == settings.resolved_policies_dir().resolve()
    return validate_tree(
        tree,
        rings=settings.rings if own_tree and settings else None,
        definition_scope=settings.definition_scope if settings else None,
        max_exemption_days=settings.max_exemption_days if settings else DEFAULT_MAX_EXEMPTION_DAYS,
        now=now,
    )


def require_valid(report: ValidationReport) -> None:
    """Raise PolicyError naming the first error when the report has errors."""
    if report.ok:
        return
    first = report.errors[0]
    more = f" (+{len(report.errors) - 1} more)" if len(report.errors) > 1 else ""
    raise PolicyError(f"{first.render()}{more}", "run `auditor policy validate` and fix every error")
