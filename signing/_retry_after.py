"""`Retry-After` as RFC 9110 writes it: the one reading the relay and `HmacClient` share."""

from __future__ import annotations

import re
import time
from datetime import UTC
from email.utils import parsedate_to_datetime

__all__ = ["parse_retry_after"]

_MAX_RETRY_AFTER_TEXT = 64
_ASCTIME = re.compile(r"[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}")


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header, or None when it is not one (RFC 9110 10.2.3).

    Exactly the two forms of the RFC: delta-seconds (ASCII digits only) or an HTTP-date with a
    time zone. Anything else (`²`, `-5`, `1.5`, a date whose fields overflow, 200 characters of
    noise) is ignored, as if the header were absent: no answer can raise here.
    """
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > _MAX_RETRY_AFTER_TEXT or not value.isascii():
        return None
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
        if moment.tzinfo is None:
            # asctime-date carries no zone and means GMT; other zone-less dates are not HTTP's.
            if not _ASCTIME.fullmatch(value):
                return None
            moment = moment.replace(tzinfo=UTC)
        seconds = moment.timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    current = time.time() if now is None else now
    return max(0.0, seconds - current)
