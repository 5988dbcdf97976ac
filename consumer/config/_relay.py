"""The relay's own variables (flow bounds, grace, ops port, logs, retries) and `Settings`."""

from __future__ import annotations

from importlib.util import find_spec
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, ValidationInfo, field_validator

from consumer.config import _syntax as syntax
from consumer.config._alerts import AlertSettings
from consumer.config._environment import EnvironmentSettings, Flag, Integer, Number
from consumer.config._errors import refuse
from consumer.config._kafka import KafkaSecurity, KafkaVariables
from consumer.config._outbound import OutboundVariables

__all__ = ["DEFAULT_MAX_IN_FLIGHT", "RelayVariables", "RetrySettings", "Settings"]

DEFAULT_MAX_IN_FLIGHT = 128
# Revocation waits for in-flight requests, then commits; the group must still wait for us.
_REVOKE_COMMIT_MS = 5000
# What each `RELAY_TRACING` mode imports (the `tracing` extra installs them all).
_TRACING_MODULES = {
    "console": ("opentelemetry.sdk.trace",),
    "otlp": ("opentelemetry.sdk.trace", "opentelemetry.exporter.otlp.proto.http"),
}


class RetrySettings(EnvironmentSettings):
    """How failed attempts are retried."""

    max_seconds: Number = Field(
        30.0,
        ge=0,
        le=3600,
        allow_inf_nan=False,
        validation_alias="RELAY_RETRY_MAX_SECONDS",
        description="ceiling of the exponential backoff",
    )
    base_seconds: Number = Field(
        0.2,
        ge=0,
        le=60,
        allow_inf_nan=False,
        validation_alias="RELAY_RETRY_BASE_SECONDS",
        description="first backoff ceiling; doubles per attempt (full jitter below it)",
    )
    retry_after_cap_seconds: Number = Field(
        60.0,
        ge=0,
        le=3600,
        allow_inf_nan=False,
        validation_alias="RELAY_RETRY_AFTER_CAP_SECONDS",
        description="longest `Retry-After` honoured as given",
    )
    max_attempts: Integer = Field(
        0,
        ge=0,
        validation_alias="RELAY_MAX_ATTEMPTS",
        description="attempts before a record goes to the DLQ as `max_attempts`; 0 = never",
    )
    systemic_probe_seconds: Number = Field(
        5.0,
        ge=0.01,
        le=3600,
        allow_inf_nan=False,
        validation_alias="RELAY_SYSTEMIC_PROBE_SECONDS",
        description="probe interval while a systemic failure (401/403/404/405) pauses deliveries",
    )

    @field_validator("base_seconds")
    @classmethod
    def _base_within_ceiling(cls, value: float, info: ValidationInfo) -> float:
        ceiling = info.data.get("max_seconds")
        if ceiling is not None and value > ceiling:
            raise refuse("must be at most RELAY_RETRY_MAX_SECONDS")
        return value


class RelayVariables(EnvironmentSettings):
    """How much the relay holds, how long it drains, and what it shows operators."""

    max_in_flight: Integer = Field(
        DEFAULT_MAX_IN_FLIGHT,
        ge=1,
        validation_alias="RELAY_MAX_IN_FLIGHT",
        description="HTTP requests in flight per process (default by benchmark)",
    )
    partition_buffer: Integer = Field(
        2000,
        ge=1,
        validation_alias="RELAY_PARTITION_BUFFER",
        description="unfinished records per partition before it is paused",
    )
    commit_interval_seconds: Number = Field(
        0.2,
        ge=0.01,
        le=60,
        allow_inf_nan=False,
        validation_alias="RELAY_COMMIT_INTERVAL_SECONDS",
        description="how often finished offsets are committed",
    )
    shutdown_grace_seconds: Number = Field(
        25.0,
        ge=0,
        le=3600,
        allow_inf_nan=False,
        validation_alias="RELAY_SHUTDOWN_GRACE_SECONDS",
        description="how long a stopping relay drains in-flight records",
    )
    revoke_grace_seconds: Number = Field(
        10.0,
        ge=0,
        le=240,
        allow_inf_nan=False,
        validation_alias="RELAY_REVOKE_GRACE_SECONDS",
        description="how long a revoked partition drains; ends 5 s before the rebalance timeout",
    )
    metrics_port: Integer = Field(
        9400,
        ge=0,
        le=65535,
        validation_alias="RELAY_METRICS_PORT",
        description="port of `/metrics`, `/healthz`, `/readyz`; 0 = off",
    )
    metrics_host: Annotated[str, AfterValidator(syntax.metrics_host)] = Field(
        "0.0.0.0",  # noqa: S104 - probes come from outside the container
        validation_alias="RELAY_METRICS_HOST",
        description="address the ops port binds to (an IP address without [ ], or a host name)",
    )
    max_signal_age_seconds: Number | None = Field(
        None,
        ge=1,
        le=7 * 24 * 3600,
        allow_inf_nan=False,
        validation_alias="RELAY_MAX_SIGNAL_AGE_SECONDS",
        description="oldest a signal may be when sent (by `generated_at`, else the record's "
        "timestamp); older ones go to the DLQ as `expired`; unset = no limit",
    )
    max_requests_per_second: Number | None = Field(
        None,
        ge=0.1,
        le=1_000_000,
        allow_inf_nan=False,
        validation_alias="RELAY_MAX_REQUESTS_PER_SECOND",
        description="HTTP requests per second per process, retries and probes included; "
        "unset = no limit",
    )
    dead_letter_rejected: Flag = Field(
        False,
        validation_alias="RELAY_DEAD_LETTER_REJECTED",
        description="`true`: a 201 whose status is `rejected` also goes to the DLQ as "
        "`rejected` before it is committed; either way its outcome is `rejected`",
    )
    tracing: Literal["off", "console", "otlp"] = Field(
        "off",
        validation_alias="RELAY_TRACING",
        description="OpenTelemetry spans per record and attempt, exported to `console` or "
        "`otlp` (the `tracing` extra; `OTEL_*` honoured); `off` = none",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", validation_alias="LOG_LEVEL", description="DEBUG, INFO, WARNING or ERROR"
    )
    log_format: Literal["json", "console"] = Field(
        "json", validation_alias="LOG_FORMAT", description="`json` lines, or `console` for humans"
    )

    @field_validator("tracing")
    @classmethod
    def _tracing_installed(cls, value: str) -> str:
        if not all(_installed(module) for module in _TRACING_MODULES.get(value, ())):
            raise refuse("needs the 'tracing' extra: pip install 'signal-relay[tracing]'")
        return value


class Settings(RelayVariables, KafkaVariables, OutboundVariables):
    """Everything the relay needs, validated once at start-up (docs/PROTOCOL.md §10).

    The variables are declared by group (`OutboundVariables`, `KafkaVariables`,
    `RelayVariables`); the retry, Kafka security and alert groups are nested.
    """

    retry: RetrySettings = Field(default_factory=RetrySettings)
    kafka_security: KafkaSecurity = Field(default_factory=KafkaSecurity)
    alerts: AlertSettings = Field(default_factory=AlertSettings)

    @property
    def ingest_url(self) -> str:
        """The full URL every signal is POSTed to."""
        return self.server_url + self.ingest_path

    @field_validator("revoke_grace_seconds")
    @classmethod
    def _revoke_before_rebalance(cls, value: float, info: ValidationInfo) -> float:
        rebalance = info.data.get("rebalance_timeout_ms")
        if rebalance is not None and value * 1000 + _REVOKE_COMMIT_MS > rebalance:
            raise refuse("must be at least 5 s shorter than KAFKA_REBALANCE_TIMEOUT_MS")
        return value


def _installed(module: str) -> bool:
    try:
        return find_spec(module) is not None
    except (ImportError, ValueError):
        return False
