"""Log lines about a record carry where it is; the record's context is gone once it is final."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import structlog

from consumer.adapters import HttpAnswer
from consumer.ops import log_context
from consumer.service import Final
from unit.doubles import TOPIC, FakeServer, record, rig


class ContextServer(FakeServer):
    """A fake server that notes the log context bound while each POST is made."""

    def __init__(self) -> None:
        super().__init__()
        self.contexts: list[dict[str, Any]] = []

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> HttpAnswer:
        self.contexts.append(log_context())
        return await super().post(url, body, headers)


async def test_a_record_is_logged_with_its_place_and_leaves_the_context_as_it_found_it() -> None:
    """topic/partition/offset/signal_id during the POST; the caller's bindings after, unchanged."""
    server = ContextServer()
    r = rig(server=server)
    structlog.contextvars.bind_contextvars(worker="lane-0", offset="outer")
    try:
        assert await r.flow.run(record(41, partition=2), asyncio.Event(), 0.0) is Final.DELIVERED
        after = structlog.contextvars.get_contextvars()
        logged_after = log_context()
    finally:
        structlog.contextvars.unbind_contextvars("worker", "offset")
    during = server.contexts[0]
    assert (during["topic"], during["partition"], during["offset"]) == (TOPIC, 2, 41)
    assert during["signal_id"] == server.posted[0].idempotency_key
    assert after == {"worker": "lane-0", "offset": "outer"}
    assert logged_after == {"offset": "outer", "worker": "lane-0"}
    assert during["worker"] == "lane-0"
