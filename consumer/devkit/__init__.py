"""The development kit: a local Kafka-protocol broker and the demo. Nothing in the service
imports it; it needs the `demo` extra.
"""

from consumer.devkit._demo import run_demo
from consumer.devkit._demo_display import ProgressDisplay, say
from consumer.devkit._demo_options import DemoError, DemoOptions, demo_faults
from consumer.devkit._demo_report import Observation, RelayCounters, Verdict, judge, render_summary
from consumer.devkit._demo_session import DemoSession
from consumer.devkit._demo_stream import (
    DEMO_MAX_SIGNAL_AGE_SECONDS,
    INVALID_KINDS,
    REJECTED_INSTRUMENT,
    STALE_AGE,
    DemoStream,
    Expectation,
    StreamRecord,
    build_stream,
)
from consumer.devkit._local_broker import (
    BOOTSTRAP_ENV,
    KIND_ENV,
    BrokerChoiceError,
    BrokerKind,
    BrokerStartError,
    LocalBroker,
    LocalBrokerError,
    local_broker,
    tansu_broker,
)
from consumer.devkit._metadata_keeper import (
    MetadataKeeper,
    keeping_metadata,
    tansu_keeping_metadata,
)

__all__ = [
    "BOOTSTRAP_ENV",
    "DEMO_MAX_SIGNAL_AGE_SECONDS",
    "INVALID_KINDS",
    "KIND_ENV",
    "REJECTED_INSTRUMENT",
    "STALE_AGE",
    "BrokerChoiceError",
    "BrokerKind",
    "BrokerStartError",
    "DemoError",
    "DemoOptions",
    "DemoSession",
    "DemoStream",
    "Expectation",
    "LocalBroker",
    "LocalBrokerError",
    "MetadataKeeper",
    "Observation",
    "ProgressDisplay",
    "RelayCounters",
    "StreamRecord",
    "Verdict",
    "build_stream",
    "demo_faults",
    "judge",
    "keeping_metadata",
    "local_broker",
    "render_summary",
    "run_demo",
    "say",
    "tansu_broker",
    "tansu_keeping_metadata",
]
