"""What arrived at the receiver: accepted signals, deliveries and answers, safe across threads.

Memory is bounded: full entries (body, headers) are kept for the most recent `capacity`
acceptances only; the idempotency store keeps, per key, just the original 201 body, for at most
`idempotency_ttl_seconds` and `idempotency_capacity` keys; per-signal delivery counts are kept
for the `idempotency_capacity` most recently first-seen signal ids. Totals are exact.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from signing.receiver.config import (
    DEFAULT_IDEMPOTENCY_CAPACITY,
    DEFAULT_IDEMPOTENCY_TTL_SECONDS,
    DEFAULT_LEDGER_CAPACITY,
)

__all__ = ["AcceptedSignal", "Ledger"]


@dataclass(frozen=True, slots=True)
class AcceptedSignal:
    """One signal the receiver accepted, as it arrived (kept for the most recent acceptances).

    Attributes:
        sequence: 1-based position in acceptance order (equal to `accepted_count` just after).
        signal_id: The body's `signal_id`.
        instrument: The body's `instrument`.
        idempotency_key: The `X-Idempotency-Key` header; repeats of it are replays.
        producer_id: The authenticated `X-Producer-Id`.
        body: The exact request body bytes.
        headers: The request headers, names lower-cased.
        response: The original 201 body, sent again for every replay.
        received_at: The ledger's clock (epoch seconds) when it was accepted.
    """

    sequence: int
    signal_id: str
    instrument: str
    idempotency_key: str
    producer_id: str
    body: bytes
    headers: Mapping[str, str]
    response: bytes
    received_at: float = 0.0


class Ledger:
    """Thread-safe, bounded record of ingest traffic, with a condition notified on every request.

    The server's event loop writes; tests, the demo and the benchmark read and wait with
    `wait_until`. Each request is recorded before its answer is sent, so a client that has
    seen an answer (or a dropped connection) finds the ledger already updated.

    Args:
        capacity: How many accepted signals are kept in full (`accepted`, `get`).
        idempotency_capacity: How many idempotency keys (and per-signal delivery counts) are
            remembered; when full, the oldest is forgotten.
        idempotency_ttl_seconds: How long after its acceptance a key is remembered.
        clock: Seconds since the epoch; the receiver passes its own (injectable) clock.

    A key forgotten (expired or evicted) is new again: a repeat of it is accepted a second time
    and counted in `accepted_count` again.
    """

    def __init__(
        self,
        *,
        capacity: int = DEFAULT_LEDGER_CAPACITY,
        idempotency_capacity: int = DEFAULT_IDEMPOTENCY_CAPACITY,
        idempotency_ttl_seconds: float = DEFAULT_IDEMPOTENCY_TTL_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if capacity < 1 or idempotency_capacity < 1:
            raise ValueError("capacity and idempotency_capacity must be at least 1")
        if not idempotency_ttl_seconds > 0:
            raise ValueError("idempotency_ttl_seconds must be > 0")
        self._capacity = capacity
        self._key_capacity = idempotency_capacity
        self._key_ttl = float(idempotency_ttl_seconds)
        self._clock = clock
        self._changed = threading.Condition()
        self._recent: deque[AcceptedSignal] = deque()
        self._by_key: dict[str, AcceptedSignal] = {}
        # Idempotency store: key -> (expires_at, original 201 body), oldest acceptance first.
        self._keys: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._deliveries: OrderedDict[str, int] = OrderedDict()
        self._accepted_count = 0
        self._statuses: Counter[int] = Counter()
        self._dropped = 0

    @property
    def capacity(self) -> int:
        """How many accepted signals are kept in full."""
        return self._capacity

    @property
    def accepted(self) -> tuple[AcceptedSignal, ...]:
        """The most recent `capacity` accepted signals, in acceptance order.

        One per acceptance: a key accepted again after the idempotency store forgot it
        appears once per acceptance.
        """
        with self._changed:
            return tuple(self._recent)

    @property
    def accepted_count(self) -> int:
        """How many signals were accepted (first acceptances, not idempotent replays); exact."""
        with self._changed:
            return self._accepted_count

    @property
    def remembered_keys(self) -> int:
        """How many idempotency keys the store holds now (expired ones are purged first)."""
        with self._changed:
            self._expire_keys(self._clock())
            return len(self._keys)

    @property
    def status_counts(self) -> dict[int, int]:
        """Answers sent, by HTTP status; dropped connections are counted in `dropped` instead."""
        with self._changed:
            return dict(self._statuses)

    @property
    def dropped(self) -> int:
        """Accepted requests whose connection was dropped on purpose before the answer."""
        with self._changed:
            return self._dropped

    @property
    def requests(self) -> int:
        """Every ingest request handled so far, answered or dropped."""
        with self._changed:
            return self._statuses.total() + self._dropped

    def count(self, status: int) -> int:
        """How many answers with this HTTP status were sent."""
        with self._changed:
            return self._statuses[status]

    def deliveries(self, signal_id: str) -> int:
        """How many requests for this signal passed verification (0 once it is forgotten).

        Replays, dropped connections and injected statuses count; requests failed by
        `error_rate` or `throttle_rate` are answered before verification and do not, nor are
        requests refused because the replay cache is full. Counts are kept for the
        `idempotency_capacity` most recently first-seen signal ids.
        """
        with self._changed:
            return self._deliveries.get(signal_id, 0)

    def delivery_counts(self) -> dict[str, int]:
        """`deliveries` of every signal_id still counted, oldest first seen first."""
        with self._changed:
            return dict(self._deliveries)

    def get(self, idempotency_key: str) -> AcceptedSignal | None:
        """The latest signal accepted under this key (the relay uses the signal_id), if kept."""
        with self._changed:
            return self._by_key.get(idempotency_key)

    def wait_until(self, predicate: Callable[[Ledger], bool], timeout: float) -> bool:
        """Block until `predicate(self)` holds, re-checked after every request; False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self), timeout)

    def clear(self) -> None:
        """Forget everything recorded so far, the idempotency store included."""
        with self._changed:
            self._recent.clear()
            self._by_key.clear()
            self._keys.clear()
            self._deliveries.clear()
            self._accepted_count = 0
            self._statuses.clear()
            self._dropped = 0
            self._changed.notify_all()

    def summary(self, *, detail: bool = False) -> dict[str, object]:
        """JSON-ready counts; with `detail`, also the deliveries and accepted signals still kept."""
        with self._changed:
            summary: dict[str, object] = {
                "accepted": self._accepted_count,
                "dropped": self._dropped,
                "requests": self._statuses.total() + self._dropped,
                "statuses": {str(status): n for status, n in sorted(self._statuses.items())},
            }
            if detail:
                summary["deliveries"] = dict(self._deliveries)
                summary["signals"] = [
                    {
                        "sequence": entry.sequence,
                        "signal_id": entry.signal_id,
                        "instrument": entry.instrument,
                    }
                    for entry in self._recent
                ]
            return summary

    def record_delivery(self, signal_id: str) -> None:
        """Count one validly signed request for `signal_id`."""
        with self._changed:
            deliveries = self._deliveries
            seen = deliveries.get(signal_id)
            if seen is not None:
                deliveries[signal_id] = seen + 1
                return
            if len(deliveries) >= self._key_capacity:
                deliveries.popitem(last=False)
            deliveries[signal_id] = 1

    def accept(
        self,
        *,
        signal_id: str,
        instrument: str,
        idempotency_key: str,
        producer_id: str,
        body: bytes,
        headers: Mapping[str, str],
        response: bytes,
    ) -> tuple[bytes, bool]:
        """Accept a signal unless its key is remembered.

        Returns the 201 body to send (the original one for a remembered key) and whether it
        is a replay. A new acceptance is kept in full and its key remembered, evicting the
        oldest full entry and the oldest key when they are at capacity.
        """
        with self._changed:
            now = self._clock()
            self._expire_keys(now)
            remembered = self._keys.get(idempotency_key)
            if remembered is not None:
                return remembered[1], True
            self._accepted_count += 1
            entry = AcceptedSignal(
                sequence=self._accepted_count,
                signal_id=signal_id,
                instrument=instrument,
                idempotency_key=idempotency_key,
                producer_id=producer_id,
                body=body,
                headers=headers,
                response=response,
                received_at=now,
            )
            self._keep(entry)
            if len(self._keys) >= self._key_capacity:
                self._keys.popitem(last=False)
            self._keys[idempotency_key] = (now + self._key_ttl, response)
            return response, False

    def record_answer(self, status: int) -> None:
        """Count one answer about to be sent and wake the waiters."""
        with self._changed:
            self._statuses[status] += 1
            self._changed.notify_all()

    def record_drop(self) -> None:
        """Count one connection about to be dropped and wake the waiters."""
        with self._changed:
            self._dropped += 1
            self._changed.notify_all()

    def _keep(self, entry: AcceptedSignal) -> None:
        self._recent.append(entry)
        self._by_key[entry.idempotency_key] = entry
        if len(self._recent) > self._capacity:
            oldest = self._recent.popleft()
            if self._by_key.get(oldest.idempotency_key) is oldest:
                del self._by_key[oldest.idempotency_key]

    def _expire_keys(self, now: float) -> None:
        # Keys are inserted in acceptance order with one lifetime, so the oldest expires first.
        keys = self._keys
        while keys:
            key, (expires_at, _) = next(iter(keys.items()))
            if expires_at > now:
                return
            del keys[key]
