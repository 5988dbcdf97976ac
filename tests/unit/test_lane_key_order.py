"""Within a partition, one key's records run in offset order; different keys run concurrently."""

from __future__ import annotations

from relay_harness import encode, signal

from unit.doubles import lane, raw_record, record, rig


async def test_a_held_key_does_not_hold_other_keys() -> None:
    """While A's first record is held, B's records are all delivered; A's then follow in order."""
    r = rig()
    release_a = r.server.hold("A")
    partition = lane(r.flow)
    for offset, (key, seq) in enumerate([("A", 1), ("B", 1), ("A", 2), ("B", 2), ("A", 3)]):
        partition.submit(record(offset, key, seq))
    await r.server.until(lambda: len(r.server.notes("B")) == 2 and len(r.server.notes("A")) == 1)
    assert r.server.notes("A") == ["seq=1"]
    release_a.set()
    await r.server.until(lambda: len(r.server.notes("A")) == 3)
    assert r.server.notes("A") == ["seq=1", "seq=2", "seq=3"]
    assert r.server.notes("B") == ["seq=1", "seq=2"]
    await partition.close(1.0, finish_buffered=True)
    assert partition.tracker.committable == 5


async def test_a_keys_next_record_waits_for_the_previous_one_to_be_final() -> None:
    """A retried record keeps its key's later records back until it is delivered."""
    r = rig()
    release = r.server.hold("A")
    partition = lane(r.flow)
    partition.submit(record(0, "A", 1))
    partition.submit(record(1, "A", 2))
    await r.server.until(lambda: len(r.server.posted) == 1)
    assert partition.buffered == 2
    release.set()
    await r.server.until(lambda: len(r.server.posted) == 2)
    assert r.server.notes("A") == ["seq=1", "seq=2"]
    await partition.close(1.0, finish_buffered=True)
    assert partition.buffered == 0


async def test_keyless_records_share_one_queue() -> None:
    """Records without a key run one after another, in offset order."""
    r = rig()
    partition = lane(r.flow)
    for offset in range(3):
        partition.submit(raw_record(offset, None, encode(signal("NOKEY", offset))))
    await r.server.until(lambda: len(r.server.posted) == 3)
    assert r.server.notes("NOKEY") == ["seq=0", "seq=1", "seq=2"]
    await partition.close(1.0, finish_buffered=True)
    assert partition.tracker.committable == 3
