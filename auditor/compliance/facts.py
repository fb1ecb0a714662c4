"""Turn query rows into typed machine facts and pending-patch groups (no judgement here)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache, partial

import pyarrow as pa
import pyarrow.compute as pc

from auditor.classifications import canonical
from auditor.compliance import columns
from auditor.timestamps import parse_arg_time

UNTAGGED = "(untagged)"
UNKNOWN = "(unknown)"


# The records built per query row (here and in rules, installs, policy) are plain slots dataclasses, not frozen
# ones: a fleet has hundreds of thousands, and a frozen dataclass takes about twice as long to construct. Nothing
# changes them once built.
@dataclass(slots=True)
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


@dataclass(slots=True)
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


@dataclass(slots=True)
class UndatedPatch:
    """A pending patch with no publishedDateTime, in an SLA-enforced classification."""

    patch_key: str
    machine_id: str
    name: str
    version: str
    classifications_text: str


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


def build_machines(
    table: pa.Table, *, environment_tag: str, environment_aliases: Mapping[str, list[str]]
) -> list[Machine]:
    """Machines from machine_facts rows, one per machine id (the most recently assessed row wins)."""
    index = alias_index(environment_aliases)

    def tagging(text: str | None) -> tuple[dict[str, str], str]:
        tags = parse_tags(text)
        return tags, resolve_environment(tags, environment_tag, index)

    text = partial(columns.texts, table)
    # Machines with the same tags text share one tags dict (nothing changes a machine's tags once read).
    tagged = columns.converted(table, "tags", tagging)
    details = columns.mapped(
        list(zip(text("osSku"), text("osVersion"), text("imageOffer"), text("imageSku"), strict=True)), _os_detail
    )
    found = zip(
        columns.values(table, "machineId"),
        columns.values(table, "id"),
        [name or "" for name in columns.values(table, "name")],
        columns.shared(table, "platform"),
        columns.converted(table, "subscriptionId", _lower),
        text("resourceGroup"),
        text("location"),
        columns.converted(table, "osRaw", normalise_os),
        details,
        text("imageSku"),
        text("powerState"),
        tagged,
        text("assessmentMode"),
        text("patchMode"),
        columns.converted(table, "hotpatch", _bool),
        columns.converted(table, "bypassSafetyChecks", _bool),
        text("rebootSetting"),
        columns.shared(table, "assessmentStatus"),
        columns.converted(table, "assessmentLastModified", parse_arg_time),
        text("assessmentError"),
        columns.converted(table, "rebootPending", _bool),
        strict=True,
    )
    machines: dict[str, Machine] = {}
    for (
        machine_id,
        resource_id,
        name,
        platform,
        subscription_id,
        resource_group,
        location,
        osname,
        detail,
        image_sku,
        power_state,
        (tags, environment),
        assessment_mode,
        patch_mode,
        hotpatch,
        bypass,
        reboot_setting,
        status,
        last_modified,
        error,
        reboot_pending,
    ) in found:
        previous = machines.get(machine_id)
        if previous is not None and not _newer(last_modified, previous.assessment_last_modified):
            continue
        machines[machine_id] = Machine(
            machine_id=machine_id,
            resource_id=resource_id,
            name=name,
            platform=platform,
            subscription_id=subscription_id,
            resource_group=resource_group,
            location=location,
            os=osname,
            os_detail=detail,
            image_sku=image_sku,
            power_state=power_state,
            environment=environment,
            tags=tags,
            assessment_mode=assessment_mode,
            patch_mode=patch_mode,
            hotpatch=hotpatch,
            bypass_safety_checks=bool(bypass),
            reboot_setting=reboot_setting,
            assessment_status=status,
            assessment_last_modified=last_modified,
            assessment_error=error,
            reboot_pending=reboot_pending,
        )
    return [machines[key] for key in sorted(machines)]


def _lower(text: str | None) -> str:
    return (text or "").lower()


def _os_detail(parts: tuple[str, str, str, str]) -> str:
    sku, version, offer, image_sku = parts
    return " ".join(p for p in (sku, version) if p) or " ".join(p for p in (offer, image_sku) if p)


def machine_ids(table: pa.Table, name: str, machines: Mapping[str, Machine]) -> list[str]:
    """A column of machine ids, each the known Machine's own machine_id string (or one copy per unknown id):
    a fleet's ids repeat across a million rows, and a copy per row would dominate memory."""
    return columns.converted(table, name, lambda text: machines[text].machine_id if text in machines else text)


def _newer(candidate: datetime | None, current: datetime | None) -> bool:
    """Whether an assessment time is more recent than the current one (any time beats none)."""
    if current is None:
        return candidate is not None
    return candidate is not None and candidate > current


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


def build_patch_groups(table: pa.Table, machines: Mapping[str, Machine] | None = None) -> list[PatchGroup]:
    """Pending-patch groups from pending_patches rows (machine ids shared with `machines` where known)."""
    found = zip(
        machine_ids(table, "machineId", machines or {}),
        columns.converted(table, "classifications", parse_classifications),
        columns.texts(table, "classifications"),
        columns.counts(table, "patches"),
        columns.converted(table, "oldestPublished", parse_arg_time),
        columns.counts(table, "undated"),
        strict=True,
    )
    return [
        PatchGroup(
            machine_id=machine_id,
            classifications=classifications,
            classifications_text=text,
            patches=patches,
            oldest_published=oldest,
            undated=undated,
        )
        for machine_id, classifications, text, patches, oldest, undated in found
    ]


UNDATED_COLUMNS = ["patchKey", "machineId", "patchName", "version", "classifications"]


def undated_table(tables: Mapping[str, pa.Table]) -> pa.Table:
    """The pending patches with no publishedDateTime in SLA-enforced classifications.

    overdue_patches returns every such patch (an undated patch is always a candidate) with an empty
    publishedDateTime, so a scan reads them from there; packs written before that query carry their own
    undated_patches table, which is used as it is.
    """
    if "undated_patches" in tables:
        return tables["undated_patches"]
    overdue = tables["overdue_patches"]
    undated = pc.fill_null(pc.equal(overdue.column("publishedDateTime"), ""), True)
    # Selecting first: Arrow filters a whole table many times slower than the columns it needs (1.5 s against
    # 0.05 s at 100,000 machines).
    return overdue.select(UNDATED_COLUMNS).filter(undated)


def build_undated(table: pa.Table, machines: Mapping[str, Machine] | None = None) -> list[UndatedPatch]:
    """Undated patch rows from undated_table() (machine ids shared with `machines` where known)."""
    text = partial(columns.texts, table)
    found = zip(
        columns.values(table, "patchKey"),
        machine_ids(table, "machineId", machines or {}),
        text("patchName"),
        text("version"),
        text("classifications"),
        strict=True,
    )
    return [
        UndatedPatch(patch_key=key, machine_id=machine_id, name=name, version=version, classifications_text=classes)
        for key, machine_id, name, version, classes in found
    ]


def subscription_names(table: pa.Table | None) -> dict[str, str]:
    """Lower-cased subscription id -> display name, from the subscriptions query (empty without one)."""
    if table is None:
        return {}
    return {row["subscriptionId"]: row["name"] for row in columns.text_rows(table) if row["subscriptionId"]}
