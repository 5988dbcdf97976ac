"""`/metrics` over real HTTP: content negotiation, and the build, process and platform series."""

from __future__ import annotations

import contextlib
import platform
from collections.abc import AsyncIterator, Callable, Iterable, Iterator

import httpx
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics import parser as openmetrics_parser
from prometheus_client.parser import text_string_to_metric_families

from consumer import __version__
from consumer.ops import OpsServer, RelayMetrics

# The OpenMetrics parser is untyped.
openmetrics_families: Callable[[str], Iterator[Metric]] = (
    openmetrics_parser.text_string_to_metric_families
)

# What Prometheus 3 sends when it scrapes.
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0;q=0.5,"
    "application/openmetrics-text;version=0.0.1;q=0.4,"
    "text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
)


@contextlib.asynccontextmanager
async def scraper(metrics: RelayMetrics) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client whose base URL is an OpsServer exposing `metrics`."""
    ops = OpsServer(render_metrics=metrics.render, readiness=lambda: (True, ""))
    port = await ops.start("127.0.0.1", 0)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            yield http
    finally:
        await ops.stop()


async def test_prometheus_text_by_default_with_build_process_and_platform_series() -> None:
    """No OpenMetrics asked for: Prometheus text with build_info, process_* and python_info."""
    async with scraper(RelayMetrics()) as http:
        response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    families = {family.name: family for family in text_string_to_metric_families(response.text)}

    [build] = families["signal_relay_build_info"].samples
    assert build.labels == {"version": __version__, "python": platform.python_version()}
    assert build.value == 1
    for name in ("process_cpu_seconds", "process_resident_memory_bytes", "process_open_fds"):
        assert name in families, f"{name} is not exposed"
    assert families["python_info"].samples[0].labels["implementation"] == "CPython"


async def test_openmetrics_when_the_scraper_asks_for_it() -> None:
    """Prometheus's own Accept header gets OpenMetrics, ending in # EOF, with every series."""
    async with scraper(RelayMetrics()) as http:
        response = await http.get("/metrics", headers={"Accept": PROMETHEUS_ACCEPT})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/openmetrics-text; version=1")
    assert response.text.endswith("# EOF\n")

    families = {family.name for family in openmetrics_families(response.text)}
    for family in RelayMetrics().registry.collect():
        assert family.name in families, f"{family.name} is not exposed"
    assert {"signal_relay_build_info", "process_cpu_seconds", "python_info"} <= families


async def test_the_same_counts_in_either_format() -> None:
    """A counter reads the same value whichever format the scraper chose."""
    metrics = RelayMetrics()
    metrics.delivered.inc(3)
    async with scraper(metrics) as http:
        text = (await http.get("/metrics")).text
        openmetrics = (await http.get("/metrics", headers={"Accept": PROMETHEUS_ACCEPT})).text

    def delivered(families: Iterable[Metric]) -> float:
        [value] = [
            sample.value
            for family in families
            for sample in family.samples
            if sample.name == "signal_relay_outcomes_total"
            and sample.labels["outcome"] == "delivered"
        ]
        return value

    assert delivered(text_string_to_metric_families(text)) == 3
    assert delivered(openmetrics_families(openmetrics)) == 3
