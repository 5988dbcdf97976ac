"""The operator's tools: publish JSONL signals, replay dead letters, verify a captured request
offline, the preflight of `signal-relay check`, and the topic chores they share.
"""

from consumer.tools._dlq_replay import (
    DLQ_REASONS,
    HELD_BACK_REASONS,
    REPLAYED_FROM_HEADER,
    MissingTargetError,
    ReplayError,
    ReplayFilter,
    ReplayItem,
    ReplayPlan,
    plan_replay,
    read_dead_letters,
    replay,
    replay_headers,
    unknown_reasons,
)
from consumer.tools._offline_verify import CapturedRequest, Verdict, check_capture
from consumer.tools._preflight import Check, preflight
from consumer.tools._publish import (
    DEFAULT_MAX_SIZE,
    CheckedLine,
    PublishError,
    check_lines,
    publish_records,
    records_to_publish,
)
from consumer.tools._replay_marker import ReplayMarker
from consumer.tools._topics import (
    TopicCreateError,
    TopicError,
    TopicNotFoundError,
    TopicTimeoutError,
    committed_offsets,
    ensure_topic,
    read_topic,
)

__all__ = [
    "DEFAULT_MAX_SIZE",
    "DLQ_REASONS",
    "HELD_BACK_REASONS",
    "REPLAYED_FROM_HEADER",
    "CapturedRequest",
    "Check",
    "CheckedLine",
    "MissingTargetError",
    "PublishError",
    "ReplayError",
    "ReplayFilter",
    "ReplayItem",
    "ReplayMarker",
    "ReplayPlan",
    "TopicCreateError",
    "TopicError",
    "TopicNotFoundError",
    "TopicTimeoutError",
    "Verdict",
    "check_capture",
    "check_lines",
    "committed_offsets",
    "ensure_topic",
    "plan_replay",
    "preflight",
    "publish_records",
    "read_dead_letters",
    "read_topic",
    "records_to_publish",
    "replay",
    "replay_headers",
    "unknown_reasons",
]
