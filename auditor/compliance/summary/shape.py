"""How the typed summary maps onto summary.json: the two field conventions the JSON writer honours.

Every summary class is a frozen, keyword-only dataclass whose fields are declared in summary.json's key order; the
writer (`auditor.reports.json`) walks them generically, so adding a key is adding a field. Two markers change the
walk:

- `field(metadata=INLINE)`: the field's own fields are written in its place, as if declared there (the status counts that the
  top level and every group row share);
- `field(default=None, metadata=ABSENT)`: an optional section that is left out of the JSON entirely while it is None (sections that packs
  written before them lack, such as `schedules`). A plain `X | None` field is written as null instead.

This module imports nothing of auditor's, so the summary package stays a ground floor.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

INLINE_KEY = "auditor.summary.inline"
"""Field metadata key: write the nested dataclass's fields in place of this one."""
ABSENT_KEY = "auditor.summary.absent_when_none"
"""Field metadata key: omit the key altogether while the value is None."""

INLINE: Mapping[str, bool] = MappingProxyType({INLINE_KEY: True})
"""`field(metadata=INLINE)`: the field's dataclass value is flattened into its parent's JSON object."""
ABSENT: Mapping[str, bool] = MappingProxyType({ABSENT_KEY: True})
"""`field(default=None, metadata=ABSENT)`: an optional section, missing from the JSON (not null) while None."""
