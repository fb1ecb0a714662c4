"""What every notification format receives (`ScanOutcome`), the Formatter protocol, and NotifyError.

A ScanOutcome is read back from the committed pack (its manifest gives the run id, the pack id and the
fingerprint), so a message never describes a pack other than the one on disk.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from auditor import __version__
from auditor.compliance.summary import Summary
from auditor.compliance.thresholds import Breach
from auditor.errors import AuditorError
from auditor.evidence.manifest import fingerprint

Status = Literal["ok", "breach", "incomplete"]
"""A scan's state as messages show it; incomplete data outranks breaches."""

_SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}


class NotifyError(AuditorError):
    """A webhook could not be told about a scan. A scan turns it into a warning: it never sets the exit code."""


@dataclass(frozen=True)
class ScanOutcome:
    """The facts a notification or a published row carries about one committed scan."""

    pack_id: str
    run_id: str
    fingerprint: str
    """sha256 of the pack's manifest.json (what `auditor verify` checks everything against)."""
    as_of: str
    complete: bool
    problems: tuple[str, ...]
    summary: Summary
    """The pack's summary, typed."""
    breaches: tuple[Breach, ...]
    target: float | None
    """thresholds.min_compliance_rate, the overall target; None when none is set."""
    tool_version: str = __version__

    @classmethod
    def from_pack(
        cls,
        pack: Path,
        summary: Summary,
        breaches: Sequence[Breach],
        problems: Sequence[str],
        target: float | None,
    ) -> ScanOutcome:
        """The outcome of the scan that wrote `pack` (its manifest must exist)."""
        data = (pack / "manifest.json").read_bytes()
        manifest = json.loads(data)
        return cls(
            pack_id=str(manifest["pack_id"]),
            run_id=str(manifest["run_id"]),
            fingerprint=fingerprint(data),
            as_of=summary.as_of,
            complete=not problems,
            problems=tuple(problems),
            summary=summary,
            breaches=tuple(breaches),
            target=target,
        )

    @property
    def status(self) -> Status:
        """incomplete, else breach, else ok."""
        if not self.complete:
            return "incomplete"
        return "breach" if self.breaches else "ok"

    @property
    def compliance_rate(self) -> float | None:
        """The overall compliance rate (%), None for an empty fleet."""
        return self.summary.counts.compliance_rate

    @property
    def rate_without_exceptions(self) -> float | None:
        """The overall rate with no exception applied (the honest figure beside the headline one)."""
        return self.summary.counts.compliance_rate_without_exceptions

    def count(self, name: Literal["machines", "compliant", "non_compliant", "unknown"]) -> int:
        """A top-level count of the summary: machines, compliant, non_compliant or unknown."""
        counts = self.summary.counts
        return {
            "machines": counts.machines,
            "compliant": counts.compliant,
            "non_compliant": counts.non_compliant,
            "unknown": counts.unknown,
        }[name]

    def top_breaches(self, limit: int) -> list[Breach]:
        """The most severe breaches first (ties keep the pack's order), at most `limit`."""
        ranked = sorted(self.breaches, key=lambda b: _SEVERITY_RANK.get(b.severity, len(_SEVERITY_RANK)))
        return ranked[:limit]

    def rate_text(self) -> str:
        """e.g. "87.50% (target 90.00%)", or "n/a" for an empty fleet."""
        rate = self.compliance_rate
        shown = "n/a" if rate is None else f"{rate:.2f}%"
        return shown if self.target is None else f"{shown} (target {self.target:.2f}%)"

    def headline(self) -> str:
        """One line that says it all, e.g. "Patch compliance 87.50% (target 90.00%): 3 breaches"."""
        count = len(self.breaches)
        breaches = f"{count} breach{'' if count == 1 else 'es'}" if count else "no breaches"
        prefix = "INCOMPLETE scan. " if self.status == "incomplete" else ""
        return f"{prefix}Patch compliance {self.rate_text()}: {breaches}"

    def facts(self) -> list[tuple[str, str]]:
        """Label and value of each figure a message shows, in order."""
        return [
            ("Compliance", self.rate_text()),
            (
                "Without exceptions",
                "n/a" if self.rate_without_exceptions is None else f"{self.rate_without_exceptions:.2f}%",
            ),
            ("Compliant with exception", str(self.summary.counts.compliant_with_exception)),
            ("Machines", str(self.count("machines"))),
            ("Compliant", str(self.count("compliant"))),
            ("Non-compliant", str(self.count("non_compliant"))),
            ("Unknown", str(self.count("unknown"))),
            ("Breaches", str(len(self.breaches))),
            ("Data", "complete" if self.complete else "INCOMPLETE"),
            ("As of", self.as_of),
            ("Pack", self.pack_id),
            ("Manifest sha256", self.fingerprint),
        ]


class Formatter(Protocol):
    """Turns a ScanOutcome into the JSON body one kind of webhook expects."""

    kind: str
    """The `kind` value in `[[notify.webhooks]]`."""

    def payload(self, outcome: ScanOutcome, *, max_breaches: int) -> Mapping[str, object]:
        """The request body (a JSON object), listing at most `max_breaches` breaches."""
        ...
