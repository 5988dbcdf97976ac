"""401 pauses everything: no commit, no DLQ, not ready; delivery resumes once the server accepts."""

import asyncio

import httpx
from conftest import RunningReceiver, TopicFactory, eventually, eventually_async
from relay_harness import (
    SECRET,
    end_offsets,
    free_port,
    keyed_signals,
    publish,
    relay_settings,
    running_relay,
)

from consumer.tools import committed_offsets, ensure_topic, read_topic


async def test_unauthorized_pauses_deliveries_until_the_server_accepts_again(
    kafka_bootstrap: str, new_topic: TopicFactory, receiver: RunningReceiver
) -> None:
    """While the server answers 401: nothing committed or dead-lettered, /readyz fails."""
    topic = await new_topic(2)
    dlq = f"{topic}.dlq"
    await ensure_topic(kafka_bootstrap, dlq)
    published = await publish(kafka_bootstrap, topic, keyed_signals(["A", "B", "C"], 4))
    receiver.app.verifier.set_secrets(["a-different-secret-0123456789"])
    port = free_port()
    settings = relay_settings(
        kafka_bootstrap,
        topic,
        receiver.url,
        RELAY_METRICS_PORT=port,
        RELAY_METRICS_HOST="127.0.0.1",
    )
    ledger = receiver.app.ledger

    async with running_relay(settings) as relay, httpx.AsyncClient() as http:
        assert await asyncio.to_thread(ledger.wait_until, lambda led: led.count(401) >= 3, 30)
        await eventually(lambda: not relay.gate.is_open, 10, "the systemic gate to close")
        ready = await http.get(f"http://127.0.0.1:{port}/readyz")
        assert ready.status_code == 503
        assert "401" in ready.text
        metrics = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
        assert "signal_relay_systemic_failure 1.0" in metrics
        assert await committed_offsets(kafka_bootstrap, settings.group_id, topic) == {}
        assert ledger.accepted_count == 0

        receiver.app.verifier.set_secrets([SECRET])
        expected = end_offsets(published)

        async def all_committed() -> bool:
            return await committed_offsets(kafka_bootstrap, settings.group_id, topic) == expected

        await eventually_async(all_committed, 30, "delivery to resume and commit")
        assert (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200

    assert ledger.accepted_count == len(published)
    assert await read_topic(kafka_bootstrap, dlq) == []
