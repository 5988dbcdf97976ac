"""What of a log line is a secret: masked in every line, the relay's and the libraries' alike.

The rules, applied to every value of an event (the message included) as the last step before
rendering:
- the `user:password@` of any URL (`scheme://***@host`);
- a Telegram bot token in a URL path (`/bot***/sendMessage`);
- the value of a field named like a credential (`password`, `token`, `authorization`, ...);
- every configured secret (`secrets_in(settings)`), raw, URL-quoted, base64 and hex, and for a
  secret URL also its path and query.

Values that are not plain JSON scalars are turned into text first, so nothing reaches the
renderer unmasked (an exception's traceback is text by then, see `consumer.ops._logs`).
"""

from __future__ import annotations

import base64
import dataclasses
import re
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any
from urllib.parse import quote, urlsplit

__all__ = ["Redactor", "redact_userinfo", "secrets_in"]

_MASK = "***"
_MIN_SECRET = 4
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]*@")
_TELEGRAM_TOKEN = re.compile(r"/bot[0-9]+:[^/\s?#\"']+")
_CREDENTIAL_FIELDS = frozenset(
    {"password", "passwd", "secret", "token", "api_key", "authorization", "x-signature"}
)


def redact_userinfo(text: str) -> str:
    """`text` with the `user:password@` part of any URL in it masked."""
    return _USERINFO.sub(rf"\1{_MASK}@", text)


class Redactor:
    """A structlog processor masking secrets in every value of an event."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        forms = {form for secret in secrets for form in _forms(secret)}
        # Longest first: a secret URL is masked whole before its path is.
        self._values = sorted((f for f in forms if len(f) >= _MIN_SECRET), key=len, reverse=True)

    def __repr__(self) -> str:
        return f"Redactor(<{len(self._values)} redacted values>)"

    def __call__(self, _: Any, __: str, event: MutableMapping[str, Any]) -> Mapping[str, Any]:
        return {key: self._value(key, value) for key, value in event.items()}

    def mask(self, text: str) -> str:
        """`text` with every secret in it masked."""
        text = _TELEGRAM_TOKEN.sub(f"/bot{_MASK}", redact_userinfo(text))
        for value in self._values:
            if value in text:
                text = text.replace(value, _MASK)
        return text

    def _value(self, key: object, value: object) -> object:
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(key, str) and key.lower() in _CREDENTIAL_FIELDS:
            return _MASK
        if isinstance(value, Mapping):
            return {str(k): self._value(k, v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self._value(None, item) for item in value]
        return self.mask(value if isinstance(value, str) else str(value))


def secrets_in(settings: object) -> tuple[str, ...]:
    """Every secret value held in `settings` (a `Secret`, at any depth of nested settings)."""
    found: list[str] = []
    _collect(settings, found, depth=0)
    return tuple(found)


def _collect(value: object, found: list[str], depth: int) -> None:
    if depth > 4 or value is None:
        return
    reveal = getattr(value, "reveal", None) or getattr(value, "get_secret_value", None)
    if callable(reveal):
        secret = reveal()
        found.append(secret.decode("utf-8", "replace") if isinstance(secret, bytes) else secret)
        return
    if isinstance(value, type):
        return
    if dataclasses.is_dataclass(value):
        names = [field.name for field in dataclasses.fields(value)]
    else:  # a pydantic model (the settings are frozen pydantic-settings models)
        names = list(getattr(type(value), "model_fields", {}))
    for name in names:
        _collect(getattr(value, name, None), found, depth + 1)


def _forms(secret: str) -> list[str]:
    """The secret and the encodings a library might print it in."""
    raw = secret.encode()
    forms = [secret, quote(secret, safe=""), base64.b64encode(raw).decode(), raw.hex()]
    if "://" in secret:
        parts = urlsplit(secret)
        forms += [parts.path, parts.query, parts.password or ""]
    return [form for form in forms if len(form) > 1 and form != "/"]
