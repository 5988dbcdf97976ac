"""`signal-relay publish`: validate JSONL signals, check the topic exists, publish them."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from consumer.cli._arguments import add_bootstrap, add_command, positive_int
from consumer.cli._exits import EXIT_OK, CommandFailedError, UsageError, fail
from consumer.cli._inputs import DEFAULT_TOPIC, bootstrap, env, read_input
from consumer.cli._kafka import client_options_from_env, quiet_kafka_client, refuse_unusable_options
from consumer.cli._loop import run_async

__all__ = ["add_publish"]


def add_publish(sub: Any) -> None:
    """Add the `publish` command."""
    publish = add_command(
        sub,
        "publish",
        _publish,
        help="validate JSONL signals and publish them keyed by instrument",
        description="Validate JSON Lines signals (one per line, blank lines skipped) with the "
        "relay's own rules and publish them, keyed by instrument, to KAFKA_TOPIC on "
        "KAFKA_BOOTSTRAP_SERVERS with acks=all. If any line is invalid, every bad line is "
        "reported as 'line N: <problem>' on stderr and nothing is published (exit 1). "
        "The topic must exist: a missing one (a typo) is one line, exit 2, never created.",
        examples="  signal-relay publish signals.jsonl\n"
        "  producer-tool | signal-relay publish - --topic signals.candidates\n"
        "  signal-relay publish --allow-invalid broken.jsonl   # bad lines sent too (demos)\n",
    )
    publish.add_argument(
        "file", nargs="?", default="-", metavar="FILE|-", help="JSONL input; - for stdin"
    )
    publish.add_argument("--topic", help="target topic (default: KAFKA_TOPIC)")
    add_bootstrap(publish)
    publish.add_argument(
        "--allow-invalid",
        action="store_true",
        help="publish the raw bytes of invalid lines too (they end in the DLQ)",
    )
    publish.add_argument(
        "--max-size",
        type=positive_int,
        default=65536,
        metavar="BYTES",
        help="largest valid value, as the relay's OUTBOUND_MAX_BODY_SIZE (default: 65536)",
    )


def _publish(args: argparse.Namespace) -> int:
    from consumer.tools._publish import (  # noqa: PLC0415
        check_lines,
        records_to_publish,
    )

    checked = check_lines(read_input(args.file), max_size=args.max_size)
    bad = [line for line in checked if line.problem is not None]
    for line in bad:
        print(line, file=sys.stderr)
    if bad and not args.allow_invalid:
        return fail(f"{len(bad)} bad line(s) of {len(checked)}; nothing published")
    topic: str = args.topic or env("KAFKA_TOPIC", DEFAULT_TOPIC)
    records = records_to_publish(checked, allow_invalid=args.allow_invalid)
    count = 0
    if records:
        quiet_kafka_client()
        count = run_async(_send(bootstrap(args), topic, records))
    allowed = f" ({len(bad)} invalid, allowed by --allow-invalid)" if bad else ""
    print(f"published {count} record(s) to {topic}{allowed}")
    return EXIT_OK


async def _send(servers: str, topic: str, records: list[tuple[bytes | None, bytes]]) -> int:
    """Check that `topic` exists (asking without creating it), then produce `records`."""
    from aiokafka.errors import KafkaError  # noqa: PLC0415

    from consumer.adapters._topic_check import MissingTopicError, require_topics  # noqa: PLC0415
    from consumer.tools._publish import PublishError, publish_records  # noqa: PLC0415

    options = client_options_from_env()
    await refuse_unusable_options(options)
    try:
        await require_topics(servers, [topic], client_options=options)
    except MissingTopicError as exc:
        raise UsageError(f"nothing published: {exc}") from None
    except KafkaError as exc:
        raise CommandFailedError(f"cannot publish to {topic!r} on {servers}: {exc}") from None
    try:
        return await publish_records(servers, topic, records, client_options=options)
    except PublishError as exc:
        raise CommandFailedError(str(exc)) from None
