"""`configure_logging` onto a string buffer, for one test: the root logger is restored after."""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

from consumer.ops import configure_logging

__all__ = ["json_lines", "rendered_logs"]

_TOUCHED = ("signal_relay", "aiokafka", "httpx", "httpcore", "uvicorn")


@contextlib.contextmanager
def rendered_logs(level: str = "INFO", fmt: str = "json", **options: Any) -> Iterator[io.StringIO]:
    """Every logger rendered into the yielded buffer; on exit the handler is closed (reporting
    what it suppressed) and the loggers' previous levels and handlers come back."""
    root = logging.getLogger()
    handlers, root_level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in _TOUCHED}
    relay_propagates = logging.getLogger("signal_relay").propagate
    stream = io.StringIO()
    configure_logging(level, fmt, stream=stream, **options)
    try:
        yield stream
    finally:
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
            handler.close()
        root.setLevel(root_level)
        for name, saved in levels.items():
            logging.getLogger(name).setLevel(saved)
        logging.getLogger("signal_relay").propagate = relay_propagates


def json_lines(text: str) -> list[dict[str, Any]]:
    """Each line of `text` as a JSON object; fails on a line that is not one."""
    lines = []
    for line in text.splitlines():
        parsed = json.loads(line)
        assert isinstance(parsed, dict), line
        lines.append(parsed)
    return lines
