"""The record pipeline on one core: `prepare_signal` (parse, validate, canonical body) + sign.

What the relay does per record before its POST. Timed in CPU seconds of this process
(`time.process_time`): the pipeline is single-threaded, so records per CPU second is its rate
on one core, and time spent waiting for a core on a shared machine is left out. Best of
`rounds`: the slower rounds measure the neighbours (their cache and memory traffic).
"""

from __future__ import annotations

import time

import orjson

from bench.records import SECRET, bench_records
from consumer.service import prepare_signal
from signing.signer import RequestSigner

__all__ = ["measure_pipeline"]

_MAX_BODY = 65536


def _process(values: list[bytes], signer: RequestSigner) -> None:
    clock = time.time
    for value in values:
        signal = prepare_signal(value, _MAX_BODY).signal
        signer.headers(signal.body, signal_id=signal.signal_id, at=clock())


def measure_pipeline(records: int, rounds: int) -> float:
    """Records per CPU second, the best of `rounds` passes over `records` realistic values."""
    values = [orjson.dumps(signal) for _, signal in bench_records(records, tag="-pipeline")]
    signer = RequestSigner(SECRET, producer_id="bench", endpoint="/api/v1/signals/ingest")
    _process(values[:1000], signer)  # warm caches and lazy imports
    best = 0.0
    for _ in range(rounds):
        started = time.process_time()
        _process(values, signer)
        best = max(best, records / (time.process_time() - started))
    return best
