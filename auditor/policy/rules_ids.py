"""Lint rule for every policy file: each ARM id, and each name that becomes a URL segment, is canonical.

An id with a `..` segment or an encoded slash reads as one scope and, once a URL normaliser has resolved it,
lands on another (`.../virtualMachines/vm1/../../../../../rg-prod` exempts the whole resource group). Such ids
are refused wherever they appear in a file, not only in the keys the other rules parse as scopes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from auditor.policy.expressions import pointer_join
from auditor.policy.findings import Finding
from auditor.policy.ids import unsafe_id, unsafe_name
from auditor.policy.load import PolicyTree
from auditor.policy.narrow import as_table

_ID_STARTS = ("/subscriptions/", "/providers/")


def _looks_like_id(value: str) -> bool:
    return value.strip().casefold().startswith(_ID_STARTS)


def id_findings(path: Path, data: object, pointer: str = "") -> Iterator[Finding]:
    """An `id-unsafe` finding for every string in `data` that is an ARM id and is not canonical."""
    if isinstance(data, str):
        why = unsafe_id(data) if _looks_like_id(data) else None
        if why is not None:
            yield Finding(path, pointer, "id-unsafe", f"{data!r} {why}")
    elif isinstance(data, Mapping):
        for key, value in data.items():
            yield from id_findings(path, value, pointer_join(pointer, str(key)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from id_findings(path, value, pointer_join(pointer, index))


def tree_id_findings(tree: PolicyTree) -> Iterator[Finding]:
    """id_findings over every file of the tree, and the names that become the last segment of an id."""
    for doc in tree.documents:
        yield from id_findings(doc.path, doc.data)
        why = unsafe_name(doc.name)
        if why is not None:
            yield Finding(doc.path, "/name", "name-unsafe", why)
    for ring in tree.rings:
        yield from id_findings(ring.path, ring.data)
        for name in as_table(ring.data.get("assignments")):
            why = unsafe_name(str(name))
            if why is not None:
                yield Finding(ring.path, pointer_join("/assignments", str(name)), "name-unsafe", why)
    for exemption in tree.exemptions:
        yield from id_findings(exemption.path, exemption.data)
        why = unsafe_name(exemption.name)
        if why is not None:
            yield Finding(exemption.path, "", "name-unsafe", why)
