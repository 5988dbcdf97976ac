"""The core's I/O adapters: signed HTTP delivery, the dead-letter producer, Kafka options,
the fetch guard that rescues records the Kafka client cannot decode and the broker probe.
"""

from consumer.adapters._broker_probe import (
    BROKER_OUTAGE_ERRORS,
    BrokerReach,
    TopicLister,
    probe_broker,
)
from consumer.adapters._dead_letter_fit import (
    DLQ_MAX_MESSAGE_BYTES,
    DLQ_MIN_MESSAGE_BYTES,
    DeadLetterError,
    FittedLetter,
    fit_dead_letter,
    minimal_dead_letter,
    record_size,
)
from consumer.adapters._dead_letter_format import DeadLetter, dlq_headers
from consumer.adapters._dead_letter_writer import (
    Backoff,
    DeadLetterWriter,
    build_dead_letter_producer,
    is_retriable_write_error,
)
from consumer.adapters._fetch_guard import UNDECODABLE_ERRORS, CodecHold, FetchGuard
from consumer.adapters._http import (
    AttemptResult,
    HttpAnswer,
    HttpClient,
    HttpSender,
    build_http_client,
    redact_userinfo,
)
from consumer.adapters._kafka_options import kafka_client_options, kafka_tls_refusal
from consumer.adapters._raw_batches import Decoded, UndecodableRecord, decode_raw
from consumer.adapters._request_rate import rate_limiter
from consumer.adapters._secret_watch import SecretWatch, watch_secret
from consumer.adapters._topic_check import (
    MissingTopicError,
    missing_topics,
    require_topics,
    topic_partitions,
)

__all__ = [
    "BROKER_OUTAGE_ERRORS",
    "DLQ_MAX_MESSAGE_BYTES",
    "DLQ_MIN_MESSAGE_BYTES",
    "UNDECODABLE_ERRORS",
    "AttemptResult",
    "Backoff",
    "BrokerReach",
    "CodecHold",
    "DeadLetter",
    "DeadLetterError",
    "DeadLetterWriter",
    "Decoded",
    "FetchGuard",
    "FittedLetter",
    "HttpAnswer",
    "HttpClient",
    "HttpSender",
    "MissingTopicError",
    "SecretWatch",
    "TopicLister",
    "UndecodableRecord",
    "build_dead_letter_producer",
    "build_http_client",
    "decode_raw",
    "dlq_headers",
    "fit_dead_letter",
    "is_retriable_write_error",
    "kafka_client_options",
    "kafka_tls_refusal",
    "minimal_dead_letter",
    "missing_topics",
    "probe_broker",
    "rate_limiter",
    "record_size",
    "redact_userinfo",
    "require_topics",
    "topic_partitions",
    "watch_secret",
]
