"""The world of auditor's policy integration tests: an emulator seeded with built-ins, a copy of policies/ to
edit, settings and an auditor.toml, and the real SDK clients pointed at the emulator.

Each test module wraps it in a fixture::

    @pytest.fixture
    def env(tmp_path: Path) -> Iterator[PolicyEnv]:
        with policy_environment(tmp_path) as world:
            yield world
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditor.policy.arm import PolicyArm
from auditor.policy.azure import AzureClients
from auditor.policy.config import PolicySettings, settings_from_dict
from auditor.policy.deploy import Applied
from auditor.policy.gate import GateResult
from auditor.policy.plan import Plan

from .sdk import FakeCredential, client_options
from .seed import seed_builtins
from .server import ArmEmulator

REPO = Path(__file__).resolve().parents[3]
DEFINITION_SCOPE = "/providers/Microsoft.Management/managementGroups/contoso"
DEV_SCOPE = "/subscriptions/11111111-1111-1111-1111-111111111111"
BASE_SETTINGS: dict[str, Any] = {
    "owner_id": "platform-team",
    "definition_scope": DEFINITION_SCOPE,
    "rings": ["dev", "test", "prod"],
    "gates": {
        "dev": {"environment": "Development", "min_compliance_rate": 90.0, "min_periodic_assessment_coverage": 95.0}
    },
    "principal_retry_attempts": 5,
    "principal_retry_delay_seconds": 0.001,
    "remediation_poll_seconds": 0.0,
}


@dataclass
class PolicyEnv:
    """Everything a policy integration test needs."""

    emulator: ArmEmulator
    clients: AzureClients
    policies: Path
    config: Path
    credential: FakeCredential

    @property
    def arm(self) -> PolicyArm:
        return PolicyArm(self.clients)

    def settings(self, **overrides: Any) -> PolicySettings:
        return settings_from_dict({**BASE_SETTINGS, "policies_dir": str(self.policies), **overrides})

    def edit(self, relative: str, old: str, new: str) -> None:
        """Replace text in a file of the policies copy (the text must be there)."""
        path = self.policies / relative
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {relative}"
        path.write_text(text.replace(old, new), encoding="utf-8")


class RecordingHooks:
    """Deploy hooks that accept and record."""

    def __init__(self) -> None:
        self.steps: list[Applied] = []
        self.gates: list[GateResult | None] = []

    def gate(self, result: GateResult | None) -> None:
        self.gates.append(result)

    def plan(self, plan: Plan) -> None:
        pass

    def confirm(self, plan: Plan) -> bool:
        return True

    def applied(self, step: Applied) -> None:
        self.steps.append(step)


def write_config(path: Path, policies: Path) -> Path:
    lines = [
        "[policy]",
        'owner_id = "platform-team"',
        f'definition_scope = "{DEFINITION_SCOPE}"',
        f'policies_dir = "{policies.as_posix()}"',
        "principal_retry_attempts = 5",
        "principal_retry_delay_seconds = 0.001",
        "remediation_poll_seconds = 0.0",
        "",
        "[policy.gates.dev]",
        'environment = "Development"',
        "min_compliance_rate = 90.0",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@contextmanager
def policy_environment(tmp_path: Path) -> Iterator[PolicyEnv]:
    """Start an emulator and set up a policies copy under tmp_path; stop the emulator afterwards."""
    policies = tmp_path / "policies"
    shutil.copytree(REPO / "policies", policies)
    with ArmEmulator() as emulator:
        seed_builtins(emulator.state, REPO / "policies" / "builtins.json")
        credential = FakeCredential()
        clients = AzureClients(
            credential,
            base_url=emulator.base_url,
            credential_scope="https://management.azure.com/.default",
            client_options=client_options(),
        )
        yield PolicyEnv(emulator, clients, policies, write_config(tmp_path / "auditor.toml", policies), credential)
