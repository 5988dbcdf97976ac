"""Capturing signed requests for `signal-relay verify`: the exact body and the arguments.

With `signal-relay receiver --capture DIR`, each ingest request that reaches the verifier
(accepted or not) is written to DIR as two files, numbered in arrival order:

- `000001.body`: the body bytes exactly as received;
- `000001.args`: the `signal-relay verify` arguments for it, one per line (`--name=value`),
  read with `signal-relay verify @DIR/000001.args --secret-file SECRET [--no-freshness]`.

A Standard Webhooks request is written with `--profile=standard-webhooks` and its `webhook-*`
headers. Headers the request lacks are left out (verify then says which is missing). At most
`max_requests` requests are written; later ones are not.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from signing._webhooks import (
    WEBHOOK_ID_HEADER,
    WEBHOOK_SIGNATURE_HEADER,
    WEBHOOK_TIMESTAMP_HEADER,
)
from signing.headers import (
    IDEMPOTENCY_KEY_HEADER,
    PRODUCER_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
)

__all__ = ["DEFAULT_MAX_CAPTURED", "RequestCapture"]

DEFAULT_MAX_CAPTURED: Final = 10_000

_SEED: Final = (
    ("timestamp", TIMESTAMP_HEADER),
    ("producer-id", PRODUCER_ID_HEADER),
    ("signature", SIGNATURE_HEADER),
    ("idempotency-key", IDEMPOTENCY_KEY_HEADER),
)
_WEBHOOKS: Final = (
    ("timestamp", WEBHOOK_TIMESTAMP_HEADER),
    ("signature", WEBHOOK_SIGNATURE_HEADER),
    ("idempotency-key", WEBHOOK_ID_HEADER),
)


class RequestCapture:
    """Writes captured requests into one directory (created if missing)."""

    def __init__(self, directory: str | Path, *, max_requests: int = DEFAULT_MAX_CAPTURED) -> None:
        self.directory = Path(directory).absolute()
        self.directory.mkdir(parents=True, exist_ok=True)
        self._numbers = itertools.count(1)
        self._max = max_requests
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RequestCapture(directory={str(self.directory)!r})"

    def write(
        self, *, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> Path | None:
        """Write one request (`headers` by lower-case name); its `.args` file, None past the cap."""
        with self._lock:
            number = next(self._numbers)
        if number > self._max:
            return None
        stem = self.directory / f"{number:06d}"
        body_file = stem.with_suffix(".body")
        body_file.write_bytes(body)
        args_file = stem.with_suffix(".args")
        args_file.write_text("\n".join(verify_arguments(method, path, headers, body_file)) + "\n")
        return args_file


def verify_arguments(
    method: str, path: str, headers: Mapping[str, str], body_file: Path
) -> list[str]:
    """The `signal-relay verify` arguments for a request whose body is in `body_file`."""
    webhook = WEBHOOK_SIGNATURE_HEADER in headers and SIGNATURE_HEADER.lower() not in headers
    arguments = [f"--body={body_file}", f"--method={method}", f"--path={path}"]
    if webhook:
        arguments.append("--profile=standard-webhooks")
    for option, header in _WEBHOOKS if webhook else _SEED:
        value = headers.get(header.lower())
        if value is not None:
            arguments.append(f"--{option}={value}")
    return arguments
