"""`signal-relay`: the command line, one module per command.

`_main` parses and dispatches; `_run`, `_check`, `_publish`, `_demo`, `_receiver`, `_verify`,
`_schema` and `_dlq` are the commands; `_arguments`, `_inputs`, `_kafka`, `_loop`, `_extras` and
`_exits` are what they share. Every command imports its work when it runs, so `--help` stays fast.

A command's result goes to stdout; an error is one line on stderr, never a traceback. Exit
statuses:

====  =================================================================================
0     done (a verdict of `valid`, every record published, the relay stopped gracefully)
1     the command ran and failed: the relay crashed or lost Kafka at start, a bad input
      line (`publish`), an invalid signature (`verify`), a demo verdict that fails
2     refused before doing anything, one line naming the cause: a bad option or setting,
      an unsupported `KAFKA_SASL_MECHANISM`, a missing extra
      (`needs the 'demo' extra: pip install 'signal-relay[demo]'`), a missing topic or DLQ
      (`run`, `publish`: they never create one), a port in use (metrics, receiver)
130   interrupted (Ctrl-C)
====  =================================================================================

Error tree of the package (each maps to its one line and status in `main`)::

    Exception
     +-- UsageError            exit 2
     +-- CommandFailedError    exit 1
     +-- MissingExtraError     exit 2
"""

from consumer.cli._exits import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    CommandFailedError,
    UsageError,
)
from consumer.cli._extras import EXTRAS, MissingExtraError
from consumer.cli._kafka import refuse_unusable_options
from consumer.cli._main import main

__all__ = [
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "EXTRAS",
    "CommandFailedError",
    "MissingExtraError",
    "UsageError",
    "main",
    "refuse_unusable_options",
]
