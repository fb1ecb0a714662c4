"""Fleet-wide structure of the synthetic tenant: subscriptions, resource groups, maintenance configurations with
their schedule runs, dynamic-scope assignments and policy assignments.

Everything here is drawn from one generator seeded by the fleet seed, before any machine exists; machines then
pick from it (see `_fleet_machines`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from auditor.snapshots._fleet_catalog import (
    ARC_SITES,
    ARC_TYPE,
    ENV_SUBSCRIPTIONS,
    LOCATIONS,
    RG_ODD_NAMES,
    RG_WORKLOADS,
    VM_TYPE,
)
from auditor.snapshots._fleet_schedules import MaintenanceConfig, build_configs
from auditor.snapshots._fleet_util import derive, guid

MANAGEMENT_GROUP = "mg-contoso-platform"


@dataclass(frozen=True, slots=True)
class ResourceGroup:
    name: str
    location: str
    arc: bool
    """Holds Arc machines (an on-premises site) rather than Azure VMs."""
    weight: float
    hosts_machines: bool = True


@dataclass(frozen=True, slots=True)
class Subscription:
    id: str
    name: str
    env: str
    """The environment most of its machines belong to."""
    weight: float
    groups: tuple[ResourceGroup, ...]


@dataclass(frozen=True, slots=True)
class DynamicAssignment:
    """A dynamic-scope configuration assignment: a filter over a subscription or resource group."""

    name: str
    id: str
    scope_id: str
    config: MaintenanceConfig
    subscription: Subscription
    resource_group: str
    """"" for a subscription-level scope."""
    resource_types: tuple[str, ...]
    os_types: tuple[str, ...]
    locations: tuple[str, ...]
    tags: dict[str, tuple[str, ...]]
    operator: str

    def covers(self, sub: Subscription, rg: str, arm_type: str, os: str, location: str, tags: dict[str, str]) -> bool:
        """Whether a machine falls inside the filter (tag keys and resource groups match ignoring case)."""
        if sub is not self.subscription or (self.resource_group and rg.lower() != self.resource_group.lower()):
            return False
        if arm_type not in self.resource_types or os not in self.os_types:
            return False
        if self.locations and location not in self.locations:
            return False
        if not self.tags:
            return True
        lowered = {key.lower(): value for key, value in tags.items()}
        hits = [lowered.get(key.lower()) in values for key, values in self.tags.items()]
        return all(hits) if self.operator == "All" else any(hits)


@dataclass(frozen=True, slots=True)
class PolicyAssignment:
    name: str
    id: str
    scope: str
    definition_id: str
    definition_version: str
    action: str
    rule: str
    """What decides compliance in the generator: `assessment`, `schedule` or `hotpatch`."""


@dataclass(frozen=True, slots=True)
class FleetPlan:
    seed: int
    machines: int
    now: int
    tenant_id: str
    subscriptions: tuple[Subscription, ...]
    configs: tuple[MaintenanceConfig, ...]
    dynamic: tuple[DynamicAssignment, ...]
    policies: tuple[PolicyAssignment, ...]
    hostile_app: int
    """Index of the machine whose `app` tag carries a formula-injection payload."""
    hostile_owner: int

    def config(self, name: str) -> MaintenanceConfig:
        return next(c for c in self.configs if c.name == name)


def _subscriptions(rng: random.Random, machines: int) -> tuple[Subscription, ...]:
    count = rng.randint(4, 6) + max(0, (machines - 5_000) // 20_000)
    count = min(count, len(ENV_SUBSCRIPTIONS))
    subs = []
    for index, (name, env, weight) in enumerate(ENV_SUBSCRIPTIONS[:count]):
        groups: list[ResourceGroup] = []
        used: set[str] = set()
        if name == "contoso-shared":
            groups.append(ResourceGroup("rg-patching-weu", "westeurope", False, 0, hosts_machines=False))
            groups.append(ResourceGroup("rg-identity-weu", "westeurope", False, 2))
            groups.append(ResourceGroup("rg-mgmt-neu", "northeurope", False, 1))
        for _ in range(rng.randint(3, 5) + machines // 40_000):
            code = rng.choice(sorted(LOCATIONS))
            rg_name = f"rg-{rng.choice(RG_WORKLOADS)}-{code}-{rng.randint(1, 3):02d}"
            if rng.random() < 0.15:
                rg_name = rng.choice(RG_ODD_NAMES)
                code = "weu"
            if rg_name.lower() in used:
                continue
            used.add(rg_name.lower())
            groups.append(ResourceGroup(rg_name, LOCATIONS[code], False, rng.uniform(0.5, 3)))
        if not any(g.hosts_machines and not g.arc for g in groups):
            groups.append(ResourceGroup(f"rg-app-weu-{index + 1:02d}", "westeurope", False, 1))
        site, site_location = ARC_SITES[index % len(ARC_SITES)]
        arc_name = f"rg-arc-{site}" if index % 3 else f"RG-ARC-{site.upper()}"
        groups.append(ResourceGroup(arc_name, site_location, True, 1))
        subs.append(Subscription(guid(rng), name, env, weight, tuple(groups)))
    return tuple(subs)


def _dynamic(subs: tuple[Subscription, ...], configs: tuple[MaintenanceConfig, ...]) -> tuple[DynamicAssignment, ...]:
    by_name = {c.name: c for c in configs}
    both = (VM_TYPE, ARC_TYPE)
    out = []

    def sub_level(
        sub: Subscription,
        name: str,
        cfg: str,
        *,
        resource_types: tuple[str, ...],
        os_types: tuple[str, ...],
        locations: tuple[str, ...],
        tags: dict[str, tuple[str, ...]],
        operator: str,
    ) -> DynamicAssignment:
        scope = f"/subscriptions/{sub.id}"
        return DynamicAssignment(
            name=name,
            id=f"{scope}/providers/Microsoft.Maintenance/configurationAssignments/{name}",
            scope_id=scope,
            config=by_name[cfg],
            subscription=sub,
            resource_group="",
            resource_types=resource_types,
            os_types=os_types,
            locations=locations,
            tags=tags,
            operator=operator,
        )

    out.append(
        sub_level(
            subs[0],
            "dyn-weekend-windows",
            "cfg-weekly-sat",
            resource_types=both,
            os_types=("Windows",),
            locations=("westeurope", "northeurope"),
            tags={"patchGroup": ("weekend",)},
            operator="Any",
        )
    )
    out.append(
        sub_level(
            subs[1],
            "dyn-dev-all",
            "cfg-daily-dev",
            resource_types=(VM_TYPE,),
            os_types=("Windows", "Linux"),
            locations=(),
            tags={"Environment": ("Development", "dev", "DEV")},
            operator="Any",
        )
    )
    test_rg = next(g for g in subs[3].groups if not g.arc)
    scope = f"/subscriptions/{subs[3].id}/resourceGroups/{test_rg.name}"
    out.append(
        DynamicAssignment(
            name="dyn-rg-linux-weekly",
            id=f"{scope}/providers/Microsoft.Maintenance/configurationAssignments/dyn-rg-linux-weekly",
            scope_id=scope,
            config=by_name["cfg-weekly-sun-linux"],
            subscription=subs[3],
            resource_group=test_rg.name,
            resource_types=both,
            os_types=("Linux",),
            locations=(),
            tags={"patchGroup": ("ring1", "ring2"), "Environment": ("Test", "test", "UAT", "QA")},
            operator="All",
        )
    )
    if len(subs) > 4:
        out.append(
            sub_level(
                subs[4],
                "dyn-prod-ring2",
                "cfg-monthly-prod",
                resource_types=both,
                os_types=("Windows", "Linux"),
                locations=(),
                tags={"patchGroup": ("ring2",)},
                operator="Any",
            )
        )
    return tuple(out)


def _policies() -> tuple[PolicyAssignment, ...]:
    scope = f"/providers/Microsoft.Management/managementGroups/{MANAGEMENT_GROUP}"
    definitions = "/providers/Microsoft.Authorization/policyDefinitions/"

    def assign(name: str, definition: str, version: str, action: str, rule: str) -> PolicyAssignment:
        return PolicyAssignment(
            name=name,
            id=f"{scope}/providers/Microsoft.Authorization/policyAssignments/{name}",
            scope=scope,
            definition_id=definitions + definition,
            definition_version=version,
            action=action,
            rule=rule,
        )

    # Management-group assignment names are limited to 24 characters, hence the abbreviations.
    return (
        assign("periodic-assess-audit", "bd876905-5b84-4f73-ab2d-2e7a7c4568d9", "3.9.0", "audit", "assessment"),
        assign(
            "scheduled-patching-dine", "ba0df93e-e4ac-479a-aac2-134bbae39a1a", "3.14.0", "deployifnotexists", "schedule"
        ),
        assign("hotpatch-ae-audit", "6d02d2f7-e38b-4bdc-96f3-adc0a8726abc", "1.0.0", "audit", "hotpatch"),
    )


def plan_fleet(seed: int, machines: int, now: int) -> FleetPlan:
    """Draw the tenant's fixed structure from `seed`."""
    rng = derive(seed, "fleet")
    tenant_id = guid(rng)
    subs = _subscriptions(rng, machines)
    configs = build_configs(seed, subs[2].id, now)
    hostile_app = rng.randrange(machines)
    hostile_owner = rng.randrange(machines)
    if machines > 1 and hostile_owner == hostile_app:
        hostile_owner = (hostile_app + 1) % machines
    return FleetPlan(
        seed=seed,
        machines=machines,
        now=now,
        tenant_id=tenant_id,
        subscriptions=subs,
        configs=configs,
        dynamic=_dynamic(subs, configs),
        policies=_policies(),
        hostile_app=hostile_app,
        hostile_owner=hostile_owner,
    )
