"""Operations: Prometheus metrics, the ops HTTP endpoint (`/metrics`, `/healthz`, `/readyz`),
structured logs and operator alerts.
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
from consumer.ops._logs import configure_logging, relay_logger
from consumer.ops._metrics import Exposition, RelayMetrics

__all__ = [
    "Alert",
    "AlertError",
    "AlertRateLimiter",
    "AlertSendError",
    "AlertSink",
    "Alerts",
    "Exposition",
    "MetricsRenderer",
    "OpsServer",
    "Redactor",
    "RelayMetrics",
    "RepeatLimiter",
    "Severity",
    "TelegramSink",
    "WebhookSink",
    "alert_text",
    "configure_logging",
    "relay_logger",
    "secrets_in",
]
