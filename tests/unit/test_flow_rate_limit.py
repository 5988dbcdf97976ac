"""Retries and systemic probes wait for the request rate limit like first attempts."""

from __future__ import annotations

from relay_harness import relay_settings

from consumer.adapters import HttpAnswer
from consumer.service import Final
from unit.doubles import CREATED, TOPIC, record, rig, run

URL = "http://127.0.0.1:9/signals"


def _spacing(times: list[float]) -> float:
    return times[-1] - times[0]


async def test_retries_are_held_to_the_rate() -> None:
    """Nine 503s then a 201 at 20 requests/s (burst 2): the ten POSTs span at least 0.4 s."""
    settings = relay_settings("127.0.0.1:9", TOPIC, URL, RELAY_MAX_REQUESTS_PER_SECOND=20)
    r = rig(settings=settings)
    r.server.script("EURUSD", *[HttpAnswer(503, {}, "")] * 9, CREATED)
    assert await run(r.flow, record(0)) is Final.DELIVERED
    times = [p.at for p in r.server.posted]
    assert len(times) == 10
    assert _spacing(times) >= (10 - 2) / 20 - 0.01


async def test_systemic_probes_are_held_to_the_rate() -> None:
    """Probes every 0.01 s asked, 10 requests/s allowed: five 401s and a 201 span >= 0.5 s."""
    settings = relay_settings("127.0.0.1:9", TOPIC, URL, RELAY_MAX_REQUESTS_PER_SECOND=10)
    r = rig(settings=settings, probe_seconds=0.01)
    r.server.script("EURUSD", *[HttpAnswer(401, {}, "")] * 5, CREATED)
    assert await run(r.flow, record(0)) is Final.DELIVERED
    times = [p.at for p in r.server.posted]
    assert len(times) == 6
    assert _spacing(times) >= (6 - 1) / 10 - 0.01


async def test_without_a_limit_retries_are_not_paced() -> None:
    """Unset, ten attempts with no backoff take far less than the paced 0.4 s."""
    r = rig()
    r.server.script("EURUSD", *[HttpAnswer(503, {}, "")] * 9, CREATED)
    assert await run(r.flow, record(0)) is Final.DELIVERED
    assert _spacing([p.at for p in r.server.posted]) < 0.2
