"""The CPU cost of one record on one core: parse and validate, canonical body, signed headers.

Timed in CPU seconds of this process (`time.process_time`), not wall time: the pipeline is
single-threaded, so records per CPU second is its rate on one core, and on a machine shared
with other work the time spent waiting for a core is left out.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import time
from dataclasses import dataclass
from typing import Any

from bench.records import SECRET, bench_records
from consumer.service import prepare_signal
from schemas.record import common_fields
from signing.canonical import canonical_fields
from signing.signer import RequestSigner

__all__ = ["PipelineResult", "measure_pipeline", "profile_pipeline"]

_PRODUCER_ID = "bench"
_ENDPOINT = "/api/v1/signals/ingest"
_MAX_BODY = 65536
_cpu = time.process_time


@dataclass(frozen=True, slots=True)
class PipelineResult:
    """Records per second through the pipeline, best of several rounds.

    Attributes:
        records_per_second: the best round's rate.
        rounds: the rate of every round.
        records: records per round.
        parse_us: microseconds per record to parse and validate (best round).
        canonical_us: microseconds per record for the canonical body and signal_id.
        sign_us: microseconds per record for a timestamp and the signed headers.
    """

    records_per_second: float
    rounds: tuple[float, ...]
    records: int
    parse_us: float
    canonical_us: float
    sign_us: float


def _signer(secret: bytes) -> RequestSigner:
    return RequestSigner(secret, producer_id=_PRODUCER_ID, endpoint=_ENDPOINT)


def _process(values: list[bytes], secret: bytes) -> None:
    """What the relay does per record before its POST: `prepare_signal`, then the signing."""
    signer = _signer(secret)
    clock = time.time
    for value in values:
        signal = prepare_signal(value, _MAX_BODY).signal
        signer.headers(signal.body, signal_id=signal.signal_id, at=clock())


def measure_pipeline(records: int, rounds: int = 5) -> PipelineResult:
    """Time `rounds` passes over `records` realistic values; the best pass is the result.

    Best-of-N, because on a shared machine the slower rounds measure the neighbours (their
    cache and memory traffic slows even the CPU time).
    """
    values = [record.value for record in bench_records(records, tag="-pipeline")]
    secret = SECRET.encode()
    _process(values[: min(1000, records)], secret)  # warm caches and lazy imports
    rates = []
    for _ in range(rounds):
        started = _cpu()
        _process(values, secret)
        rates.append(records / (_cpu() - started))
    parse_us, canonical_us, sign_us = _stage_costs(values, secret, rounds)
    return PipelineResult(max(rates), tuple(rates), records, parse_us, canonical_us, sign_us)


def _stage_costs(values: list[bytes], secret: bytes, rounds: int) -> tuple[float, float, float]:
    """Best-of-`rounds` microseconds per record of each stage, timed apart."""
    fields = [_common(value) for value in values]
    signals = [prepare_signal(value, _MAX_BODY).signal for value in values]
    signer = _signer(secret)
    best = [float("inf")] * 3
    for _ in range(rounds):
        started = _cpu()
        for value in values:
            common_fields(value)
        parsed = _cpu()
        for one in fields:
            canonical_fields(dict(one))  # a copy: canonical_fields adds the signal_id
        made = _cpu()
        for signal in signals:
            signer.headers(signal.body, signal_id=signal.signal_id, at=time.time())
        signed = _cpu()
        for n, seconds in enumerate((parsed - started, made - parsed, signed - made)):
            best[n] = min(best[n], seconds / len(values) * 1e6)
    return best[0], best[1], best[2]


def _common(value: bytes) -> dict[str, Any]:
    fields = common_fields(value)
    if fields is None:  # the relay's hot path would not be what is measured
        raise RuntimeError("a benchmark record left the common path")
    return fields


def profile_pipeline(records: int, top: int = 12) -> str:
    """A cProfile listing (by own time) of one pass, for the report."""
    values = [record.value for record in bench_records(records, tag="-pipeline")]
    profiler = cProfile.Profile()
    profiler.enable()
    _process(values, SECRET.encode())
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime").print_stats(top)
    return out.getvalue()
