"""Judge framework controls from the figures a scan produced (summary.json's `controls`).

A control is `met` when every criterion holds, `not_met` when one fails, and `not_assessed` when none fails but a
figure is absent (a section this pack does not have, such as remediation timeliness before it is measured) or the
threshold it needs is not configured. Each result carries the figures and limits it rests on and one sentence.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import fields, is_dataclass
from enum import StrEnum
from typing import Any

from auditor.compliance.summary import ABSENT_KEY, INLINE_KEY, ControlResult, CriterionResult
from auditor.config import Config
from auditor.control_mapping import ControlDefinition, Criterion, figure_segments


class ControlStatus(StrEnum):
    """The outcome of a control."""

    MET = "met"
    NOT_MET = "not_met"
    NOT_ASSESSED = "not_assessed"


ABSENT = object()
"""A selector found its list but no matching element (as opposed to a section the document does not have)."""


def _step(node: Any, name: str) -> Any:
    """One named step into a JSON-like mapping or a summary dataclass (whose inline fields are searched as if their
    fields were the parent's, as summary.json writes them); _MISSING when there is no such key."""
    if isinstance(node, Mapping):
        return node.get(name, _MISSING)
    if is_dataclass(node) and not isinstance(node, type):
        for spec in fields(node):
            value = getattr(node, spec.name)
            if spec.name == name:
                return _MISSING if value is None and spec.metadata.get(ABSENT_KEY) else value
            if spec.metadata.get(INLINE_KEY):
                found = _step(value, name)
                if found is not _MISSING:
                    return found
    return _MISSING


_MISSING = object()


def resolve(document: Any, path: str) -> Any:
    """The value at a figure path in summary.json's shape (a typed summary or JSON-like data): None when a section
    is missing, ABSENT when a list is there but holds no element the selector picks."""
    node = document
    for name, selector in figure_segments(path):
        node = _step(node, name)
        if node is _MISSING:
            return None
        if selector is not None:
            key, value = selector
            if not isinstance(node, list | tuple):
                return None
            wanted = value.lower()
            node = next((item for item in node if str(_step(item, key)).lower() == wanted), ABSENT)
            if node is ABSENT:
                return ABSENT
    return node


def _number(value: Any) -> float | None:
    """A figure as a number; None for anything else (a missing section, null, text, true/false). Counts become
    floats too, so summary.json writes every figure of a criterion in one type."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _shown(value: float, unit: str) -> str:
    if unit == "%":
        return f"{value:.2f}%"
    count = f"{int(value):,}" if float(value).is_integer() else f"{value:,.2f}"
    if unit in ("machines", "days"):
        return f"{count} {unit[:-1] if value == 1 else unit}"
    return count


def _criterion(criterion: Criterion, summary: Any, config: Config) -> CriterionResult:
    """One criterion's figure, limit, outcome and words."""
    if criterion.figure.startswith("config."):
        found = resolve(config.model_dump(mode="json"), criterion.figure.removeprefix("config."))
    else:
        found = resolve(summary, criterion.figure)
    observed = _number(criterion.if_absent) if found is ABSENT else _number(found)
    limit = _number(criterion.value)
    if criterion.threshold is not None:
        limit = _number(resolve(config.thresholds.model_dump(mode="json"), criterion.threshold))
    word = criterion.must_be.replace("_", " ")
    if observed is None:
        outcome, text = ControlStatus.NOT_ASSESSED, f"{criterion.label}: this pack has no figure {criterion.figure}"
    elif limit is None:
        outcome = ControlStatus.NOT_ASSESSED
        text = (
            f"{criterion.label}: {_shown(observed, criterion.unit)}, "
            f"but auditor.toml sets no thresholds.{criterion.threshold} to judge it by"
        )
    else:
        holds = observed >= limit if criterion.must_be == "at_least" else observed <= limit
        outcome = ControlStatus.MET if holds else ControlStatus.NOT_MET
        text = f"{criterion.label}: {_shown(observed, criterion.unit)} (must be {word} {_shown(limit, criterion.unit)})"
    return CriterionResult(
        figure=criterion.figure,
        label=criterion.label,
        observed=observed,
        must_be=criterion.must_be,
        limit=limit,
        threshold=f"thresholds.{criterion.threshold}" if criterion.threshold is not None else None,
        unit=criterion.unit,
        outcome=outcome.value,
        text=text,
    )


_OPENING = {
    ControlStatus.MET: "Met",
    ControlStatus.NOT_MET: "Not met",
    ControlStatus.NOT_ASSESSED: "Not assessed",
}


def evaluate_control(definition: ControlDefinition, summary: Any, config: Config) -> ControlResult:
    """One control's entry of summary.json's `controls`, judged from a summary (typed, or as JSON data)."""
    criteria = tuple(_criterion(c, summary, config) for c in definition.criterion)
    outcomes = {c.outcome for c in criteria}
    if ControlStatus.NOT_MET in outcomes:
        status = ControlStatus.NOT_MET
    elif ControlStatus.NOT_ASSESSED in outcomes:
        status = ControlStatus.NOT_ASSESSED
    else:
        status = ControlStatus.MET
    # The sentence gives the criteria that decided the status: all of them when met, else those that failed or
    # could not be judged.
    deciding = [c.text for c in criteria if status is ControlStatus.MET or c.outcome == status.value]
    return ControlResult(
        framework=definition.framework,
        id=definition.id,
        title=definition.title,
        status=status.value,
        requires=definition.requires,
        criteria=criteria,
        sentence=f"{_OPENING[status]}: {'; '.join(deciding)}.",
        note=definition.note,
    )


def evaluate_controls(definitions: Iterable[ControlDefinition], summary: Any, config: Config) -> list[ControlResult]:
    """Every control judged from the summary's figures, sorted by framework then id."""
    results = [evaluate_control(d, summary, config) for d in definitions]
    return sorted(results, key=lambda r: (r.framework.lower(), _id_key(r.id)))


def _id_key(ident: str) -> tuple[tuple[int, int, str], ...]:
    """Control ids in document order: `6.3.3` before `6.10`, `SI-2` before `SI-2(3)`, numbers before names."""
    parts = ident.replace("(", ".").replace(")", "").replace("-", ".").split(".")
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p.lower()) for p in parts)
