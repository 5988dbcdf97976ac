"""The raw decoder under read_committed: aborted transactions and markers are never records.

Tansu has no transactions, so the batches here are built by hand (tests/raw_records.py) as a
Kafka broker stores them. `decode_raw` answers only when a batch aiokafka cannot decode is met
(else aiokafka's own fetcher reads the partition), so every fetched range here ends with one
such batch (a non-UTF-8 header key) at `end`: what comes back before it is what was delivered.
"""

from aiokafka import TopicPartition
from hypothesis import given
from hypothesis import strategies as st
from raw_records import (
    ABORT,
    BAD_HEADER_KEY,
    COMMIT,
    at_offset,
    batch_with_header_key,
    control_batch,
    v2_batch_at,
)

from consumer.adapters import UndecodableRecord, decode_raw
from consumer.adapters._aiokafka_private import RawFetch

TP = TopicPartition("t", 0)
P, Q = 7001, 7002
KEY = b"EURUSD"


def _data(base: int, producer_id: int, *values: bytes) -> bytes:
    """A transactional batch of `producer_id` at `base`."""
    records: list[tuple[bytes | None, bytes | None]] = [(KEY, v) for v in values]
    return v2_batch_at(base, records, producer_id=producer_id, transactional=True)


def _plain(base: int, *values: bytes) -> bytes:
    records: list[tuple[bytes | None, bytes | None]] = [(KEY, v) for v in values]
    return v2_batch_at(base, records)


def _delivered(
    batches: list[bytes],
    aborted: tuple[tuple[int, int], ...],
    end: int,
    *,
    start: int = 0,
    read_committed: bool = True,
) -> list[tuple[int, bytes | None]]:
    """(offset, value) of the records `decode_raw` gives before the undecodable batch at `end`."""
    stop = at_offset(batch_with_header_key(KEY, b"stop", BAD_HEADER_KEY), end)
    fetched = RawFetch(b"".join(batches) + stop, aborted)
    decoded = decode_raw(TP, fetched, start, read_committed=read_committed)
    assert decoded is not None
    assert decoded.next_offset == end + 1
    *records, last = decoded.records
    assert isinstance(last, UndecodableRecord)
    assert last.offset == end
    assert not any(isinstance(r, UndecodableRecord) for r in records), records
    return [(r.offset, r.value) for r in records]


def test_an_aborted_transaction_is_skipped_up_to_its_abort_marker() -> None:
    """Batches of P inside an aborted range are skipped; the ABORT marker is no record."""
    batches = [_data(0, P, b"a0", b"a1"), _data(2, P, b"a2"), control_batch(3, P, ABORT)]
    assert _delivered(batches, ((P, 0),), end=4) == []


def test_a_transaction_of_the_same_producer_after_an_abort_marker_is_delivered() -> None:
    """The ABORT marker ends P's aborted range: P's next (committed) transaction comes back."""
    batches = [
        _data(0, P, b"aborted"),
        control_batch(1, P, ABORT),
        _data(2, P, b"committed"),
        control_batch(3, P, COMMIT),
    ]
    assert _delivered(batches, ((P, 0),), end=4) == [(2, b"committed")]


def test_committed_and_plain_batches_around_another_producers_abort_are_delivered() -> None:
    """Q aborts while P commits between plain batches: everything but Q's batch comes back."""
    batches = [
        _plain(0, b"x"),
        _data(1, P, b"p1"),
        _data(2, Q, b"q1"),
        _data(3, P, b"p2"),
        control_batch(4, P, COMMIT),
        control_batch(5, Q, ABORT),
        _plain(6, b"y"),
    ]
    delivered = _delivered(batches, ((Q, 2),), end=7)
    assert delivered == [(0, b"x"), (1, b"p1"), (3, b"p2"), (6, b"y")]


def test_an_aborted_range_that_began_before_the_fetch_start_is_still_skipped() -> None:
    """A fetch starting inside an aborted transaction (listed from before it) skips its rest."""
    batches = [_data(0, P, b"a0"), _data(1, P, b"a1"), control_batch(2, P, ABORT), _plain(3, b"z")]
    assert _delivered(batches[1:], ((P, 0),), end=4, start=1) == [(3, b"z")]


def test_control_batches_never_come_back_as_records() -> None:
    """COMMIT and ABORT markers are no records, under either isolation level."""
    batches = [
        _data(0, P, b"p"),
        control_batch(1, P, COMMIT),
        control_batch(2, Q, ABORT),
        _plain(3, b"x"),
    ]
    for read_committed in (True, False):
        delivered = _delivered(batches, (), end=4, read_committed=read_committed)
        assert delivered == [(0, b"p"), (3, b"x")]


def test_read_uncommitted_delivers_aborted_batches() -> None:
    """Under read_uncommitted (Kafka's semantics) an aborted transaction's records come back."""
    batches = [_data(0, P, b"a0", b"a1"), control_batch(2, P, ABORT), _plain(3, b"x")]
    delivered = _delivered(batches, ((P, 0),), end=4, read_committed=False)
    assert delivered == [(0, b"a0"), (1, b"a1"), (3, b"x")]


# -- generated logs ---------------------------------------------------------------------------

_PRODUCERS = (P, Q, 7003)


class _Log:
    """A partition's log as a broker writes it, and what each isolation level must read."""

    def __init__(self) -> None:
        self.batches: list[bytes] = []
        self.aborted: list[tuple[int, int]] = []
        self.committed: set[int] = set()  # offsets visible under read_committed
        self.written: set[int] = set()  # offsets of every data record
        self.open: dict[int, tuple[int, list[int]]] = {}  # producer -> (first offset, offsets)
        self.end = 0
        self.steps: list[str] = []

    def __repr__(self) -> str:
        return f"_Log({', '.join(self.steps)}; aborted={self.aborted})"

    def data(self, producer: int | None, count: int) -> None:
        offsets = list(range(self.end, self.end + count))
        values = [b"%d" % offset for offset in offsets]
        if producer is None:
            self.batches.append(_plain(self.end, *values))
            self.committed.update(offsets)
        else:
            self.batches.append(_data(self.end, producer, *values))
            _, pending = self.open.setdefault(producer, (self.end, []))
            pending.extend(offsets)
        self.written.update(offsets)
        self.steps.append(f"{producer or 'plain'}@{self.end}x{count}")
        self.end += count

    def finish(self, producer: int, marker: int) -> None:
        first, pending = self.open.pop(producer)
        self.batches.append(control_batch(self.end, producer, marker))
        if marker == COMMIT:
            self.committed.update(pending)
        else:
            self.aborted.append((producer, first))
        self.steps.append(f"{'COMMIT' if marker == COMMIT else 'ABORT'} {producer}@{self.end}")
        self.end += 1


@st.composite
def _logs(draw: st.DrawFn) -> _Log:
    log = _Log()
    for _ in range(draw(st.integers(1, 30))):
        producer = draw(st.sampled_from((None, *_PRODUCERS)))
        if producer is not None and producer in log.open and draw(st.booleans()):
            log.finish(producer, draw(st.sampled_from((ABORT, COMMIT))))
        else:
            log.data(producer, draw(st.integers(1, 3)))
    for producer in list(log.open):  # a fetch under read_committed ends at the stable offset
        log.finish(producer, draw(st.sampled_from((ABORT, COMMIT))))
    log.aborted = draw(st.permutations(log.aborted))
    return log


@given(_logs(), st.data())
def test_generated_logs_read_as_kafka_reads_them(log: _Log, data: st.DataObject) -> None:
    """Any interleaving of plain batches and transactions, from any start: Kafka's records."""
    start = data.draw(st.integers(0, log.end))
    aborted = tuple(log.aborted)
    committed = _delivered(log.batches, aborted, log.end, start=start)
    assert [o for o, _ in committed] == sorted(o for o in log.committed if o >= start)
    assert all(value == b"%d" % offset for offset, value in committed)
    uncommitted = _delivered(log.batches, aborted, log.end, start=start, read_committed=False)
    assert [o for o, _ in uncommitted] == sorted(o for o in log.written if o >= start)
