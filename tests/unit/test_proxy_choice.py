"""The proxy is the environment's, chosen for the server URL's scheme; NO_PROXY exempts hosts."""

from __future__ import annotations

import pytest

from consumer.adapters._proxy import proxy_for

_NAMES = ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"]


@pytest.fixture(autouse=True)
def _no_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _NAMES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def test_no_setting_means_direct() -> None:
    """Without proxy variables every URL is reached directly."""
    assert proxy_for("https://signals.example.com/api") is None


def test_the_scheme_picks_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTPS_PROXY serves https URLs, HTTP_PROXY http ones, ALL_PROXY both otherwise."""
    monkeypatch.setenv("HTTPS_PROXY", "http://secure-proxy:3128")
    monkeypatch.setenv("HTTP_PROXY", "http://plain-proxy:3128")
    assert proxy_for("https://signals.example.com") == "http://secure-proxy:3128"
    assert proxy_for("http://signals.example.com") == "http://plain-proxy:3128"
    monkeypatch.delenv("HTTPS_PROXY")
    monkeypatch.setenv("ALL_PROXY", "http://any-proxy:3128")
    assert proxy_for("https://signals.example.com") == "http://any-proxy:3128"


@pytest.mark.parametrize(
    ("no_proxy", "url", "direct"),
    [
        ("signals.example.com", "https://signals.example.com", True),
        (".example.com", "https://signals.example.com", True),
        ("example.com", "https://signals.example.com", True),
        ("other.com,127.0.0.1", "https://127.0.0.1:8443", True),
        ("*", "https://signals.example.com", True),
        ("other.com", "https://signals.example.com", False),
    ],
)
def test_no_proxy_exempts_hosts(
    monkeypatch: pytest.MonkeyPatch, no_proxy: str, url: str, direct: bool
) -> None:
    """NO_PROXY names hosts and domains reached directly, as httpx and curl read it."""
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy:3128")
    monkeypatch.setenv("NO_PROXY", no_proxy)
    assert (proxy_for(url) is None) is direct
