"""The registry of message formats, and `notify()`: post a scan's outcome to every webhook that wants it."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping

from auditor.config import NotifySettings, WebhookSettings, secure_url
from auditor.notify.generic import GenericFormatter
from auditor.notify.interface import Formatter, NotifyError, ScanOutcome
from auditor.notify.slack import SlackFormatter
from auditor.notify.teams import TeamsFormatter
from auditor.notify.webhook import host_of, post_json

_LOG = logging.getLogger(__name__)

FORMATTERS: dict[str, Formatter] = {f.kind: f for f in (TeamsFormatter(), SlackFormatter(), GenericFormatter())}
"""kind -> the format it posts."""


def wants(on: str, outcome: ScanOutcome) -> bool:
    """Whether a webhook with `on` hears about this scan: always; incomplete data; breaches or incomplete data."""
    if on == "always":
        return True
    if on == "incomplete":
        return not outcome.complete
    return outcome.status != "ok"


def webhook_url(hook: WebhookSettings, environ: Mapping[str, str]) -> str:
    """The webhook's URL, from the config or its environment variable (checked like a configured one)."""
    if hook.url is not None:
        return hook.url.get_secret_value()
    assert hook.url_env is not None  # the model requires one of the two
    url = environ.get(hook.url_env, "").strip()
    if not url:
        raise NotifyError(
            f"environment variable {hook.url_env} is not set",
            f"export {hook.url_env} with the webhook URL (in CI, from a secret)",
        )
    try:
        return secure_url(url, f"the URL in {hook.url_env}")
    except ValueError as error:
        raise NotifyError(str(error), "use the https URL the webhook's owner gave you") from None


def label(index: int, hook: WebhookSettings) -> str:
    """How messages name a webhook: its position, kind and variable or host, never its URL."""
    where = hook.url_env if hook.url_env is not None else host_of(hook.url.get_secret_value() if hook.url else "")
    return f"notify.webhooks[{index}] ({hook.kind}, {where})"


def notify(
    settings: NotifySettings,
    outcome: ScanOutcome,
    *,
    environ: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Post to each webhook whose `on` matches; return one warning per webhook that could not be told."""
    env = os.environ if environ is None else environ
    warnings: list[str] = []
    for index, hook in enumerate(settings.webhooks):
        if not wants(hook.on, outcome):
            continue
        name = label(index, hook)
        try:
            url = webhook_url(hook, env)
            body = FORMATTERS[hook.kind].payload(outcome, max_breaches=hook.max_breaches)
            delivery = post_json(
                url, body, timeout=hook.timeout_seconds, retries=hook.retries, backoff=hook.backoff_seconds, sleep=sleep
            )
            _LOG.info("%s notified: HTTP %d after %d attempt(s)", name, delivery.status, delivery.attempts)
        except NotifyError as error:
            warnings.append(f"{name}: {error.message} (the pack is complete; only this notification is missing)")
        except Exception as error:  # a notification must never fail a scan whose pack is already written
            warnings.append(
                f"{name}: unexpected {type(error).__name__} (the pack is complete; only this notification is missing)"
            )
    return warnings
