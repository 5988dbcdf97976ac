"""A Docker Engine API on loopback that answers like an engine with no registry to pull from.

It answers `/_ping`, `/version` and the container calls testcontainers makes; `images` says
which images it has, `/images/create` (a pull) answers as `pull` says, and a container start
fails. Every request is recorded as `(method, path)`, the API version prefix stripped.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal
from urllib.parse import unquote, urlsplit

PullAnswer = Literal["no registry", "silent"]

REGISTRY_ERROR = (
    'Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io '
    "on 127.0.0.53:53: server misbehaving"
)
START_ERROR = "driver failed programming external connectivity: port is already allocated"
_VERSION_PREFIX = re.compile(r"^/v\d+\.\d+")


@dataclass
class FakeEngine:
    """What the engine has and what it was asked.

    Attributes:
        url: `tcp://127.0.0.1:PORT`, for `DOCKER_HOST`.
        images: images it has (any pull of another one answers as `pull` says).
        pull: how a pull answers: a registry error (500), or 200 then silence.
        requests: `(method, path)` of every request, in order.
        containers: names of the containers created and not yet removed.
    """

    url: str = ""
    images: set[str] = field(default_factory=set)
    pull: PullAnswer = "no registry"
    requests: list[tuple[str, str]] = field(default_factory=list)
    containers: set[str] = field(default_factory=set)
    released: threading.Event = field(default_factory=threading.Event)


@contextmanager
def fake_engine(
    images: set[str] | None = None, pull: PullAnswer = "no registry"
) -> Iterator[FakeEngine]:
    """Serve a fake engine on a free loopback port until the block ends."""
    engine = FakeEngine(images=set(images or ()), pull=pull)
    handler = type("Handler", (_Handler,), {"engine": engine})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    engine.url = f"tcp://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield engine
    finally:
        engine.released.set()
        server.shutdown()
        server.server_close()
        thread.join(10)


class _Handler(BaseHTTPRequestHandler):
    engine: FakeEngine
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        path = self._record()
        if path == "/_ping":
            self._send(200, b"OK", "text/plain")
        elif path == "/version":
            self._json(200, {"ApiVersion": "1.41", "MinAPIVersion": "1.12", "Version": "20.10.0"})
        elif match := re.fullmatch(r"/images/(.+)/json", path):
            if match[1] in self.engine.images:
                self._json(200, {"Id": "sha256:" + "0" * 64, "RepoTags": [match[1]]})
            else:
                self._json(404, {"message": f"No such image: {match[1]}"})
        elif match := re.fullmatch(r"/containers/([^/]+)/json", path):
            if match[1] in self.engine.containers:
                state = {"Status": "created"}
                self._json(200, {"Id": match[1], "Name": f"/{match[1]}", "State": state})
            else:
                self._json(404, {"message": f"No such container: {match[1]}"})
        else:
            self._json(404, {"message": "page not found"})

    def do_POST(self) -> None:
        path = self._record()
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if path == "/images/create":
            self._pull()
        elif path == "/containers/create":
            name = dict(_query(self.path)).get("name", "unnamed")
            self.engine.containers.add(name)
            self._json(201, {"Id": name, "Warnings": []})
        elif re.fullmatch(r"/containers/[^/]+/start", path):
            self._json(500, {"message": START_ERROR})
        else:
            self._json(404, {"message": "page not found"})

    def do_DELETE(self) -> None:
        path = self._record()
        match = re.fullmatch(r"/containers/([^/]+)", path)
        if match and match[1] in self.engine.containers:
            self.engine.containers.discard(match[1])
            self._send(204, b"", "text/plain")
        else:
            self._json(404, {"message": "No such container"})

    def _pull(self) -> None:
        if self.engine.pull == "no registry":
            self._json(500, {"message": REGISTRY_ERROR})
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        # An engine dialling a blackholed registry: nothing more until the test ends.
        self.engine.released.wait(60)
        self.close_connection = True

    def _record(self) -> str:
        path = _VERSION_PREFIX.sub("", unquote(urlsplit(self.path).path))
        self.engine.requests.append((self.command, path))
        return path

    def _json(self, status: int, body: object) -> None:
        self._send(status, json.dumps(body).encode(), "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _query(path: str) -> list[tuple[str, str]]:
    query = urlsplit(path).query
    return [(k, unquote(v)) for k, _, v in (p.partition("=") for p in query.split("&") if p)]
