"""aiokafka keyword arguments for the Kafka SASL/TLS settings; every Kafka client uses them."""

from __future__ import annotations

import ssl
from typing import Any, cast

from aiokafka.helpers import create_ssl_context

from consumer.config import KafkaSecurity

__all__ = ["kafka_client_options"]


def kafka_client_options(security: KafkaSecurity) -> dict[str, Any]:
    """aiokafka keyword arguments for the configured SASL/TLS settings."""
    options: dict[str, Any] = {"security_protocol": security.protocol}
    if security.protocol in {"SSL", "SASL_SSL"}:
        options["ssl_context"] = _ssl_context(security)
    if security.sasl_mechanism:
        options["sasl_mechanism"] = security.sasl_mechanism
        options["sasl_plain_username"] = security.sasl_username
        if security.sasl_password is not None:
            options["sasl_plain_password"] = security.sasl_password.reveal().decode()
    return options


def _ssl_context(security: KafkaSecurity) -> ssl.SSLContext:
    """The brokers' TLS: their CA bundle, and this client's certificate when one is set."""
    certificate = security.client_certificate
    if certificate is None:
        return cast(ssl.SSLContext, create_ssl_context(cafile=security.ssl_cafile))
    context = create_ssl_context(
        cafile=security.ssl_cafile,
        certfile=certificate.cert_file,
        keyfile=certificate.key_file,
        password=certificate.password or b"",  # never a password prompt on the terminal
    )
    return cast(ssl.SSLContext, context)
