"""`signal-relay dlq replay`: republish chosen dead letters to their source topic."""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING, Any

from consumer.cli._arguments import (
    add_bootstrap,
    add_command,
    positive_float,
    positive_int,
    timestamp,
)
from consumer.cli._exits import EXIT_OK, UsageError, fail
from consumer.cli._inputs import DEFAULT_TOPIC, bootstrap, env
from consumer.cli._kafka import client_options_from_env, quiet_kafka_client, refuse_unusable_options
from consumer.cli._loop import run_async

if TYPE_CHECKING:
    from consumer.tools._dlq_replay import ReplayPlan

__all__ = ["add_dlq"]

# Spelled out here so that `--help` stays fast (consumer/tools/_dlq_replay.py's DLQ_REASONS and
# HELD_BACK_REASONS; tests/test_dlq_replay.py keeps them equal).
_REASONS = (
    "invalid_json, invalid_schema, too_large, undecodable, http_4xx, unexpected_2xx, "
    "max_attempts, expired, rejected"
)
_HELD_BACK = "expired, invalid_json, invalid_schema, rejected, undecodable"


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
        "Filters combine with AND; a repeated filter option matches any of its values. "
        "Letters that would fail again or are stale (invalid_json, invalid_schema, "
        "undecodable, expired) are skipped and counted unless --include names their reason. "
        "A progress bar shows on a terminal (plain lines otherwise), and a summary at the end.",
        examples="  signal-relay dlq replay --dry-run\n"
        "  signal-relay dlq replay --reason http_4xx --since 2026-11-28T00:00:00Z\n"
        "  signal-relay dlq replay --signal-id 0b7e...-... --to signals.candidates\n"
        "  signal-relay dlq replay --reason max_attempts --rate 50 --limit 1000\n"
        "  signal-relay dlq replay --include expired --group dlq-replay\n",
    )
    replay.add_argument("--dlq-topic", help="the DLQ topic (default: KAFKA_DLQ_TOPIC)")
    add_bootstrap(replay)
    replay.add_argument(
        "--reason",
        action="append",
        default=[],
        metavar="REASON",
        help=f"only this dlq.reason (repeatable): {_REASONS}",
    )
    replay.add_argument(
        "--include",
        action="append",
        default=[],
        metavar="REASON",
        help=f"also replay letters of this held-back reason (repeatable): {_HELD_BACK}; "
        "they are skipped by default (they would fail again, or are stale)",
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
    replay.add_argument(
        "--group",
        metavar="NAME",
        help="remember progress in consumer group NAME on the DLQ topic: start where its last "
        "run stopped, and commit what this run replayed or passed over",
    )


def _refuse_unknown_reasons(args: argparse.Namespace) -> None:
    from consumer.tools._dlq_replay import HELD_BACK_REASONS, unknown_reasons  # noqa: PLC0415

    for option, given in (("--reason", args.reason), ("--include", args.include)):
        if unknown := unknown_reasons(given):
            raise UsageError(
                f"dlq replay: unknown {option} {', '.join(unknown)}; valid reasons: {_REASONS}"
            )
    if not_held := sorted(set(args.include) - HELD_BACK_REASONS):
        raise UsageError(
            f"dlq replay: --include {', '.join(not_held)} is never held back; "
            f"--include takes: {_HELD_BACK}"
        )


def _skipped_note(plan: ReplayPlan) -> str:
    if not plan.skipped_total:
        return ""
    counts = ", ".join(f"{reason} {count}" for reason, count in plan.skipped.items())
    return f"; skipped {plan.skipped_total} ({counts}; --include REASON replays them)"


def _replay(args: argparse.Namespace) -> int:
    from consumer.adapters._request_rate import rate_limiter  # noqa: PLC0415
    from consumer.cli._progress import progress  # noqa: PLC0415
    from consumer.tools._dlq_replay import (  # noqa: PLC0415
        ReplayError,
        ReplayFilter,
        plan_replay,
        read_dead_letters,
        replay,
    )
    from consumer.tools._replay_marker import ReplayMarker  # noqa: PLC0415

    _refuse_unknown_reasons(args)
    servers = bootstrap(args)
    dlq_topic: str = args.dlq_topic or env(
        "KAFKA_DLQ_TOPIC", f"{env('KAFKA_TOPIC', DEFAULT_TOPIC)}.dlq"
    )
    select = ReplayFilter(
        reasons=frozenset(args.reason),
        signal_ids=frozenset(args.signal_id),
        since=args.since,
        until=args.until,
        include=frozenset(args.include),
    )

    async def main() -> int:
        options = client_options_from_env()
        await refuse_unusable_options(options)
        marker = (
            None
            if args.group is None
            else ReplayMarker(servers, dlq_topic, args.group, client_options=options)
        )
        start = None if marker is None else await marker.positions()
        records = await read_dead_letters(servers, dlq_topic, client_options=options, start=start)
        plan = plan_replay(
            records, dlq_topic=dlq_topic, select=select, to_topic=args.to, limit=args.limit
        )
        chosen, read = len(plan.items), plan.read
        if args.dry_run:
            for item in plan.items:
                print(f"would replay {item.describe()}")
            print(
                f"dry run: {chosen} of {read} dead letter(s) chosen; none published"
                + _skipped_note(plan)
            )
            return EXIT_OK
        limiter = rate_limiter(args.rate) if args.rate else None
        shown = progress(chosen, "replaying")
        acked = 0

        def replayed(_: object) -> None:
            nonlocal acked
            acked += 1
            shown.advance()

        started = time.monotonic()
        try:
            await replay(
                servers, plan.items, limiter=limiter, on_replayed=replayed, client_options=options
            )
        finally:
            shown.close()
            if marker is not None:
                await marker.advance(plan.marks(acked))
        seconds = time.monotonic() - started
        print(
            f"replayed {acked} of {chosen} chosen, {read} dead letter(s) read from {dlq_topic}"
            f" in {seconds:.1f}s" + _skipped_note(plan)
        )
        return EXIT_OK

    quiet_kafka_client()
    try:
        return run_async(main())
    except ReplayError as exc:
        return fail(str(exc))
