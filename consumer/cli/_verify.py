"""`signal-relay verify`: check one captured signed request offline."""

from __future__ import annotations

import argparse
from typing import Any

from consumer.cli._arguments import add_command, non_negative_float, positive_float
from consumer.cli._exits import EXIT_FAILURE, EXIT_OK, UsageError
from consumer.cli._inputs import DEFAULT_INGEST_PATH, read_input, secrets

__all__ = ["add_verify"]


def add_verify(sub: Any) -> None:
    """Add the `verify` command."""
    verify = add_command(
        sub,
        "verify",
        _verify,
        help="check a signed request offline",
        description="Check one captured signed request with the server's verifier. Prints "
        "'valid' (exit 0) or 'invalid: <code>: <reason>' (exit 1). The secrets come from "
        "--secret-file (several = rotation), else HMAC_PRODUCER_SECRET(_FILE); they are "
        "never printed.",
        examples="  signal-relay verify --secret-file ./secret --body body.json \\\n"
        "      --timestamp 2026-11-28T03:00:00.123Z --producer-id desk-1 \\\n"
        "      --signature 'q1w2...=' --idempotency-key 6f1c...\n"
        "  cat body.json | signal-relay verify --body - --no-freshness ...  # old capture\n"
        "  signal-relay verify @capture/000001.args --secret-file ./secret  # receiver --capture\n",
    )
    verify.fromfile_prefix_chars = "@"  # `@FILE`: arguments one per line, as --capture writes
    verify.add_argument(
        "--secret-file", action="append", default=[], help="file holding an active secret"
    )
    verify.add_argument("--body", required=True, metavar="FILE|-", help="the exact body bytes")
    verify.add_argument("--timestamp", required=True, help="X-Timestamp as sent")
    verify.add_argument("--producer-id", help="X-Producer-Id as sent (seed profile: required)")
    verify.add_argument(
        "--profile",
        choices=("seed", "standard-webhooks"),
        default="seed",
        help="signing profile; standard-webhooks: --timestamp, --signature, --idempotency-key"
        " are webhook-timestamp, webhook-signature, webhook-id",
    )
    verify.add_argument("--signature", required=True, help="X-Signature as sent")
    verify.add_argument(
        "--idempotency-key",
        help="X-Idempotency-Key as sent (default: the body's signal_id, binding unchecked)",
    )
    verify.add_argument("--method", default="POST", help="request method (default: POST)")
    verify.add_argument(
        "--path",
        default=DEFAULT_INGEST_PATH,
        help=f"request path (default: {DEFAULT_INGEST_PATH})",
    )
    verify.add_argument(
        "--max-age",
        type=positive_float,
        default=300.0,
        metavar="SECONDS",
        help="oldest timestamp accepted (default: 300)",
    )
    verify.add_argument(
        "--max-future",
        type=non_negative_float,
        default=60.0,
        metavar="SECONDS",
        help="furthest-ahead timestamp accepted (default: 60)",
    )
    verify.add_argument(
        "--no-freshness",
        action="store_true",
        help="skip the freshness window (to check an old capture)",
    )


def _verify(args: argparse.Namespace) -> int:
    from consumer.tools._offline_verify import CapturedRequest, check_capture  # noqa: PLC0415
    from signing.errors import SigningInputError  # noqa: PLC0415

    if args.producer_id is None and args.profile == "seed":
        raise UsageError("verify: --producer-id is required (seed profile)")
    request = CapturedRequest(
        method=args.method,
        path=args.path,
        body=read_input(args.body),
        timestamp=args.timestamp,
        producer_id=args.producer_id or "",
        signature=args.signature,
        idempotency_key=args.idempotency_key,
        profile=args.profile,
    )
    try:
        verdict = check_capture(
            request,
            secrets(args.secret_file),
            max_age_seconds=None if args.no_freshness else args.max_age,
            max_future_seconds=args.max_future,
        )
    except SigningInputError as exc:
        raise UsageError(str(exc)) from exc
    print(verdict)
    return EXIT_OK if verdict.valid else EXIT_FAILURE
