"""The relay's fetches carry its isolation level on the wire: 1 by default, 0 when told.

The broker of the tests (Tansu) has no transactions, so it cannot show an aborted record
being skipped; what it can show is what the broker is asked. Every Kafka byte the relay sends
goes through the fault proxy (tests/fault_proxy.py), which hands each request to an observer
here; the group consumer's Fetch requests are picked out by their client id.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
from conftest import RunningReceiver, eventually
from fault_proxy import FetchSeen, ProxiedBroker, fetch_isolation, proxied_tansu
from relay_harness import PRODUCER_ID, keyed_signals, publish, relay_settings, running_relay

from consumer.tools import ensure_topic

RELAY_CLIENT = f"signal-relay-{PRODUCER_ID}"


@pytest.fixture(scope="module")
def proxied() -> Iterator[ProxiedBroker]:
    """A Tansu reachable only through the proxy (one per module: its start is slow)."""
    with proxied_tansu() as broker:
        yield broker


@pytest.fixture
def fetches(proxied: ProxiedBroker) -> Iterator[list[FetchSeen]]:
    """Every Fetch request the brokers receive while the test runs."""
    seen: list[FetchSeen] = []
    lock = threading.Lock()

    def observe(request: bytes) -> None:
        fetch = fetch_isolation(request)
        if fetch is not None:
            with lock:
                seen.append(fetch)

    proxied.proxy.on_request = observe
    yield seen
    proxied.proxy.on_request = None


@pytest.mark.parametrize(
    ("setting", "on_the_wire"),
    [(None, 1), ("read_committed", 1), ("read_uncommitted", 0)],
)
async def test_every_fetch_of_the_relay_carries_its_isolation_level(
    proxied: ProxiedBroker,
    fetches: list[FetchSeen],
    receiver: RunningReceiver,
    setting: str | None,
    on_the_wire: int,
) -> None:
    """read_committed (also unset) asks for isolation level 1; read_uncommitted for 0."""
    bootstrap = proxied.bootstrap_servers
    topic = f"isolation-{uuid.uuid4().hex[:12]}"
    await ensure_topic(bootstrap, topic, 2)
    await ensure_topic(bootstrap, f"{topic}.dlq")
    await publish(bootstrap, topic, keyed_signals(["A", "B"], 3))
    overrides = {} if setting is None else {"KAFKA_ISOLATION_LEVEL": setting}
    settings = relay_settings(bootstrap, topic, receiver.url, **overrides)
    ledger = receiver.app.ledger
    async with running_relay(settings):
        await eventually(lambda: ledger.accepted_count >= 6, 30, "six deliveries")
    relays = [f for f in fetches if f.client_id == RELAY_CLIENT]
    levels = {f.isolation_level for f in relays}
    print(
        f"\n{setting or 'unset'}: {len(relays)} fetches, isolation levels {sorted(levels)}, "
        f"versions {sorted({f.version for f in relays})}"
    )
    assert relays, "no Fetch request of the relay went through the proxy"
    assert levels == {on_the_wire}
