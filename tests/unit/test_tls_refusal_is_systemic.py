"""A TLS refusal anywhere in an error's chain is systemic, like a 401; other failures retry."""

from __future__ import annotations

import ssl

import aiohttp
import httpx
import pytest

from consumer.service import Outcome, classify
from signing import client_ssl_context
from signing._tls import tls_refusal


def _ssl_error(reason: str) -> ssl.SSLError:
    error = ssl.SSLError(1, f"[SSL: {reason}] {reason.lower()}")
    error.reason = reason
    return error


@pytest.mark.parametrize(
    "reason",
    ["TLSV13_ALERT_CERTIFICATE_REQUIRED", "TLSV1_ALERT_UNKNOWN_CA", "CERTIFICATE_VERIFY_FAILED"],
)
def test_a_refusal_wrapped_by_a_client_is_found(reason: str) -> None:
    """The OpenSSL reason is found under aiohttp's and httpx's own errors."""
    for wrapper in (aiohttp.ClientOSError, httpx.ConnectError):
        outer = wrapper("connection failed")
        outer.__cause__ = _ssl_error(reason)
        assert tls_refusal(outer) == reason
    assert classify(None, tls_refusal=reason).outcome is Outcome.SYSTEMIC


@pytest.mark.parametrize(
    "error",
    [ConnectionResetError(104, "reset"), TimeoutError(), _ssl_error("WRONG_VERSION_NUMBER")],
)
def test_other_failures_are_not_refusals(error: BaseException) -> None:
    """A reset, a timeout or a TLS error that is not about certificates stays a retry."""
    assert tls_refusal(error) is None
    assert classify(None, tls_refusal=tls_refusal(error)).outcome is Outcome.RETRY


def test_the_context_verifies_by_default() -> None:
    """The client context checks the server's certificate and host name unless told not to."""
    context = client_ssl_context()
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname
    assert client_ssl_context(False).verify_mode is ssl.CERT_NONE
