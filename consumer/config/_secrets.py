"""Secrets and files read at start-up: redacted bytes, `*_FILE` variants, a bounded reader."""

from __future__ import annotations

import os
import ssl
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import CoreSchema, core_schema

from consumer.config._errors import ConfigError, refuse

__all__ = [
    "MAX_CA_FILE_BYTES",
    "MAX_SECRET_FILE_BYTES",
    "FileVariant",
    "Refusal",
    "Secret",
    "SecretInput",
    "ca_bundle",
    "read_regular_file",
    "read_secret_file",
    "secret_input",
]

MAX_SECRET_FILE_BYTES = 64 * 1024
MAX_CA_FILE_BYTES = 16 * 1024 * 1024


class Secret:
    """Bytes that never show themselves: repr and str are redacted.

    `path` is the file it was read from (`NAME_FILE`), which the relay watches for rotation.
    """

    __slots__ = ("_value", "path")

    def __init__(self, value: bytes, path: str | None = None) -> None:
        self._value = value
        self.path = path

    def reveal(self) -> bytes:
        """The secret bytes, for the one place that signs with them."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True, slots=True)
class SecretInput:
    """A secret as read, before its checks.

    Attributes:
        value: the bytes (a file's content is stripped of surrounding whitespace).
        source: the variable it came from, `NAME` or `NAME_FILE`.
        path: the file it was read from, for `NAME_FILE`.
    """

    value: bytes
    source: str
    path: str | None = None


@dataclass(frozen=True, slots=True)
class Refusal:
    """A secret that could not be read; the field reports it against `variable`."""

    variable: str
    problem: str


@dataclass(frozen=True, slots=True)
class FileVariant:
    """Field marker: the variable may instead be read from the file named by `NAME_FILE`.

    Attributes:
        min_bytes: the shortest secret accepted, checked against the variable it came from.
    """

    min_bytes: int = 1

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_before_validator_function(self._secret, handler(source))

    def _secret(self, value: object) -> object:
        if isinstance(value, Refusal):
            raise refuse(value.problem, value.variable)
        if not isinstance(value, SecretInput):
            return value
        if len(value.value) < self.min_bytes:
            raise refuse(f"must be at least {self.min_bytes} bytes", value.source)
        return Secret(value.value, value.path)


def secret_input(environ: Mapping[str, str], name: str) -> SecretInput | Refusal | None:
    """The secret `name` from `environ`: given directly, or read from the file `NAME_FILE` names."""
    file_name = f"{name}_FILE"
    direct, path = environ.get(name), environ.get(file_name)
    if direct is not None and path is not None:
        return Refusal(name, f"set either {name} or {file_name}, not both")
    if direct is not None:
        return SecretInput(direct.encode(), name)
    if path is None:
        return None
    try:
        content = read_secret_file(file_name, path)
    except ConfigError as exc:
        return Refusal(exc.variable, exc.problem)
    return SecretInput(content.strip(), file_name, path)


def read_secret_file(variable: str, path: str) -> bytes:
    """The bytes of the secret file `path` (not stripped), or a `ConfigError` naming `variable`.

    Only a regular file of at most `MAX_SECRET_FILE_BYTES` is read, and opening it never blocks:
    a FIFO without a writer, a device or a directory is refused instead of hanging or filling
    memory. No message shows the content.
    """
    return read_regular_file(variable, path, MAX_SECRET_FILE_BYTES)


def read_regular_file(variable: str, path: str, limit: int) -> bytes:
    """The bytes of `path` if it is a regular file of at most `limit` bytes; never blocks."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise ConfigError(variable, f"cannot read the file ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(variable, f"is not a regular file (it is {_file_kind(info.st_mode)})")
        if info.st_size > limit:
            raise ConfigError(variable, f"file is larger than {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        while chunk := os.read(fd, limit + 1 - size):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:  # the file grew after fstat
                raise ConfigError(variable, f"file is larger than {limit} bytes")
        return b"".join(chunks)
    except OSError as exc:
        raise ConfigError(variable, f"cannot read the file ({exc.strerror})") from None
    finally:
        os.close(fd)


def _file_kind(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((kind for test, kind in kinds if test(mode)), "not a file")


def ca_bundle(path: str | None) -> str | None:
    """A CA bundle path that really loads, checked the way the TLS clients will load it."""
    if path is None:
        return None
    try:
        read_regular_file("", path, MAX_CA_FILE_BYTES)  # refuses FIFOs and devices first
    except ConfigError as exc:
        raise refuse(exc.problem) from None
    try:
        ssl.create_default_context(cafile=path)
    except (ssl.SSLError, OSError, ValueError):
        raise refuse("is not a PEM CA bundle (no certificate could be loaded)") from None
    return path
