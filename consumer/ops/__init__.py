"""Operations: Prometheus metrics, the ops HTTP endpoint (`/metrics`, `/healthz`, `/readyz`),
structured logs, operator alerts and OpenTelemetry tracing (off unless `RELAY_TRACING` is set;
its OpenTelemetry half, `_tracing_otel`, is loaded only then and so is not re-exported here).
"""

from consumer.ops._alert_model import Alert, Severity, alert_text
from consumer.ops._alert_sinks import (
    AlertError,
    AlertSendError,
    AlertSink,
    TelegramSink,
    WebhookSink,
)
from consumer.ops._alerts import AlertRateLimiter, Alerts
from consumer.ops._endpoint import MetricsRenderer, OpsServer
from consumer.ops._log_redaction import Redactor, secrets_in
from consumer.ops._log_repeats import RepeatLimiter
from consumer.ops._logs import configure_logging, log_context, relay_logger
from consumer.ops._metrics import Exposition, RelayMetrics
from consumer.ops._tracing import (
    NO_TRACE_HEADERS,
    NO_TRACING,
    AttemptTrace,
    RecordTrace,
    Tracing,
    TracingMode,
    configure_tracing,
    tracing_for,
)

__all__ = [
    "NO_TRACE_HEADERS",
    "NO_TRACING",
    "Alert",
    "AlertError",
    "AlertRateLimiter",
    "AlertSendError",
    "AlertSink",
    "Alerts",
    "AttemptTrace",
    "Exposition",
    "MetricsRenderer",
    "OpsServer",
    "RecordTrace",
    "Redactor",
    "RelayMetrics",
    "RepeatLimiter",
    "Severity",
    "TelegramSink",
    "Tracing",
    "TracingMode",
    "WebhookSink",
    "alert_text",
    "configure_logging",
    "configure_tracing",
    "log_context",
    "relay_logger",
    "secrets_in",
    "tracing_for",
]
