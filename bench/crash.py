"""Re-sends after a SIGKILL at full speed, and after a SIGTERM with one key stuck.

Both on a Tansu behind `consumer.devkit.tansu_keeping_metadata`, which keeps commit metadata
as Kafka does (the bundled Tansu drops it), so the finished offsets above the committed one
reach the successor (docs/PROTOCOL.md §8.2). The reference receiver counts validly signed
requests per signal: a signal with more than one was posted twice (with the same idempotency
key, so a server answers it as a replay).

- SIGKILL: the relay is killed once half the backlog is accepted; a new one in the same group
  finishes it. Bound: the requests in flight plus one commit interval of deliveries at the
  rate of the last second before the kill.
- SIGTERM: one partition, a key answered 503 at offset 0 and `others` records above it that
  are delivered; SIGTERM, then a new relay once the key is healed. Bound: 1, the stuck record.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from pathlib import Path

import orjson
from aiokafka import AIOKafkaProducer

from bench.children import Receiver, count_until, relay_env, running_relay, wait_for
from bench.records import bench_records, load_backlog, new_topic
from consumer.devkit import tansu_keeping_metadata
from consumer.service import prepare_signal
from consumer.tools import committed_offsets

__all__ = ["Resends", "measure_resends"]

_WAIT_SECONDS = 120.0
_STUCK = "STUCK"


@dataclass(frozen=True, slots=True)
class Resends:
    """Signals posted twice, and never delivered, after each kind of stop.

    Attributes:
        killed_twice: posted twice after the SIGKILL.
        killed_bound: in flight plus one commit interval at the rate before the kill.
        killed_lost: never accepted (must be 0).
        stopped_twice: posted twice after the SIGTERM (the stuck signal's 503s not counted).
        stopped_lost: never accepted (must be 0).
    """

    killed_twice: int
    killed_bound: int
    killed_lost: int
    stopped_twice: int
    stopped_lost: int


async def measure_resends(
    receiver: Receiver,
    logs: Path,
    *,
    backlog: int,
    others: int,
    in_flight: int,
    commit_interval: float,
    session_ms: int,
) -> Resends:
    """Both stops, on a metadata-keeping Tansu of their own.

    `session_ms` is the group session timeout: a successor joins once its predecessor's
    session is over, and what was posted twice does not depend on when.
    """
    group = {
        "KAFKA_SESSION_TIMEOUT_MS": session_ms,
        "KAFKA_HEARTBEAT_INTERVAL_MS": min(3000, session_ms // 3),
    }
    async with tansu_keeping_metadata() as (bootstrap, _):
        twice, rate, lost = await _sigkill(bootstrap, receiver, logs, backlog, group)
        stopped_twice, stopped_lost = await _sigterm(bootstrap, receiver, logs, others, group)
    bound = in_flight + math.ceil(rate * commit_interval)
    return Resends(twice, bound, lost, stopped_twice, stopped_lost)


async def _sigkill(
    bootstrap: str, receiver: Receiver, logs: Path, count: int, group: dict[str, int]
) -> tuple[int, float, int]:
    """(posted twice, accepted per second before the kill, lost)."""
    records = await load_backlog(bootstrap, count)
    await receiver.set_faults()
    await receiver.clear()
    env = relay_env(
        bootstrap, records.topic, receiver.url, KAFKA_GROUP_ID=f"crash-{uuid.uuid4()}", **group
    )
    log = logs / "crash-relay.log"
    async with running_relay(env, log) as relay:
        before = await count_until(receiver.accepted, count // 2, _WAIT_SECONDS)
        await relay.kill()
    async with running_relay(env, log):

        async def all_committed() -> bool:
            offsets = await committed_offsets(bootstrap, env["KAFKA_GROUP_ID"], records.topic)
            return offsets == records.ends

        await wait_for(all_committed, _WAIT_SECONDS, "the successor to commit the backlog")
    ledger = await receiver.ledger(detail=True)
    twice = sum(1 for n in ledger["deliveries"].values() if n > 1)
    return twice, before.rate(window=1.0), count - int(ledger["accepted"])


async def _sigterm(
    bootstrap: str, receiver: Receiver, logs: Path, others: int, group: dict[str, int]
) -> tuple[int, int]:
    """(posted twice, lost)."""
    topic = await new_topic(bootstrap, "stuck", partitions=1)
    signals = [signal for _, signal in bench_records(others + 1, tag=f"-{topic[-6:]}")]
    signals[0]["instrument"] = _STUCK
    values = [orjson.dumps(signal) for signal in signals]
    stuck_id = prepare_signal(values[0], 65536).signal.signal_id
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    await producer.start()
    try:
        for signal, value in zip(signals, values, strict=True):
            await producer.send(topic, value=value, key=str(signal["instrument"]).encode())
        await producer.flush()
    finally:
        await producer.stop()
    await receiver.clear()
    await receiver.set_faults(status_by_instrument={_STUCK: 503})
    env = relay_env(
        bootstrap,
        topic,
        receiver.url,
        KAFKA_GROUP_ID=f"stuck-{uuid.uuid4()}",
        RELAY_SHUTDOWN_GRACE_SECONDS=4,
        **group,
    )
    log = logs / "stuck-relay.log"
    async with running_relay(env, log):  # its exit is the SIGTERM
        await count_until(receiver.accepted, others, _WAIT_SECONDS)
    await receiver.set_faults()
    async with running_relay(env, log):

        async def all_committed() -> bool:
            offsets = await committed_offsets(bootstrap, env["KAFKA_GROUP_ID"], topic)
            return offsets == {0: others + 1}

        await wait_for(all_committed, _WAIT_SECONDS, "the successor to commit every record")
    ledger = await receiver.ledger(detail=True)
    deliveries: dict[str, int] = ledger["deliveries"]
    twice = sum(1 for key, n in deliveries.items() if n > 1 and key != stuck_id)
    return twice, others + 1 - int(ledger["accepted"])
