"""A signal older than the age limit before an attempt is dead-lettered as `expired`, not sent."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from aiokafka.structs import ConsumerRecord
from relay_harness import encode, signal

from consumer.adapters import HttpAnswer
from consumer.service import AgePolicy, Final, signal_birth
from unit.doubles import NOW, TOPIC, FakeServer, raw_record, rig, run


def _stamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _born(
    offset: int, generated_at: float, instrument: str = "EURUSD"
) -> ConsumerRecord[bytes, bytes]:
    """A record whose signal says it was generated at epoch second `generated_at`."""
    value = encode(signal(instrument, offset, generated_at=_stamp(generated_at)))
    return raw_record(offset, instrument.encode(), value)


def _kafka_stamped(offset: int, timestamp_ms: int) -> ConsumerRecord[bytes, bytes]:
    """A record without `generated_at`, with this Kafka timestamp."""
    value = encode(signal("EURUSD", offset))
    return ConsumerRecord(
        TOPIC, 0, offset, timestamp_ms, 0, b"EURUSD", value, None, -1, len(value), ()
    )


class Clock:
    """The flow's and the sender's epoch clock, moved by the test (or by the server double)."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class AgingServer(FakeServer):
    """A fake server during whose every answer `step` seconds pass on `clock`."""

    def __init__(self, clock: Clock, step: float, answer: HttpAnswer) -> None:
        super().__init__(answer)
        self._clock, self._step = clock, step

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> HttpAnswer:
        self._clock.now += self._step
        return await super().post(url, body, headers)


async def test_a_stale_signal_is_dead_lettered_as_expired_without_a_request() -> None:
    """A signal generated 120 s ago under a 60 s limit: no POST, `expired` with its age, final."""
    r = rig(age_policy=AgePolicy(60))
    assert await run(r.flow, _born(0, NOW - 120)) is Final.DEAD_LETTERED
    assert r.server.posted == []
    [(_, headers)] = r.producer.sent
    assert headers["dlq.reason"] == b"expired"
    assert headers["dlq.age_seconds"] == b"120.000"
    assert headers["dlq.attempts"] == b"0"
    assert b"120.000 s old (by generated_at)" in headers["dlq.error"]
    assert b"RELAY_MAX_SIGNAL_AGE_SECONDS=60" in headers["dlq.error"]
    assert "dlq.http.status" not in headers
    assert r.metrics.dead_lettered.labels("expired")._value.get() == 1


async def test_a_fresh_signal_is_delivered() -> None:
    """A signal 59 s old under a 60 s limit is sent and delivered."""
    r = rig(age_policy=AgePolicy(60))
    assert await run(r.flow, _born(0, NOW - 59)) is Final.DELIVERED
    assert len(r.server.posted) == 1
    assert r.producer.sent == []


async def test_without_generated_at_the_kafka_timestamp_gives_the_age() -> None:
    """No `generated_at`: the record's Kafka timestamp (ms) is the signal's birth."""
    r = rig(age_policy=AgePolicy(10))
    assert await run(r.flow, _kafka_stamped(0, int((NOW - 30) * 1000))) is Final.DEAD_LETTERED
    [(_, headers)] = r.producer.sent
    assert headers["dlq.age_seconds"] == b"30.000"
    assert b"(by record_timestamp)" in headers["dlq.error"]
    assert await run(r.flow, _kafka_stamped(1, int((NOW - 5) * 1000))) is Final.DELIVERED


def test_generated_at_wins_over_the_kafka_timestamp() -> None:
    """A fresh `generated_at` on a record with an old Kafka timestamp makes it fresh."""
    birth = signal_birth(datetime.fromtimestamp(NOW, UTC), int((NOW - 3600) * 1000))
    assert birth is not None
    assert birth.source == "generated_at"
    assert AgePolicy(60).judge(birth, NOW) is None


async def test_a_signal_that_ages_out_while_retried_stops_being_retried() -> None:
    """503s while 25 s pass per attempt under a 60 s limit: three POSTs, then `expired`."""
    clock = Clock()
    server = AgingServer(clock, 25, HttpAnswer(503, {}, "busy"))
    r = rig(age_policy=AgePolicy(60), clock=clock, server=server)
    assert await run(r.flow, _born(0, NOW)) is Final.DEAD_LETTERED
    assert len(r.server.posted) == 3
    [(_, headers)] = r.producer.sent
    assert headers["dlq.reason"] == b"expired"
    assert headers["dlq.age_seconds"] == b"75.000"
    assert (headers["dlq.attempts"], headers["dlq.http.status"]) == (b"3", b"503")
    assert headers["dlq.http.body"] == b"busy"


async def test_without_a_limit_any_age_is_delivered() -> None:
    """Unset (the default), a day-old signal is delivered like any other."""
    r = rig()
    assert await run(r.flow, _born(0, NOW - 86_400)) is Final.DELIVERED
    assert r.producer.sent == []


async def test_a_birth_in_the_future_is_of_age_zero() -> None:
    """A producer clock ahead of ours makes a signal young, never negative-aged or expired."""
    r = rig(age_policy=AgePolicy(1))
    assert await run(r.flow, _born(0, NOW + 3600)) is Final.DELIVERED


async def test_a_record_without_any_birth_never_expires() -> None:
    """No `generated_at` and no Kafka timestamp (-1): delivered whatever the limit."""
    r = rig(age_policy=AgePolicy(1))
    assert await run(r.flow, _kafka_stamped(0, -1)) is Final.DELIVERED


async def test_a_dry_run_reports_a_stale_signal_as_a_dead_letter() -> None:
    """In a dry run an expired signal is neither sent nor written: `dry_run_dead_letter`."""
    r = rig(age_policy=AgePolicy(60), dry_run=True)
    assert await run(r.flow, _born(0, NOW - 120)) is Final.DRY_RUN_DEAD_LETTER
    assert r.server.posted == []
