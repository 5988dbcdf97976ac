"""docs/PROTOCOL.md stays true: its example, its DLQ names and every citation of it match."""

from __future__ import annotations

import ast
import base64
import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

import orjson

import schemas
from consumer.adapters import DeadLetter, dlq_headers, fit_dead_letter
from consumer.service import classify
from consumer.tools import replay_headers
from schemas import parse_candidate
from signing import (
    build_signature,
    canonical_body,
    canonical_request,
    derive_signal_id,
    signed_headers,
)

ROOT = Path(__file__).resolve().parent.parent
DOC_PATH = ROOT / "docs" / "PROTOCOL.md"
DOC = DOC_PATH.read_text(encoding="utf-8")
CODE_PACKAGES = ("schemas", "signing", "consumer")

_HEADING = re.compile(r"^#{2,4} (\d+(?:\.\d+)*)\.? ", re.MULTILINE)
_FENCE = re.compile(r"^```(\w+) ([\w-]+)\n(.*?)\n```$", re.MULTILINE | re.DOTALL)
_DLQ_NAME = re.compile(r"dlq(?:\.[a-z0-9_]+)+")
# `docs/PROTOCOL.md §4`, `PROTOCOL.md §7, §9`, `docs/PROTOCOL.md §8.4 and §9`.
_CITATION = re.compile(r"PROTOCOL\.md((?:(?:,\s*|\s+and\s+|\s+)§\d+(?:\.\d+)*)+)")
_SECTION_SIGN = re.compile(r"§(\d+(?:\.\d+)*)")
# Citations of the contract document that lives outside the repository (in any letter case).
_EXTERNAL_SPEC = re.compile(r"\bcontract(?:\.md\b|\s+(?:sections?\s+)?§?\d)", re.IGNORECASE)
_TEXT_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".toml", ".txt", ".cfg", ".ini", ".json"}
_TEXT_NAMES = {"Makefile", "Dockerfile"}
_SKIPPED_DIRS = {"__pycache__", "build", "dist", "node_modules"}


def _sections() -> set[str]:
    return set(_HEADING.findall(DOC))


def _section(number: str) -> str:
    """The text of section `number` (down to the next heading of the same or a higher level)."""
    start = re.search(rf"^(#{{2,4}}) {re.escape(number)}\.? .*$", DOC, re.MULTILINE)
    assert start is not None, f"no section {number}"
    level = len(start.group(1))
    end = re.compile(rf"^#{{2,{level}}} ", re.MULTILINE).search(DOC, start.end())
    return DOC[start.end() : end.start() if end else len(DOC)]


def _table_first_column(text: str) -> list[str]:
    """The backticked first cell of each table body row in `text` (header rows left out)."""
    lines = text.splitlines()
    return [
        match[1]
        for line, after in zip(lines, [*lines[1:], ""], strict=True)
        if (match := re.match(r"\| `([^`]+)` \|", line)) and not after.startswith("|---")
    ]


def _fences() -> dict[str, str]:
    return {label: body for _, label, body in _FENCE.findall(DOC)}


def _example_inputs() -> dict[str, str]:
    rows = re.findall(
        r"^\| (secret|producer id|method|endpoint|timestamp) \| `([^`]+)` \|$",
        _section("5"),
        re.MULTILINE,
    )
    return dict(rows)


def _code_files() -> Iterator[Path]:
    for package in CODE_PACKAGES:
        yield from sorted((ROOT / package).rglob("*.py"))


def _trees() -> Iterator[ast.AST]:
    for path in _code_files():
        yield ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _repository_text_files() -> Iterator[Path]:
    for directory, subdirs, files in os.walk(ROOT):
        subdirs[:] = [
            d
            for d in subdirs
            if not d.startswith(".") and d not in _SKIPPED_DIRS and not d.endswith(".egg-info")
        ]
        for name in files:
            path = Path(directory, name)
            if path.suffix in _TEXT_SUFFIXES or name in _TEXT_NAMES:
                yield path


def _dlq_header_names_in_code() -> set[str]:
    """Every `dlq.*` name the code spells out, plus those it writes on a full dead letter."""
    names = {
        node.value
        for tree in _trees()
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and _DLQ_NAME.fullmatch(node.value)
    }
    letter = DeadLetter(
        "http_4xx", "e", 1, 0.0, 1.0, 422, "b", "00000000-0000-0000-0000-00000000000a"
    )
    headers = dlq_headers([], letter, topic="t", partition=0, offset=0)
    cut = fit_dead_letter(b"k", b"v" * 20_000, headers, max_message_bytes=8 * 1024)
    replayed = replay_headers(cut.headers, "t.dlq/0/0")
    names |= {name for name, _ in (*headers, *cut.headers, *replayed)}
    return names


def _record_error_reasons() -> set[str]:
    reasons: set[str] = set()
    pending: list[type[schemas.RecordError]] = [schemas.RecordError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        reason = cls.__dict__.get("dlq_reason")
        if isinstance(reason, str):
            reasons.add(reason)
    return reasons


def _literal_letter_reasons() -> set[str]:
    """String reasons written out where the code builds a dead letter (`DeadLetter("...", ...)`)."""
    reasons: set[str] = set()
    for tree in _trees():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name not in {"DeadLetter", "_letter"}:
                continue
            given = [*node.args[:1], *(k.value for k in node.keywords if k.arg == "reason")]
            reasons |= {
                arg.value
                for arg in given
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
            }
    return reasons


def _dlq_reasons_in_code() -> set[str]:
    by_status = {classify(status, {}).dlq_reason for status in range(100, 700)}
    return (
        _record_error_reasons()
        | _literal_letter_reasons()
        | {reason for reason in by_status if reason is not None}
    )


def test_every_dlq_header_the_code_writes_is_documented() -> None:
    """Each `dlq.*` header name of the code is a row of §9.3, and each row is one of the code's."""
    in_code = _dlq_header_names_in_code()
    assert {"dlq.truncated", "dlq.original_size", "dlq.replayed_from"} <= in_code
    assert set(_table_first_column(_section("9.3"))) == in_code


def test_every_dlq_reason_of_the_code_is_documented() -> None:
    """Each DLQ reason of the code is a row of §9.4, and each row is one of the code's."""
    in_code = _dlq_reasons_in_code()
    assert {"invalid_json", "too_large", "http_4xx", "undecodable", "max_attempts"} <= in_code
    assert "expired" in in_code
    assert set(_table_first_column(_section("9.4"))) == in_code


def test_worked_example_is_what_the_code_computes() -> None:
    """§5's body, canonical request and X-Signature are what `signing` computes for its inputs."""
    fences, given = _fences(), _example_inputs()
    secret, producer_id, timestamp = given["secret"], given["producer id"], given["timestamp"]
    method, endpoint = given["method"], given["endpoint"]
    signal = canonical_body(parse_candidate(fences["record"].encode()))
    assert signal.body == fences["canonical-body"].encode()
    without_id = orjson.loads(signal.body)
    del without_id["signal_id"]
    assert orjson.dumps(without_id, option=orjson.OPT_SORT_KEYS) == (
        fences["body-without-signal-id"].encode()
    )
    assert derive_signal_id(fences["body-without-signal-id"].encode()) == signal.signal_id
    message = canonical_request(method, endpoint, timestamp, producer_id, signal.body)
    assert message == fences["canonical-request"].encode()
    digest = base64.b64encode(hashlib.sha256(signal.body).digest()).decode()
    assert message.decode().endswith(f"BODY_SHA256:{digest}")

    request_line, *header_lines = fences["request"].splitlines()
    assert request_line == f"{method} {endpoint} HTTP/1.1"
    sent = dict(line.split(": ", 1) for line in header_lines)
    signature = build_signature(
        secret, signal.body, timestamp, producer_id, method=method, endpoint=endpoint
    )
    assert sent.pop("X-Signature") == signature
    assert sent.pop("User-Agent") == "signal-relay/<version>"
    expected = signed_headers(
        secret,
        signal.body,
        signal_id=signal.signal_id,
        producer_id=producer_id,
        endpoint=endpoint,
        timestamp=timestamp,
        method=method,
    )
    assert sent == {name: value for name, value in expected.items() if name != "X-Signature"}
    assert f"({len(signal.body)} bytes" in DOC
    assert f"# '{signature}'" in DOC


def test_every_cited_section_exists() -> None:
    """Each `docs/PROTOCOL.md §N` in the repository, and each `§N` inside it, names a section."""
    sections = _sections()
    cited: dict[str, set[str]] = {}
    for path in _repository_text_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        numbers = {
            number
            for match in _CITATION.finditer(text)
            for number in _SECTION_SIGN.findall(match[1])
        }
        if path == DOC_PATH:
            numbers |= set(_SECTION_SIGN.findall(text))
        for number in numbers:
            cited.setdefault(number, set()).add(str(path.relative_to(ROOT)))
    assert len(cited) > 5
    missing = {number: sorted(paths) for number, paths in cited.items() if number not in sections}
    assert not missing, f"cited sections that docs/PROTOCOL.md does not have: {missing}"


def test_nothing_cites_the_contract_outside_the_repository() -> None:
    """No file points readers at the contract document users never see; they cite the protocol."""
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in _repository_text_files()
        for number, line in enumerate(
            path.read_text(encoding="utf-8", errors="replace").splitlines(), 1
        )
        if _EXTERNAL_SPEC.search(line)
    ]
    assert not found


def test_readme_links_the_protocol_near_the_top() -> None:
    """The README links docs/PROTOCOL.md before its first section."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    introduction = readme.split("\n## ", 1)[0]
    assert "](docs/PROTOCOL.md)" in introduction
