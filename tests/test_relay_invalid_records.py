"""Invalid records never reach the server: each goes to the DLQ with the contract's headers."""

import asyncio

from conftest import RunningReceiver, TopicFactory, eventually_async
from relay_harness import encode, publish, relay_settings, running_relay, signal

from consumer.tools import committed_offsets, ensure_topic, read_topic

BAD_RECORDS: dict[bytes, tuple[bytes, str]] = {
    b"bad-json": (b"{not json", "invalid_json"),
    b"empty": (b"", "invalid_json"),
    b"not-utf8": (b'{"instrument": "\xff"}', "invalid_json"),
    b"duplicate": (
        b'{"instrument":"EURUSD","instrument":"GBPUSD","side":"buy",'
        b'"entry_price":"1","confidence":"0.5"}',
        "invalid_json",
    ),
    b"nan": (
        b'{"instrument":"EURUSD","side":"buy","entry_price":NaN,"confidence":1}',
        "invalid_json",
    ),
    b"array": (b"[1, 2, 3]", "invalid_schema"),
    b"violations": (encode(signal("EURUSD", 0, side="hold", confidence="1.5")), "invalid_schema"),
    b"unknown-field": (encode(signal("EURUSD", 0, leverage=100)), "invalid_schema"),
    b"oversize": (encode(signal("EURUSD", 0, padding="x" * 3000)), "too_large"),
}


async def test_invalid_records_are_dead_lettered_and_never_block(
    kafka_bootstrap: str, new_topic: TopicFactory, receiver: RunningReceiver
) -> None:
    """Bad records interleaved with good ones: none posted, all in the DLQ, everything committed."""
    topic = await new_topic(1)
    dlq = f"{topic}.dlq"
    await ensure_topic(kafka_bootstrap, dlq)
    records: list[tuple[bytes | None, bytes]] = []
    for index, (key, (value, _)) in enumerate(BAD_RECORDS.items()):
        records.append((b"GOOD", encode(signal("GOOD", index))))
        records.append((key, value))
    published = await publish(kafka_bootstrap, topic, records, headers=[("trace-id", b"abc123")])
    settings = relay_settings(kafka_bootstrap, topic, receiver.url, OUTBOUND_MAX_BODY_SIZE=2048)
    ledger = receiver.app.ledger

    async with running_relay(settings):
        assert await asyncio.to_thread(
            ledger.wait_until, lambda led: led.accepted_count >= len(BAD_RECORDS), 60
        )
        end = published[-1].offset + 1

        async def all_committed() -> bool:
            offsets = await committed_offsets(kafka_bootstrap, settings.group_id, topic)
            return offsets.get(0) == end

        await eventually_async(all_committed, 30, "every offset committed")

    assert ledger.requests == len(BAD_RECORDS)
    assert {s.instrument for s in ledger.accepted} == {"GOOD"}
    letters = await read_topic(kafka_bootstrap, dlq)
    assert len(letters) == len(BAD_RECORDS)
    by_key = {letter.key: letter for letter in letters}
    offsets = {p.key: p.offset for p in published}
    for key, (value, reason) in BAD_RECORDS.items():
        letter = by_key[key]
        headers = dict(letter.headers)
        assert letter.value == value
        assert headers["trace-id"] == b"abc123"
        assert headers["dlq.reason"] == reason.encode()
        assert headers["dlq.source.topic"] == topic.encode()
        assert headers["dlq.source.partition"] == b"0"
        assert headers["dlq.source.offset"] == str(offsets[key]).encode()
        assert headers["dlq.attempts"] == b"0"
        assert 0 < len(headers["dlq.error"]) <= 1024
        assert headers["dlq.first_attempt_at"].endswith(b"Z")
        assert headers["dlq.last_attempt_at"].endswith(b"Z")
