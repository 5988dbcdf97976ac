"""`signal-relay check`: will this configuration work? Asked of the real peers, sending nothing.

One `Check` per question, in this order: the isolation level in effect (read, not asked), the
compression codecs this process can decompress (asked of aiokafka, not of a peer), the
brokers answer (with the configured SASL/TLS options), the topic and the DLQ exist (their
partition counts; asked with a metadata request for all topics, so nothing is created), the
group's current lag (to the last stable offset under `read_committed`), and the signal server
accepts a connection (TCP, the TLS handshake with the relay's trust settings and client
certificate, then an `OPTIONS` request for the ingest path: any HTTP answer proves an HTTP
server is there).
No signal is sent and no offset is committed. Configuration is validated before any of this,
by the caller (`consumer/cli/_check.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka import codec as kafka_codecs
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from consumer.adapters._kafka_options import kafka_client_options
from consumer.adapters._topic_check import topic_partitions
from consumer.config import Settings
from signing._tls import client_ssl_context

__all__ = ["Check", "codecs", "isolation", "preflight"]

_CHECK_SECONDS = 10.0
_MAX_STATUS_LINE = 1024
_MAX_ERROR = 200
_FETCH_WAIT_MS = 100

# Every codec a Kafka record batch can name, in the order of its attribute bits, with the test
# aiokafka's batch reader itself applies before decompressing one (snappy, lz4 and zstd are
# cramjam's: an install without aiokafka's codec extras lacks all three).
_CODECS: dict[str, Callable[[], bool]] = {
    "gzip": kafka_codecs.has_gzip,
    "snappy": kafka_codecs.has_snappy,
    "lz4": kafka_codecs.has_lz4,
    "zstd": kafka_codecs.has_zstd,
}


@dataclass(frozen=True, slots=True)
class Check:
    """One preflight question and its answer.

    Attributes:
        name: what was checked (`isolation`, `codecs`, `brokers`, `topic`, `dlq`, `lag`,
            `server`).
        ok: whether it passed.
        detail: what was found, or why it failed; one line.
    """

    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        """`ok   name: detail`, or `FAIL name: detail`."""
        return f"{'ok  ' if self.ok else 'FAIL'} {self.name}: {self.detail}"


async def preflight(settings: Settings, *, timeout: float = _CHECK_SECONDS) -> list[Check]:  # noqa: ASYNC109
    """Every check, each bounded by `timeout` seconds; a failed one never stops the next."""
    options = kafka_client_options(settings.kafka_security)
    brokers, partitions = await _brokers(settings, options, timeout)
    checks = [isolation(settings), codecs(), brokers]
    if partitions is None:
        not_checked = "not checked: the brokers did not answer"
        checks += [Check(name, False, not_checked) for name in ("topic", "dlq", "lag")]
    else:
        checks.append(_topic("topic", settings.topic, partitions, needed=True))
        checks.append(_topic("dlq", settings.dlq_topic, partitions, needed=settings.enabled))
        count = partitions.get(settings.topic)
        if count is None:
            checks.append(Check("lag", False, f"not checked: no topic {settings.topic!r}"))
        else:
            checks.append(await _lag(settings, options, count, timeout))
    checks.append(await _server(settings, timeout))
    return checks


async def _brokers(
    settings: Settings,
    options: Mapping[str, Any],
    timeout: float,  # noqa: ASYNC109
) -> tuple[Check, dict[str, int] | None]:
    """Whether the brokers answer a metadata request, and the partition count of every topic."""
    where = settings.bootstrap_servers
    try:
        async with asyncio.timeout(timeout):
            partitions = await topic_partitions(where, client_options=options)
    except TimeoutError:
        return Check("brokers", False, f"{where}: no answer within {timeout:g}s"), None
    except (KafkaError, OSError) as exc:
        return Check("brokers", False, f"{where}: {_error(exc)}"), None
    protocol = settings.kafka_security.protocol
    found = f"{where} answered ({protocol}, {len(partitions)} topics)"
    return Check("brokers", True, found), partitions


def isolation(settings: Settings) -> Check:
    """The isolation level in effect (`KAFKA_ISOLATION_LEVEL`) and what it means for the relay."""
    if settings.isolation_level == "read_committed":
        meaning = "records of open or aborted transactions are never relayed; lag counts to "
        meaning += "the last stable offset"
    else:
        meaning = "records of open and aborted transactions are relayed too; lag counts to the "
        meaning += "high-watermark"
    return Check("isolation", True, f"{settings.isolation_level} ({meaning})")


def codecs() -> Check:
    """Whether this process can decompress every codec Kafka defines (docs/PROTOCOL.md §8.8).

    A batch written with a codec the process lacks holds its partition, so a missing one fails.
    """
    missing = [name for name, available in _CODECS.items() if not available()]
    if not missing:
        return Check("codecs", True, ", ".join(_CODECS))
    extras = ",".join(sorted(missing))
    detail = f"{', '.join(missing)} missing: install aiokafka[{extras}] (cramjam); "
    detail += "their batches would hold their partitions"
    return Check("codecs", False, detail)


def _topic(name: str, topic: str, partitions: Mapping[str, int], *, needed: bool) -> Check:
    count = partitions.get(topic)
    if count is not None:
        return Check(name, True, f"{topic!r} exists, {count} partition{'s' * (count != 1)}")
    if not needed:
        return Check(name, True, f"{topic!r} does not exist; not needed in a dry run")
    missing = f"{topic!r} does not exist; create it first (signal-relay never creates topics)"
    return Check(name, False, missing)


async def _lag(
    settings: Settings,
    options: Mapping[str, Any],
    count: int,
    timeout: float,  # noqa: ASYNC109
) -> Check:
    """The group's lag: log end (the LSO under `read_committed`) minus committed offset."""
    tps = [TopicPartition(settings.topic, p) for p in range(count)]
    try:
        async with asyncio.timeout(timeout):
            committed = await _committed(settings, options, tps)
            ends = await _log_ends(settings, options, tps)
            # Never committed: the group starts at the log start (earliest) or end (latest).
            starts = {tp: committed.get(tp, ends[tp]) for tp in tps}
            never = [tp for tp in tps if tp not in committed]
            if never and settings.auto_offset_reset == "earliest":
                starts.update(await _log_starts(settings, options, never))
    except TimeoutError:
        return Check("lag", False, f"no answer within {timeout:g}s")
    except (KafkaError, OSError) as exc:
        return Check("lag", False, _error(exc))
    lags = {tp.partition: max(0, ends[tp] - starts[tp]) for tp in tps}
    each = ", ".join(f"{p}: {lag}" for p, lag in lags.items())
    detail = f"group {settings.group_id!r}: {sum(lags.values())} (by partition {each})"
    if never:
        where = "the log start" if settings.auto_offset_reset == "earliest" else "the log end"
        numbers = ", ".join(str(tp.partition) for tp in never)
        detail += f"; never committed: {numbers}, counted from {where}"
    return Check("lag", True, detail)


async def _committed(
    settings: Settings, options: Mapping[str, Any], tps: list[TopicPartition]
) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers, **options)
    try:
        await admin.start()
        # Explicit partitions: Tansu cannot answer an OffsetFetch for "all partitions".
        offsets = await admin.list_consumer_group_offsets(settings.group_id, partitions=tps)
    finally:
        await asyncio.shield(admin.close())
    return {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}


async def _log_starts(
    settings: Settings, options: Mapping[str, Any], tps: list[TopicPartition]
) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers, group_id=None, **options
    )
    try:
        await consumer.start()
        starts: dict[TopicPartition, int] = await consumer.beginning_offsets(tps)
    finally:
        await asyncio.shield(consumer.stop())
    return starts


async def _log_ends(
    settings: Settings, options: Mapping[str, Any], tps: list[TopicPartition]
) -> dict[TopicPartition, int]:
    # No group: this consumer joins nothing and commits nothing; the topic is known to exist.
    # The relay's isolation level: under read_committed ListOffsets answers the LSO.
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        isolation_level=settings.isolation_level,
        **options,
    )
    read_committed = settings.isolation_level == "read_committed"
    try:
        await consumer.start()
        ends: dict[TopicPartition, int] = await consumer.end_offsets(tps)
        # A fetch's figure too (its LSO or high-watermark): Tansu answers ListOffsets with the
        # last batch's first offset + 1. Fetched from that answer: at most the last batch is read.
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, ends[tp])
        pending = set(tps)
        while pending:
            await consumer.getmany(*pending, timeout_ms=_FETCH_WAIT_MS)
            for tp in list(pending):
                highwater = consumer.highwater(tp)
                stable = consumer.last_stable_offset(tp) if read_committed else None
                if stable is not None and stable >= 0:
                    highwater = stable
                if highwater is not None:
                    ends[tp] = max(ends[tp], highwater)
                    pending.discard(tp)
                    consumer.pause(tp)
    finally:
        await asyncio.shield(consumer.stop())
    return ends


async def _server(settings: Settings, timeout: float) -> Check:  # noqa: ASYNC109
    """TCP, TLS and an `OPTIONS` request to the ingest path: the server answers, nothing sent."""
    url = urlsplit(settings.server_url)
    host = url.hostname or ""
    tls = url.scheme == "https"
    port = url.port or (443 if tls else 80)
    where = f"{url.scheme}://{host}:{port}"
    try:
        context = _tls_context(settings) if tls else None
    except (OSError, ssl.SSLError) as exc:
        return Check("server", False, f"{where}: TLS settings unusable: {_error(exc)}")
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(
                host, port, ssl=context, server_hostname=host if tls else None
            )
            handshake = _handshake(writer, settings) if tls else "plain HTTP"
            path = urlsplit(settings.ingest_url).path
            status = await _options_status(reader, writer, url.netloc, path)
    except TimeoutError:
        return Check("server", False, f"{where}: no answer within {timeout:g}s")
    except (OSError, ssl.SSLError, ValueError) as exc:
        return Check("server", False, f"{where}: {_error(exc)}")
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError):
                await writer.wait_closed()
    return Check("server", True, f"{where} answered ({handshake}; OPTIONS: HTTP {status})")


def _tls_context(settings: Settings) -> ssl.SSLContext:
    """The relay's own TLS context: its trust settings and its client certificate, if any."""
    return client_ssl_context(settings.tls_verify, settings.tls_client_certificate)


def _handshake(writer: asyncio.StreamWriter, settings: Settings) -> str:
    version = writer.get_extra_info("ssl_object")
    protocol = version.version() if isinstance(version, ssl.SSLObject) else "TLS"
    trust = "certificate verified" if settings.tls_verify is not False else "NOT verified"
    client = ", client certificate presented" if settings.tls_client_certificate else ""
    return f"{protocol}, {trust}{client}"


async def _options_status(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, path: str
) -> int:
    """Send `OPTIONS path` (no body, no signature) and return the answer's status code."""
    request = f"OPTIONS {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    writer.write(request.encode("ascii"))
    await writer.drain()
    line = await reader.readline()
    parts = line[:_MAX_STATUS_LINE].split(maxsplit=2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        raise ValueError(f"not an HTTP answer: {line[:60]!r}")
    return int(parts[1])


def _error(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:_MAX_ERROR]
