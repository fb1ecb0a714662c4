"""Policy exemptions as code: ``policies/exemptions/<name>.toml`` becomes a Microsoft.Authorization/policyExemptions
resource at the file's ``scope``.

An exemption belongs to the ring of the assignment it exempts. ``assignment`` names one of a ring's assignments
(by name, or by full id); the full id of someone else's assignment needs ``ring`` as well, to say which ring
deploys the exemption. ``expires_on`` is a TOML date or an RFC 3339 date-time; a bare date means midnight UTC of
that day, the moment Azure stops honouring the exemption.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime

from auditor.jsonvalue import JsonObject, JsonValue, as_object
from auditor.policy import PolicyError
from auditor.policy.ids import POLICY_ASSIGNMENTS, POLICY_EXEMPTIONS, child_id, id_key, is_within, parse_scope
from auditor.policy.load import ExemptionFile, PolicyTree, RingFile
from auditor.policy.model import DesiredState, Resource
from auditor.policy.narrow import as_items, as_table, to_json
from auditor.policy.ownership import METADATA_MANAGED_BY, METADATA_OWNER, is_owned, stamp
from auditor.timestamps import format_seconds

CATEGORIES = ("Waiver", "Mitigated")
"""ARM's exemptionCategory values."""
METADATA_RING = "ring"
RESERVED_METADATA = frozenset(key.casefold() for key in (METADATA_MANAGED_BY, METADATA_OWNER, METADATA_RING))
"""metadata keys auditor writes itself."""
ASSIGNMENT_ID = re.compile(
    r"^(?P<scope>.+)/providers/Microsoft\.Authorization/policyAssignments/(?P<name>[^/]+)$", re.I
)
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_expiry(value: object) -> datetime:
    """expires_on as an aware UTC datetime; ValueError when it is neither a date nor a date-time with an offset."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day, tzinfo=UTC)
    elif isinstance(value, str) and _DATE_ONLY.match(value.strip()):
        day = date.fromisoformat(value.strip())
        moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(
                f"expected a date (2027-01-15) or an RFC 3339 date-time (2027-01-15T00:00:00Z), got {value!r}"
            ) from None
    else:
        raise ValueError(f"expected a date or an RFC 3339 date-time, got {type(value).__name__}")
    if moment.tzinfo is None:
        raise ValueError("a date-time needs a UTC offset (RFC 3339), e.g. 2027-01-15T00:00:00Z")
    return moment.astimezone(UTC)


def format_expiry(moment: datetime) -> str:
    """The expiresOn auditor sends: UTC, to the second."""
    return format_seconds(moment)


def describe_expiry(moment: datetime) -> str:
    """The date alone when the exemption ends at midnight UTC, else the full time."""
    moment = moment.astimezone(UTC)
    midnight = (moment.hour, moment.minute, moment.second, moment.microsecond) == (0, 0, 0, 0)
    return moment.date().isoformat() if midnight else format_expiry(moment)


def expiry_of(resource: Resource) -> datetime | None:
    """When a deployed or desired exemption expires; None without (or with an unreadable) expiresOn."""
    value = as_object(resource.body.get("properties")).get("expiresOn")
    try:
        return parse_expiry(value) if value else None
    except ValueError:
        return None


def normalized_expiry(value: JsonValue) -> JsonValue:
    """expiresOn in auditor's spelling, so that ARM's spelling of the same instant is not drift."""
    try:
        return format_expiry(parse_expiry(value)) if value else None
    except ValueError:
        return value


class Unresolved(Exception):
    """An exemption file's assignment (or ring) cannot be resolved: a validation finding."""

    def __init__(self, rule: str, pointer: str, message: str) -> None:
        super().__init__(message)
        self.rule, self.pointer, self.message = rule, pointer, message


@dataclass(frozen=True)
class ExemptionTarget:
    """The assignment an exemption exempts, and the ring that deploys the exemption."""

    ring: str
    assignment_id: str
    assignment_scope: str
    ring_file: RingFile | None
    """The ring file declaring the assignment, when it is one of ours."""
    spec: Mapping[str, object] | None
    """Its table in that ring file."""


def _ours(tree: PolicyTree) -> list[ExemptionTarget]:
    out = []
    for ring in tree.rings:
        try:
            scope = parse_scope(str(ring.data.get("scope", ""))).id
        except ValueError:
            continue
        for name, spec in as_table(ring.data.get("assignments")).items():
            target = ExemptionTarget(ring.ring, child_id(scope, POLICY_ASSIGNMENTS, name), scope, ring, as_table(spec))
            out.append(target)
    return out


def resolve_exemption(tree: PolicyTree, data: Mapping[str, object]) -> ExemptionTarget:
    """The target of an exemption file's `assignment` (and `ring`); Unresolved says why there is none."""
    text, ring = str(data.get("assignment", "")), data.get("ring")
    ours = _ours(tree)
    if match := ASSIGNMENT_ID.fullmatch(text):
        found = [t for t in ours if id_key(t.assignment_id) == id_key(text)]
        if not found:
            try:
                scope = parse_scope(match.group("scope"), allow_resource=True).id
            except ValueError as exc:
                raise Unresolved("exemption-assignment-unresolved", "/assignment", str(exc)) from exc
            if ring is None:
                raise Unresolved(
                    "exemption-ring-missing",
                    "/assignment",
                    f'{text} is not an assignment of any ring file; add ring = "<ring>" to say which ring deploys '
                    "this exemption",
                )
            if tree.ring(str(ring)) is None:
                raise Unresolved("exemption-ring-unknown", "/ring", f"there is no assignments/{ring}.toml")
            return ExemptionTarget(
                str(ring), child_id(scope, POLICY_ASSIGNMENTS, match.group("name")), scope, None, None
            )
    else:
        found = [t for t in ours if t.assignment_id.rsplit("/", 1)[1].casefold() == text.casefold()]
        if ring is not None and len(found) > 1:
            found = [t for t in found if t.ring == ring] or found
        if not found:
            raise Unresolved(
                "exemption-assignment-unresolved",
                "/assignment",
                f"{text!r} is neither an assignment of a ring file nor a policy assignment id",
            )
        if len(found) > 1:
            rings = ", ".join(t.ring for t in found)
            raise Unresolved(
                "exemption-assignment-ambiguous",
                "/assignment",
                f'{text!r} is an assignment of rings {rings}; add ring = "<ring>" or give the assignment\'s full id',
            )
    target = found[0]
    if ring is not None and ring != target.ring:
        raise Unresolved(
            "exemption-ring-mismatch", "/ring", f"ring {ring!r}, but {text!r} is an assignment of ring {target.ring!r}"
        )
    return target


def exemption_resource(file: ExemptionFile, target: ExemptionTarget, owner_id: str) -> Resource:
    """The PUT body of one exemption (the file must be valid)."""
    data = file.data
    scope = parse_scope(str(data["scope"]), allow_resource=True).id
    metadata = as_object(to_json(data.get("metadata"), f"{file.path}#/metadata"))
    properties: JsonObject = {
        "policyAssignmentId": target.assignment_id,
        "exemptionCategory": str(data["category"]),
        "expiresOn": format_expiry(parse_expiry(data["expires_on"])),
    }
    if references := as_items(data.get("policy_definition_reference_ids")):
        properties["policyDefinitionReferenceIds"] = [str(reference) for reference in references]
    if data.get("display_name"):
        properties["displayName"] = str(data["display_name"])
    properties["description"] = str(data["description"])
    properties["metadata"] = stamp({METADATA_RING: target.ring, **metadata}, owner_id)
    return Resource("policyExemption", child_id(scope, POLICY_EXEMPTIONS, file.name), {"properties": properties})


def desired_exemptions(tree: PolicyTree, ring: str, owner_id: str) -> tuple[Resource, ...]:
    """The exemptions `ring` deploys (the tree must already be valid)."""
    out = []
    for file in tree.exemptions:
        try:
            target = resolve_exemption(tree, file.data)
        except Unresolved as problem:
            raise PolicyError(
                f"{file.path}#{problem.pointer}: {problem.message}", "run `auditor policy validate`"
            ) from problem
        if target.ring == ring:
            out.append(exemption_resource(file, target, owner_id))
    return tuple(sorted(out, key=lambda r: id_key(r.id)))


def listing_scopes(desired: DesiredState) -> tuple[str, ...]:
    """Where to list exemptions: the ring scope, and the subscription (or management group) of each desired one.

    ARM's unfiltered list at a subscription or resource group includes what lies beneath it; at a management
    group it does not reach into subscriptions, hence the subscriptions of the ring's exemption files."""
    scopes = [desired.scope]
    for exemption in desired.exemptions:
        scope = parse_scope(exemption.id.rsplit("/providers/", 1)[0], allow_resource=True)
        wanted = f"/subscriptions/{scope.subscription_id}" if scope.subscription_id else scope.id
        if not any(is_within(wanted, listed) for listed in scopes):
            scopes.append(wanted)
    return tuple(scopes)


def _metadata(resource: Resource) -> JsonObject:
    return as_object(as_object(resource.body.get("properties")).get("metadata"))


def ring_exemptions(listed: Iterable[Resource], desired: DesiredState) -> tuple[Resource, ...]:
    """The listed exemptions that concern the ring, once each: ours stamped with this ring (or unstamped, of one
    of its assignments), anyone else's of its assignments or with the id of one we want. Ours of another ring are
    that ring's business."""
    assignments = {id_key(a.resource.id) for a in desired.assignments}
    assignments |= {id_key(str(as_object(e.body.get("properties"))["policyAssignmentId"])) for e in desired.exemptions}
    wanted = {id_key(e.id) for e in desired.exemptions}
    out: dict[str, Resource] = {}
    for resource in listed:
        assignment = id_key(str(as_object(resource.body.get("properties")).get("policyAssignmentId", "")))
        ring = _metadata(resource).get(METADATA_RING)
        if is_owned(resource, desired.owner_id):
            keep = ring == desired.ring or (ring is None and assignment in assignments)
        else:
            keep = assignment in assignments or id_key(resource.id) in wanted
        if keep:
            out.setdefault(id_key(resource.id), resource)
    return tuple(out.values())
