"""aiokafka keyword arguments for the Kafka SASL/TLS settings; every Kafka client uses them."""

from __future__ import annotations

from typing import Any

from aiokafka.helpers import create_ssl_context

from consumer.config import KafkaSecurity

__all__ = ["kafka_client_options"]


def kafka_client_options(security: KafkaSecurity) -> dict[str, Any]:
    """aiokafka keyword arguments for the configured SASL/TLS settings."""
    options: dict[str, Any] = {"security_protocol": security.protocol}
    if security.protocol in {"SSL", "SASL_SSL"}:
        options["ssl_context"] = create_ssl_context(cafile=security.ssl_cafile)
    if security.sasl_mechanism:
        options["sasl_mechanism"] = security.sasl_mechanism
        options["sasl_plain_username"] = security.sasl_username
        if security.sasl_password is not None:
            options["sasl_plain_password"] = security.sasl_password.reveal().decode()
    return options
