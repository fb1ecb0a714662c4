"""A loopback Azure emulator for integration tests: Resource Graph, Log Analytics and the subscriptions list over a
snapshot.

The real SDK clients talk to it on 127.0.0.1; it pages with skip tokens, enforces Resource Graph's per-user
quota with the real headers, and injects faults on demand.
"""

from .auth import TOKEN, AllowLoopbackHttp, FakeCredential
from .faults import Fault, FaultKind
from .quota import format_timespan
from .server import TENANT, WORKSPACE, AzureEmulator

__all__ = [
    "TENANT",
    "TOKEN",
    "WORKSPACE",
    "AllowLoopbackHttp",
    "AzureEmulator",
    "FakeCredential",
    "Fault",
    "FaultKind",
    "format_timespan",
]
