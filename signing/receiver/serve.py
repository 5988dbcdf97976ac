"""Serving the receiver with uvicorn: from a background thread (tests, demo, bench) or blocking."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn

from signing.receiver.app import create_app
from signing.receiver.config import ReceiverConfig
from signing.receiver.errors import DeliberateDropError, ReceiverStartError

__all__ = ["run_receiver", "serve_in_thread"]

_log = logging.getLogger("signal_relay.receiver")
_START_TIMEOUT_SECONDS = 10.0
_STOP_TIMEOUT_SECONDS = 10.0

ASGIApp = Callable[..., Any]


@contextlib.contextmanager
def serve_in_thread(app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve `app` from a thread with its own event loop; yields the base URL once it accepts.

    The socket is bound here, before the thread starts, so `port=0` picks a free port and the
    URL names it. Leaving the block stops the server and waits for the thread to end.
    """
    sock = _bind(host, port)
    ready = threading.Event()
    server = _ThreadServer(_config(app, host=host, port=port), ready)
    thread = threading.Thread(
        target=_run_until_stopped, args=(server, sock, ready), name="receiver", daemon=True
    )
    thread.start()
    try:
        ready.wait(_START_TIMEOUT_SECONDS)
        if not server.started:
            raise ReceiverStartError(f"the receiver did not start on {host}:{port}")
        bound_host, bound_port = sock.getsockname()[:2]
        yield f"http://{_url_host(bound_host)}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(_STOP_TIMEOUT_SECONDS)
        sock.close()


def run_receiver(config: ReceiverConfig, *, host: str = "127.0.0.1", port: int = 8080) -> None:
    """Serve a receiver built from `config` until SIGINT/SIGTERM; on uvloop when installed.

    Once it listens it logs `receiver_listening` with its URL (and the capture directory).
    """
    server = _ListeningServer(_config(create_app(config), host=host, port=port), config)
    server.run()


class _ListeningServer(uvicorn.Server):
    """A uvicorn server that logs one line with its URL once it accepts connections."""

    def __init__(self, config: uvicorn.Config, receiver: ReceiverConfig) -> None:
        super().__init__(config)
        self._receiver = receiver

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if not self.started:
            return
        fields: dict[str, object] = {"url": _listening_url(self.servers, self._receiver)}
        if self._receiver.capture_dir is not None:
            fields["capture_dir"] = self._receiver.capture_dir
        _log.info("receiver_listening", extra={"fields": fields})


class _ThreadServer(uvicorn.Server):
    """A uvicorn server that reports the end of its start-up, successful or not."""

    def __init__(self, config: uvicorn.Config, ready: threading.Event) -> None:
        super().__init__(config)
        self._ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets=sockets)
        finally:
            self._ready.set()


def _run_until_stopped(server: _ThreadServer, sock: socket.socket, ready: threading.Event) -> None:
    try:
        server.run(sockets=[sock])
    finally:
        # A failure before start-up would otherwise leave the caller waiting out its timeout.
        ready.set()


def _config(app: ASGIApp, *, host: str, port: int) -> uvicorn.Config:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="auto",
        lifespan="on",
        # The receiver serves no WebSocket; for "auto", uvicorn 0.30 (our floor) imports
        # `websockets.legacy`, which websockets 14+ deprecates with a warning at every start.
        ws="none",
        log_level="warning",
        access_log=False,
        log_config=None,
    )
    _quiet_deliberate_drops()
    return config


def _listening_url(servers: list[Any], receiver: ReceiverConfig) -> str:
    """The ingest URL of the first bound socket."""
    host, port = servers[0].sockets[0].getsockname()[:2]
    return f"http://{_url_host(host)}:{port}{receiver.ingest_path}"


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


class _DeliberateDropFilter(logging.Filter):
    """Hides uvicorn's traceback for connections the receiver drops on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, DeliberateDropError)


def _quiet_deliberate_drops() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(existing, _DeliberateDropFilter) for existing in logger.filters):
        logger.addFilter(_DeliberateDropFilter())
