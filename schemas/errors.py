"""Why a Kafka record is not a valid signal candidate: one class per case, classified on the class.

`RecordError` is the root of every exception class defined under `schemas/` (the package's
only errors are about records); `tests/test_error_roots.py` keeps this tree and the code equal.
The hierarchy, with each class's `dlq_reason` (docs/PROTOCOL.md §9.4):

    RecordError
    ├── EmptyRecordError ........ invalid_json
    ├── RecordTooLargeError ..... too_large
    ├── NotUtf8Error ............ invalid_json
    ├── NotJsonError ............ invalid_json
    │   ├── DuplicateKeyError
    │   └── NonFiniteNumberError
    ├── NotAnObjectError ........ invalid_schema
    └── SchemaViolationError .... invalid_schema
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import ValidationError
from pydantic_core import ErrorDetails

MAX_MESSAGE_BYTES = 1024
_MAX_NAME_BYTES = 64
_ELLIPSIS = "..."

# Pydantic's own wording for the built-in checks, in the short form our messages use.
_BUILTIN_MESSAGES: dict[str, str] = {
    "missing": "required",
    "extra_forbidden": "unknown field",
    "literal_error": "must be {expected}",
    "string_type": "must be a string",
    # pydantic-core refuses lone surrogates (from a JSON "\\ud800" escape) when it checks a length.
    "string_unicode": "must be valid Unicode text (no lone surrogates)",
    "string_too_short": "must be at least {min_length} character(s)",
    "string_too_long": "must be at most {max_length} characters",
    "string_pattern_mismatch": "must match {pattern}",
}


class RecordError(Exception):
    """A record value that can never become a signal; `dlq_reason` says which kind."""

    dlq_reason: ClassVar[str]

    def __init__(self, message: str) -> None:
        self.message = _bounded(message, MAX_MESSAGE_BYTES)
        super().__init__(self.message)


class EmptyRecordError(RecordError):
    """The record has no value (a tombstone) or an empty one."""

    dlq_reason = "invalid_json"


class RecordTooLargeError(RecordError):
    """The record value is larger than the configured limit."""

    dlq_reason = "too_large"


class NotUtf8Error(RecordError):
    """The record value is not valid UTF-8."""

    dlq_reason = "invalid_json"


class NotJsonError(RecordError):
    """The record value is not strict JSON."""

    dlq_reason = "invalid_json"


class DuplicateKeyError(NotJsonError):
    """An object in the record, at any depth, names the same key twice.

    Attributes:
        key: the repeated key.
    """

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(
            f"record value has a duplicate key: {_bounded(repr(key), _MAX_NAME_BYTES)}"
        )


class NonFiniteNumberError(NotJsonError):
    """The record uses a NaN, Infinity or -Infinity literal, which JSON does not have."""


class NotAnObjectError(RecordError):
    """The record is valid JSON, but not an object."""

    dlq_reason = "invalid_schema"


class SchemaViolationError(RecordError):
    """The record is a JSON object that breaks the SignalCandidate rules; lists every problem.

    Attributes:
        problems: one "field: what is wrong" entry per problem, in field order.
    """

    dlq_reason = "invalid_schema"

    def __init__(self, problems: tuple[str, ...]) -> None:
        self.problems = problems
        count = f"{len(problems)} problem{'' if len(problems) == 1 else 's'}"
        super().__init__(f"{count}: {'; '.join(problems)}")

    @classmethod
    def from_validation_error(cls, exc: ValidationError) -> SchemaViolationError:
        """Translate pydantic's error list into our short "field: problem" entries."""
        return cls(tuple(_problem(error) for error in exc.errors(include_url=False)))


def _problem(error: ErrorDetails) -> str:
    field = ".".join(_bounded(str(part), _MAX_NAME_BYTES) for part in error["loc"]) or "record"
    template = _BUILTIN_MESSAGES.get(error["type"])
    what = error["msg"] if template is None else template.format_map(error.get("ctx", {}))
    return f"{field}: {what}"


def _bounded(text: str, max_bytes: int) -> str:
    """Cut `text` so its UTF-8 form fits in `max_bytes`, marking the cut with an ellipsis."""
    # backslashreplace: a lone surrogate from a JSON escape must not break a UTF-8 header later.
    encoded = text.encode("utf-8", "backslashreplace")
    if len(encoded) <= max_bytes:
        return encoded.decode("utf-8")
    return encoded[: max_bytes - len(_ELLIPSIS)].decode("utf-8", "ignore") + _ELLIPSIS
