"""aiokafka keyword arguments for the Kafka SASL/TLS settings; every Kafka client uses them."""

from __future__ import annotations

import ssl
from typing import Any, cast
from urllib.parse import urlsplit

from aiokafka.helpers import create_ssl_context

from consumer.config import KafkaSecurity
from signing._tls import handshake_refusal_at

__all__ = ["kafka_client_options", "kafka_tls_refusal"]

_TLS_VARIABLES = "KAFKA_SSL_CERTFILE, KAFKA_SSL_KEYFILE and KAFKA_SSL_CAFILE"


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


async def kafka_tls_refusal(security: KafkaSecurity, bootstrap_servers: str) -> str:
    """Why the first broker refuses our TLS, as a clause for a start-up error; '' if it does not.

    aiokafka reports a refused handshake as "Unable to bootstrap"; this says which side refused
    and which variables to check.
    """
    if security.protocol not in {"SSL", "SASL_SSL"}:
        return ""
    first = urlsplit(f"//{bootstrap_servers.split(',', maxsplit=1)[0].strip()}")
    host, port = first.hostname or "localhost", first.port or 9092
    refusal = await handshake_refusal_at(host, port, _ssl_context(security))
    if refusal is None:
        return ""
    return f"; TLS with {host}:{port} was refused ({refusal}): check {_TLS_VARIABLES}"
