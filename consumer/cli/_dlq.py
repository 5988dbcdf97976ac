"""`signal-relay dlq replay`: republish chosen dead letters to their source topic."""

from __future__ import annotations

import argparse
from typing import Any

from consumer.cli._arguments import (
    add_bootstrap,
    add_command,
    positive_float,
    positive_int,
    timestamp,
)
from consumer.cli._exits import EXIT_OK, fail
from consumer.cli._inputs import DEFAULT_TOPIC, bootstrap, env
from consumer.cli._kafka import client_options_from_env, quiet_kafka_client, refuse_unusable_options
from consumer.cli._loop import run_async

__all__ = ["add_dlq"]


def add_dlq(sub: Any) -> None:
    """Add the `dlq` command group and its `replay` action."""
    dlq = sub.add_parser(
        "dlq",
        help="dead-letter topic tools (replay)",
        description="Work with the dead-letter topic.",
    )
    actions = dlq.add_subparsers(dest="dlq_command", metavar="ACTION", required=True)
    replay = add_command(
        actions,
        "replay",
        _replay,
        help="republish chosen DLQ records to their source topic",
        description="Read the DLQ (KAFKA_DLQ_TOPIC, default <KAFKA_TOPIC>.dlq) and republish "
        "the chosen records' original key, value and headers (dlq.* headers removed, "
        "dlq.replayed_from added) to the topic in dlq.source.topic or --to. Replaying twice "
        "never delivers twice: the server answers the second as an idempotent replay. "
        "Filters combine with AND; a repeated filter option matches any of its values.",
        examples="  signal-relay dlq replay --dry-run\n"
        "  signal-relay dlq replay --reason http_4xx --since 2026-11-28T00:00:00Z\n"
        "  signal-relay dlq replay --signal-id 0b7e...-... --to signals.candidates\n"
        "  signal-relay dlq replay --reason max_attempts --rate 50 --limit 1000\n",
    )
    replay.add_argument("--dlq-topic", help="the DLQ topic (default: KAFKA_DLQ_TOPIC)")
    add_bootstrap(replay)
    replay.add_argument(
        "--reason",
        action="append",
        default=[],
        help="only this dlq.reason (repeatable): invalid_json, invalid_schema, too_large, "
        "http_4xx, unexpected_2xx, max_attempts",
    )
    replay.add_argument(
        "--signal-id", action="append", default=[], help="only this dlq.signal_id (repeatable)"
    )
    replay.add_argument(
        "--since",
        type=timestamp,
        metavar="RFC3339",
        help="only records that died at or after this instant (dlq.last_attempt_at)",
    )
    replay.add_argument(
        "--until",
        type=timestamp,
        metavar="RFC3339",
        help="only records that died before this instant",
    )
    replay.add_argument("--to", metavar="TOPIC", help="republish here instead of the source topic")
    replay.add_argument(
        "--dry-run", action="store_true", help="list what would be replayed; publish nothing"
    )
    replay.add_argument(
        "--rate", type=positive_float, metavar="N", help="at most N records per second"
    )
    replay.add_argument("--limit", type=positive_int, metavar="N", help="replay at most N records")


def _replay(args: argparse.Namespace) -> int:
    from consumer.tools._dlq_replay import (  # noqa: PLC0415
        ReplayError,
        ReplayFilter,
        ReplayItem,
        plan_replay,
        read_dead_letters,
        replay,
    )
    from consumer.tools._rate_limit import TokenBucket  # noqa: PLC0415

    servers = bootstrap(args)
    dlq_topic: str = args.dlq_topic or env(
        "KAFKA_DLQ_TOPIC", f"{env('KAFKA_TOPIC', DEFAULT_TOPIC)}.dlq"
    )
    select = ReplayFilter(
        reasons=frozenset(args.reason),
        signal_ids=frozenset(args.signal_id),
        since=args.since,
        until=args.until,
    )

    def replayed(item: ReplayItem) -> None:
        print(f"replayed {item.describe()}", flush=True)

    async def main() -> int:
        options = client_options_from_env()
        await refuse_unusable_options(options)
        records = await read_dead_letters(servers, dlq_topic, client_options=options)
        items = plan_replay(
            records, dlq_topic=dlq_topic, select=select, to_topic=args.to, limit=args.limit
        )
        if args.dry_run:
            for item in items:
                print(f"would replay {item.describe()}")
            print(f"dry run: {len(items)} of {len(records)} dead letter(s) chosen; none published")
            return EXIT_OK
        bucket = TokenBucket(args.rate) if args.rate else None
        count = await replay(
            servers, items, bucket=bucket, on_replayed=replayed, client_options=options
        )
        print(f"replayed {count} of {len(records)} dead letter(s) from {dlq_topic}")
        return EXIT_OK

    quiet_kafka_client()
    try:
        return run_async(main())
    except ReplayError as exc:
        return fail(str(exc))
