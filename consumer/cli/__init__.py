"""`signal-relay`: the command line, one module per command."""

from consumer.cli._main import main

__all__ = [
    "main",
]
