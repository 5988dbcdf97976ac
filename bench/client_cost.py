"""What one signed request costs each client: the relay's sender against `HmacClient`.

Every variant does the same work per signal: validate the raw record, make its canonical body,
sign it, POST it and read the answer (a 201 with a SignalIngestResponse body) from a minimal
HTTP/1.1 server in a process of its own (`python -m bench.client_cost serve PORT`). Each
variant runs in a process of its own too (`python -m bench.client_cost client URL VARIANT
COUNT CONCURRENCY`) and reports requests per second and its own CPU per request:

- `relay-aiohttp`: `prepare_signal` + the relay's `HttpSender` on aiohttp (its default);
- `relay-httpx`: the same with `OUTBOUND_HTTP_TRANSPORT=httpx`;
- `hmacclient-httpx`: `HmacClient.post_signal` on httpx's own transport (the library default);
- `hmacclient-httpx-aiohttp`: `HmacClient.post_signal` on `httpx_aiohttp.AiohttpTransport`.

`python -m bench.client_cost` runs this step alone and rewrites its section of RESULTS.md;
`python -m bench` runs it with the rest. On a loaded machine, read the ratios, not the µs.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from bench.http_clients import serve_answers
from bench.loops import run_fast
from bench.machine import load_average
from bench.processes import (
    BenchError,
    free_port,
    listening,
    run_child,
    start_process,
    stop_process,
    wait_for,
)

__all__ = [
    "SECTION_TITLE",
    "VARIANTS",
    "RequestCost",
    "measure_client_cost",
    "render_client_cost",
    "with_client_cost",
]

SECTION_TITLE = "## Client library: CPU per signed request"
VARIANTS = {
    "relay-aiohttp": "the relay: `prepare_signal` + `HttpSender` on aiohttp (default)",
    "relay-httpx": "the relay with `OUTBOUND_HTTP_TRANSPORT=httpx`",
    "hmacclient-httpx": "`HmacClient.post_signal` on httpx's own transport (library default)",
    "hmacclient-httpx-aiohttp": "`HmacClient.post_signal` on `httpx_aiohttp.AiohttpTransport`",
}
"""Each variant and how the report names it."""

_SECRET = "bench-client-cost-secret-0123456789"
_CONCURRENCY = 64
_FULL_COUNT = 5_000
_QUICK_COUNT = 1_000
_WARM_UP = 300
_ANSWER_BODY = orjson.dumps(
    {
        "signal_id": "eae0d2c1-1c33-4464-873d-212ba950666d",
        "status": "received",
        "server_timestamp": "2026-11-28T03:00:00.000Z",
    }
)
_ANSWER = (
    b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
    % (len(_ANSWER_BODY), _ANSWER_BODY)
)
_HERE = Path(__file__).resolve().parent


@dataclass(frozen=True, slots=True)
class RequestCost:
    """One variant's run.

    Attributes:
        variant: which client (see `VARIANTS`).
        concurrency: requests in flight.
        requests_per_second: completed requests per wall-clock second.
        cpu_us: the client process's CPU microseconds per signed request.
    """

    variant: str
    concurrency: int
    requests_per_second: float
    cpu_us: float


async def measure_client_cost(
    logs: Path, count: int, concurrency: int = _CONCURRENCY, port: int | None = None
) -> tuple[RequestCost, ...]:
    """Each variant's cost for `count` signed requests at `concurrency`, one after another."""
    port = free_port() if port is None else port
    log = logs / "client-cost.log"
    server = await start_process(
        [sys.executable, "-m", "bench.client_cost", "serve", str(port)], {}, log
    )
    try:
        await wait_for(lambda: listening(port), 15, "the client cost benchmark's server")
        costs = []
        for variant in VARIANTS:
            args = ["client", f"http://127.0.0.1:{port}", variant, str(count), str(concurrency)]
            result = await run_child("bench.client_cost", args, log)
            costs.append(RequestCost(variant, concurrency, result["rate"], result["cpu_us"]))
        return tuple(costs)
    finally:
        if await stop_process(server) not in (0, -15):
            raise BenchError(f"the client cost benchmark's server failed; see {log}")


def render_client_cost(costs: Sequence[RequestCost], *, load: float | None = None) -> str:
    """The RESULTS.md section: one row per variant, with its CPU relative to the relay's."""
    base = next((c.cpu_us for c in costs if c.variant == "relay-aiohttp"), None)
    lines = [
        SECTION_TITLE,
        "",
        "Validate + canonical body + sign + POST + read the 201, per signal, measured in the",
        f"client's own process ({costs[0].concurrency if costs else 0} in flight, a minimal"
        " loopback server;",
        "`python -m bench.client_cost`)."
        + (f" Load average at the start: {load:.2f}." if load is not None else ""),
        "",
        "| client | CPU µs / request | relative to the relay | requests/s |",
        "|---|---:|---:|---:|",
    ]
    for cost in costs:
        ratio = f"{cost.cpu_us / base:.2f}" if base else "-"
        lines.append(
            f"| {VARIANTS[cost.variant]} | {cost.cpu_us:,.0f} | {ratio} |"
            f" {cost.requests_per_second:,.0f} |"
        )
    return "\n".join(lines) + "\n"


def with_client_cost(markdown: str, section: str) -> str:
    """`markdown` with `section` in place of its old one, else before `## Machine`, else last."""
    start = markdown.find(SECTION_TITLE)
    if start >= 0:
        end = markdown.find("\n## ", start + len(SECTION_TITLE))
        tail = markdown[end + 1 :] if end >= 0 else ""
        return markdown[:start] + section + ("\n" + tail if tail else "")
    machine = markdown.find("## Machine")
    if machine >= 0:
        return markdown[:machine] + section + "\n" + markdown[machine:]
    return markdown.rstrip("\n") + "\n\n" + section


def _records(count: int) -> list[bytes]:
    """Distinct raw records, each a valid signal."""
    return [
        orjson.dumps(
            {
                "instrument": f"SYM{i % 50:03d}/USD",
                "side": "buy",
                "entry_price": "100.25",
                "stop_loss": "99.5",
                "confidence": "0.8",
                "note": f"client-cost {i}",
            }
        )
        for i in range(count)
    ]


async def _sender(
    variant: str, url: str, concurrency: int
) -> tuple[Callable[[bytes], Awaitable[None]], Callable[[], Awaitable[None]]]:
    """A function that signs and posts one raw record, and one that closes the client."""
    if variant.startswith("relay-"):
        return _relay_sender(variant.removeprefix("relay-"), url, concurrency)
    import httpx
    from httpx_aiohttp import AiohttpTransport

    from signing import HmacClient, OutboundConfig

    config = OutboundConfig(producer_id="bench", producer_secret=_SECRET, server_base_url=url)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    if variant == "hmacclient-httpx":
        transport: httpx.AsyncBaseTransport = httpx.AsyncHTTPTransport(limits=limits)
    elif variant == "hmacclient-httpx-aiohttp":
        transport = AiohttpTransport(limits=limits)
    else:
        raise ValueError(f"unknown variant {variant!r}")
    client = HmacClient(config, transport=transport)

    async def post(raw: bytes) -> None:
        await client.post_signal(raw)

    return post, client.close


def _relay_sender(
    transport: str, url: str, concurrency: int
) -> tuple[Callable[[bytes], Awaitable[None]], Callable[[], Awaitable[None]]]:
    from consumer.adapters import HttpSender, build_http_client
    from consumer.config import load_settings
    from consumer.ops import RelayMetrics
    from consumer.service import prepare_signal

    settings = load_settings(
        {
            "PRODUCER_ID": "bench",
            "HMAC_PRODUCER_SECRET": _SECRET,
            "OUTBOUND_SERVER_URL": url,
            "OUTBOUND_HTTP_TRANSPORT": transport,
            "RELAY_MAX_IN_FLIGHT": str(concurrency),
        }
    )
    client = build_http_client(settings)
    sender = HttpSender(settings, client, RelayMetrics())
    limit = settings.max_body_size

    async def post(raw: bytes) -> None:
        result = await sender.send(prepare_signal(raw, limit).signal)
        if result.status != 201:
            raise RuntimeError(f"relay-{transport}: {result.status} {result.error}")

    return post, client.aclose


async def _measure(variant: str, url: str, count: int, concurrency: int) -> dict[str, float]:
    post, close = await _sender(variant, url, concurrency)
    slots = asyncio.Semaphore(concurrency)
    records = _records(_WARM_UP + count)

    async def one(raw: bytes) -> None:
        async with slots:
            await post(raw)

    try:
        await asyncio.gather(*(one(raw) for raw in records[:_WARM_UP]))
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(one(raw) for raw in records[_WARM_UP:]))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        await close()
    return {"rate": count / wall, "cpu_us": cpu / count * 1e6}


async def _alone(count: int) -> str:
    load = load_average()[0]
    logs = Path(tempfile.mkdtemp(prefix="signal-relay-client-cost-"))
    return render_client_cost(await measure_client_cost(logs, count), load=load)


def _rewrite_results(output: Path, section: str) -> None:
    """Put `section` into `output/RESULTS.md`, keeping every other section as it is."""
    output.mkdir(parents=True, exist_ok=True)
    results = output / "RESULTS.md"
    previous = results.read_text() if results.exists() else "# signal-relay benchmark results\n"
    results.write_text(with_client_cost(previous, section))


def main(argv: Sequence[str]) -> int:
    """`serve PORT`, `client URL VARIANT COUNT CONCURRENCY`, or (no command) this step alone."""
    if argv and argv[0] == "serve":
        run_fast(serve_answers(int(argv[1]), _ANSWER))
        return 0
    if argv and argv[0] == "client":
        url, variant, count, concurrency = argv[1], argv[2], int(argv[3]), int(argv[4])
        result = run_fast(_measure(variant, url, count, concurrency))
        sys.stdout.write(orjson.dumps(result).decode() + "\n")
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench.client_cost", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer requests per variant")
    parser.add_argument("--output", type=Path, default=_HERE, help="directory of RESULTS.md")
    args = parser.parse_args(argv)
    count = _QUICK_COUNT if args.quick else _FULL_COUNT
    section = asyncio.run(_alone(count))
    _rewrite_results(args.output, section)
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
