"""The operations port over real HTTP: liveness, readiness, 404/405, and every metric's value.

Readiness during a systemic failure is covered by `test_relay_systemic_failure.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from conftest import RunningReceiver, TopicFactory, eventually, eventually_async
from prometheus_client.parser import text_string_to_metric_families
from relay_harness import (
    encode,
    end_offsets,
    free_port,
    publish,
    relay_settings,
    running_relay,
    signal,
)

from consumer.ops import OpsServer, RelayMetrics
from consumer.service import Relay
from consumer.tools import committed_offsets, ensure_topic
from signing.receiver import Faults

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(text: str) -> Samples:
    """Every sample of a Prometheus text exposition, by (sample name, labels)."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value; a missing sample fails the test with its name."""
    key = (name, frozenset(labels.items()))
    assert key in samples, f"no sample {name}{labels}"
    return samples[key]


@contextlib.asynccontextmanager
async def silent_broker() -> AsyncIterator[str]:
    """A TCP listener that accepts Kafka connections and never answers: the group is unjoinable."""
    connections: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        with contextlib.suppress(ConnectionError):
            while await reader.read(4096):
                pass

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        for writer in connections:
            writer.close()
        await server.wait_closed()


async def test_unknown_paths_are_404_and_other_methods_405() -> None:
    """Only GET/HEAD of /metrics, /healthz, /readyz are served; queries are ignored."""
    ops = OpsServer(render_metrics=RelayMetrics().render, readiness=lambda: (True, ""))
    port = await ops.start("127.0.0.1", 0)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{base}/nope")).status_code == 404
            assert (await http.get(f"{base}/")).status_code == 404
            assert (await http.get(f"{base}/metricsx")).status_code == 404
            assert (await http.post(f"{base}/metrics", content=b"x")).status_code == 405
            assert (await http.put(f"{base}/healthz")).status_code == 405
            assert (await http.delete(f"{base}/readyz")).status_code == 405
            assert (await http.get(f"{base}/readyz?verbose=1")).status_code == 200
            assert (await http.head(f"{base}/healthz")).status_code == 200
    finally:
        await ops.stop()


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
async def test_a_client_that_shuts_its_sending_side_still_gets_the_answer(path: str) -> None:
    """HTTP/1.0 style: the request, then EOF, then read; the whole answer arrives, then EOF."""
    ops = OpsServer(render_metrics=RelayMetrics().render, readiness=lambda: (True, ""))
    port = await ops.start("127.0.0.1", 0)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET {path} HTTP/1.0\r\n\r\n".encode())
        writer.write_eof()
        answer = await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()
        await ops.stop()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200 OK\r\n")
    assert f"content-length: {len(body)}".encode() in head.lower()


async def test_a_port_in_use_is_an_oserror_and_leaves_nothing_running() -> None:
    """start() on a taken port raises the bind's OSError; stop() afterwards is a no-op."""
    first = OpsServer(render_metrics=RelayMetrics().render, readiness=lambda: (True, ""))
    port = await first.start("127.0.0.1", 0)
    second = OpsServer(render_metrics=RelayMetrics().render, readiness=lambda: (True, ""))
    try:
        with pytest.raises(OSError, match="address already in use"):
            await second.start("127.0.0.1", port)
        await second.stop()
        async with httpx.AsyncClient() as http:  # the first one still serves
            assert (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200
    finally:
        await first.stop()


async def test_a_failing_readiness_check_is_a_500_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A handler that raises answers 500 and logs one ERROR with its traceback; the port lives."""

    def broken() -> tuple[bool, str]:
        raise RuntimeError("readiness is broken")

    ops = OpsServer(render_metrics=RelayMetrics().render, readiness=broken)
    ops_logger = logging.getLogger("signal_relay.ops")
    propagates = ops_logger.propagate
    ops_logger.addHandler(caplog.handler)  # `configure_logging` may stop it propagating,
    ops_logger.propagate = False  # and where it does not, the root's would see it twice
    port = await ops.start("127.0.0.1", 0)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            assert (await http.get("/readyz")).status_code == 500
            assert (await http.get("/healthz")).status_code == 200
    finally:
        ops_logger.removeHandler(caplog.handler)
        ops_logger.propagate = propagates
        await ops.stop()
    [failure] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert failure.getMessage() == "ops_handler_failed"
    assert failure.exc_info is not None
    assert str(failure.exc_info[1]) == "readiness is broken"


async def test_alive_but_not_ready_while_the_group_cannot_be_joined(
    receiver: RunningReceiver,
) -> None:
    """Broker silent: /healthz 200 (no restart needed), /readyz 503 naming the group."""
    port = free_port()
    async with silent_broker() as bootstrap:
        settings = relay_settings(
            bootstrap,
            "never-joined",
            receiver.url,
            RELAY_METRICS_PORT=port,
            RELAY_METRICS_HOST="127.0.0.1",
        )
        relay = Relay(settings)
        run = asyncio.create_task(relay.run())
        try:
            await eventually(lambda: relay.ops_port is not None, 10, "the ops port to listen")
            async with httpx.AsyncClient() as http:
                assert (await http.get(f"http://127.0.0.1:{port}/healthz")).text == "ok\n"
                ready = await http.get(f"http://127.0.0.1:{port}/readyz")
            assert ready.status_code == 503
            assert ready.text == "not ready: not in the consumer group\n"
            assert not run.done()
        finally:
            run.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await run


async def test_metrics_after_a_small_run_count_every_outcome(
    kafka_bootstrap: str, new_topic: TopicFactory, receiver: RunningReceiver
) -> None:
    """After a mixed run every series is exposed with the counts the run implies."""
    topic = await new_topic(2)
    await ensure_topic(kafka_bootstrap, f"{topic}.dlq")
    records: list[tuple[bytes | None, bytes]] = [
        (k.encode(), encode(signal(k, n))) for n, k in enumerate(["A", "B", "C", "A", "B", "C"])
    ]
    records += [
        (b"DUP", encode(signal("DUP", 6))),
        (b"REJECT", encode(signal("REJECT", 7))),
        (b"FLAKY", encode(signal("FLAKY", 8))),
        (b"BAD", b"{not json"),
    ]
    receiver.app.faults = Faults(status_by_instrument={"DUP": 409, "REJECT": 422, "FLAKY": 503})
    published = await publish(kafka_bootstrap, topic, records)
    assert {p.partition for p in published} == {0, 1}
    port = free_port()
    settings = relay_settings(
        kafka_bootstrap,
        topic,
        receiver.url,
        RELAY_METRICS_PORT=port,
        RELAY_METRICS_HOST="127.0.0.1",
        RELAY_MAX_ATTEMPTS=3,
    )
    url = f"http://127.0.0.1:{port}"
    expected = end_offsets(published)

    async with running_relay(settings), httpx.AsyncClient() as http:
        assert (await http.get(f"{url}/readyz")).status_code == 200

        async def all_committed() -> bool:
            return await committed_offsets(kafka_bootstrap, settings.group_id, topic) == expected

        await eventually_async(all_committed, 30, "every offset committed")
        samples: Samples = {}

        async def settled() -> bool:
            nonlocal samples
            samples = scrape((await http.get(f"{url}/metrics")).text)
            lags = [
                samples.get(("signal_relay_consumer_lag", frozenset(labels)))
                for labels in (
                    {("group", settings.group_id), ("topic", topic), ("partition", str(p))}
                    for p in (0, 1)
                )
            ]
            return lags == [0.0, 0.0] and value(samples, "signal_relay_commits_total") > 0

        await eventually_async(settled, 15, "the lag of both partitions to reach 0")
        metrics = await http.get(f"{url}/metrics")

    assert metrics.headers["content-type"].startswith("text/plain; version=")
    families = {family.name for family in text_string_to_metric_families(metrics.text)}
    for family in RelayMetrics().registry.collect():
        assert family.name in families, f"{family.name} is not exposed"

    assert value(samples, "signal_relay_records_consumed_total") == 10
    assert value(samples, "signal_relay_outcomes_total", outcome="delivered") == 6
    assert value(samples, "signal_relay_record_age_at_delivery_seconds_count") == 6
    assert value(samples, "signal_relay_assigned_partitions", group=settings.group_id) == 2
    assert value(samples, "signal_relay_outcomes_total", outcome="duplicate") == 1
    assert value(samples, "signal_relay_outcomes_total", outcome="dead_lettered") == 3
    for status, count in {"201": 6, "409": 1, "422": 1, "503": 3}.items():
        assert value(samples, "signal_relay_http_responses_total", status=status) == count
    assert ("signal_relay_http_responses_total", frozenset({("status", "error")})) not in samples
    assert value(samples, "signal_relay_consume_to_delivered_seconds_count") == 6
    assert value(samples, "signal_relay_consume_to_delivered_seconds_sum") > 0
    assert value(samples, "signal_relay_request_duration_seconds_count") == 11
    assert value(samples, "signal_relay_requests_in_flight") == 0
    assert value(samples, "signal_relay_oldest_uncommitted_age_seconds") == 0
    for reason in ("invalid_json", "http_4xx", "max_attempts"):
        assert value(samples, "signal_relay_dlq_records_total", reason=reason) == 1
    assert value(samples, "signal_relay_retries_total") == 2
    assert value(samples, "signal_relay_paused_partitions") == 0
    assert value(samples, "signal_relay_systemic_failure") == 0
    assert value(samples, "signal_relay_commit_failures_total") == 0
