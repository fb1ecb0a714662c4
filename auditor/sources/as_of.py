"""Is an as-of time one the data can answer for? Resource Graph keeps only each machine's latest assessment.

A snapshot holds what Resource Graph had at its capture time: the latest assessment of each machine, pending
patches from that assessment, and installation runs up to then. Judging it as of an earlier time would mix two
windows, ages counted to the as-of time from assessments made after it, so that is refused. Judging it as of a
later time is allowed (a scan is often run on yesterday's capture), but once the capture is older than
`max_assessment_age_days` at the as-of time, every current assessment in it may be stale by then: that is said.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from auditor.errors import SnapshotError
from auditor.timestamps import format_timestamp


def check_as_of(as_of: datetime, captured_at: datetime | None, max_assessment_age_days: int) -> str | None:
    """Raise SnapshotError (exit 2) for an as-of before the capture; return a warning line for one more than
    `max_assessment_age_days` after it; else None. Live data (`captured_at` None) is as of now and not checked."""
    if captured_at is None:
        return None
    if as_of < captured_at:
        raise SnapshotError(
            f"--as-of {format_timestamp(as_of)} is before the snapshot's capture time {format_timestamp(captured_at)}: "
            "Resource Graph keeps only the latest assessment, so the snapshot cannot show the fleet as it was then",
            "scan as of the capture time or later (omit --as-of to use the capture time), or scan a snapshot "
            "captured before that date",
        )
    if as_of - captured_at > timedelta(days=max_assessment_age_days):
        return (
            f"--as-of {format_timestamp(as_of)} is {(as_of - captured_at).days} days after the snapshot's capture "
            f"time {format_timestamp(captured_at)}, more than max_assessment_age_days ({max_assessment_age_days}): "
            "assessments current at capture count as stale, and patches published since are not in the data"
        )
    return None
