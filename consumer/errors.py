"""The errors of `consumer`: one root, `SignalRelayError`, that every exception class defined
under `consumer/` derives from (`tests/test_error_roots.py` keeps this tree and the code equal).

The hierarchy, with where each class lives and what it still is besides::

    SignalRelayError
    ├── ConfigError                  config: a setting is missing or invalid (also a ValueError)
    ├── RelayError                   service: the relay could not run (also a RuntimeError)
    │   ├── RelayStartError              start-up failed; nothing was consumed
    │   └── RelayCrashedError            a bug or an unrecoverable client error stopped it
    ├── Abandoned                    service: not a failure; the record's partition was
    │                                released mid-flight and the record stays uncommitted
    ├── CanonicalTooLargeError       service: the canonical body is over the limit (also
    │                                schemas' RecordTooLargeError, so a RecordError)
    ├── DeadLetterError              adapters: the DLQ refuses a letter for good; the record
    │                                flow retries the record (docs/PROTOCOL.md §7.4, §9.6)
    ├── MissingTopicError            adapters: a topic the process needs does not exist
    │                                (also a LookupError)
    ├── PyreqwestTransportError      adapters: no complete answer through pyreqwest (also a
    │                                ConnectionError: `HttpSender` catches it as an OSError)
    ├── _Unframed                    adapters (private to _raw_batches): a record in a batch
    │                                cannot be read at all
    ├── _MissingCodec                adapters (private to _raw_batches): the batch's codec
    │                                library is not installed
    ├── AlertError                   ops: the alert sinks
    │   └── AlertSendError               a sink did not accept an alert
    ├── HeadRefused                  ops: a request head to the operations port crossed a
    │                                bound or is not HTTP/1.x (answered 400)
    ├── TopicError                   tools: the topic helpers
    │   ├── TopicCreateError             the broker refused to create a topic
    │   ├── TopicNotFoundError           the topic does not exist (also a LookupError)
    │   └── TopicTimeoutError            the awaited state did not come (also a TimeoutError)
    ├── PublishError                 tools: records could not be handed to the broker
    ├── ReplayError                  tools: a DLQ replay could not be planned or carried out
    │   └── MissingTargetError           a dead letter names no source topic, none was given
    ├── UsageError                   cli: refused before any work (exit 2)
    ├── CommandFailedError           cli: the command ran and could not finish (exit 1)
    ├── MissingExtraError            cli: a command needs an extra that is not installed
    ├── LocalBrokerError             devkit: no local broker could be provided (also a
    │   │                            RuntimeError)
    │   ├── BrokerChoiceError            SIGNAL_RELAY_BROKER names a kind that cannot be forced
    │   └── BrokerStartError             the chosen broker did not start or get ready
    │       └── ContainerUnavailableError    the Kafka container could not run
    └── DemoError                    devkit: the demo could not run to its verdict

Each class keeps the standard base its callers catch it by (`except ValueError` around the
settings, `except LookupError`, ...); `SignalRelayError` comes first in its bases. Errors of
the packages `consumer` builds on keep their own roots: `schemas.RecordError` (a record is not
a signal) and `signing.SigningError` (signing, verifying, the seed's client, the receiver).
Errors of aiokafka and httpx that the relay lets through are not translated into this tree.
"""

__all__ = ["SignalRelayError"]


class SignalRelayError(Exception):
    """Base of every exception class defined under `consumer/`."""
