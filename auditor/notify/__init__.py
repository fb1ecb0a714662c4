"""Scan notifications: one Formatter per webhook kind (teams, slack, generic), delivered by `notify()`.

`interface.py` holds what formats receive; `dispatch.py` the registry and the delivery loop; `webhook.py` the
HTTP post with its timeouts and retries.
"""

from __future__ import annotations

from auditor.notify.dispatch import FORMATTERS, notify
from auditor.notify.interface import Formatter, NotifyError, ScanOutcome

__all__ = ["FORMATTERS", "Formatter", "NotifyError", "ScanOutcome", "notify"]
