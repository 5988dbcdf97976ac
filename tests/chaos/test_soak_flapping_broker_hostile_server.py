"""Soak: 5,000 signals through a flapping broker proxy to a server alternating 503/201/reset.

The broker (a Tansu of its own, advertising the fault proxy) cycles pass / cut / blackhole /
latency, including one blackhole longer than the session timeout (a forced rebalance); the
signal server cycles 503, 201, connection reset, 429 with a garbage Retry-After, half a
response. At the end: every signal got a 201, per key in publication order, every offset is
committed to the log end, nothing is dead-lettered, the relay never crashed, and its memory
stayed bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence

import orjson
import psutil
import pytest
from conftest import eventually, eventually_async
from fault_proxy import Mode, ProxiedBroker, proxied_tansu
from hostile_server import (
    Answer,
    HostileServer,
    Received,
    answer,
    half_response,
    hostile_server,
    reset,
)
from relay_harness import end_offsets, expected_signal_id, keyed_signals, publish, relay_settings

from consumer.service import Relay
from consumer.tools import committed_offsets, ensure_topic, read_topic

SIGNALS_PER_KEY = 100
KEYS = [f"K{i:02d}" for i in range(50)]  # 5,000 signals
FLAP_SECONDS = 50.0
# (mode, seconds): the long blackhole and the long cut outlast the 6 s session timeout; the
# 12 s cut also outlasts the relay's broker check (every 5 s, 5 s timeout), so readiness fails.
FLAPS: list[tuple[Mode, float]] = [
    ("pass", 3.0),
    ("cut", 1.5),
    ("pass", 3.0),
    ("blackhole", 2.0),
    ("pass", 2.0),
    ("latency", 3.0),
    ("pass", 3.0),
    ("blackhole", 8.0),
    ("pass", 3.0),
    ("cut", 0.5),
    ("pass", 2.0),
    ("cut", 12.0),
]


class AlternatingServer:
    """503 / 201 / reset / 429 garbage Retry-After / half response, by request count."""

    def __init__(self) -> None:
        self.accepted: dict[str, int] = {}
        self.accepted_order: dict[str, list[int]] = defaultdict(list)
        self.answers: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    def __call__(self, request: Received) -> Answer:
        kind = ("503", "201", "reset", "429", "201", "half")[request.index % 6]
        with self._lock:
            self.answers[kind] += 1
            if kind in ("201", "half"):  # a 201 head is the server's word, body or not
                body = orjson.loads(request.body)
                sid = request.header("X-Idempotency-Key") or ""
                if sid not in self.accepted:
                    self.accepted_order[body["instrument"]].append(
                        int(str(body["note"]).removeprefix("seq="))
                    )
                self.accepted[sid] = self.accepted.get(sid, 0) + 1
        if kind == "503":
            return answer(503, headers=[(b"Retry-After", b"1")])
        if kind == "429":
            return answer(429, headers=[(b"Retry-After", "²".encode())])
        if kind == "reset":
            return reset()
        if kind == "half":
            return half_response(201)
        return answer(201, reason="Created", body=b'{"status":"received"}')


@pytest.fixture(scope="module")
def proxied() -> Iterator[ProxiedBroker]:
    with proxied_tansu() as broker:
        yield broker


async def _flap(proxied: ProxiedBroker, until: float, log: list[str]) -> None:
    loop = asyncio.get_running_loop()
    i = 0
    while loop.time() < until:
        mode, seconds = FLAPS[i % len(FLAPS)]
        proxied.proxy.set_mode(mode, latency_ms=100)
        log.append(mode)
        await asyncio.sleep(seconds)  # the scenario's rhythm, not a wait for a condition
        i += 1
    proxied.proxy.set_mode("pass", latency_ms=0)


async def test_5000_signals_through_a_flapping_broker_to_an_alternating_server(
    proxied: ProxiedBroker,
) -> None:
    bootstrap = proxied.bootstrap_servers
    topic = f"chaos-{uuid.uuid4().hex[:12]}"
    dlq = f"{topic}.dlq"
    await ensure_topic(bootstrap, topic, 4)
    await ensure_topic(bootstrap, dlq)
    published = await publish(bootstrap, topic, keyed_signals(KEYS, SIGNALS_PER_KEY))
    expected_ids = {expected_signal_id(p.value) for p in published}
    behaviour = AlternatingServer()
    process = psutil.Process()
    baseline = process.memory_info().rss
    peak = baseline
    with hostile_server(behaviour) as server:
        settings = relay_settings(
            bootstrap, topic, server.url, KAFKA_DLQ_TOPIC=dlq, OUTBOUND_TIMEOUT_SECONDS=5
        )
        relay = Relay(settings)
        task = asyncio.create_task(relay.run())
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        flaps: list[str] = []
        not_ready_seen = False
        reasons: set[str] = set()
        try:
            await eventually(lambda: relay.joined.is_set() or task.done(), 60, "join")
            flapper = asyncio.create_task(_flap(proxied, loop.time() + FLAP_SECONDS, flaps))
            while not flapper.done():
                await asyncio.wait({flapper, task}, timeout=0.1)
                assert not task.done(), f"relay stopped: {task.exception()!r}"
                ready, why = relay.readiness()
                if not ready:
                    not_ready_seen = True
                    reasons.add(why)
                peak = max(peak, process.memory_info().rss)
            await flapper
            expected = end_offsets(published)

            async def all_committed() -> bool:
                nonlocal peak
                peak = max(peak, process.memory_info().rss)
                assert not task.done(), f"relay stopped: {task.exception()!r}"
                return await committed_offsets(bootstrap, settings.group_id, topic) == expected

            await eventually_async(all_committed, 240, "every offset committed")
            await eventually(lambda: relay.readiness()[0], 30, "ready at the end")
        finally:
            relay.request_stop()
            done, _ = await asyncio.wait({task}, timeout=60)
            if not done:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        assert task.done()
        task.result()
        _report(server, behaviour, published, expected_ids, flaps, baseline, peak, started)
        print(f"soak: not-ready reasons seen: {sorted(reasons)}")
    lost = expected_ids - behaviour.accepted.keys()
    assert lost == set(), f"{len(lost)} signals never got a 201"
    for key, seqs in behaviour.accepted_order.items():
        assert seqs == sorted(seqs), f"key {key} delivered out of order"
    assert await read_topic(bootstrap, dlq) == []
    assert not_ready_seen, "readiness never failed through the broker outages"
    assert peak - baseline < 300 * 1024 * 1024


def _report(
    server: HostileServer,
    behaviour: AlternatingServer,
    published: Sequence[object],
    expected_ids: set[str],
    flaps: list[str],
    baseline: int,
    peak: int,
    started: float,
) -> None:
    duplicates = sum(n - 1 for n in behaviour.accepted.values())
    print(
        f"soak: {len(published)} published, {len(expected_ids & behaviour.accepted.keys())} "
        f"delivered, {len(expected_ids - behaviour.accepted.keys())} lost, "
        f"{duplicates} duplicate 201s, {server.count} requests {dict(behaviour.answers)}, "
        f"flaps {len(flaps)}, RSS growth {(peak - baseline) / 2**20:.1f} MiB, "
        f"{time.monotonic() - started:.0f}s"
    )
