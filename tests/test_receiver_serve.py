"""serve_in_thread: a real server on a free port while the block runs, and gone afterwards."""

import socket

import httpx
import pytest

from signing.receiver.app import create_app
from signing.receiver.config import ReceiverConfig
from signing.receiver.serve import serve_in_thread

SECRET = "serve-test-secret-0123456789"


def test_yields_a_url_that_accepts_requests_and_stops_on_exit() -> None:
    """The yielded URL answers at once; after the block, its port refuses connections."""
    app = create_app(ReceiverConfig(secrets=(SECRET,)))

    with serve_in_thread(app) as url:
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{url}/_receiver/health").status_code == 200

    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/_receiver/health")


def test_a_busy_port_is_refused_before_serving() -> None:
    """Asking for a port another socket holds raises instead of yielding."""
    app = create_app(ReceiverConfig(secrets=(SECRET,)))
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]

        with pytest.raises(OSError, match="in use"), serve_in_thread(app, port=port):
            pytest.fail("served on a port that was taken")
