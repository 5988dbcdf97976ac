"""Which event loop the benchmark's children run on: uvloop when installed, as the relay does."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from importlib.metadata import PackageNotFoundError, version
from typing import Any, TypeVar

__all__ = ["loop_name", "run_fast"]

_T = TypeVar("_T")


def run_fast(main: Coroutine[Any, Any, _T]) -> _T:
    """Run `main` on uvloop when it is importable (like `signal-relay run`), else asyncio."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    result: _T = uvloop.run(main)
    return result


def loop_name() -> str:
    """The event loop `run_fast` uses, with its version."""
    try:
        return f"uvloop {version('uvloop')}"
    except PackageNotFoundError:
        return "asyncio"
