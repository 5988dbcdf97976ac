"""The relay service: Kafka consumer group to signed HTTP deliveries, with ordered commits."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("signal-relay")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = ["__version__"]
