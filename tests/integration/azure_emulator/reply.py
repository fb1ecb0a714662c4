"""What a handler answers: status, JSON body, headers, and how the wire should misbehave."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Reply:
    """One HTTP response."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    """Seconds to wait before answering."""
    cut: bool = False
    """Send the headers and half the body, then drop the connection."""


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Reply:
    """An ARM-style error body."""
    return Reply(status, {"error": {"code": code, "message": message}}, dict(headers or {}))
