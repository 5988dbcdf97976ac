"""Files of a TLS client certificate read at start-up: readable PEM files, a key's password."""

from __future__ import annotations

from consumer.config._errors import ConfigError, refuse
from consumer.config._secrets import MAX_CA_FILE_BYTES, Secret, read_regular_file, read_secret_file

__all__ = ["key_password", "readable_file"]


def readable_file(path: str | None) -> str | None:
    """`path` if it is a regular file the relay can read (what it holds is checked later)."""
    if path is not None:
        try:
            read_regular_file("", path, MAX_CA_FILE_BYTES)
        except ConfigError as exc:
            raise refuse(exc.problem) from None
    return path


def key_password(path: object) -> object:
    """The password in the file `path` names, without its line end; never shown."""
    if not isinstance(path, str):
        return path
    try:
        content = read_secret_file("", path)
    except ConfigError as exc:
        raise refuse(exc.problem) from None
    return Secret(content.rstrip(b"\r\n"))
