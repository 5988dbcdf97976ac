"""Every line on stderr is one JSON object (or one console line), whoever logged it.

The relay's loggers, aiokafka's, uvicorn's and asyncio's all go through the one handler
`configure_logging` installs: each line carries service, version, timestamp, level, logger and
event; secrets are masked in every line; aiokafka's repeated lines are limited with a count.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError
from conftest import eventually
from log_capture import json_lines, rendered_logs

import consumer
from consumer.ops import RepeatLimiter, relay_logger
from consumer.ops._logs import RecordContext, bind_record, identify_record, unbind_record
from signing.receiver import serve_in_thread

HMAC_SECRET = "hmac-S3CRET-never-shown-5f1c9a7e"
DB_PASSWORD = "db-PASSW0RD-never-shown"
_KEYS = ("timestamp", "level", "logger", "event", "service", "version")


@pytest.fixture
def refused_address() -> Iterator[str]:
    """host:port of a bound socket that does not listen: every connection is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{sock.getsockname()[1]}"


async def _fail_to_connect(address: str) -> None:
    """Start a real aiokafka producer against `address`: aiokafka logs the refusal."""
    producer = AIOKafkaProducer(bootstrap_servers=address, request_timeout_ms=2000)
    try:
        with pytest.raises(KafkaConnectionError):
            await producer.start()
    finally:
        await producer.stop()


def _assert_a_line(line: dict[str, Any]) -> None:
    assert list(line)[: len(_KEYS)] == list(_KEYS), line
    assert line["service"] == "signal-relay"
    assert line["version"] == consumer.__version__


async def test_every_logger_renders_one_json_object_per_line(refused_address: str) -> None:
    """Relay (both styles), aiokafka and asyncio lines: each one JSON object with the keys."""
    with rendered_logs() as stream:
        logging.getLogger("signal_relay.record").warning(
            "dead_lettered", extra={"fields": {"topic": "t", "partition": 1, "status": None}}
        )
        relay_logger("signal_relay.record").info("retry", attempt=2, retry_in_s=0.4)
        await _fail_to_connect(refused_address)
        asyncio.get_running_loop().call_exception_handler(
            {"message": "unhandled", "exception": RuntimeError("in a callback")}
        )
    lines = json_lines(stream.getvalue())
    for line in lines:
        _assert_a_line(line)
    stdlib_style, structlog_style = lines[:2]
    assert stdlib_style["level"] == "warning"
    assert (stdlib_style["topic"], stdlib_style["partition"], stdlib_style["status"]) == (
        "t",
        1,
        None,
    )
    assert structlog_style["level"] == "info"
    assert (structlog_style["event"], structlog_style["attempt"]) == ("retry", 2)
    by_logger = {line["logger"]: line for line in lines}
    assert any(name.startswith("aiokafka") for name in by_logger), by_logger
    assert "RuntimeError: in a callback" in by_logger["asyncio"]["exception"]


async def _fail(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An ASGI app whose every request fails with an error quoting two secrets."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    raise RuntimeError(f"cannot reach https://relay:{DB_PASSWORD}@db.example.com as {HMAC_SECRET}")


def test_a_uvicorn_traceback_is_one_json_line_with_its_secrets_masked() -> None:
    """uvicorn's "Exception in ASGI application" is one line; the secrets in it are masked."""
    with rendered_logs(secrets=[HMAC_SECRET]) as stream, serve_in_thread(_fail) as url:
        assert httpx.get(url + "/any").status_code == 500
        eventually_sync(lambda: "Exception in ASGI application" in stream.getvalue(), 10)
    text = stream.getvalue()
    [line] = [line for line in json_lines(text) if line["logger"] == "uvicorn.error"]
    _assert_a_line(line)
    assert line["level"] == "error"
    assert "RuntimeError: cannot reach https://***@db.example.com as ***" in line["exception"]
    for secret in (HMAC_SECRET, DB_PASSWORD):
        for form in (secret, base64.b64encode(secret.encode()).decode()):
            assert form not in text


def eventually_sync(check: Any, within: float) -> None:
    """Wait (on a private event loop) until `check()` holds."""
    asyncio.run(eventually(check, within, "the line to be logged"))


def test_console_format_is_one_readable_line() -> None:
    """LOG_FORMAT=console: time, level, event, logger, then key=value pairs; not JSON."""
    with rendered_logs(fmt="console") as stream:
        logging.getLogger("signal_relay.record").warning(
            "dead_lettered", extra={"fields": {"topic": "t", "partition": 1, "reason": "http_4xx"}}
        )
    [line] = stream.getvalue().splitlines()
    assert not line.startswith("{")
    assert line.split()[1:4] == ["[warning", "]", "dead_lettered"]
    assert "[signal_relay.record]" in line
    assert "topic=t partition=1 reason=http_4xx" in line
    assert f"service=signal-relay version={consumer.__version__}" in line


async def test_repeated_aiokafka_lines_show_once_then_a_count(refused_address: str) -> None:
    """20 identical refusals: one aiokafka line, then one `log_lines_suppressed` with 19."""
    with rendered_logs() as stream:
        for _ in range(20):
            await _fail_to_connect(refused_address)
        during = json_lines(stream.getvalue())
    refusals = [line for line in during if line["logger"].startswith("aiokafka")]
    assert len(refusals) == 1, refusals
    [summary] = [
        line for line in json_lines(stream.getvalue()) if line["event"] == "log_lines_suppressed"
    ]
    _assert_a_line(summary)
    assert summary["repeated_logger"] == refusals[0]["logger"]
    assert summary["suppressed"] == 19


def _record(name: str, at: float, message: str = "Unable connect to node %s") -> logging.LogRecord:
    record = logging.makeLogRecord(
        {"name": name, "msg": message, "args": (1,), "levelno": 40, "levelname": "ERROR"}
    )
    record.created = at
    return record


def test_the_limiter_reports_a_closed_window_at_the_next_line() -> None:
    """Within the window repeats are counted; the next line after it brings the count first."""
    limiter = RepeatLimiter(window=60.0)
    first = _record("aiokafka.conn", 1000.0)
    assert limiter.admit(first) == [first]
    for at in (1001.0, 1030.0, 1059.0):
        assert limiter.admit(_record("aiokafka.conn", at)) == []
    other = _record("aiokafka.conn", 1059.5, "Heartbeat failed")
    assert limiter.admit(other) == [other]
    later = _record("aiokafka.conn", 1061.0)
    summary, shown = limiter.admit(later)
    assert shown is later
    assert summary.getMessage() == "log_lines_suppressed"
    assert summary.fields["suppressed"] == 3  # type: ignore[attr-defined]
    assert limiter.flush() == []


def test_the_relays_own_lines_are_never_limited() -> None:
    """The relay logs the same event name for every record: none of them is merged."""
    limiter = RepeatLimiter(window=60.0)
    records = [_record("signal_relay.record", 1000.0 + i, "retry") for i in range(5)]
    assert [shown for record in records for shown in limiter.admit(record)] == records


def test_a_records_context_is_bound_once_for_every_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Inside `bound_contextvars` the relay's and other loggers' lines carry the context."""
    caplog.set_level(logging.INFO)
    log = relay_logger("signal_relay.record")
    with rendered_logs() as stream:
        with structlog.contextvars.bound_contextvars(topic="t", partition=3, offset=7):
            log.info("retry", attempt=1)
            logging.getLogger("signal_relay.delivery").info("posted")
        log.info("after")
    inside, other, after = json_lines(stream.getvalue())
    assert (inside["topic"], inside["partition"], inside["offset"], inside["attempt"]) == (
        "t",
        3,
        7,
        1,
    )
    assert (other["topic"], other["offset"]) == ("t", 7)
    assert "topic" not in after
    [record] = [r for r in caplog.records if r.getMessage() == "retry"]
    assert record.fields == {"topic": "t", "partition": 3, "offset": 7, "attempt": 1}  # type: ignore[attr-defined]


def test_a_bound_record_is_on_every_line_until_unbound(caplog: pytest.LogCaptureFixture) -> None:
    """The record being handled (`bind_record`) is on every line, with its signal_id once known."""
    caplog.set_level(logging.INFO)
    log = relay_logger("signal_relay.record")
    with rendered_logs() as stream:
        token = bind_record(RecordContext("t", 3, 7))
        log.info("fetched")
        identify_record("0b9e1b7c-1d6a-4c3e-9f6e-2f1c7d0e5a11")
        logging.getLogger("signal_relay.delivery").info("posted")
        unbind_record(token)
        log.info("after")
    fetched, posted, after = json_lines(stream.getvalue())
    assert (fetched["topic"], fetched["partition"], fetched["offset"]) == ("t", 3, 7)
    assert "signal_id" not in fetched
    assert posted["signal_id"] == "0b9e1b7c-1d6a-4c3e-9f6e-2f1c7d0e5a11"
    assert list(posted)[6:10] == ["topic", "partition", "offset", "signal_id"]
    assert "topic" not in after


def test_secrets_in_finds_every_secret_of_the_real_settings() -> None:
    """`secrets_in` walks the pydantic settings and finds the HMAC and SASL secrets."""
    from consumer.config import load_settings
    from consumer.ops import secrets_in

    settings = load_settings(
        {
            "PRODUCER_ID": "relay-1",
            "HMAC_PRODUCER_SECRET": HMAC_SECRET,
            "OUTBOUND_SERVER_URL": "http://127.0.0.1:8080",
            "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "KAFKA_SASL_MECHANISM": "PLAIN",
            "KAFKA_SASL_USERNAME": "relay",
            "KAFKA_SASL_PASSWORD": DB_PASSWORD,
        }
    )
    found = secrets_in(settings)
    assert HMAC_SECRET in found
    assert DB_PASSWORD in found
