"""Data models of signal-relay: the Kafka record and the server's answer. Pure: no I/O."""

from schemas.candidate import SignalCandidate, candidate_json_schema
from schemas.errors import (
    DuplicateKeyError,
    EmptyRecordError,
    NonFiniteNumberError,
    NotAnObjectError,
    NotJsonError,
    NotUtf8Error,
    RecordError,
    RecordTooLargeError,
    SchemaViolationError,
)
from schemas.record import parse_candidate
from schemas.response import SignalIngestResponse

__all__ = [
    "DuplicateKeyError",
    "EmptyRecordError",
    "NonFiniteNumberError",
    "NotAnObjectError",
    "NotJsonError",
    "NotUtf8Error",
    "RecordError",
    "RecordTooLargeError",
    "SchemaViolationError",
    "SignalCandidate",
    "SignalIngestResponse",
    "candidate_json_schema",
    "parse_candidate",
]
