"""Microsoft Teams: an Adaptive Card in a message, as Teams incoming webhooks and Workflows accept it."""

from __future__ import annotations

import re

from auditor.jsonvalue import JsonArray, JsonObject
from auditor.notify.interface import ScanOutcome

_COLOR = {"ok": "Good", "breach": "Attention", "incomplete": "Warning"}
_PROBLEMS_SHOWN = 5
_MARKDOWN = re.compile(r"([\\`*_\[\]()<>~!])")
"""The characters of Teams' Markdown links, images, autolinks, emphasis and code; each is backslash-escaped in
text that carries names from the data (problems and breach messages). The figures and ids the card shows beside
them are auditor's own and are left as they are."""


def escape_markdown(text: str) -> str:
    """`text` shown literally by a Teams TextBlock or FactSet value: no link, image, emphasis or heading can come
    from a name in the data (a maintenance configuration named `[Renew](https://…)` stays text)."""
    return _MARKDOWN.sub(r"\\\1", text)


def _text(text: str, **style: str | bool) -> JsonObject:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


class TeamsFormatter:
    """`kind = "teams"`: `{"type": "message", "attachments": [<Adaptive Card 1.4>]}`."""

    kind = "teams"

    def payload(self, outcome: ScanOutcome, *, max_breaches: int) -> JsonObject:
        """The card: headline, incomplete-data notice, a fact set, then the top breaches."""
        body: JsonArray = [
            _text(outcome.headline(), size="Medium", weight="Bolder", color=_COLOR[outcome.status], style="heading"),
        ]
        if not outcome.complete:
            shown = list(outcome.problems[:_PROBLEMS_SHOWN])
            more = len(outcome.problems) - len(shown)
            lines = [f"- {escape_markdown(problem)}" for problem in shown] + ([f"- …and {more} more"] if more else [])
            body.append(
                _text(
                    "INCOMPLETE: the data is incomplete, so the figures may be wrong.\n\n" + "\n".join(lines),
                    color="Warning",
                )
            )
        body.append(
            {
                "type": "FactSet",
                "facts": [{"title": label, "value": value} for label, value in outcome.facts()],
            }
        )
        top = outcome.top_breaches(max_breaches)
        if top:
            body.append(_text("Top breaches", weight="Bolder", spacing="Medium"))
            body.extend(_text(f"[{b.severity}] {escape_markdown(b.message)}", spacing="None") for b in top)
            if len(outcome.breaches) > len(top):
                body.append(_text(f"…and {len(outcome.breaches) - len(top)} more in breaches.json", isSubtle=True))
        body.append(_text(f"auditor {outcome.tool_version} · run {outcome.run_id}", size="Small", isSubtle=True))
        card: JsonObject = {
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.4",
            "body": body,
            "msteams": {"width": "Full"},
        }
        return {
            "type": "message",
            "attachments": [
                {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
            ],
        }
