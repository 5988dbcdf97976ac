"""Judges a run against its plan; returns every problem found (empty: the relay did right)."""

from __future__ import annotations

from collections import defaultdict

import orjson
from aiokafka.structs import ConsumerRecord
from relay_harness import expected_signal_id

from generative.produce import Placed
from generative.request_log import RequestLog
from generative.run import Outcome

_SHOWN = 5


def judge(outcome: Outcome, log: RequestLog) -> list[str]:
    """Delivery, order, dead letters, commits (final and sampled) of one run."""
    valid = {
        expected_signal_id(p.record.value or b""): p for p in outcome.placed if not p.record.reason
    }
    return [
        *_commits(outcome, valid),
        *_deliveries(log, valid),
        *_key_order(log, outcome.placed),
        *_dead_letters(outcome),
        *_sampled_commits(outcome, valid),
    ]


def _commits(outcome: Outcome, valid: dict[str, Placed]) -> list[str]:
    ends = outcome.ends
    if outcome.committed == ends:
        return []
    at = {p.source: p for p in outcome.placed}
    stuck = []
    for partition, end in sorted(ends.items()):
        committed = outcome.committed.get(partition, 0)
        if committed != end:
            held = at.get((partition, committed))
            what = held.record.kind if held else "?"
            stuck.append(
                f"partition {partition}: committed {committed} of {end} (held at a {what} record)"
            )
    return ["not every partition committed to its end (stranded?): " + "; ".join(stuck)]


def _deliveries(log: RequestLog, valid: dict[str, Placed]) -> list[str]:
    ledger = log.app.ledger
    problems = []
    accepted = [a.signal_id for a in ledger.accepted]
    missing = set(valid) - set(accepted)
    if missing:
        sources = sorted(valid[i].source for i in missing)
        problems.append(f"{len(missing)} valid signal(s) never delivered, at {sources[:_SHOWN]}")
    unexpected = set(accepted) - set(valid)
    if unexpected:
        problems.append(f"{len(unexpected)} accepted signal(s) that were not valid records")
    if ledger.accepted_count != len(set(accepted)):
        problems.append(f"{ledger.accepted_count} acceptances for {len(set(accepted))} signals")
    if set(ledger.status_counts) - {201}:
        problems.append(f"answers other than 201: {ledger.status_counts}")
    stamps: dict[str, list[str]] = defaultdict(list)
    for request in log.requests:
        stamps[request.idempotency_key].append(request.timestamp)
    strangers = set(stamps) - set(valid)
    if strangers:
        problems.append(f"requests under {len(strangers)} idempotency key(s) of no valid record")
    stale = [key for key, seen in stamps.items() if len(set(seen)) != len(seen)]
    if stale:
        problems.append(f"a re-send reused its X-Timestamp for {len(stale)} key(s)")
    return problems


def _key_order(log: RequestLog, placed: list[Placed]) -> list[str]:
    planned: dict[str, list[int]] = defaultdict(list)
    for p in sorted(placed, key=lambda p: p.source):
        if not p.record.reason:
            planned[p.record.key.decode()].append(_seq(p.record.value or b""))
    delivered: dict[str, list[int]] = defaultdict(list)
    for a in log.app.ledger.accepted:
        delivered[a.instrument].append(_seq(a.body))
    problems = []
    for key, seqs in sorted(planned.items()):
        arrived = set(delivered[key])
        in_offset_order = [seq for seq in seqs if seq in arrived]
        if delivered[key] != in_offset_order:
            problems.append(
                f"key {key}: first deliveries {delivered[key][:20]}, offsets {in_offset_order[:20]}"
            )
    return problems


def _seq(value: bytes) -> int:
    note: str = orjson.loads(value)["note"]
    return int(note.removeprefix("seq="))


def _dead_letters(outcome: Outcome) -> list[str]:
    letters: dict[tuple[int, int], list[ConsumerRecord]] = defaultdict(list)
    for letter in outcome.letters:
        headers = dict(letter.headers)
        source = int(headers["dlq.source.partition"]), int(headers["dlq.source.offset"])
        letters[source].append(letter)
    problems = []
    odd = {p.source: p for p in outcome.placed if p.record.reason}
    absent = [
        f"{p.record.kind} at {source}" for source, p in sorted(odd.items()) if source not in letters
    ]
    if absent:
        problems.append(f"{len(absent)} odd record(s) not in the DLQ: {absent[:_SHOWN]}")
    for source, p in sorted(odd.items()):
        found = letters.get(source, [])
        for letter in found:
            headers = dict(letter.headers)
            reason = headers["dlq.reason"].decode()
            if reason != p.record.reason:
                problems.append(f"{p.record.kind} record at {source}: reason {reason}")
            truncated = headers.get("dlq.truncated") == b"true"
            if not truncated and (letter.key, letter.value) != (p.record.key, p.record.value):
                problems.append(f"{p.record.kind} record at {source}: letter's bytes differ")
    strays = sorted(set(letters) - set(odd))
    if strays:
        problems.append(f"dead letters for records that are not odd: {strays[:_SHOWN]}")
    return problems


def _sampled_commits(outcome: Outcome, valid: dict[str, Placed]) -> list[str]:
    id_at = {p.source: i for i, p in valid.items()}
    by_partition: dict[int, list[Placed]] = defaultdict(list)
    for p in outcome.placed:
        by_partition[p.record.partition].append(p)
    early = []
    for number, sample in enumerate(outcome.samples):
        for partition, committed in sample.committed.items():
            for p in by_partition[partition]:
                if p.offset >= committed:
                    continue
                signal_id = id_at.get(p.source)
                final = signal_id in sample.accepted if signal_id else p.source in sample.dead
                if not final:
                    early.append(
                        f"sample {number}: {p.record.kind} at {p.source} below {committed}"
                    )
    if early:
        return [f"{len(early)} record(s) committed before final: {early[:_SHOWN]}"]
    return []
