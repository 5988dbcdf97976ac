"""The raw HTTP ceiling: signed POSTs from a plain aiohttp loop, no Kafka, no relay.

Run as a child process (`python -m bench.ceiling URL COUNT CONCURRENCY`) so it has a core of
its own, like the relay. Bodies are validated and made canonical before the clock starts; each
request is signed as it leaves, as the relay does. Prints one JSON line of results.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Iterator

import aiohttp
import orjson

from bench.loops import run_fast
from bench.records import SECRET, bench_records
from schemas.record import parse_candidate
from signing.canonical import CanonicalSignal, canonical_body
from signing.signer import RequestSigner

__all__ = ["main", "post_all"]

_PRODUCER_ID = "bench-ceiling"
_PATH = "/api/v1/signals/ingest"


async def post_all(url: str, signals: list[CanonicalSignal], concurrency: int) -> dict[str, float]:
    """POST every signal with `concurrency` workers over one keep-alive pool."""
    signer = RequestSigner(SECRET, producer_id=_PRODUCER_ID, endpoint=_PATH)
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    queue: Iterator[CanonicalSignal] = iter(signals)
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=30)

    async def worker(session: aiohttp.ClientSession) -> None:
        for signal in queue:
            headers = signer.headers(signal.body, signal_id=signal.signal_id, at=time.time())
            sent = time.perf_counter()
            async with session.post(url + _PATH, data=signal.body, headers=headers) as response:
                await response.read()
                statuses[response.status] = statuses.get(response.status, 0) + 1
            latencies.append(time.perf_counter() - sent)

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    latencies.sort()
    return {
        "seconds": seconds,
        "rate": len(signals) / seconds,
        "p50": latencies[len(latencies) // 2],
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "created": statuses.get(201, 0),
    }


def main(argv: list[str]) -> int:
    """`python -m bench.ceiling URL COUNT CONCURRENCY [SEED]`."""
    url, count, concurrency = argv[0], int(argv[1]), int(argv[2])
    seed = int(argv[3]) if len(argv) > 3 else 23
    signals = [
        canonical_body(parse_candidate(record.value))
        for record in bench_records(count, seed=seed, tag=f"-ceiling{seed}")
    ]
    result = run_fast(post_all(url, signals, concurrency))
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
