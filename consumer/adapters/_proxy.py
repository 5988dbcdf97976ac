"""Which forward proxy the relay's POSTs go through: the environment's, decided once for both.

`HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` (lower case first) name the proxy for the server
URL's scheme and `NO_PROXY` exempts hosts, as httpx and curl read them. The decision is made
here and given to the client explicitly, so the aiohttp and httpx transports behave alike
(neither reads the environment itself: aiohttp's `trust_env` would also look up `~/.netrc` on
every request and send its credentials to the signal server).
"""

from __future__ import annotations

import urllib.request
from urllib.parse import urlsplit

__all__ = ["proxy_for"]


def proxy_for(url: str) -> str | None:
    """The proxy URL that `url` is reached through, or None for a direct connection."""
    proxies = urllib.request.getproxies_environment()
    parts = urlsplit(url)
    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    if not parts.hostname or bypass(parts.netloc, proxies):
        return None
    return proxies.get(parts.scheme) or proxies.get("all")
