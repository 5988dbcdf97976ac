"""The service core: what happens to a record and when its offset is committed.

Group membership and lifecycle (`Relay`), per-key lanes, the record flow, the commit rule,
outcome classification, retry policy and the systemic gate. Nothing here imports the
development kit, the operator's tools or the CLI.
"""

from consumer.service._collector import tune_collector
from consumer.service._commits import (
    REVOKE_COMMIT_SECONDS,
    CommitLoop,
    CommitPolicy,
    ContiguousTracker,
    Lane,
    drain_commit_budget,
)
from consumer.service._finished_offsets import (
    METADATA_LIMIT,
    OffsetRange,
    decode_finished,
    encode_finished,
    runs,
)
from consumer.service._freshness import AgePolicy, Birth, Expiry, signal_birth
from consumer.service._lanes import Handler, PartitionLane
from consumer.service._member import (
    Relay,
    RelayCrashedError,
    RelayError,
    RelayStartError,
    run_until_signalled,
)
from consumer.service._outcome import Decision, Final, Outcome, classify, parse_retry_after
from consumer.service._prepare import CanonicalTooLargeError, Prepared, prepare_signal
from consumer.service._progress import PartitionProgress
from consumer.service._record_flow import Abandoned, RecordFlow
from consumer.service._resume import committed_with_metadata, finished_above_commits
from consumer.service._retry import RetryPolicy
from consumer.service._systemic import SystemicGate

__all__ = [
    "METADATA_LIMIT",
    "REVOKE_COMMIT_SECONDS",
    "Abandoned",
    "AgePolicy",
    "Birth",
    "CanonicalTooLargeError",
    "CommitLoop",
    "CommitPolicy",
    "ContiguousTracker",
    "Decision",
    "Expiry",
    "Final",
    "Handler",
    "Lane",
    "OffsetRange",
    "Outcome",
    "PartitionLane",
    "PartitionProgress",
    "Prepared",
    "RecordFlow",
    "Relay",
    "RelayCrashedError",
    "RelayError",
    "RelayStartError",
    "RetryPolicy",
    "SystemicGate",
    "classify",
    "committed_with_metadata",
    "decode_finished",
    "drain_commit_budget",
    "encode_finished",
    "finished_above_commits",
    "parse_retry_after",
    "prepare_signal",
    "run_until_signalled",
    "runs",
    "signal_birth",
    "tune_collector",
]
