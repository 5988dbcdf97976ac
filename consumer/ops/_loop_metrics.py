"""Metric families updated only from the relay's event-loop thread: plain numbers, no locks.

prometheus_client's Counter, Gauge and Histogram take a lock on every update, through several
Python calls, and a Histogram loops over its buckets in Python; the relay updates some of its
families several times per delivered record. The families here are plain attributes instead,
exposed through one collector (`LoopMetrics`) with the samples prometheus_client writes for
the same family: `_total`, `_bucket` (cumulative, `le` as prometheus_client spells it), `_count`,
`_sum`, and a `_created` timestamp per series, taken when the family or its child is made.

Which threads touch them, and why no lock is needed:

- Updates come only from the thread that runs the relay's event loop (the member's fetch
  loop, the record flow, the HTTP sender; none of them hands an update to an executor). One
  writer loses no update without a lock. A family updated from any other thread must stay on
  prometheus_client.
- Reads do not: the ops endpoint renders on its own worker thread (`ops-metrics`, see
  `consumer/ops/_endpoint.py`), so a scrape may run between two updates. `collect()` copies a
  family's numbers first (`list.copy`, `dict.copy`: one step under the GIL), so a histogram's
  buckets and `_count` are from one instant; its `_sum` may be one observation ahead or behind,
  as prometheus_client's per-bucket locks also allow.

Amounts are not checked (a negative counter increment is not refused) and a NaN observation
lands in the first bucket; the relay observes durations and ages, never NaN.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import ClassVar, TypeVar

from prometheus_client.metrics_core import Metric
from prometheus_client.utils import floatToGoString

# How prometheus_client writes a bound in `le` ("0.005", "1.0", "+Inf"); it is untyped there.
_le_text: Callable[[float], str] = floatToGoString

__all__ = ["LoopCounter", "LoopCounterChild", "LoopGauge", "LoopHistogram", "LoopMetrics"]


class LoopCounterChild:
    """One series of a counter: `value` counts up from 0.

    Attributes:
        value: The count so far.
        created: When the series was made (epoch seconds), for its `_created` sample.
    """

    __slots__ = ("created", "value")

    def __init__(self) -> None:
        self.value: float = 0
        self.created = time.time()

    def inc(self, amount: float = 1) -> None:
        """Add `amount` (1 unless told)."""
        self.value += amount


class LoopCounter:
    """A counter family; with label names, `.labels(*values)` gives its child for those values.

    Children are made on first use and kept: the second `.labels()` call for the same values
    returns the same child. Without label names the family is its own single series (`.inc()`).
    """

    type: ClassVar[str] = "counter"

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str] = ()) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self._children: dict[tuple[str, ...], LoopCounterChild] = {}
        self._single = None if self.labelnames else self._child(())

    def labels(self, *values: str) -> LoopCounterChild:
        """The child for these label values, made on first use."""
        child = self._children.get(values)
        if child is None:
            if len(values) != len(self.labelnames):
                raise ValueError(f"{self.name} takes labels {self.labelnames}, got {values}")
            child = self._child(values)
        return child

    def inc(self, amount: float = 1) -> None:
        """Add `amount` to the family's only series (a family without label names)."""
        if self._single is None:
            raise ValueError(f"{self.name} has labels {self.labelnames}: use .labels() first")
        self._single.value += amount

    def _child(self, values: tuple[str, ...]) -> LoopCounterChild:
        return self._children.setdefault(values, LoopCounterChild())

    def collect(self) -> Metric:
        """The family as prometheus_client's Counter writes it: `_total`, then `_created`."""
        family = Metric(self.name, self.documentation, self.type)
        for values, child in self._children.copy().items():
            labels = dict(zip(self.labelnames, values, strict=True))
            family.add_sample(f"{self.name}_total", labels, child.value)
            family.add_sample(f"{self.name}_created", labels, child.created)
        return family


class LoopGauge:
    """A gauge without labels: `.inc()`, `.dec()`, `.set()`.

    Attributes:
        value: The gauge's value.
    """

    type: ClassVar[str] = "gauge"

    def __init__(self, name: str, documentation: str) -> None:
        self.name = name
        self.documentation = documentation
        self.value: float = 0

    def inc(self, amount: float = 1) -> None:
        """Add `amount` (1 unless told)."""
        self.value += amount

    def dec(self, amount: float = 1) -> None:
        """Subtract `amount` (1 unless told)."""
        self.value -= amount

    def set(self, value: float) -> None:
        """Make the value `value`."""
        self.value = value

    def collect(self) -> Metric:
        """The family as prometheus_client's Gauge writes it: one sample, no `_created`."""
        family = Metric(self.name, self.documentation, self.type)
        family.add_sample(self.name, {}, self.value)
        return family


class LoopHistogram:
    """A histogram without labels; a value equal to a bound counts in that bound's bucket.

    `counts[i]` holds the observations in (bounds[i-1], bounds[i]], not cumulated; the last
    holds those above every bound, which only `+Inf` counts. `collect()` cumulates them.

    Attributes:
        bounds: The finite upper bounds, ascending.
        counts: Observations per bucket, one more than `bounds`.
        sum: The sum of every observation.
        created: When the histogram was made (epoch seconds), for its `_created` sample.
    """

    type: ClassVar[str] = "histogram"

    def __init__(self, name: str, documentation: str, buckets: Iterable[float]) -> None:
        bounds = [float(b) for b in buckets if b != float("inf")]
        if not bounds or bounds != sorted(set(bounds)):
            raise ValueError(f"{name}: buckets must be ascending, distinct and not only +Inf")
        self.name = name
        self.documentation = documentation
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0
        self.created = time.time()
        self._les = [_le_text(bound) for bound in (*bounds, float("inf"))]

    def observe(self, value: float) -> None:
        """Count `value` in the first bucket whose bound is at least `value`."""
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    def collect(self) -> Metric:
        """The family as prometheus_client's Histogram writes it, `_bucket` to `_created`."""
        counts = self.counts.copy()
        total = self.sum
        family = Metric(self.name, self.documentation, self.type)
        cumulative = 0
        for le, count in zip(self._les, counts, strict=True):
            cumulative += count
            family.add_sample(f"{self.name}_bucket", {"le": le}, cumulative)
        family.add_sample(f"{self.name}_count", {}, cumulative)
        family.add_sample(f"{self.name}_sum", {}, total)
        family.add_sample(f"{self.name}_created", {}, self.created)
        return family


_F = TypeVar("_F", "LoopCounter", "LoopGauge", "LoopHistogram")


class LoopMetrics:
    """The one collector that exposes the loop's families, in the order they were added.

    Register it on the registry once its families are added: the registry checks names (no
    family of the same name twice) only when a collector is registered.
    """

    def __init__(self) -> None:
        self._families: list[LoopCounter | LoopGauge | LoopHistogram] = []

    def counter(self, name: str, documentation: str, labelnames: Sequence[str] = ()) -> LoopCounter:
        """A new counter family (`name` without `_total`)."""
        return self._add(LoopCounter(name, documentation, labelnames))

    def gauge(self, name: str, documentation: str) -> LoopGauge:
        """A new gauge without labels."""
        return self._add(LoopGauge(name, documentation))

    def histogram(self, name: str, documentation: str, buckets: Iterable[float]) -> LoopHistogram:
        """A new histogram with these finite bucket bounds (+Inf is always added)."""
        return self._add(LoopHistogram(name, documentation, buckets))

    def collect(self) -> Iterator[Metric]:
        """Every family, each from one copy of its numbers."""
        for family in self._families:
            yield family.collect()

    def describe(self) -> Iterator[Metric]:
        """The families without their samples, for the registry's check of names."""
        for family in self._families:
            yield Metric(family.name, family.documentation, family.type)

    def _add(self, family: _F) -> _F:
        self._families.append(family)
        return family
