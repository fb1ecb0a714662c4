"""Slack: Block Kit blocks plus the plain `text` Slack shows in notifications and falls back to."""

from __future__ import annotations

from auditor.jsonvalue import JsonArray, JsonObject
from auditor.notify.interface import ScanOutcome

HEADER_LIMIT = 150
"""Slack's limit on a header block's text."""
SECTION_LIMIT = 3000
"""Slack's limit on a section block's text."""
_PROBLEMS_SHOWN = 5


def escape(text: str) -> str:
    """Slack mrkdwn escaping: only &, < and > are control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _section(text: str) -> JsonObject:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, SECTION_LIMIT)}}


class SlackFormatter:
    """`kind = "slack"`: `{"text": <headline>, "blocks": [header, fields, (incomplete), (breaches), context]}`."""

    kind = "slack"

    def payload(self, outcome: ScanOutcome, *, max_breaches: int) -> JsonObject:
        """Header, the figures as ten fields, the incomplete-data notice and the top breaches."""
        headline = outcome.headline()
        blocks: JsonArray = [
            {"type": "header", "text": {"type": "plain_text", "text": _clip(headline, HEADER_LIMIT)}},
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{label}*\n{escape(value)}"} for label, value in outcome.facts()
                ],
            },
        ]
        if not outcome.complete:
            shown = list(outcome.problems[:_PROBLEMS_SHOWN])
            more = len(outcome.problems) - len(shown)
            lines = [f"• {escape(problem)}" for problem in shown] + ([f"• …and {more} more"] if more else [])
            blocks.append(
                _section("*INCOMPLETE*: the data is incomplete, so the figures may be wrong.\n" + "\n".join(lines))
            )
        top = outcome.top_breaches(max_breaches)
        if top:
            lines = [f"• [{b.severity}] {escape(b.message)}" for b in top]
            if len(outcome.breaches) > len(top):
                lines.append(f"…and {len(outcome.breaches) - len(top)} more in breaches.json")
            blocks.append(_section("*Top breaches*\n" + "\n".join(lines)))
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"auditor {outcome.tool_version} · run {outcome.run_id}"}],
            }
        )
        return {"text": headline, "blocks": blocks}
