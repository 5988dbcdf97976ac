"""The ledger: one entry per key, delivery counts, and waiting on conditions across threads."""

import threading

from signing.receiver.ledger import Ledger


def accept(ledger: Ledger, key: str, response: bytes = b"{}") -> bool:
    """Accept `key` into `ledger`; True when it was a replay."""
    _, replayed = ledger.accept(
        signal_id=key,
        instrument="EURUSD",
        idempotency_key=key,
        producer_id="ledger-tests",
        body=b"{}",
        headers={},
        response=response,
    )
    return replayed


def test_a_repeated_key_is_a_replay_of_the_first_entry() -> None:
    """The first acceptance of a key is kept; later ones return it, flagged as replays."""
    ledger = Ledger()

    assert accept(ledger, "a", b"first") is False
    assert accept(ledger, "a", b"second") is True

    [entry] = ledger.accepted
    assert entry.response == b"first"
    assert ledger.get("a") == entry


def test_counts_per_status_and_drops_are_kept_apart() -> None:
    """Answers are counted by status, drops separately, and both make up the requests."""
    ledger = Ledger()

    ledger.record_answer(201)
    ledger.record_answer(201)
    ledger.record_answer(503)
    ledger.record_drop()

    assert ledger.status_counts == {201: 2, 503: 1}
    assert ledger.count(201) == 2
    assert ledger.dropped == 1
    assert ledger.requests == 4


def test_wait_until_wakes_when_another_thread_records() -> None:
    """wait_until returns True once a request recorded in another thread makes it hold."""
    ledger = Ledger()
    waiting = threading.Event()
    results: list[bool] = []

    def wait() -> None:
        waiting.set()
        results.append(ledger.wait_until(lambda seen: seen.count(201) == 2, timeout=10))

    waiter = threading.Thread(target=wait)
    waiter.start()
    waiting.wait(10)
    ledger.record_answer(201)
    ledger.record_answer(201)
    waiter.join(10)

    assert results == [True]


def test_wait_until_returns_false_when_the_condition_never_holds() -> None:
    """wait_until gives up after its timeout and says so."""
    ledger = Ledger()
    ledger.record_answer(201)

    assert ledger.wait_until(lambda seen: seen.count(201) == 2, timeout=0.01) is False


def test_clear_forgets_everything() -> None:
    """After clear, the ledger is empty and a known key is new again."""
    ledger = Ledger()
    accept(ledger, "a")
    ledger.record_delivery("a")
    ledger.record_answer(201)

    ledger.clear()

    assert ledger.summary(detail=True) == {
        "accepted": 0,
        "dropped": 0,
        "requests": 0,
        "statuses": {},
        "deliveries": {},
        "signals": [],
    }
    assert accept(ledger, "a") is False
