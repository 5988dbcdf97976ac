"""HMAC-SHA256 under one key, with the key's padded blocks hashed once (RFC 2104).

`hmac.digest(key, message, "sha256")` pads the key and hashes both padded blocks on every call.
A relay signs every request with the same key: `KeyedSha256` hashes the two blocks once and
continues copies of those states, which is about twice as fast per signature. Its digests are
`hmac.digest`'s, byte for byte (tests/test_request_signer.py).
"""

from __future__ import annotations

import hashlib

__all__ = ["KeyedSha256"]

_BLOCK = 64  # SHA-256's block size in bytes
# XOR with the inner and outer pads as translation tables, as the hmac module builds them.
_INNER_PAD = bytes(byte ^ 0x36 for byte in range(256))
_OUTER_PAD = bytes(byte ^ 0x5C for byte in range(256))


class KeyedSha256:
    """HMAC-SHA256 with one key; the key itself is not kept, only the two hash states."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        block = key.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(block.translate(_INNER_PAD))
        self._outer = hashlib.sha256(block.translate(_OUTER_PAD))

    def __repr__(self) -> str:
        return "KeyedSha256(<redacted>)"

    def digest(self, message: bytes) -> bytes:
        """HMAC-SHA256(key, message)."""
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()
