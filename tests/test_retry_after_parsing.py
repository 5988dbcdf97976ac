"""Retry-After: RFC 9110's two forms are honoured; any other text is ignored, never raised."""

from email.utils import formatdate

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumer.service import Outcome, classify, parse_retry_after

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    "value",
    [
        "\u00b2",  # superscript two: str.isdigit() is true, float() fails
        "\u0663",  # Arabic-Indic three
        "\uff15",  # fullwidth five
        "Fri, 31 Dec 1999 99999999999999999999:59:59 GMT",
        "Fri, 31 Dec 99999 23:59:59 GMT",
        "Fri, 31 Dec 1999 23:59:59",  # no zone, and not the asctime form
        "-5",
        "1.5",
        "1e3",
        " ",
        "",
        "9" * 200,
        "\x00\x01",
        "soon",
    ],
)
def test_text_that_is_not_retry_after_is_ignored(value: str) -> None:
    """A value outside the RFC's forms reads as no Retry-After at all."""
    assert parse_retry_after(value, now=NOW) is None
    assert classify(503, {"retry-after": value}).outcome is Outcome.RETRY


def test_delta_seconds_and_http_dates_are_read() -> None:
    """ASCII delta-seconds and the three HTTP-date forms give the wait in seconds."""
    assert parse_retry_after("7", now=NOW) == 7.0
    assert parse_retry_after(" 120 ", now=NOW) == 120.0
    assert parse_retry_after("99999999999999999999", now=NOW) == 1e20
    assert parse_retry_after(formatdate(NOW + 30, usegmt=True), now=NOW) == pytest.approx(30)
    assert parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now=NOW) == 0.0
    assert parse_retry_after("Sun Nov  6 08:49:37 1994", now=784111777.0 - 60) == 60.0


@given(st.text(max_size=80))
def test_no_text_raises(value: str) -> None:
    """Whatever a server writes in the header, classification returns a decision."""
    result = parse_retry_after(value, now=NOW)
    assert result is None or result >= 0.0
    assert classify(429, {"retry-after": value}).outcome is Outcome.RETRY


@pytest.mark.parametrize("status", [300, 301, 302, 303, 304, 305, 306, 307, 308, 399])
def test_every_redirect_is_systemic(status: int) -> None:
    """A 3xx means the URL is wrong for a signed POST: pause, never follow, never DLQ."""
    assert classify(status, {"location": "/elsewhere"}).outcome is Outcome.SYSTEMIC


@pytest.mark.parametrize("status", [100, 101, 199, 600, 999])
def test_statuses_outside_the_classes_are_retried(status: int) -> None:
    """An informational or out-of-range final status is a transient server fault."""
    assert classify(status, {}).outcome is Outcome.RETRY
