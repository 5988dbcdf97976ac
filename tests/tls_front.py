"""A TLS-terminating front on loopback: requires (or not) a client certificate, then forwards.

It stands in front of a plaintext server (the reference receiver, a Tansu broker) as a TLS
load balancer would: each connection's handshake is done with blocking sockets, so a refused
client certificate is answered with a TLS alert before the connection closes, as real servers
do. Every handshake is counted (`handshakes`, `refused`), which is how the tests bound the
relay's attempts while a systemic failure pauses it.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import trustme

_IDLE_SECONDS = 0.2


@dataclass
class TlsFront:
    """Counts of one running front; `port` is where clients connect."""

    port: int
    handshakes: int = 0
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def counted(self) -> tuple[int, int]:
        """(handshakes started, handshakes refused) so far."""
        with self.lock:
            return self.handshakes, self.refused


@dataclass(frozen=True)
class Certificates:
    """PEM files made by trustme for one test: a CA, its server and client, another CA's client."""

    ca: trustme.CA
    ca_file: Path
    client_cert: Path
    client_key: Path
    foreign_cert: Path
    foreign_key: Path
    server: trustme.LeafCert


def make_certificates(folder: Path) -> Certificates:
    """A CA with a server certificate for 127.0.0.1 and a client one, and a foreign client."""
    ca, foreign_ca = trustme.CA(), trustme.CA()
    client, foreign = ca.issue_cert("relay.example"), foreign_ca.issue_cert("relay.example")
    files = {
        "ca_file": folder / "ca.pem",
        "client_cert": folder / "client.crt",
        "client_key": folder / "client.key",
        "foreign_cert": folder / "foreign.crt",
        "foreign_key": folder / "foreign.key",
    }
    ca.cert_pem.write_to_path(str(files["ca_file"]))
    client.cert_chain_pems[0].write_to_path(str(files["client_cert"]))
    client.private_key_pem.write_to_path(str(files["client_key"]))
    foreign.cert_chain_pems[0].write_to_path(str(files["foreign_cert"]))
    foreign.private_key_pem.write_to_path(str(files["foreign_key"]))
    return Certificates(ca=ca, server=ca.issue_cert("127.0.0.1"), **files)


@contextlib.contextmanager
def tls_front(
    certificates: Certificates,
    target: tuple[str, int],
    *,
    require_client_cert: bool = True,
    port: int = 0,
) -> Iterator[TlsFront]:
    """Serve TLS on 127.0.0.1:`port`, forwarding each accepted connection to `target`."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificates.server.configure_cert(context)
    certificates.ca.configure_trust(context)
    context.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_NONE
    listener = socket.create_server(("127.0.0.1", port))
    listener.settimeout(_IDLE_SECONDS)  # so that the accept loop sees `stopping`
    front = TlsFront(listener.getsockname()[1])
    stopping = threading.Event()
    open_sockets: list[socket.socket] = []

    def serve_one(conn: socket.socket) -> None:
        with front.lock:
            front.handshakes += 1
        try:
            secure = context.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            with front.lock:
                front.refused += 1
            conn.close()
            return
        try:
            backend = socket.create_connection(target, timeout=10)
        except OSError:
            secure.close()
            return
        open_sockets.extend([secure, backend])
        _pump(secure, backend, stopping)

    def accept_loop() -> None:
        while not stopping.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            threading.Thread(target=serve_one, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept_loop, daemon=True)
    thread.start()
    try:
        yield front
    finally:
        stopping.set()
        listener.close()
        for sock in open_sockets:
            with contextlib.suppress(OSError):
                sock.close()
        thread.join(5)


def _pump(secure: ssl.SSLSocket, backend: socket.socket, stopping: threading.Event) -> None:
    """Copy bytes both ways on one thread (an SSLSocket is not safe to share between threads)."""
    try:
        while not stopping.is_set():
            readable = (
                [secure]
                if secure.pending()
                else select.select([secure, backend], [], [], _IDLE_SECONDS)[0]
            )
            if secure in readable:
                data = secure.recv(65536)
                if not data:
                    return
                backend.sendall(data)
            if backend in readable:
                data = backend.recv(65536)
                if not data:
                    return
                secure.sendall(data)
    except (OSError, ValueError):
        return
    finally:
        for sock in (secure, backend):
            with contextlib.suppress(OSError):
                sock.close()
