"""The event loop a command runs on: uvloop when the `fast` extra is installed."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

__all__ = ["run_async"]


def run_async(main: Coroutine[Any, Any, int]) -> int:
    """Run `main` to completion on uvloop if installed, else on asyncio's own loop."""
    try:
        import uvloop  # noqa: PLC0415 - optional speed-up
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)
