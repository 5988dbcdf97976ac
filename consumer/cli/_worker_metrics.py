"""The supervisor's `/metrics`: every worker's series, each labelled with its `worker`.

Worker i serves its own ops port (`RELAY_METRICS_PORT` + 1 + i); a scrape of the supervisor's
port reads them all and merges them family by family, adding `worker="<i>"` to each sample.
A worker that does not answer within `_SCRAPE_SECONDS` (restarting, say) is left out of that
scrape and counted in `signal_relay_worker_up{worker}` = 0. Rendering runs on the ops
server's own thread (`consumer/ops/_endpoint.py`), so the blocking reads hold no event loop.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from consumer.ops._metrics import Exposition

__all__ = ["WorkerMetrics"]

_SCRAPE_SECONDS = 2.0
_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class WorkerMetrics:
    """Renders the merged metrics of workers listening on `host`:`ports[i]`."""

    def __init__(self, host: str, ports: list[int]) -> None:
        self._urls = [f"http://{_url_host(host)}:{port}/metrics" for port in ports]

    def render(self, accept: str = "") -> Exposition:
        """The merged exposition (always the Prometheus text format)."""
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Merged(self._scrape()))
        return Exposition(generate_latest(registry), _CONTENT_TYPE)

    def _scrape(self) -> list[str | None]:
        texts: list[str | None] = []
        for url in self._urls:
            try:
                with urllib.request.urlopen(url, timeout=_SCRAPE_SECONDS) as answer:  # noqa: S310
                    texts.append(answer.read().decode("utf-8"))
            except (OSError, ValueError):
                texts.append(None)
        return texts


class _Merged:
    def __init__(self, texts: list[str | None]) -> None:
        self._texts = texts

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "signal_relay_worker_up", "1 when the worker answered this scrape.", labels=["worker"]
        )
        families: dict[str, Metric] = {}
        for index, text in enumerate(self._texts):
            up.add_metric([str(index)], 0 if text is None else 1)
            for family in text_string_to_metric_families(text or ""):
                merged = families.setdefault(
                    family.name,
                    Metric(family.name, family.documentation, family.type, family.unit),
                )
                merged.samples.extend(
                    Sample(s.name, {**s.labels, "worker": str(index)}, s.value, s.timestamp)
                    for s in family.samples
                )
        yield up
        yield from families.values()


def _url_host(host: str) -> str:
    if host in ("", "0.0.0.0"):  # noqa: S104 - listening everywhere: scrape on loopback
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host
