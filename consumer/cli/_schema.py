"""`signal-relay schema`: the JSON Schema of a topic record."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from consumer.cli._arguments import add_command
from consumer.cli._exits import EXIT_OK

__all__ = ["add_schema"]


def add_schema(sub: Any) -> None:
    """Add the `schema` command."""
    add_command(
        sub,
        "schema",
        _schema,
        help="print the JSON Schema of SignalCandidate",
        description="Print the JSON Schema of a topic record (SignalCandidate) to stdout.",
        examples="  signal-relay schema > signal-candidate.schema.json\n",
    )


def _schema(args: argparse.Namespace) -> int:
    import orjson  # noqa: PLC0415

    from schemas.candidate import candidate_json_schema  # noqa: PLC0415

    sys.stdout.write(orjson.dumps(candidate_json_schema(), option=orjson.OPT_INDENT_2).decode())
    sys.stdout.write("\n")
    return EXIT_OK
