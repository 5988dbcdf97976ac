"""A Kafka container (testcontainers, KRaft) that starts in bounded time or says briefly why not.

Every failure is a `ContainerUnavailableError` whose `reason` fits in one line:

- whether an engine answers is a raw `GET /_ping` on its unix socket or plain TCP port (the
  docker SDK leaks a socket when nothing listens at a unix path, and `filterwarnings = error`
  makes that a failure); the docker CLI answers for hosts only it can reach (TLS, ssh);
- images missing locally (Kafka's, and ryuk's unless ryuk is disabled) are pulled before
  testcontainers starts anything, by a client whose timeout bounds the engine's silence: a pull
  from an unreachable registry costs at most `DOCKER_API_SECONDS`;
- when anything fails after the engine answered, the container created under our unique name
  is removed, and so is ryuk's if it was created but never started.
"""

import json
import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from consumer.devkit._broker_errors import BrokerStartError, ContainerUnavailableError

if TYPE_CHECKING:
    from testcontainers.community.kafka import KafkaContainer

__all__ = ["DOCKER_API_SECONDS", "docker_host", "engine_answers", "kafka_container"]

DOCKER_API_SECONDS = 15.0
_PING_SECONDS = 5.0
_DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
_PLAIN_DOCKER_PORT = 2375
_PING_REQUEST = b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n"
_STATUS_LINE_BYTES = 128
_REASON_CHARS = 200


def docker_host() -> str:
    """The engine testcontainers would use: its properties, `DOCKER_HOST`, the docker context."""
    from testcontainers.core.docker_client import get_docker_host  # noqa: PLC0415

    return get_docker_host() or _DEFAULT_DOCKER_HOST


def engine_answers(host: str, timeout: float = _PING_SECONDS) -> bool:
    """Whether a Docker engine at `host` answers `/_ping` with 200 within `timeout`."""
    url = urlsplit(host)
    try:
        if url.scheme == "unix":
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(timeout)
                sock.connect(url.path)
                return _pinged(sock)
        if url.scheme in {"tcp", "http"} and not os.environ.get("DOCKER_TLS_VERIFY"):
            address = (url.hostname or "127.0.0.1", url.port or _PLAIN_DOCKER_PORT)
            with socket.create_connection(address, timeout=timeout) as sock:
                return _pinged(sock)
    except OSError:
        return False
    return _cli_answers(timeout)


@contextmanager
def kafka_container() -> Iterator[str]:
    """Run a KRaft Kafka container and yield its bootstrap servers; remove it on exit."""
    container_class = _kafka_container_class()
    host = docker_host()
    if not engine_answers(host):
        raise ContainerUnavailableError(f"no Docker engine answers at {host}")
    container, bootstrap_servers = _started(container_class)
    try:
        yield bootstrap_servers
    finally:
        container.stop()


def _short_reason(exc: BaseException) -> str:
    """One line of at most `_REASON_CHARS` saying why a Docker call failed."""
    if isinstance(exc, ContainerUnavailableError):
        text = exc.reason
    elif "read timed out" in str(exc).lower():  # requests' and urllib3's words for it
        text = f"the Docker engine was silent for {DOCKER_API_SECONDS:g}s"
    elif explanation := getattr(exc, "explanation", None):
        # docker's APIError: the engine's own message, without the request URL around it.
        text = f"{getattr(exc, 'status_code', None) or 'error'}: {explanation}"
    else:
        text = str(exc) or type(exc).__name__
    text = " ".join(text.split())
    return text if len(text) <= _REASON_CHARS else text[: _REASON_CHARS - 3] + "..."


def _started(container_class: "type[KafkaContainer]") -> "tuple[KafkaContainer, str]":
    name = f"signal-relay-kafka-{uuid.uuid4().hex[:12]}"
    try:
        # The constructor already asks the engine for its API version.
        container = (
            container_class(docker_client_kw={"timeout": DOCKER_API_SECONDS})
            .with_kraft()
            .with_name(name)
        )
    except Exception as exc:
        raise ContainerUnavailableError(_short_reason(exc)) from exc
    try:
        _pull_missing(container.get_docker_client().client.api, _images(container))
        container.start()
        return container, container.get_bootstrap_server()
    except Exception as exc:
        _remove(container, name)
        raise ContainerUnavailableError(_short_reason(exc)) from exc


def _images(container: "KafkaContainer") -> list[str]:
    from testcontainers.core.config import testcontainers_config as config  # noqa: PLC0415

    images = [container.image]
    if not config.ryuk_disabled:
        images.append(config.hub_image_name_prefix + config.ryuk_image)
    return images


def _pull_missing(api: Any, images: list[str]) -> None:
    from docker.errors import ImageNotFound  # type: ignore[import-untyped] # noqa: PLC0415

    for image in images:
        try:
            api.inspect_image(image)
        except ImageNotFound:
            pass
        else:
            continue
        try:
            _pull(api, image)
        except Exception as exc:
            raise ContainerUnavailableError(f"cannot pull {image}: {_short_reason(exc)}") from exc


def _pull(api: Any, image: str) -> None:
    """Pull `image` as the docker SDK does, but give up when the engine is silent too long.

    The SDK's own pull has no timeout at all, and an engine dialling an unreachable registry
    can stay silent for minutes; a pull under way sends progress every few hundred ms.
    """
    from docker import auth  # type: ignore[import-untyped] # noqa: PLC0415
    from docker.utils import parse_repository_tag  # type: ignore[import-untyped] # noqa: PLC0415

    repository, tag = parse_repository_tag(image)
    registry, _ = auth.resolve_repository_name(repository)
    credentials = auth.get_config_header(api, registry)
    with api.post(
        f"{api.base_url}/v{api.api_version}/images/create",
        params={"fromImage": repository, "tag": tag or "latest"},
        headers={"X-Registry-Auth": credentials} if credentials else {},
        stream=True,
        timeout=DOCKER_API_SECONDS,
    ) as response:
        if response.status_code >= 400:
            raise ContainerUnavailableError(f"{response.status_code}: {_engine_message(response)}")
        for line in response.iter_lines():
            progress = json.loads(line) if line else {}
            if "error" in progress:
                raise ContainerUnavailableError(str(progress["error"]))


def _engine_message(response: Any) -> str:
    try:
        return str(response.json()["message"])
    except (ValueError, KeyError, TypeError):
        return str(response.text)


def _remove(container: "KafkaContainer", name: str) -> None:
    from testcontainers.core.labels import SESSION_ID  # noqa: PLC0415

    client = container.get_docker_client().client
    # ryuk's container is a leftover only if it never ran: a running one is the live reaper.
    for leftover, only_if_never_started in (
        (name, False),
        (f"testcontainers-ryuk-{SESSION_ID}", True),
    ):
        with suppress(Exception):  # best effort: the start failure is the reason to report
            found = client.containers.get(leftover)
            if not only_if_never_started or found.status == "created":
                found.remove(force=True, v=True)
    client.close()


def _cli_answers(timeout: float) -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        completed = subprocess.run(  # noqa: S603
            [docker, "info", "--format", "{{.ServerVersion}}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return completed.returncode == 0


def _pinged(sock: socket.socket) -> bool:
    sock.sendall(_PING_REQUEST)
    with sock.makefile("rb") as answer:
        status_line = answer.readline(_STATUS_LINE_BYTES)
    return status_line.split()[1:2] == [b"200"]


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
