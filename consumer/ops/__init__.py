"""Operations: Prometheus metrics, the ops HTTP endpoint (`/metrics`, `/healthz`, `/readyz`),
structured logs and operator alerts.
"""

from consumer.ops._alerts import (
    Alert,
    AlertError,
    AlertRateLimiter,
    Alerts,
    AlertSendError,
    AlertSink,
    Severity,
    TelegramSink,
    WebhookSink,
    alert_text,
)
from consumer.ops._endpoint import MetricsRenderer, OpsServer
from consumer.ops._logs import configure_logging
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
    "RelayMetrics",
    "Severity",
    "TelegramSink",
    "WebhookSink",
    "alert_text",
    "configure_logging",
]
