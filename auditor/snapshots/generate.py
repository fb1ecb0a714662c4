"""The seeded synthetic fleet: a realistic Azure Update Manager tenant written as an `auditor-snapshot/1`.

`generate_fleet(1500, seed=42, out=...)` yields the bundled sample; `auditor snapshot generate` calls the same
function. The output is a pure function of (machines, seed, captured_at): every random draw comes from a
`random.Random` derived from the seed and a fixed label, so files are byte-identical across runs and machines.

The fleet is built in two steps. First the tenant's structure (subscriptions, maintenance configurations, dynamic
scopes, policy assignments) and then one compact `Machine` per index, including its installation history. Then
each ARG table is streamed from those machines straight into `write_snapshot`, one row at a time.

What the fleet looks like, and which quirks are deliberate, is described in the helper modules:
`_fleet_catalog` (vocabulary), `_fleet_plan` (tenant structure), `_fleet_machines` (per-machine traits),
`_fleet_runs` (installation runs and their failure signals), `_fleet_patches` (pending patches),
`_fleet_rows` and `_fleet_patch_rows` (the ARG row shapes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from auditor.errors import SnapshotError
from auditor.snapshots._fleet_machines import Machine, MachineFactory
from auditor.snapshots._fleet_patch_rows import assessment_rows, installation_rows
from auditor.snapshots._fleet_patches import build_catalog
from auditor.snapshots._fleet_plan import plan_fleet
from auditor.snapshots._fleet_rows import maintenance_rows, policy_rows, resource_container_rows, resource_rows
from auditor.snapshots.format import ArgRow, Snapshot, write_snapshot

__all__ = ["DEFAULT_CAPTURED_AT", "generate_fleet"]

DEFAULT_CAPTURED_AT = datetime(2026, 11, 1, 6, 0, 0, tzinfo=UTC)
"""The capture time of the bundled sample fleet."""

_PROGRESS_EVERY = 1_000
_PASSES = 6
"""Building the machines, then one pass per machine table (resources, the three patch/maintenance tables, policy)."""


class _Progress:
    """Turns passes over the machine list into one count that rises from 0 to `machines`."""

    def __init__(self, machines: int, callback: Callable[[int], None] | None) -> None:
        self.machines = machines
        self.callback = callback
        self.passes_done = 0
        self.reported = 0

    def report(self, done_in_pass: int) -> None:
        if self.callback is None:
            return
        overall = (self.passes_done * self.machines + done_in_pass) // _PASSES
        if overall - self.reported >= _PROGRESS_EVERY and overall < self.machines:
            self.reported = overall
            self.callback(overall)

    def each(self, machines: Iterable[Machine]) -> Iterator[Machine]:
        """Iterate one pass over the machines, reporting as it goes."""
        for done, machine in enumerate(machines, start=1):
            yield machine
            if done % 250 == 0:
                self.report(done)
        self.passes_done += 1

    def finish(self) -> None:
        if self.callback is not None:
            self.callback(self.machines)


def generate_fleet(
    machines: int,
    *,
    seed: int = 0,
    out: Path,
    captured_at: datetime = DEFAULT_CAPTURED_AT,
    progress: Callable[[int], None] | None = None,
    vsphere_share: float = 0.0,
) -> Snapshot:
    """Generate a synthetic fleet of `machines` machines into the snapshot directory `out`.

    The same `machines`, `seed` and `captured_at` always produce byte-identical files. `out` is replaced only if it is
    empty or holds a valid snapshot and nothing else (see `write_snapshot`). `progress(n)` is called about every 1,000 machines with how many
    machines' worth of work is done (building them and writing their rows), and finally with `machines`.
    snapshot.json records the generator's parameters under `generator`. `vsphere_share` of the Arc machines are
    Arc-enabled VMware vSphere VMs instead (0 by default, which leaves every fleet as it was).

    Raises SnapshotError when `machines` is below 1 or `out` cannot be written.
    """
    if isinstance(machines, bool) or not isinstance(machines, int) or machines < 1:
        raise SnapshotError(
            f"cannot generate a fleet of {machines!r} machines",
            "pass --machines with a whole number of at least 1, e.g. --machines 1500",
        )
    if captured_at.tzinfo is None:
        captured_at = captured_at.replace(tzinfo=UTC)
    now = int(captured_at.timestamp())
    plan = plan_fleet(seed, machines, now)
    catalogs = build_catalog(now)
    tracker = _Progress(machines, progress)
    if not 0 <= vsphere_share <= 1:
        raise SnapshotError(f"vSphere share {vsphere_share!r} is not between 0 and 1", "pass --vsphere-share 0.2")
    factory = MachineFactory(plan, vsphere_share=vsphere_share)
    fleet: list[Machine] = []
    for index in range(machines):
        fleet.append(factory.build(index))
        if (index + 1) % 250 == 0:
            tracker.report(index + 1)
    tracker.passes_done = 1
    tables: dict[str, Iterable[ArgRow]] = {
        "resources": resource_rows(plan, fleet, tracker.each),
        "resourcecontainers": resource_container_rows(plan),
        "patchassessmentresources": assessment_rows(plan, catalogs, fleet, tracker.each),
        "patchinstallationresources": installation_rows(plan, catalogs, fleet, tracker.each),
        "maintenanceresources": maintenance_rows(plan, fleet, tracker.each),
        "policyresources": policy_rows(plan, fleet, tracker.each),
    }
    snapshot = write_snapshot(
        out,
        tables,
        source="synthetic",
        captured_at=captured_at,
        tenant_id=plan.tenant_id,
        scope={"subscriptions": [sub.id for sub in plan.subscriptions], "management_groups": []},
        extra={
            "generator": {
                "seed": seed,
                "machines": machines,
                **({"vsphere_share": vsphere_share} if vsphere_share else {}),
            }
        },
    )
    tracker.finish()
    return snapshot
