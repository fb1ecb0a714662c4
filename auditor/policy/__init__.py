"""Patch policy as code: validate, plan, deploy and remediate Azure Policy for Update Manager, ring by ring.

Data flows one way: ``config`` → ``load`` (policies/ tree) → ``validate`` → ``desired`` (what a ring should
look like) → ``arm.read_deployed`` (what is there) → ``plan.make_plan`` (pure diff) → ``deploy`` → ``remediate``.
The CLI (``auditor.cli.policy``) is a thin layer over ``auditor.policy.workflow``.
"""

from __future__ import annotations

from auditor.errors import AuditorError, ExitCode

MANAGED_BY = "auditor"
"""Value of ``metadata.managedBy`` on everything auditor creates."""


class PolicyError(AuditorError):
    """Bad policy input: a file, a JSON pointer or a config key is wrong (exit 2)."""


class PolicyAzureError(PolicyError):
    """Azure was unreachable, refused the credentials or denied permission (exit 3)."""

    exit_code = ExitCode.INCOMPLETE


__all__ = ["MANAGED_BY", "PolicyAzureError", "PolicyError"]
