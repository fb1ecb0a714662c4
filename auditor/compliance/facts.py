"""Turn query rows into typed machine facts and pending-patch groups (no judgement here)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import pyarrow as pa

from auditor.compliance.classifications import canonical
from auditor.compliance.timeparse import parse_arg_time

UNTAGGED = "(untagged)"
UNKNOWN = "(unknown)"


@dataclass(frozen=True, slots=True)
class Machine:
    """One in-scope machine, as the machine_facts query describes it."""

    machine_id: str
    """tolower(id): the key that joins every table."""
    resource_id: str
    """The ARM id as ARG spells it (for portal links)."""
    name: str
    platform: str
    """`Azure` (virtual machine) or `Arc` (hybrid machine)."""
    subscription_id: str
    resource_group: str
    location: str
    os: str
    """`Windows`, `Linux` or `(unknown)`."""
    os_detail: str
    """OS SKU and version (Arc) or image offer and SKU (VM), for reports and failure patterns."""
    image_sku: str
    power_state: str
    environment: str
    """Canonical environment from the environment tag, or `(untagged)`."""
    tags: Mapping[str, str]
    assessment_mode: str
    patch_mode: str
    hotpatch: bool | None
    bypass_safety_checks: bool
    reboot_setting: str
    assessment_status: str | None
    """properties.status of the latest assessment, None when there is no assessment row."""
    assessment_last_modified: datetime | None
    assessment_error: str
    reboot_pending: bool | None


@dataclass(frozen=True, slots=True)
class PatchGroup:
    """Pending patches of one machine that share one classification set."""

    machine_id: str
    classifications: tuple[str, ...]
    """Canonical classification names, de-duplicated, in the order given."""
    classifications_text: str
    """The set as the query returned it (joins undated patch rows to their group)."""
    patches: int
    oldest_published: datetime | None
    undated: int


@dataclass(frozen=True, slots=True)
class UndatedPatch:
    """A pending patch with no publishedDateTime, in an SLA-enforced classification."""

    patch_key: str
    machine_id: str
    name: str
    version: str
    classifications_text: str


def rows(table: pa.Table) -> Iterator[dict[str, Any]]:
    """Rows of an Arrow table as dicts, converted a batch at a time so a large table never exists twice in
    Python form (a whole-table to_pylist() of a 100,000-machine fleet's rows costs hundreds of MB)."""
    for batch in table.to_batches(max_chunksize=16384):
        yield from batch.to_pylist()


def _bool(text: str | None) -> bool | None:
    if text is None or text == "":
        return None
    return text.strip().lower() == "true"


def normalise_os(raw: str | None) -> str:
    """`Windows`, `Linux` or `(unknown)` from osName/osType/osDisk.osType."""
    value = (raw or "").strip().lower()
    if value.startswith("windows"):
        return "Windows"
    if value.startswith("linux"):
        return "Linux"
    return UNKNOWN


def parse_tags(text: str | None) -> dict[str, str]:
    """Tags from the JSON text the query projects; non-object or bad JSON means no tags."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}


def alias_index(aliases: Mapping[str, list[str]]) -> dict[str, str]:
    """Lower-cased tag value -> canonical environment name (a canonical name is its own alias)."""
    index: dict[str, str] = {}
    for name, values in aliases.items():
        index[name.strip().lower()] = name
        for value in values:
            index[value.strip().lower()] = name
    return index


def resolve_environment(tags: Mapping[str, str], tag_name: str, aliases: Mapping[str, str]) -> str:
    """The machine's environment: the tag named `tag_name` (key ignoring case) mapped through the aliases.

    When several keys differ only in case, the exact spelling wins, then the first in sorted order.
    """
    wanted = tag_name.lower()
    keys = sorted(k for k in tags if k.lower() == wanted)
    if not keys:
        return UNTAGGED
    key = tag_name if tag_name in keys else keys[0]
    value = tags[key].strip()
    if not value:
        return UNTAGGED
    return aliases.get(value.lower(), value)


def build_machines(table: pa.Table, *, environment_tag: str, environment_aliases: Mapping[str, list[str]]) -> list[Machine]:
    """Machines from machine_facts rows, one per machine id (the most recently assessed row wins)."""
    index = alias_index(environment_aliases)
    machines: dict[str, Machine] = {}
    for row in rows(table):
        tags = parse_tags(row["tags"])
        osname = normalise_os(row["osRaw"])
        detail = " ".join(p for p in (row["osSku"], row["osVersion"]) if p) or " ".join(
            p for p in (row["imageOffer"], row["imageSku"]) if p
        )
        machine = Machine(
            machine_id=row["machineId"],
            resource_id=row["id"],
            name=row["name"] or "",
            platform=row["platform"],
            subscription_id=(row["subscriptionId"] or "").lower(),
            resource_group=row["resourceGroup"] or "",
            location=row["location"] or "",
            os=osname,
            os_detail=detail,
            image_sku=row["imageSku"] or "",
            power_state=row["powerState"] or "",
            environment=resolve_environment(tags, environment_tag, index),
            tags=tags,
            assessment_mode=row["assessmentMode"] or "",
            patch_mode=row["patchMode"] or "",
            hotpatch=_bool(row["hotpatch"]),
            bypass_safety_checks=bool(_bool(row["bypassSafetyChecks"])),
            reboot_setting=row["rebootSetting"] or "",
            assessment_status=row["assessmentStatus"],
            assessment_last_modified=parse_arg_time(row["assessmentLastModified"]),
            assessment_error=row["assessmentError"] or "",
            reboot_pending=_bool(row["rebootPending"]),
        )
        previous = machines.get(machine.machine_id)
        if previous is None or _newer(machine, previous):
            machines[machine.machine_id] = machine
    return [machines[key] for key in sorted(machines)]


def _newer(candidate: Machine, current: Machine) -> bool:
    if current.assessment_last_modified is None:
        return candidate.assessment_last_modified is not None
    return candidate.assessment_last_modified is not None and candidate.assessment_last_modified > current.assessment_last_modified


@lru_cache(maxsize=4096)
def parse_classifications(text: str | None) -> tuple[str, ...]:
    """Canonical classification names from the JSON array text ARG returns (a bare string is one name)."""
    if not text:
        return ()
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = [text]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return ()
    names: list[str] = []
    for item in value:
        if isinstance(item, str) and item.strip():
            name = canonical(item)
            if name not in names:
                names.append(name)
    return tuple(names)


def build_patch_groups(table: pa.Table) -> list[PatchGroup]:
    """Pending-patch groups from pending_patches rows."""
    return [
        PatchGroup(
            machine_id=row["machineId"],
            classifications=parse_classifications(row["classifications"]),
            classifications_text=row["classifications"] or "",
            patches=int(row["patches"] or 0),
            oldest_published=parse_arg_time(row["oldestPublished"]),
            undated=int(row["undated"] or 0),
        )
        for row in rows(table)
    ]


def build_undated(table: pa.Table) -> list[UndatedPatch]:
    """Undated patch rows from undated_patches."""
    return [
        UndatedPatch(
            patch_key=row["patchKey"],
            machine_id=row["machineId"],
            name=row["patchName"] or "",
            version=row["version"] or "",
            classifications_text=row["classifications"] or "",
        )
        for row in rows(table)
    ]


def subscription_names(table: pa.Table | None) -> dict[str, str]:
    """Lower-cased subscription id -> display name, from the subscriptions query (empty without one)."""
    if table is None:
        return {}
    return {row["subscriptionId"]: row["name"] or "" for row in rows(table) if row["subscriptionId"]}
