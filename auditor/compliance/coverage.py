"""Coverage: periodic assessment, maintenance schedules (static and dynamic scopes), patch modes, hotpatch."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pyarrow as pa

from auditor.compliance import columns
from auditor.compliance.facts import Machine
from auditor.compliance.metrics import rate
from auditor.compliance.summary import Coverage, Hotpatch, KeyCount, ScheduledShare, Share

RESOURCE_TYPES = {"Azure": "microsoft.compute/virtualmachines", "Arc": "microsoft.hybridcompute/machines"}
AUTOMATIC_BY_PLATFORM = "automaticbyplatform"


@dataclass(frozen=True)
class DynamicFilter:
    """The filter of a dynamic-scope assignment; an empty list means "any"."""

    resource_types: tuple[str, ...] = ()
    resource_groups: tuple[str, ...] = ()
    locations: tuple[str, ...] = ()
    os_types: tuple[str, ...] = ()
    tags: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    operator: str = "Any"
    """How tag conditions combine: `Any` (one tag matches) or `All` (every tag matches)."""


@dataclass(frozen=True)
class Assignment:
    """A maintenance configuration assignment: static (one machine) or dynamic (a scope plus a filter)."""

    id: str
    configuration_id: str
    """Lower-cased maintenance configuration id."""
    target: str
    """Lower-cased machine id (static) or scope id: /subscriptions/s or /subscriptions/s/resourcegroups/rg."""
    dynamic: bool
    filter: DynamicFilter | None


def _norm_location(value: str) -> str:
    return value.replace(" ", "").lower()


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def parse_filter(text: str) -> DynamicFilter:
    """The filter JSON of a dynamic scope."""
    try:
        data = json.loads(text) if text else {}
    except json.JSONDecodeError:
        data = {}
    data = data if isinstance(data, dict) else {}
    tag_settings = data.get("tagSettings") or {}
    tags_raw = tag_settings.get("tags") or {} if isinstance(tag_settings, dict) else {}
    tags = {str(k): _strings(v) for k, v in tags_raw.items()} if isinstance(tags_raw, dict) else {}
    operator = str(tag_settings.get("filterOperator") or "Any") if isinstance(tag_settings, dict) else "Any"
    return DynamicFilter(
        resource_types=tuple(t.lower() for t in _strings(data.get("resourceTypes"))),
        resource_groups=tuple(g.lower() for g in _strings(data.get("resourceGroups"))),
        locations=tuple(_norm_location(loc) for loc in _strings(data.get("locations"))),
        os_types=tuple(o.lower() for o in _strings(data.get("osTypes"))),
        tags=tags,
        operator="All" if operator.lower() == "all" else "Any",
    )


def build_assignments(table: pa.Table) -> list[Assignment]:
    """Assignments from maintenance_assignments rows. Dynamic scopes have 7 (subscription) or 9 (resource group)
    id segments, as Update Manager's own workbooks tell them apart."""
    # A fleet's dynamic scopes share a few filters: parse each text once (DynamicFilter is frozen, so shareable).
    filters = cache(parse_filter)
    found = zip(
        columns.values(table, "id"),
        columns.values(table, "resourceId"),
        columns.converted(table, "configurationId", _lower),
        columns.texts(table, "filter"),
        strict=True,
    )
    out = []
    for assignment_id, resource_id, configuration_id, filter_text in found:
        segments = (assignment_id or "").split("/")
        dynamic = len(segments) in (7, 9)
        if dynamic:
            target = "/".join(segments[:3] if len(segments) == 7 else segments[:5]).lower()
        else:
            target = (resource_id or "").lower()
        out.append(
            Assignment(
                id=assignment_id,
                configuration_id=configuration_id,
                target=target,
                dynamic=dynamic,
                filter=filters(filter_text) if dynamic else None,
            )
        )
    return out


def _lower(text: str | None) -> str:
    return (text or "").lower()


def matches(assignment: Assignment, machine: Machine) -> bool:
    """Whether an assignment covers a machine, evaluating a dynamic filter exactly."""
    if not assignment.dynamic:
        return assignment.target == machine.machine_id
    scope = f"/subscriptions/{machine.subscription_id}".lower()
    if assignment.target.count("/") == 4:
        scope += f"/resourcegroups/{machine.resource_group}".lower()
    if assignment.target != scope:
        return False
    flt = assignment.filter or DynamicFilter()
    if flt.resource_types and RESOURCE_TYPES[machine.platform] not in flt.resource_types:
        return False
    if flt.resource_groups and machine.resource_group.lower() not in flt.resource_groups:
        return False
    if flt.locations and _norm_location(machine.location) not in flt.locations:
        return False
    if flt.os_types and machine.os.lower() not in flt.os_types:
        return False
    return _tags_match(flt, machine.tags)


def _tags_match(flt: DynamicFilter, tags: Mapping[str, str]) -> bool:
    if not flt.tags:
        return True
    # Tag names are case-insensitive in Azure; values are not.
    lowered = {k.lower(): v for k, v in tags.items()}
    results = [lowered.get(key.lower()) in values for key, values in flt.tags.items()]
    return all(results) if flt.operator == "All" else any(results)


def schedules_by_machine(machines: Sequence[Machine], assignments: Iterable[Assignment]) -> dict[str, set[str]]:
    """Machine id -> ids of the maintenance configurations covering it."""
    covered: dict[str, set[str]] = {m.machine_id: set() for m in machines}
    static = [a for a in assignments if not a.dynamic]
    dynamic = [a for a in assignments if a.dynamic]
    for assignment in static:
        if assignment.target in covered:
            covered[assignment.target].add(assignment.configuration_id)
    if dynamic:
        by_scope: dict[str, list[Assignment]] = {}
        for assignment in dynamic:
            by_scope.setdefault(assignment.target, []).append(assignment)
        for machine in machines:
            sub = f"/subscriptions/{machine.subscription_id}".lower()
            candidates = by_scope.get(sub, []) + by_scope.get(
                f"{sub}/resourcegroups/{machine.resource_group.lower()}", []
            )
            for assignment in candidates:
                if matches(assignment, machine):
                    covered[machine.machine_id].add(assignment.configuration_id)
    return covered


def patch_mode_label(machine: Machine) -> str:
    """Update Manager's label for a machine's patch orchestration."""
    mode = machine.patch_mode.lower()
    if mode == "automaticbyos":
        return "Windows Automatic Updates"
    if mode == "imagedefault":
        return "Image default"
    if mode == AUTOMATIC_BY_PLATFORM:
        return "Customer Managed Schedules" if machine.bypass_safety_checks else "Azure Managed - Safe Deployment"
    if mode == "manual":
        return "Manual"
    return "N/A"


def has_periodic_assessment(machine: Machine) -> bool:
    """Periodic assessment is on when assessmentMode is AutomaticByPlatform."""
    return machine.assessment_mode.lower() == AUTOMATIC_BY_PLATFORM


def hotpatch_eligible(machine: Machine) -> bool:
    """Windows Server Azure Edition VMs can use hotpatch."""
    return machine.platform == "Azure" and machine.os == "Windows" and "azure-edition" in machine.image_sku.lower()


def coverage_summary(machines: Sequence[Machine], scheduled: Mapping[str, set[str]]) -> Coverage:
    """The summary's coverage block."""
    total = len(machines)
    assessed = sum(1 for m in machines if has_periodic_assessment(m))
    covered = sum(1 for m in machines if scheduled.get(m.machine_id))
    multiple = sum(1 for m in machines if len(scheduled.get(m.machine_id, ())) > 1)
    modes = Counter(patch_mode_label(m) for m in machines)
    eligible = [m for m in machines if hotpatch_eligible(m)]
    hot_on = sum(1 for m in eligible if m.hotpatch)
    return Coverage(
        periodic_assessment_enabled=Share(machines=assessed, rate=rate(assessed, total)),
        scheduled=ScheduledShare(machines=covered, rate=rate(covered, total), multiple_schedules=multiple),
        patch_mode=tuple(KeyCount(key=label, machines=modes[label]) for label in sorted(modes)),
        hotpatch=Hotpatch(eligible=len(eligible), enabled=hot_on, disabled=len(eligible) - hot_on),
    )
