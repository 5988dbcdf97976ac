"""What arrived at the receiver: accepted signals, deliveries and answers, safe across threads."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = ["AcceptedSignal", "Ledger"]


@dataclass(frozen=True, slots=True)
class AcceptedSignal:
    """One signal the receiver accepted, as it first arrived.

    Attributes:
        sequence: 1-based position in acceptance order.
        signal_id: The body's `signal_id`.
        instrument: The body's `instrument`.
        idempotency_key: The `X-Idempotency-Key` header; repeats of it are replays.
        producer_id: The authenticated `X-Producer-Id`.
        body: The exact request body bytes.
        headers: The request headers, names lower-cased.
        response: The original 201 body, sent again for every replay.
    """

    sequence: int
    signal_id: str
    instrument: str
    idempotency_key: str
    producer_id: str
    body: bytes
    headers: Mapping[str, str]
    response: bytes


class Ledger:
    """Thread-safe record of ingest traffic, with a condition notified on every request.

    The server's event loop writes; tests, the demo and the benchmark read and wait with
    `wait_until`. Each request is recorded before its answer is sent, so a client that has
    seen an answer (or a dropped connection) finds the ledger already updated.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._accepted: list[AcceptedSignal] = []
        self._by_key: dict[str, AcceptedSignal] = {}
        self._deliveries: Counter[str] = Counter()
        self._statuses: Counter[int] = Counter()
        self._dropped = 0

    @property
    def accepted(self) -> tuple[AcceptedSignal, ...]:
        """Accepted signals, one per idempotency key, in acceptance order."""
        with self._changed:
            return tuple(self._accepted)

    @property
    def accepted_count(self) -> int:
        """How many distinct signals were accepted."""
        with self._changed:
            return len(self._accepted)

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
        """How many requests for this signal passed verification.

        Replays, dropped connections and injected statuses count; requests failed by
        `error_rate` or `throttle_rate` are answered before verification and do not.
        """
        with self._changed:
            return self._deliveries[signal_id]

    def delivery_counts(self) -> dict[str, int]:
        """`deliveries` of every signal_id seen."""
        with self._changed:
            return dict(self._deliveries)

    def get(self, idempotency_key: str) -> AcceptedSignal | None:
        """The signal accepted under this idempotency key (the relay uses the signal_id), if any."""
        with self._changed:
            return self._by_key.get(idempotency_key)

    def wait_until(self, predicate: Callable[[Ledger], bool], timeout: float) -> bool:
        """Block until `predicate(self)` holds, re-checked after every request; False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self), timeout)

    def clear(self) -> None:
        """Forget everything recorded so far, replay memory included."""
        with self._changed:
            self._accepted.clear()
            self._by_key.clear()
            self._deliveries.clear()
            self._statuses.clear()
            self._dropped = 0
            self._changed.notify_all()

    def summary(self, *, detail: bool = False) -> dict[str, object]:
        """JSON-ready counts; with `detail`, also deliveries per signal and the accepted list."""
        with self._changed:
            summary: dict[str, object] = {
                "accepted": len(self._accepted),
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
                    for entry in self._accepted
                ]
            return summary

    def record_delivery(self, signal_id: str) -> None:
        """Count one validly signed request for `signal_id`."""
        with self._changed:
            self._deliveries[signal_id] += 1

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
    ) -> tuple[AcceptedSignal, bool]:
        """Accept a signal unless its key was seen; returns the entry and whether it is a replay."""
        with self._changed:
            existing = self._by_key.get(idempotency_key)
            if existing is not None:
                return existing, True
            entry = AcceptedSignal(
                sequence=len(self._accepted) + 1,
                signal_id=signal_id,
                instrument=instrument,
                idempotency_key=idempotency_key,
                producer_id=producer_id,
                body=body,
                headers=headers,
                response=response,
            )
            self._accepted.append(entry)
            self._by_key[idempotency_key] = entry
            return entry, False

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
