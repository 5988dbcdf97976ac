"""The relay's CPU per delivered signal against plain aiohttp's CPU per signal-sized POST.

Both send to the same minimal server (`bench.answerer`, its own process) with as many
requests in flight as the relay keeps by default:

- the floor: `python -m bench.cpu_per_signal floor URL COUNT CONCURRENCY`, plain aiohttp
  `ClientSession.post` of signed signal bodies (made and signed before the clock starts), its
  own CPU time per request after a warm-up;
- the relay: `signal-relay run` draining a backlog to that server, its process CPU time (all
  threads) from the first 201 the server counts to the last, over the signals answered in
  between (start-up, the group join and the first fetch are not per-signal costs).

Floor and relay runs interleave `repeats` times and the lowest of each is kept: other load on
a shared machine only ever adds.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import aiohttp
import orjson

from bench.answerer import run
from bench.children import (
    Answerer,
    BenchError,
    child,
    relay_env,
    running_relay,
)
from bench.records import SECRET, bench_records, load_backlog
from consumer.service import prepare_signal
from signing.signer import RequestSigner

__all__ = ["measure_cpu_per_signal"]

_PATH = "/api/v1/signals/ingest"
_WARM_UP = 500
_DRAIN_SECONDS = 300.0
_POLL_SECONDS = 0.02


async def measure_cpu_per_signal(
    bootstrap: str,
    answerer: Answerer,
    logs: Path,
    *,
    backlog: int,
    requests: int,
    repeats: int,
    concurrency: int,
) -> tuple[float, float]:
    """(relay, floor) CPU microseconds per signal, lowest of `repeats` interleaved runs each."""
    relay, floor = [], []
    for _ in range(repeats):
        floor.append(await _floor(answerer, logs, requests, concurrency))
        relay.append(await _relay(bootstrap, answerer, logs, backlog))
    return min(relay), min(floor)


async def _floor(answerer: Answerer, logs: Path, requests: int, concurrency: int) -> float:
    url = answerer.url + _PATH
    command = [sys.executable, "-m", "bench.cpu_per_signal", "floor", url]
    command += [str(requests), str(concurrency)]
    log = logs / "cpu-floor.log"
    async with child(command, log) as process:
        code = await process.wait()
    if code != 0:
        raise BenchError(f"the aiohttp floor exited with {code}; see {log}")
    return float(log.read_text().split()[-1])


async def _relay(bootstrap: str, answerer: Answerer, logs: Path, count: int) -> float:
    records = await load_backlog(bootstrap, count)
    await answerer.clear()
    env = relay_env(bootstrap, records.topic, answerer.url)
    async with running_relay(env, logs / "cpu-relay.log") as relay:
        first: tuple[int, float] | None = None
        deadline = time.monotonic() + _DRAIN_SECONDS
        while True:
            answered, cpu = await answerer.posts(), relay.cpu_seconds()
            if first is None and answered > 0:
                first = (answered, cpu)
            if first is not None and answered >= count:
                break
            if time.monotonic() > deadline:
                raise BenchError(f"the relay delivered {answered} of {count} in time")
            await asyncio.sleep(_POLL_SECONDS)
    signals = answered - first[0]
    if signals <= 0:
        raise BenchError("the relay drained within one poll; give it a larger backlog")
    return (cpu - first[1]) / signals * 1e6


async def _post_all(url: str, count: int, concurrency: int) -> float:
    """Client CPU microseconds per POST of `count` signed bodies, `concurrency` in flight."""
    signer = RequestSigner(SECRET, producer_id="bench-floor", endpoint=_PATH)
    posts = []
    for _, signal in bench_records(_WARM_UP + count, tag="-floor"):
        prepared = prepare_signal(orjson.dumps(signal), 65536).signal
        headers = signer.headers(prepared.body, signal_id=prepared.signal_id, at=time.time())
        posts.append((prepared.body, headers))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker(share: list[tuple[bytes, dict[str, str]]]) -> None:
            # One worker per request in flight: no task or semaphore per request, whose cost
            # would be counted as the client's.
            for body, headers in share:
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    if response.status != 201:
                        raise BenchError(f"the floor got HTTP {response.status}")

        async def all_of(batch: list[tuple[bytes, dict[str, str]]]) -> None:
            await asyncio.gather(*(worker(batch[n::concurrency]) for n in range(concurrency)))

        await all_of(posts[:_WARM_UP])
        started = time.process_time()
        await all_of(posts[_WARM_UP:])
        return (time.process_time() - started) / count * 1e6


def main(argv: list[str]) -> int:
    """`python -m bench.cpu_per_signal floor URL COUNT CONCURRENCY`: prints CPU us per POST."""
    if argv[:1] != ["floor"]:
        print(main.__doc__, file=sys.stderr)
        return 2
    print(run(_post_all(argv[1], int(argv[2]), int(argv[3]))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
