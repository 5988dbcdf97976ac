"""What well-formed text settings look like: hosts, broker lists, URLs, paths, topic names.

Each check returns the value it accepts (maybe normalised) or raises the validation error
`refuse` builds; no message echoes the value, as a URL may carry a token or a password.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import SplitResult, urlsplit

from consumer.config._errors import refuse

__all__ = [
    "bootstrap_servers",
    "http_url",
    "ingest_path",
    "metrics_host",
    "printable",
    "server_url",
    "telegram_api_url",
    "topic",
]

_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")
# One DNS label; `_` is allowed because container and service names often carry one.
_LABEL = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")
_PORT = re.compile(r"[0-9]{1,5}")
_CREDENTIALS_IN_URL = (
    "must not contain credentials (user:password@); the URL is logged and shown, so put them "
    "in a secret setting instead"
)


def printable(value: str) -> str:
    """`value` if it holds no control character."""
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in value):
        raise refuse("must not contain control characters")
    return value


def topic(value: str) -> str:
    """`value` if it is a legal Kafka topic name."""
    if not _TOPIC.fullmatch(value) or value in {".", ".."}:
        raise refuse("must be a Kafka topic name: 1-249 of A-Z a-z 0-9 . _ - (and not . or ..)")
    return value


def bootstrap_servers(value: str) -> str:
    """`value` if every comma-separated entry is `host[:port]` as aiokafka parses it."""
    entries = value.split(",")
    for number, entry in enumerate(entries, 1):
        problem = _broker_problem(entry.strip())
        if problem is not None:
            where = f"entry {number}" if len(entries) > 1 else "the value"
            raise refuse(f"must be host[:port][,host[:port]...]; {where} {problem}")
    return value


def metrics_host(value: str) -> str:
    """`value` if it is an IP address or a host name to bind to."""
    if not _is_host(value):
        raise refuse("must be an IPv4 or IPv6 address (without [ ]) or a host name")
    return value


def server_url(value: str) -> str:
    """The server's base URL without trailing `/`, if it is http(s) with no query or fragment."""
    value = value.rstrip("/")
    _url(value, "must be an http(s) base URL")
    if "?" in value or "#" in value:
        raise refuse("must not have a query or fragment")
    return value


def http_url(value: str) -> str:
    """`value` if it is an http(s) URL without credentials."""
    _url(value, "must be an http(s) URL")
    return value


def telegram_api_url(value: str) -> str:
    """The Bot API base URL without trailing `/`, if it is http(s) with no query or fragment."""
    value = http_url(value).rstrip("/")
    if "?" in value or "#" in value:
        raise refuse("must not have a query or fragment")
    return value


def ingest_path(value: str) -> str:
    """`value` if it is an absolute, printable-ASCII path without query or fragment."""
    if not value.startswith("/"):
        raise refuse("must be an absolute path starting with /")
    if not _is_url_text(value):
        raise refuse(
            "must be printable ASCII, no spaces or control characters (percent-encode them)"
        )
    if "?" in value or "#" in value:
        raise refuse("must be a path, without ? or #")
    return value


def _is_url_text(value: str) -> bool:
    """Printable ASCII only: no space, no control character (urlsplit drops tabs and newlines)."""
    return all("!" <= c <= "~" for c in value)


def _is_host(host: str) -> bool:
    """An IPv4/IPv6 literal (no brackets) or a DNS host name."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return True
    name = host.removesuffix(".")
    if not name or len(name) > 253:
        return False
    labels = name.split(".")
    # An all-digit last label is a mistyped IPv4 address (999.999.999.999), never a name.
    return all(_LABEL.fullmatch(label) for label in labels) and not labels[-1].isdigit()


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _port_problem(text: str) -> str | None:
    if text == "":
        return "has an empty port"
    if not _PORT.fullmatch(text):
        return "has a port that is not a number"
    if not 1 <= int(text) <= 65535:
        return f"has port {int(text)}, outside 1-65535"
    return None


def _broker_problem(entry: str) -> str | None:
    """What is wrong with one `host[:port]` entry as aiokafka parses it, or None."""
    if entry == "":
        return "is empty"
    if entry.startswith("["):
        host, closed, rest = entry[1:].partition("]")
        if not closed:
            return "has no closing ]"
        if not _is_ipv6(host):
            return "has no IPv6 address between [ ]"
        if rest == "":
            return None
        if not rest.startswith(":"):
            return "has text after ] that is not :port"
        return _port_problem(rest[1:])
    if entry.count(":") > 1:
        if _is_ipv6(entry):  # aiokafka takes a bare IPv6 literal with the default port
            return None
        return "is not host:port (write an IPv6 address as [address]:port)"
    host, colon, port = entry.partition(":")
    if host == "":
        return "has no host"
    if not _is_host(host):
        return "has an invalid host name"
    return _port_problem(port) if colon else None


def _url(value: str, what: str) -> SplitResult:
    """Check an http(s) URL; `what` opens every message."""
    if not _is_url_text(value):
        raise refuse(
            f"{what}: printable ASCII only, no spaces or control characters "
            "(percent-encode them; write an international host name as xn--)"
        )
    try:
        parts = urlsplit(value)
    except ValueError:
        raise refuse(f"{what}: the host does not parse (check the [ ])") from None
    if parts.scheme not in {"http", "https"}:
        raise refuse(what)
    if "@" in parts.netloc:
        raise refuse(_CREDENTIALS_IN_URL)
    host = parts.hostname
    if not host:
        raise refuse(what)
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0 or parts.netloc.endswith(":"):
        raise refuse(f"{what}: the port must be a number in 1-65535")
    valid = _is_ipv6(host) if parts.netloc.startswith("[") else _is_host(host) and ":" not in host
    if not valid:
        raise refuse(f"{what}: the host is not a valid host name or IP address")
    return parts
