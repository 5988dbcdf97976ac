"""A loopback TCP server on an event loop of its own thread, for the tests' misbehaving peers."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.contextmanager
def server_thread(
    handle: Handler,
    *,
    on_started: Callable[[asyncio.AbstractEventLoop, int], None],
    open_writers: Callable[[], Iterable[asyncio.StreamWriter]],
    port: int = 0,
    limit: int = 2**16,
) -> Iterator[None]:
    """Serve `handle` on 127.0.0.1:`port` until the block ends.

    `on_started(loop, bound_port)` runs in the server's loop before the block starts; at the
    end the connections `open_writers()` returns are aborted and every handler is cancelled.
    """
    loop = asyncio.new_event_loop()
    started = threading.Event()
    stop: list[asyncio.Event] = []
    failure: list[BaseException] = []

    async def main() -> None:
        stop.append(asyncio.Event())
        try:
            listener = await asyncio.start_server(handle, "127.0.0.1", port, limit=limit)
        except OSError as exc:
            failure.append(exc)
            started.set()
            return
        on_started(loop, listener.sockets[0].getsockname()[1])
        started.set()
        async with listener:
            await stop[0].wait()
            listener.close()
            for writer in list(open_writers()):
                writer.transport.abort()
            await listener.wait_closed()
        # Let the handlers see their aborted transports and finish.
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    started.wait(10)
    try:
        if failure:
            raise failure[0]
        yield
    finally:
        if stop:
            loop.call_soon_threadsafe(stop[0].set)
        thread.join(10)
        loop.close()
