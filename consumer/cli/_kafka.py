"""Kafka client options for the commands: from the environment, refused in one line if unusable."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from consumer.cli._exits import UsageError

__all__ = ["client_options_from_env", "quiet_kafka_client", "refuse_unusable_options"]


def client_options_from_env() -> dict[str, Any]:
    """Client options for the Kafka SASL/TLS settings in the environment (a ConfigError if bad)."""
    from consumer.adapters._kafka_options import kafka_client_options  # noqa: PLC0415
    from consumer.config import load_kafka_security  # noqa: PLC0415

    return kafka_client_options(load_kafka_security(os.environ))


async def refuse_unusable_options(options: Mapping[str, Any]) -> None:
    """Raise `UsageError` (one line) if aiokafka would refuse `options`, e.g. a SASL mechanism.

    Configuration validates these first; this is the boundary's guard for anything it lets
    through, so that aiokafka's `ValueError` never reaches the operator as a traceback.
    Building a client (never started) runs aiokafka's own checks and opens no connection.
    """
    from aiokafka.client import AIOKafkaClient  # noqa: PLC0415

    try:
        AIOKafkaClient(bootstrap_servers="localhost", **options)
    except ValueError as exc:
        raise UsageError(
            "the Kafka client refuses KAFKA_SECURITY_PROTOCOL/KAFKA_SASL_MECHANISM "
            f"(sasl_mechanism={options.get('sasl_mechanism')!r}): {' '.join(str(exc).split())}"
        ) from None


def quiet_kafka_client() -> None:
    """Short-lived tools report Kafka failures as their one error line, not as client logs."""
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
