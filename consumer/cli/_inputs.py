"""What commands read from the operator: environment defaults, input files, secrets."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from consumer.cli._exits import UsageError

__all__ = [
    "DEFAULT_BOOTSTRAP",
    "DEFAULT_INGEST_PATH",
    "DEFAULT_TOPIC",
    "bootstrap",
    "env",
    "read_input",
    "secrets",
]

DEFAULT_BOOTSTRAP = "localhost:9092"
DEFAULT_TOPIC = "signals.candidates"
DEFAULT_INGEST_PATH = "/api/v1/signals/ingest"
_SECRET_ENV = "HMAC_PRODUCER_SECRET"  # noqa: S105 - the variable name, not a secret


def env(name: str, default: str) -> str:
    """The variable `name` stripped, or `default` when unset or blank."""
    value = os.environ.get(name, "").strip()
    return value or default


def bootstrap(args: argparse.Namespace) -> str:
    """`--bootstrap`, else KAFKA_BOOTSTRAP_SERVERS, else localhost:9092."""
    flag: str | None = args.bootstrap
    return flag or env("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_BOOTSTRAP)


def read_input(name: str) -> bytes:
    """The bytes of file `name`, or of stdin for `-`."""
    if name == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(name).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {name!r}: {exc.strerror}") from None


def secrets(files: Sequence[str]) -> list[bytes]:
    """Secrets from `--secret-file` files, else HMAC_PRODUCER_SECRET(_FILE); never echoed."""
    from consumer.config import ConfigError, read_secret_file  # noqa: PLC0415

    found = []
    for name in files:
        try:
            found.append(read_secret_file("--secret-file", name).strip())
        except ConfigError as exc:
            raise UsageError(f"--secret-file {name!r}: {exc.problem}") from None
    if found:
        return found
    direct, path = env(_SECRET_ENV, ""), env(f"{_SECRET_ENV}_FILE", "")
    if direct:
        return [direct.encode()]
    if path:
        return [read_secret_file(f"{_SECRET_ENV}_FILE", path).strip()]
    raise ConfigError(_SECRET_ENV, f"is required (or {_SECRET_ENV}_FILE, or --secret-file)")
