"""RFC 3339 timestamps as the protocol writes them (UTC, milliseconds, "Z") and reads them (strict).

Reading accepts exactly `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)` in ASCII digits.
Rejected on purpose: lowercase "t"/"z" (RFC 3339 section 5.6 allows them, but every producer
writes uppercase and one spelling per instant keeps logs and signed texts comparable), a space
instead of "T", a missing offset, surrounding whitespace, and leap second 60 (no `datetime`
can hold it). Fractions of any length are read; digits past microseconds are dropped.
"""

import functools
import math
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime

from signing.errors import MalformedTimestampError, SigningInputError

# The syntax is checked here; datetime.fromisoformat then checks the calendar and clock ranges.
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
)
_MAX_ECHOED_CHARS = 64
_END_OF_9999 = 253402300800.0  # 10000-01-01T00:00:00Z in epoch seconds


def format_timestamp(moment: datetime) -> str:
    """Write an aware datetime as UTC with exactly three fractional digits and "Z".

    Sub-millisecond digits are truncated, never rounded, so the text never names a later instant.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise SigningInputError("timestamp must be timezone-aware; got a naive datetime")
    try:
        utc = moment.astimezone(UTC)
    except OverflowError as exc:
        raise SigningInputError("timestamp lies outside the years 1-9999 in UTC") from exc
    return utc.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def now_timestamp(clock: Callable[[], float] = time.time) -> str:
    """The current instant (seconds since the epoch from `clock`) as a protocol timestamp."""
    return format_epoch(clock())


def format_epoch(at: float) -> str:
    """Epoch seconds `at` as a protocol timestamp: format_timestamp(datetime.fromtimestamp(at)).

    The same text, for less work: a relay writes one per request, and within one second only
    the milliseconds change, so the date and clock part is kept from the previous call.
    Rounded to the microsecond as `datetime.fromtimestamp` rounds (half to even), then cut to
    milliseconds. Raises SigningInputError for an instant no datetime can hold.
    """
    low, high, text = _last_millisecond
    if low <= at < high:
        return text
    if not 0 <= at < _END_OF_9999:
        return _format_far_epoch(at)
    fraction, whole = math.modf(at)
    micros = round(fraction * 1_000_000)
    second = int(whole)
    if micros >= 1_000_000:
        micros -= 1_000_000
        second += 1
        if second >= _END_OF_9999:
            return _format_far_epoch(at)
    millis = micros // 1000
    text = f"{_date_and_clock(second)}.{millis:03d}Z"
    if second < _CACHED_UNTIL:
        _remember(second + millis / 1000, text)
    return text


def _remember(millisecond: float, text: str) -> None:
    """Keep `text` for the instants well inside its millisecond (one tuple: thread-safe)."""
    global _last_millisecond  # noqa: PLW0603 - a one-entry cache
    _last_millisecond = (millisecond + _MARGIN, millisecond + 0.001 - _MARGIN, text)


# The last timestamp written, with the epoch seconds that surely write it too: its millisecond
# less a margin at each end far wider than a float's error in modf and the rounding above
# (at most 4.8e-7 s below 2**32, the year 2106), so that no instant near an edge reuses a
# neighbour's text. Later instants are written afresh every time.
_MARGIN = 5e-6
_CACHED_UNTIL = 2**32
_last_millisecond: tuple[float, float, str] = (1.0, 0.0, "")


@functools.lru_cache(maxsize=4)
def _date_and_clock(second: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))


def _format_far_epoch(at: float) -> str:
    try:
        return format_timestamp(datetime.fromtimestamp(at, tz=UTC))
    except (OverflowError, OSError, ValueError) as exc:
        raise SigningInputError(f"epoch second {at!r} names no instant a datetime holds") from exc


def parse_timestamp(text: str) -> datetime:
    """Read a strict RFC 3339 timestamp into an aware UTC datetime.

    Raises MalformedTimestampError (a ValueError) for anything else, see the module docstring.
    """
    if not isinstance(text, str) or _RFC3339.fullmatch(text) is None:
        raise MalformedTimestampError(
            f"timestamp {_echo(text)} is not RFC 3339 (YYYY-MM-DDTHH:MM:SS[.fff](Z|+HH:MM))"
        )
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise MalformedTimestampError(
            f"timestamp {_echo(text)} names no valid instant: {exc}"
        ) from exc


def _echo(text: object) -> str:
    """A bounded repr of untrusted input for error messages."""
    if not isinstance(text, str):
        return f"of type {type(text).__name__}"
    if len(text) > _MAX_ECHOED_CHARS:
        return repr(text[:_MAX_ECHOED_CHARS]) + "..."
    return repr(text)
