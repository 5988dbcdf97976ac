"""The signing protocol: canonical bytes, HMAC-SHA256 sign and verify, the reference receiver."""
