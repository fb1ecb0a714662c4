"""Small deterministic helpers shared by the synthetic fleet modules: seeded RNGs, GUIDs, timestamps, ARG rows.

Everything here is a pure function of its arguments. `random.Random` seeded with a string hashes the string with
SHA-512 (not Python's randomised `hash()`), so a derived generator is stable across processes and platforms.
"""

from __future__ import annotations

import hashlib
import random
import time
import uuid
from collections.abc import Sequence
from itertools import accumulate
from typing import Generic, TypeVar

from auditor.jsonvalue import JsonObject
from auditor.snapshots.format import ArgRow

T = TypeVar("T")

DAY = 86_400
HOUR = 3_600
MINUTE = 60


def derive(seed: int, *parts: object) -> random.Random:
    """A generator private to `parts` (e.g. machine 17's installation runs), independent of every other stream."""
    return random.Random(":".join([str(seed), *map(str, parts)]))


def guid(rng: random.Random) -> str:
    """A version-4 GUID drawn from `rng`."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def stable_guid(*parts: object) -> str:
    """A GUID fixed by its parts alone (patch identities shared across fleets and seeds)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "auditor-fleet:" + ":".join(map(str, parts))))


def unique_string(text: str) -> str:
    """13 lower-case characters derived from `text`, shaped like ARM's `uniqueString()`."""
    digest = hashlib.sha256(text.encode()).digest()
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    return "".join(alphabet[b % 32] for b in digest[:13])


def ts(epoch: int) -> str:
    """RFC 3339 UTC with second precision, the one timestamp style the generator writes."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


class Weighted(Generic[T]):
    """A fixed weighted choice; pre-computes cumulative weights so each draw costs one `random()`."""

    __slots__ = ("_cum", "_items")

    def __init__(self, pairs: Sequence[tuple[T, float]]) -> None:
        self._items = [item for item, _ in pairs]
        self._cum = list(accumulate(weight for _, weight in pairs))

    def pick(self, rng: random.Random) -> T:
        """One item, drawn with probability proportional to its weight."""
        return rng.choices(self._items, cum_weights=self._cum)[0]


def arg_row(
    *,
    rid: str,
    name: str,
    rtype: str,
    tenant_id: str,
    properties: JsonObject,
    location: str = "",
    resource_group: str = "",
    subscription_id: str = "",
    tags: dict[str, str] | None = None,
    kind: str = "",
    identity: JsonObject | None = None,
    zones: list[str] | None = None,
) -> ArgRow:
    """One ARG row with exactly the 16 columns, in ARG's order (see `format.ARG_COLUMNS`)."""
    return {
        "id": rid,
        "name": name,
        "type": rtype,
        "tenantId": tenant_id,
        "kind": kind,
        "location": location,
        "resourceGroup": resource_group,
        "subscriptionId": subscription_id,
        "managedBy": "",
        "sku": None,
        "plan": None,
        "properties": properties,
        "tags": tags,
        "identity": identity,
        "zones": zones,
        "extendedLocation": None,
    }
