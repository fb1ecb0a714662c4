"""Publish a scan to Azure Monitor: metric and breach rows in a Log Analytics custom table, via the Logs
Ingestion API (`azure-monitor-ingestion`), so that alert rules can fire on compliance.

One table holds both kinds of row, told apart by `RecordType`: a `metric` row per group (overall, each
environment, each subscription) and a `breach` row per breach. `COLUMNS` is the table's schema;
samples/monitor/ declares the same columns for the table and the data collection rule.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING, Literal, Protocol, TypedDict

from auditor import __version__
from auditor.compliance.summary import StatusCounts
from auditor.config import Config, LogAnalyticsPublishSettings
from auditor.errors import AuditorError, ConfigError
from auditor.notify.interface import ScanOutcome
from auditor.notify.webhook import host_of
from auditor.sources.azure_settings import AzureSettings, azure_settings

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.core.exceptions import HttpResponseError

_LOG = logging.getLogger(__name__)

COLUMNS: dict[str, str] = {
    "TimeGenerated": "datetime",
    "AsOf": "datetime",
    "RecordType": "string",
    "Dimension": "string",
    "Key": "string",
    "Machines": "int",
    "Compliant": "int",
    "NonCompliant": "int",
    "Unknown": "int",
    "ComplianceRate": "real",
    "Target": "real",
    "Breaches": "int",
    "Rule": "string",
    "Severity": "string",
    "Observed": "real",
    "Threshold": "real",
    "Message": "string",
    "Query": "string",
    "Complete": "boolean",
    "PackId": "string",
    "RunId": "string",
    "ManifestSha256": "string",
    "ToolVersion": "string",
}
"""Column name -> type as a DCR stream declares it (string, int, real, boolean, datetime)."""

MONITOR_SCOPES: dict[str, str] = {
    "AzurePublic": "https://monitor.azure.com/.default",
    "AzureUSGovernment": "https://monitor.azure.us/.default",
    "AzureChina": "https://monitor.azure.cn/.default",
}
"""OAuth scope of Logs Ingestion tokens, per cloud (a Custom cloud must set credential_scope)."""


class LogRow(TypedDict, total=False):
    """One row of the table (COLUMNS): the columns every row has, then a metric's or a breach's."""

    TimeGenerated: str
    AsOf: str
    RecordType: Literal["metric", "breach"]
    Dimension: str
    Key: str | None
    Machines: int
    Compliant: int
    NonCompliant: int
    Unknown: int
    ComplianceRate: float | None
    Target: float | None
    Breaches: int
    Rule: str
    Severity: str
    Observed: float
    Threshold: float
    Message: str
    Query: str
    Complete: bool
    PackId: str
    RunId: str
    ManifestSha256: str
    ToolVersion: str


class PublishError(AuditorError):
    """A scan's figures could not be published. A scan turns it into a warning: it never sets the exit code."""


class Publisher(Protocol):
    """Sends a committed scan's outcome somewhere; raises PublishError when it cannot."""

    name: str
    """How warnings name it, e.g. `publish.log_analytics`."""

    def publish(self, outcome: ScanOutcome) -> None:
        """Send the outcome."""
        ...


def rows(outcome: ScanOutcome, environment_targets: Mapping[str, float] | None = None) -> list[LogRow]:
    """The table rows of one scan: metric rows (overall, then each environment and subscription), then breaches."""
    targets = environment_targets or {}
    common: LogRow = {
        "TimeGenerated": outcome.as_of,
        "AsOf": outcome.as_of,
        "Complete": outcome.complete,
        "PackId": outcome.pack_id,
        "RunId": outcome.run_id,
        "ManifestSha256": outcome.fingerprint,
        "ToolVersion": outcome.tool_version,
    }

    def metric(dimension: str, key: str | None, counts: StatusCounts, target: float | None, breaches: int) -> LogRow:
        return {
            **common,
            "RecordType": "metric",
            "Dimension": dimension,
            "Key": key,
            "Machines": counts.machines,
            "Compliant": counts.compliant,
            "NonCompliant": counts.non_compliant,
            "Unknown": counts.unknown,
            "ComplianceRate": counts.compliance_rate,
            "Target": target,
            "Breaches": breaches,
        }

    summary = outcome.summary
    out = [metric("overall", None, summary.counts, outcome.target, len(outcome.breaches))]
    groups: list[tuple[str, str, StatusCounts]] = [("environment", g.key, g.counts) for g in summary.by_environment]
    groups += [("subscription", g.key, g.counts) for g in summary.by_subscription]
    for dimension, key, counts in groups:
        count = sum(1 for b in outcome.breaches if b.dimension == dimension and b.key == key)
        target = targets.get(key) if dimension == "environment" else None
        out.append(metric(dimension, key, counts, target, count))
    for breach in outcome.breaches:
        out.append(
            {
                **common,
                "RecordType": "breach",
                "Dimension": breach.dimension,
                "Key": breach.key,
                "Rule": breach.rule,
                "Severity": breach.severity,
                "Observed": float(breach.observed),
                "Threshold": float(breach.threshold),
                "Message": breach.message,
                "Query": breach.query,
            }
        )
    return out


def _service_error(error: HttpResponseError) -> str:
    # "HTTP 403 OperationFailed: The authentication token provided does not have access ..."
    text = f"HTTP {error.status_code}"
    if error.response is None:
        return text
    try:
        inner = json.loads(error.response.text()).get("error") or {}
        text += f" {inner.get('code', '')}: {inner.get('message', '')}".rstrip(": ")
    except (ValueError, AttributeError):  # not JSON, or not the service's error shape
        pass
    return text


class LogAnalyticsPublisher:
    """`[publish.log_analytics]`: uploads `rows()` with the real LogsIngestionClient.

    The credential is DefaultAzureCredential for [azure]'s cloud and tenant (made per publish and closed after)
    unless one is lent; `client_kwargs` go to the client (tests pass their loopback-http policy).
    """

    name = "publish.log_analytics"

    def __init__(
        self,
        settings: LogAnalyticsPublishSettings,
        *,
        azure: AzureSettings | None = None,
        environment_targets: Mapping[str, float] | None = None,
        credential: TokenCredential | None = None,
        **client_kwargs: object,
    ) -> None:
        self.settings = settings
        self.azure = azure
        self.environment_targets = dict(environment_targets or {})
        self.credential = credential
        self.client_kwargs = client_kwargs
        cloud = azure.cloud if azure is not None else "AzurePublic"
        scope = settings.credential_scope or MONITOR_SCOPES.get(cloud)
        if scope is None:  # Config refuses this; a publisher built by hand may not
            raise PublishError(f"{self.name}: no credential_scope for cloud {cloud}", "set credential_scope")
        self.scope = scope

    @classmethod
    def from_config(
        cls, config: Config, *, credential: TokenCredential | None = None, **client_kwargs: object
    ) -> LogAnalyticsPublisher | None:
        """The publisher `config` asks for, or None without `[publish.log_analytics]`."""
        settings = config.publish.log_analytics
        if settings is None:
            return None
        azure = azure_settings(config)
        if settings.credential_scope is None and azure is not None and azure.cloud == "Custom":
            raise ConfigError(
                f"{config.origin}: key 'publish.log_analytics.credential_scope' is required when [azure].cloud is Custom",
                "set credential_scope to the Logs Ingestion scope of your cloud",
            )
        targets = config.thresholds.by_environment
        return cls(settings, azure=azure, environment_targets=targets, credential=credential, **client_kwargs)

    def _default_credential(self) -> TokenCredential:
        if self.azure is not None:
            from auditor.sources.clouds import default_credential, resolve_endpoints

            return default_credential(resolve_endpoints(self.azure), self.azure.tenant_id)
        from azure.identity import DefaultAzureCredential

        return DefaultAzureCredential()

    def publish(self, outcome: ScanOutcome) -> None:
        """Upload the scan's rows; any failure is a PublishError naming the endpoint's host."""
        # Imported here: `auditor --help` loads this module, and the SDK is only needed to publish.
        from azure.core.exceptions import AzureError
        from azure.monitor.ingestion import LogsIngestionClient, LogsUploadError

        settings = self.settings
        # The SDK takes mutable mappings; each row is copied into a plain dict for it.
        data: list[MutableMapping[str, object]] = [dict(row) for row in rows(outcome, self.environment_targets)]
        credential = self.credential if self.credential is not None else self._default_credential()
        options: dict[str, object] = {
            "credential_scopes": [self.scope],
            "user_agent": f"auditor/{__version__}",
            "retry_total": settings.max_retries,
            "retry_backoff_factor": settings.backoff_seconds,
            **self.client_kwargs,
        }
        failed: list[LogsUploadError] = []  # collected, not raised, so the SDK logs nothing of its own
        try:
            with LogsIngestionClient(settings.endpoint, credential, **options) as client:
                client.upload(
                    settings.rule_id,
                    settings.stream_name,
                    data,
                    on_error=failed.append,
                    connection_timeout=settings.timeout_seconds,
                    read_timeout=settings.timeout_seconds,
                )
        except AzureError as error:
            raise self._explain(error, "") from error
        finally:
            if self.credential is None:
                close = getattr(credential, "close", None)
                if callable(close):
                    close()
        if failed:
            lost = sum(len(f.failed_logs) for f in failed)
            note = "" if lost == len(data) else f" ({lost} of {len(data)} rows not sent)"
            raise self._explain(failed[0].error, note) from failed[0].error
        _LOG.info("%s: %d rows sent to %s (%s)", self.name, len(data), host_of(settings.endpoint), settings.stream_name)

    def _explain(self, error: Exception, note: str) -> PublishError:
        """One line for a failed upload: the host and what went wrong, never a token or a page of SDK text."""
        from azure.core.exceptions import (
            AzureError,
            ClientAuthenticationError,
            HttpResponseError,
            ServiceRequestError,
            ServiceRequestTimeoutError,
            ServiceResponseTimeoutError,
        )

        where = f"{self.name}: {host_of(self.settings.endpoint)}"
        if isinstance(error, ClientAuthenticationError) and error.status_code is None:
            # The credential itself failed; its text lists every credential DefaultAzureCredential tried.
            return PublishError(
                f"{self.name}: could not get a token for {self.scope}{note}",
                "sign in where the scan runs (az login, workload identity or managed identity)",
            )
        if isinstance(error, HttpResponseError) and error.status_code is not None:
            return PublishError(
                f"{where} answered {_service_error(error)}{note}",
                "check endpoint, rule_id and stream_name against the DCR, and that the identity "
                "has Monitoring Metrics Publisher on it",
            )
        if isinstance(error, ServiceRequestError) and "non-TLS" in str(error):
            # azure-core's refusal to send a bearer token over plain http (allowed in config for emulators only)
            return PublishError(
                f"{where}: the Azure SDK sends tokens over https only{note}",
                "use the https endpoint the data collection rule or endpoint shows",
            )
        if isinstance(error, ServiceRequestTimeoutError | ServiceResponseTimeoutError):
            return PublishError(
                f"{where} did not answer within {self.settings.timeout_seconds:g} s{note}",
                "raise timeout_seconds, or check the network path to the endpoint",
            )
        if isinstance(error, AzureError):
            return PublishError(
                f"{where} could not be reached ({type(error).__name__}){note}",
                "check the endpoint and the network path to it",
            )
        return PublishError(
            f"{where}: unexpected {type(error).__name__}{note}", "a bug in auditor or the SDK; please report it"
        )


def publishers_for(config: Config) -> list[Publisher]:
    """Every publisher the config asks for (none without a `[publish]` target)."""
    found = LogAnalyticsPublisher.from_config(config)
    return [found] if found is not None else []
