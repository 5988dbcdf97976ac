"""Records the Kafka client cannot decode: found, read as far as possible, never a stop.

aiokafka decodes a fetched batch record by record inside `getmany`. A header key that is not
UTF-8, a batch with a bad CRC, a broken record structure or a codec it lacks makes it raise
mid-batch; what it had already taken in that call is lost from the return value (also for the
other partitions drained in the same call, whose positions already moved on), and the next
call raises again on the same bytes: a relay that let it propagate would exit on every start.

`FetchGuard.getmany` wraps the fetch:

0. before it fetches, every partition of the relay's lanes has a known fetch position (a newly
   assigned partition's is reset by aiokafka in the background), and the guard notes it: a
   failed call must never be followed by a position read after it, which already counts what
   that call drained (the partition would skip those records, and its commit would pass
   them);
1. on a decode error it seeks every assigned partition back to the offset after the last
   record the relay submitted to its current lane (`note_submitted`), or, for a lane given
   nothing yet, to the position noted in step 0 (a partition assigned during the failed call:
   its commit, or where a new group starts; while the broker cannot say, it stays paused, so
   its position never moves past what the call lost); so nothing the failed call swallowed
   (for any partition) is skipped;
2. it reads each fetchable partition's raw bytes from that offset (one Fetch through the
   consumer's own client, at the relay's isolation level) and decodes them leniently
   (`_raw_batches.decode_raw`), up to and including the first batch aiokafka cannot decode;
3. it returns those records as the fetch result (broken ones as `UndecodableRecord`s, which the
   record flow dead-letters as `undecodable`) and seeks the partition past that batch.

A batch whose codec this process lacks is a deployment fault, not bad data: the partition is
held at that batch (paused, nothing of it committed or dead-lettered), `held` names the codec
(readiness fails, `on_hold` alerts), and the batch is tried again after a backoff, so the
partition resumes once the process can read it. When the rescue itself fails (the broker does
not answer, nothing undecodable is found), it is logged and retried after a bounded backoff;
the positions were already moved back, so nothing is lost, and the relay never crashes on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
import zlib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CorruptRecordException, KafkaError, UnsupportedCodecError

from consumer.adapters._aiokafka_private import CODEC_ERRORS, fetch_position, fetch_raw
from consumer.adapters._raw_batches import Decoded, Record, UndecodableRecord, decode_raw

__all__ = ["UNDECODABLE_ERRORS", "CodecHold", "FetchGuard"]

_log = logging.getLogger("signal_relay.undecodable")

# What aiokafka raises from `getmany` when it cannot decode fetched bytes: its own errors, the
# record reader's, and the codecs' on a payload that does not decompress (gzip's BadGzipFile is
# an OSError; snappy, lz4 and zstd raise cramjam's DecompressionError).
UNDECODABLE_ERRORS: tuple[type[BaseException], ...] = (
    CorruptRecordException,
    UnsupportedCodecError,
    ValueError,  # UnicodeDecodeError among them
    IndexError,
    struct.error,
    OSError,
    EOFError,
    zlib.error,
    *CODEC_ERRORS,
)

_MAX_ERROR = 500
_RESCUE_FETCH_BYTES = 4 * 1024 * 1024
_RESCUE_TIMEOUT = 30.0
# Not 0: Tansu answers a zero-wait fetch with no partitions at all.
_RESCUE_FETCH_WAIT_MS = 500
_BACKOFF_FIRST = 0.5
_BACKOFF_MAX = 30.0
# A partition held by a missing codec is tried again after this long (doubling, capped).
_HOLD_FIRST = 5.0
_HOLD_MAX = 60.0
# Waiting for aiokafka to reset a newly assigned partition's position, before a fetch.
_POSITION_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class CodecHold:
    """A partition held at a batch this process cannot decompress.

    Attributes:
        codec: the codec's name (`snappy`, `lz4`, `zstd`, ...).
        offset: the first offset of the batch; nothing at or above it is committed meanwhile.
        retry_at: monotonic time of the next try; `tries`: how many times it was met.
    """

    codec: str
    offset: int
    retry_at: float
    tries: int

    def describe(self, tp: TopicPartition) -> str:
        """One line for readiness and alerts."""
        return (
            f"cannot decompress {self.codec} batches of {tp.topic}/{tp.partition} at offset "
            f"{self.offset}: the {self.codec} codec is not installed (aiokafka[{self.codec}])"
        )


class FetchGuard:
    """`getmany` for the relay that turns undecodable records into `UndecodableRecord`s."""

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        stop: asyncio.Event,
        *,
        read_committed: bool = True,
        from_earliest: bool = True,
        on_hold: Callable[[TopicPartition, CodecHold], None] | None = None,
    ) -> None:
        self._consumer = consumer
        self._stop = stop
        self._isolation = 1 if read_committed else 0
        self._from_earliest = from_earliest
        self._on_hold = on_hold
        # tp -> (the lane object it was submitted to, offset after the last submitted record)
        self._next: dict[TopicPartition, tuple[object, int]] = {}
        # tp -> (lane, fetch position seen before a fetch) for lanes given nothing yet
        self._before: dict[TopicPartition, tuple[object, int]] = {}
        self._held: dict[TopicPartition, CodecHold] = {}
        # Partitions whose safe offset could not be asked for after a failed fetch: paused (so
        # their position, which may count records that fetch lost, moves no further and is
        # never committed) until it can.
        self._unsure: set[TopicPartition] = set()
        self._failures = 0

    @property
    def held(self) -> Mapping[TopicPartition, CodecHold]:
        """Partitions held at a batch whose codec this process lacks."""
        return self._held

    def note_submitted(self, tp: TopicPartition, lane: object, next_offset: int) -> None:
        """The relay handed `lane` the records of `tp` below `next_offset`."""
        self._next[tp] = (lane, next_offset)

    async def getmany(
        self,
        lanes: Mapping[TopicPartition, object],
        *,
        timeout_ms: int,
        max_records: int,
        backpressured: Collection[TopicPartition] = (),
    ) -> dict[TopicPartition, list[Record]]:
        """`consumer.getmany`, with undecodable records rescued instead of raised."""
        self._retry_holds(lanes, backpressured)
        await self._settle_unsure(lanes, backpressured)
        await self._know_positions(lanes)
        self._snapshot(lanes)
        try:
            batch: dict[TopicPartition, list[Record]] = await self._consumer.getmany(
                timeout_ms=timeout_ms, max_records=max_records
            )
        except UNDECODABLE_ERRORS as exc:
            return await self._rescue(lanes, exc)
        self._failures = 0
        for tp in batch:
            self._release(tp)
        return batch

    # -- before a fetch ---------------------------------------------------------------------

    def _retry_holds(
        self, lanes: Mapping[TopicPartition, object], backpressured: Collection[TopicPartition]
    ) -> None:
        """Keep held partitions paused until their retry time; then let aiokafka try again."""
        now = time.monotonic()
        for tp, hold in list(self._held.items()):
            if tp not in lanes:
                del self._held[tp]  # revoked: its next owner meets the batch itself
            elif now < hold.retry_at:
                self._consumer.pause(tp)
            elif tp not in backpressured and tp in self._consumer.assignment():
                self._consumer.resume(tp)

    async def _know_positions(self, lanes: Mapping[TopicPartition, object]) -> None:
        """Wait until aiokafka knows where it fetches each lane's partition from."""
        unknown = [
            tp
            for tp, lane in lanes.items()
            if not self._noted(tp, lane) and fetch_position(self._consumer, tp) is None
        ]
        for tp in unknown:
            with contextlib.suppress(KafkaError, TimeoutError):
                await asyncio.wait_for(self._consumer.position(tp), _POSITION_SECONDS)

    def _noted(self, tp: TopicPartition, lane: object) -> bool:
        """An earlier position of this same lane is known: it is as safe (never later)."""
        noted, before = self._next.get(tp), self._before.get(tp)
        return (noted is not None and noted[0] is lane) or (
            before is not None and before[0] is lane
        )

    def _snapshot(self, lanes: Mapping[TopicPartition, object]) -> None:
        """Remember where lanes that were given nothing yet are fetched from (no I/O)."""
        for tp, lane in lanes.items():
            if self._noted(tp, lane):
                continue
            position = fetch_position(self._consumer, tp)
            if position is not None:
                self._before[tp] = (lane, position)

    # -- after a failed fetch ---------------------------------------------------------------

    async def _rescue(
        self, lanes: Mapping[TopicPartition, object], exc: BaseException
    ) -> dict[TopicPartition, list[Record]]:
        error = f"{type(exc).__name__}: {exc}"[:_MAX_ERROR]
        _log.warning("undecodable_fetch", extra={"fields": {"error": error}})
        try:
            async with asyncio.timeout(_RESCUE_TIMEOUT):
                found, held = await self._rescue_once(lanes)
        except (KafkaError, TimeoutError, OSError) as failure:
            found, held = {}, False
            error = f"{error}; rescue failed: {type(failure).__name__}: {failure}"
        if found or held:
            self._failures = 0
            for tp, records in found.items():
                _log.warning(
                    "undecodable_records",
                    extra={
                        "fields": {
                            "partition": tp.partition,
                            "offsets": [
                                r.offset for r in records if isinstance(r, UndecodableRecord)
                            ],
                        }
                    },
                )
            return found
        self._failures += 1
        delay = min(_BACKOFF_MAX, _BACKOFF_FIRST * 2 ** (self._failures - 1))
        _log.error(
            "undecodable_rescue_failed",
            extra={
                "fields": {
                    "error": error[:_MAX_ERROR],
                    "attempt": self._failures,
                    "retry_in_s": delay,
                }
            },
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), delay)
        return {}

    async def _rescue_once(
        self, lanes: Mapping[TopicPartition, object]
    ) -> tuple[dict[TopicPartition, list[Record]], bool]:
        """(records read past what aiokafka could not decode, whether a partition was held)."""
        consumer = self._consumer
        assigned = sorted(consumer.assignment(), key=lambda tp: (tp.topic, tp.partition))
        starts: dict[TopicPartition, int] = {}
        # Known offsets first, with no suspension: a partition asked about over the network
        # below must not delay moving the others back.
        for tp in assigned:
            start = self._known_offset(tp, lanes.get(tp))
            if start is not None:
                consumer.seek(tp, start)
                starts[tp] = start
        for tp in assigned:
            if tp not in starts and (start := await self._ask_offset(tp)) is not None:
                starts[tp] = start
        # Read every partition first, then move any forward: a fetch that fails half-way
        # leaves them all where nothing is skipped.
        paused = consumer.paused()
        read: list[tuple[TopicPartition, Decoded]] = []
        for tp, start in starts.items():
            if tp in paused:
                continue
            fetched = await fetch_raw(
                consumer,
                tp,
                start,
                isolation_level=self._isolation,
                max_bytes=_RESCUE_FETCH_BYTES,
                max_wait_ms=_RESCUE_FETCH_WAIT_MS,
            )
            decoded = decode_raw(tp, fetched, start, read_committed=self._isolation == 1)
            if decoded is not None:
                read.append((tp, decoded))
        found: dict[TopicPartition, list[Record]] = {}
        held = False
        for tp, decoded in read:
            consumer.seek(tp, decoded.next_offset)
            if decoded.missing_codec is not None:
                self._hold(tp, decoded.missing_codec, decoded.next_offset)
                held = True
            if decoded.records:
                found[tp] = decoded.records
        return found, held

    def _known_offset(self, tp: TopicPartition, lane: object | None) -> int | None:
        """Where `tp` is read again from so that nothing the failed call took is skipped."""
        for known in (self._next.get(tp), self._before.get(tp)):
            if known is not None and lane is not None and known[0] is lane:
                return known[1]
        return None

    async def _settle_unsure(
        self, lanes: Mapping[TopicPartition, object], backpressured: Collection[TopicPartition]
    ) -> None:
        for tp in list(self._unsure):
            if tp not in lanes:
                self._unsure.discard(tp)  # revoked: its next owner starts from the commit
            elif await self._ask_offset(tp) is not None and tp not in backpressured:
                self._consumer.resume(tp)

    async def _ask_offset(self, tp: TopicPartition) -> int | None:
        """Seek `tp` to `_unknown_offset`; if the broker cannot say, pause it until it can."""
        try:
            start = await self._unknown_offset(tp)
        except (KafkaError, TimeoutError, OSError) as exc:
            self._consumer.pause(tp)
            self._unsure.add(tp)
            _log.warning(
                "undecodable_position_unknown",
                extra={"fields": {"partition": tp.partition, "error": repr(exc)[:300]}},
            )
            return None
        if start is None:
            return None
        self._consumer.seek(tp, start)
        self._unsure.discard(tp)
        return start

    async def _unknown_offset(self, tp: TopicPartition) -> int | None:
        """A partition assigned during the failed call: its commit, or where a new group starts.

        Nothing of it was submitted yet, so reading it again from there skips nothing.
        """
        committed: int | None = await self._consumer.committed(tp)
        if committed is not None and committed >= 0:
            return committed
        if self._from_earliest:
            first: dict[TopicPartition, int] = await self._consumer.beginning_offsets([tp])
            return first.get(tp)
        position: int = await self._consumer.position(tp)
        return position

    # -- codec holds ------------------------------------------------------------------------

    def _hold(self, tp: TopicPartition, codec: str, offset: int) -> None:
        earlier = self._held.get(tp)
        tries = 1 if earlier is None or earlier.offset != offset else earlier.tries + 1
        wait = min(_HOLD_MAX, _HOLD_FIRST * 2 ** (tries - 1))
        hold = CodecHold(codec, offset, time.monotonic() + wait, tries)
        self._held[tp] = hold
        self._consumer.pause(tp)
        _log.error(
            "codec_missing",
            extra={
                "fields": {
                    "partition": tp.partition,
                    "offset": offset,
                    "codec": codec,
                    "retry_in_s": wait,
                    "alert": True,
                }
            },
        )
        if self._on_hold is not None:
            self._on_hold(tp, hold)

    def _release(self, tp: TopicPartition) -> None:
        """Records of `tp` came back from aiokafka: a hold on it is over."""
        hold = self._held.pop(tp, None)
        if hold is not None:
            _log.info(
                "codec_resumed",
                extra={"fields": {"partition": tp.partition, "codec": hold.codec}},
            )
