"""A loopback Azure Resource Manager for integration tests (policy, exemptions, RBAC and Policy Insights).

The real SDK clients talk to it over HTTP on 127.0.0.1. It checks request bodies as ARM does, answers 201 to
create-or-update, gives PrincipalNotFound to a new identity's first role assignments, advances remediations
as they are polled, and supports management group and subscription scopes (and, for exemptions and role
assignments, resource groups and resources).
"""

from .sdk import AllowHttpForLoopback, FakeCredential, client_options
from .seed import builtin_stub, seed_builtins
from .server import ArmEmulator
from .state import ArmError, ArmState

__all__ = [
    "AllowHttpForLoopback",
    "ArmEmulator",
    "ArmError",
    "ArmState",
    "FakeCredential",
    "builtin_stub",
    "client_options",
    "seed_builtins",
]
