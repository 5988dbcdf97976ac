"""`signal-relay`: the command line (docs/PROTOCOL.md §11). Exit codes: 0 ok, 1 failure, 2 usage.

Every command imports what it needs when it runs, so `--help` stays fast. Errors are one line on
stderr, never a traceback; a command's result (a verdict, what was published) goes to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

from consumer import __version__

__all__ = ["main"]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
_EXIT_INTERRUPTED = 130
_DEFAULT_BOOTSTRAP = "localhost:9092"
_DEFAULT_TOPIC = "signals.candidates"
_DEFAULT_INGEST_PATH = "/api/v1/signals/ingest"
_SECRET_ENV = "HMAC_PRODUCER_SECRET"  # noqa: S105 - the variable name, not a secret

Command = Callable[[argparse.Namespace], int]


class UsageError(Exception):
    """Bad arguments or configuration: one line on stderr, exit 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors as one line (`signal-relay: ...`) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see --help)\n")


class _HelpFormatter(argparse.HelpFormatter):
    """Descriptions are wrapped; texts with line breaks (the examples) are kept as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" not in text:
            return super()._fill_text(text, width, indent)
        return "".join(indent + line for line in text.splitlines(keepends=True))


def _run_async(main: Coroutine[Any, Any, int]) -> int:
    try:
        import uvloop  # noqa: PLC0415 - optional speed-up

        return uvloop.run(main)
    except ImportError:
        return asyncio.run(main)


def _fail(message: str) -> int:
    print(f"signal-relay: {message}", file=sys.stderr)
    return EXIT_FAILURE


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _quiet_kafka_client() -> None:
    """Short-lived tools report Kafka failures as their one error line, not as client logs."""
    import logging  # noqa: PLC0415

    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


def _bootstrap(args: argparse.Namespace) -> str:
    flag: str | None = args.bootstrap
    return flag or _env("KAFKA_BOOTSTRAP_SERVERS", _DEFAULT_BOOTSTRAP)


def _read_input(name: str) -> bytes:
    """The bytes of file `name`, or of stdin for `-`."""
    if name == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(name).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {name!r}: {exc.strerror}") from None


def _secrets(files: Sequence[str]) -> list[bytes]:
    """Secrets from `--secret-file` files, else HMAC_PRODUCER_SECRET(_FILE); never echoed."""
    from consumer.config import ConfigError, read_secret_file  # noqa: PLC0415

    secrets = []
    for name in files:
        try:
            secrets.append(read_secret_file("--secret-file", name).strip())
        except ConfigError as exc:
            raise UsageError(f"--secret-file {name!r}: {exc.problem}") from None
    if secrets:
        return secrets
    direct, path = _env(_SECRET_ENV, ""), _env(f"{_SECRET_ENV}_FILE", "")
    if direct:
        return [direct.encode()]
    if path:
        return [read_secret_file(f"{_SECRET_ENV}_FILE", path).strip()]
    raise ConfigError(_SECRET_ENV, f"is required (or {_SECRET_ENV}_FILE, or --secret-file)")


# -- commands -------------------------------------------------------------------------------


def _cmd_run(args: argparse.Namespace) -> int:
    from aiokafka.errors import KafkaError  # noqa: PLC0415

    from consumer.config import load_settings  # noqa: PLC0415 - keep --help fast
    from consumer.ops._log_redaction import secrets_in  # noqa: PLC0415
    from consumer.ops._logs import configure_logging  # noqa: PLC0415
    from consumer.service._member import Relay, RelayError, run_until_signalled  # noqa: PLC0415

    settings = load_settings(os.environ)
    configure_logging(settings.log_level, settings.log_format, secrets=secrets_in(settings))

    async def main() -> int:
        await run_until_signalled(Relay(settings))
        return EXIT_OK

    try:
        return _run_async(main())
    except RelayError as exc:
        return _fail(str(exc))
    except KafkaError as exc:  # a start-up step the relay does not translate itself
        return _fail(f"cannot start the relay: {exc}")


def _cmd_schema(args: argparse.Namespace) -> int:
    import orjson  # noqa: PLC0415

    from schemas.candidate import candidate_json_schema  # noqa: PLC0415

    sys.stdout.write(orjson.dumps(candidate_json_schema(), option=orjson.OPT_INDENT_2).decode())
    sys.stdout.write("\n")
    return EXIT_OK


def _cmd_receiver(args: argparse.Namespace) -> int:
    from signing.receiver.config import ReceiverConfig  # noqa: PLC0415
    from signing.receiver.errors import InvalidReceiverConfigError  # noqa: PLC0415
    from signing.receiver.serve import run_receiver  # noqa: PLC0415

    try:
        config = ReceiverConfig(secrets=tuple(_secrets(args.secret_file)), ingest_path=args.path)
    except InvalidReceiverConfigError as exc:
        raise UsageError(str(exc)) from exc
    run_receiver(config, host=args.host, port=args.port)
    return EXIT_OK


def _cmd_publish(args: argparse.Namespace) -> int:
    from consumer.tools._publish import (  # noqa: PLC0415
        PublishError,
        check_lines,
        publish_records,
        records_to_publish,
    )

    checked = check_lines(_read_input(args.file), max_size=args.max_size)
    bad = [line for line in checked if line.problem is not None]
    for line in bad:
        print(line, file=sys.stderr)
    if bad and not args.allow_invalid:
        return _fail(f"{len(bad)} bad line(s) of {len(checked)}; nothing published")
    topic: str = args.topic or _env("KAFKA_TOPIC", _DEFAULT_TOPIC)
    records = records_to_publish(checked, allow_invalid=args.allow_invalid)
    count = 0
    if records:
        _quiet_kafka_client()
        try:
            count = _run_async(
                publish_records(
                    _bootstrap(args), topic, records, client_options=_kafka_client_options()
                )
            )
        except PublishError as exc:
            return _fail(str(exc))
    allowed = f" ({len(bad)} invalid, allowed by --allow-invalid)" if bad else ""
    print(f"published {count} record(s) to {topic}{allowed}")
    return EXIT_OK


def _kafka_client_options() -> dict[str, Any]:
    """Client options for the Kafka SASL/TLS settings in the environment (a ConfigError if bad)."""
    from consumer.adapters._kafka_options import kafka_client_options  # noqa: PLC0415
    from consumer.config import load_kafka_security  # noqa: PLC0415

    return kafka_client_options(load_kafka_security(os.environ))


def _cmd_verify(args: argparse.Namespace) -> int:
    from consumer.tools._offline_verify import CapturedRequest, check_capture  # noqa: PLC0415
    from signing.errors import SigningInputError  # noqa: PLC0415

    request = CapturedRequest(
        method=args.method,
        path=args.path,
        body=_read_input(args.body),
        timestamp=args.timestamp,
        producer_id=args.producer_id,
        signature=args.signature,
        idempotency_key=args.idempotency_key,
    )
    try:
        verdict = check_capture(
            request,
            _secrets(args.secret_file),
            max_age_seconds=None if args.no_freshness else args.max_age,
            max_future_seconds=args.max_future,
        )
    except SigningInputError as exc:
        raise UsageError(str(exc)) from exc
    print(verdict)
    return EXIT_OK if verdict.valid else EXIT_FAILURE


def _cmd_dlq_replay(args: argparse.Namespace) -> int:
    from consumer.tools._dlq_replay import (  # noqa: PLC0415
        ReplayError,
        ReplayFilter,
        ReplayItem,
        plan_replay,
        read_dead_letters,
        replay,
    )
    from consumer.tools._rate_limit import TokenBucket  # noqa: PLC0415

    bootstrap = _bootstrap(args)
    dlq_topic: str = args.dlq_topic or _env(
        "KAFKA_DLQ_TOPIC", f"{_env('KAFKA_TOPIC', _DEFAULT_TOPIC)}.dlq"
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
        options = _kafka_client_options()
        records = await read_dead_letters(bootstrap, dlq_topic, client_options=options)
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
            bootstrap, items, bucket=bucket, on_replayed=replayed, client_options=options
        )
        print(f"replayed {count} of {len(records)} dead letter(s) from {dlq_topic}")
        return EXIT_OK

    _quiet_kafka_client()
    try:
        return _run_async(main())
    except ReplayError as exc:
        return _fail(str(exc))


def _cmd_demo(args: argparse.Namespace) -> int:
    from consumer.devkit._demo import DemoError, DemoOptions, run_demo  # noqa: PLC0415

    signals: int = args.signals
    if args.duration is not None:
        if not args.rate:
            raise UsageError("--duration needs a publish --rate above 0")
        signals = max(1, math.ceil(args.rate * args.duration))
    options = DemoOptions(
        signals=signals,
        rate=args.rate,
        timeout=args.timeout,
        keep_running=args.keep_running,
        verbose=args.verbose,
        seed=args.seed,
    )
    try:
        verdict = run_demo(options)
    except DemoError as exc:
        return _fail(f"demo failed: {exc}")
    return EXIT_OK if verdict.ok else _fail(f"demo failed: {verdict.reason}")


# -- argument types -------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    value = _non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be above 0")
    return value


def _timestamp(text: str) -> datetime:
    from signing.errors import MalformedTimestampError  # noqa: PLC0415
    from signing.timestamps import parse_timestamp  # noqa: PLC0415

    try:
        return parse_timestamp(text)
    except MalformedTimestampError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# -- the parser -----------------------------------------------------------------------------


def _sub(
    sub: Any, name: str, handler: Command, *, help: str, description: str, examples: str
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help,
        description=description,
        epilog="examples:\n" + examples,
        formatter_class=_HelpFormatter,
    )
    parser.set_defaults(handler=handler)
    return parser


def _kafka_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bootstrap",
        metavar="HOST:PORT",
        help="Kafka bootstrap servers (default: KAFKA_BOOTSTRAP_SERVERS, else localhost:9092)",
    )


def _add_run(sub: Any) -> None:
    _sub(
        sub,
        "run",
        _cmd_run,
        help="run the relay service (configured by environment, see README)",
        description="Consume, validate, sign and deliver signals; configuration from the "
        "environment (KAFKA_*, HMAC_PRODUCER_*, PRODUCER_ID, OUTBOUND_*, RELAY_*, LOG_*). "
        "A bad setting stops start-up with exit status 2 and one line naming the variable.",
        examples="  PRODUCER_ID=desk-1 HMAC_PRODUCER_SECRET_FILE=/run/secrets/hmac \\\n"
        "  OUTBOUND_SERVER_URL=https://signals.example.com signal-relay run\n",
    )


def _add_schema(sub: Any) -> None:
    _sub(
        sub,
        "schema",
        _cmd_schema,
        help="print the JSON Schema of SignalCandidate",
        description="Print the JSON Schema of a topic record (SignalCandidate) to stdout.",
        examples="  signal-relay schema > signal-candidate.schema.json\n",
    )


def _add_receiver(sub: Any) -> None:
    receiver = _sub(
        sub,
        "receiver",
        _cmd_receiver,
        help="run the reference ingest receiver",
        description="Serve the reference ingest endpoint, verifying signatures with the secret "
        "in HMAC_PRODUCER_SECRET (or HMAC_PRODUCER_SECRET_FILE) or the --secret-file files "
        "(several = rotation).",
        examples="  signal-relay receiver --port 8080 --secret-file ./secret\n"
        "  HMAC_PRODUCER_SECRET=... signal-relay receiver --host 0.0.0.0\n",
    )
    receiver.add_argument("--host", default="127.0.0.1", help="address to listen on")
    receiver.add_argument("--port", type=int, default=8080, help="port to listen on")
    receiver.add_argument("--path", default=_DEFAULT_INGEST_PATH, help="ingest path")
    receiver.add_argument(
        "--secret-file", action="append", default=[], help="file holding an active secret"
    )


def _add_publish(sub: Any) -> None:
    publish = _sub(
        sub,
        "publish",
        _cmd_publish,
        help="validate JSONL signals and publish them keyed by instrument",
        description="Validate JSON Lines signals (one per line, blank lines skipped) with the "
        "relay's own rules and publish them, keyed by instrument, to KAFKA_TOPIC on "
        "KAFKA_BOOTSTRAP_SERVERS with acks=all. If any line is invalid, every bad line is "
        "reported as 'line N: <problem>' on stderr and nothing is published (exit 1).",
        examples="  signal-relay publish signals.jsonl\n"
        "  producer-tool | signal-relay publish - --topic signals.candidates\n"
        "  signal-relay publish --allow-invalid broken.jsonl   # bad lines sent too (demos)\n",
    )
    publish.add_argument(
        "file", nargs="?", default="-", metavar="FILE|-", help="JSONL input; - for stdin"
    )
    publish.add_argument("--topic", help="target topic (default: KAFKA_TOPIC)")
    _kafka_options(publish)
    publish.add_argument(
        "--allow-invalid",
        action="store_true",
        help="publish the raw bytes of invalid lines too (they end in the DLQ)",
    )
    publish.add_argument(
        "--max-size",
        type=_positive_int,
        default=65536,
        metavar="BYTES",
        help="largest valid value, as the relay's OUTBOUND_MAX_BODY_SIZE (default: 65536)",
    )


def _add_verify(sub: Any) -> None:
    verify = _sub(
        sub,
        "verify",
        _cmd_verify,
        help="check a signed request offline",
        description="Check one captured signed request with the server's verifier. Prints "
        "'valid' (exit 0) or 'invalid: <code>: <reason>' (exit 1). The secrets come from "
        "--secret-file (several = rotation), else HMAC_PRODUCER_SECRET(_FILE); they are "
        "never printed.",
        examples="  signal-relay verify --secret-file ./secret --body body.json \\\n"
        "      --timestamp 2026-11-28T03:00:00.123Z --producer-id desk-1 \\\n"
        "      --signature 'q1w2...=' --idempotency-key 6f1c...\n"
        "  cat body.json | signal-relay verify --body - --no-freshness ...  # old capture\n",
    )
    verify.add_argument(
        "--secret-file", action="append", default=[], help="file holding an active secret"
    )
    verify.add_argument("--body", required=True, metavar="FILE|-", help="the exact body bytes")
    verify.add_argument("--timestamp", required=True, help="X-Timestamp as sent")
    verify.add_argument("--producer-id", required=True, help="X-Producer-Id as sent")
    verify.add_argument("--signature", required=True, help="X-Signature as sent")
    verify.add_argument(
        "--idempotency-key",
        help="X-Idempotency-Key as sent (default: the body's signal_id, binding unchecked)",
    )
    verify.add_argument("--method", default="POST", help="request method (default: POST)")
    verify.add_argument(
        "--path",
        default=_DEFAULT_INGEST_PATH,
        help=f"request path (default: {_DEFAULT_INGEST_PATH})",
    )
    verify.add_argument(
        "--max-age",
        type=_positive_float,
        default=300.0,
        metavar="SECONDS",
        help="oldest timestamp accepted (default: 300)",
    )
    verify.add_argument(
        "--max-future",
        type=_non_negative_float,
        default=60.0,
        metavar="SECONDS",
        help="furthest-ahead timestamp accepted (default: 60)",
    )
    verify.add_argument(
        "--no-freshness",
        action="store_true",
        help="skip the freshness window (to check an old capture)",
    )


def _add_dlq(sub: Any) -> None:
    dlq = sub.add_parser(
        "dlq",
        help="dead-letter topic tools (replay)",
        description="Work with the dead-letter topic.",
    )
    actions = dlq.add_subparsers(dest="dlq_command", metavar="ACTION", required=True)
    replay = _sub(
        actions,
        "replay",
        _cmd_dlq_replay,
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
    _kafka_options(replay)
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
        type=_timestamp,
        metavar="RFC3339",
        help="only records that died at or after this instant (dlq.last_attempt_at)",
    )
    replay.add_argument(
        "--until",
        type=_timestamp,
        metavar="RFC3339",
        help="only records that died before this instant",
    )
    replay.add_argument("--to", metavar="TOPIC", help="republish here instead of the source topic")
    replay.add_argument(
        "--dry-run", action="store_true", help="list what would be replayed; publish nothing"
    )
    replay.add_argument(
        "--rate", type=_positive_float, metavar="N", help="at most N records per second"
    )
    replay.add_argument("--limit", type=_positive_int, metavar="N", help="replay at most N records")


def _add_demo(sub: Any) -> None:
    demo = _sub(
        sub,
        "demo",
        _cmd_demo,
        help="run the whole pipeline locally with a live display",
        description="Start a local broker (or use KAFKA_BOOTSTRAP_SERVERS), the reference "
        "receiver with a little latency and a few injected faults (503s, 429s, dropped "
        "connections, one instrument answered 422), and a relay; publish a realistic stream "
        "with some invalid records; show progress; then check that every valid signal was "
        "delivered and every bad record dead-lettered (exit 0), else exit 1 with the reason.",
        examples="  signal-relay demo\n"
        "  signal-relay demo --signals 2000 --rate 500\n"
        "  signal-relay demo --duration 30 --keep-running   # then scrape /metrics\n",
    )
    demo.add_argument(
        "--signals", type=_positive_int, default=500, metavar="N", help="signals (default: 500)"
    )
    demo.add_argument(
        "--rate",
        type=_non_negative_float,
        default=200.0,
        metavar="N",
        help="records published per second; 0 = as fast as possible (default: 200)",
    )
    demo.add_argument(
        "--duration",
        type=_positive_float,
        metavar="SECONDS",
        help="publish for about this long at --rate (instead of --signals)",
    )
    demo.add_argument(
        "--timeout",
        type=_positive_float,
        default=60.0,
        metavar="SECONDS",
        help="time allowed after the last publish for every outcome (default: 60)",
    )
    demo.add_argument(
        "--keep-running",
        action="store_true",
        help="after the summary, keep serving /metrics until Ctrl-C",
    )
    demo.add_argument("--verbose", action="store_true", help="show the relay's JSON logs")
    demo.add_argument("--seed", type=int, help="seed of the stream and the faults")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="signal-relay",
        description="Relay trading signals from Kafka to a signal server, signed with HMAC-SHA256.",
        epilog="Run 'signal-relay COMMAND --help' for a command's options and examples.",
    )
    parser.add_argument("--version", action="version", version=f"signal-relay {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in (
        _add_run,
        _add_publish,
        _add_demo,
        _add_receiver,
        _add_verify,
        _add_schema,
        _add_dlq,
    ):
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `signal-relay` console script."""
    from consumer.config import ConfigError  # noqa: PLC0415

    args = _parser().parse_args(argv)
    handler: Command = args.handler
    try:
        return handler(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"signal-relay: {problem}", file=sys.stderr)
        return EXIT_USAGE
    except UsageError as exc:
        print(f"signal-relay: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return _EXIT_INTERRUPTED
