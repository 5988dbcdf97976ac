"""A relay cancelled while it closes still closes every client before the cancel propagates."""

from __future__ import annotations

import asyncio

import pytest

from consumer.service._member import _even_if_cancelled


async def test_a_second_cancel_waits_for_the_closing_steps() -> None:
    """Cancelling during the close lets the close finish, then raises CancelledError."""
    steps: list[str] = []
    started, release = asyncio.Event(), asyncio.Event()

    async def closing() -> None:
        steps.append("started")
        started.set()
        await release.wait()
        steps.append("finished")

    task = asyncio.create_task(_even_if_cancelled(closing()))
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    await asyncio.sleep(0)  # let the cancel reach the task
    assert not task.done()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    assert steps == ["started", "finished"]
