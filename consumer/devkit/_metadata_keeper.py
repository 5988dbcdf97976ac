"""A loopback Kafka proxy that keeps commit metadata for a broker that drops it.

The bundled Tansu broker stores a commit's offset but answers every OffsetFetch with empty
metadata, so the relay's finished-offset runs (docs/PROTOCOL.md §8.2) never come back. A Kafka
broker keeps them; to test and measure what they save here, `tansu_keeping_metadata` puts
this proxy in front of a Tansu of its own (advertised as the broker's address, so every
connection goes through it): it forwards every frame unchanged, remembers the metadata of each
OffsetCommit, and fills it into the OffsetFetch answers that name the same offset. The relay
needs nothing of it: against Kafka the broker does this itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator
from io import BytesIO
from typing import Any

from aiokafka.protocol.commit import (
    OffsetCommitRequest_v0,
    OffsetCommitRequest_v1,
    OffsetCommitRequest_v2,
    OffsetCommitRequest_v3,
    OffsetFetchResponse_v0,
    OffsetFetchResponse_v1,
    OffsetFetchResponse_v2,
    OffsetFetchResponse_v3,
)

from consumer.devkit._local_broker import tansu_broker

__all__ = ["MetadataKeeper", "keeping_metadata", "tansu_keeping_metadata"]

_OFFSET_COMMIT, _OFFSET_FETCH = 8, 9
_COMMITS: dict[int, Any] = dict(
    enumerate([OffsetCommitRequest_v0, OffsetCommitRequest_v1, OffsetCommitRequest_v2,
               OffsetCommitRequest_v3])
)  # fmt: skip
_FETCHES: dict[int, Any] = dict(
    enumerate([OffsetFetchResponse_v0, OffsetFetchResponse_v1, OffsetFetchResponse_v2,
               OffsetFetchResponse_v3])
)  # fmt: skip


class MetadataKeeper:
    """Forwards connections to `upstream`, keeping (group, topic, partition) -> metadata."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self.kept: dict[tuple[str, str, int], tuple[int, str]] = {}
        self.filled = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One client connection, relayed to its own upstream connection."""
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        except OSError:
            writer.close()
            return
        asked: dict[int, tuple[int, int, str]] = {}
        relays = [
            asyncio.create_task(self._requests(reader, up_writer, asked)),
            asyncio.create_task(self._answers(up_reader, writer, asked)),
        ]
        await asyncio.wait(relays, return_when=asyncio.FIRST_COMPLETED)
        for task in relays:
            task.cancel()
        await asyncio.gather(*relays, return_exceptions=True)
        for each in (writer, up_writer):
            each.close()

    async def _requests(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        asked: dict[int, tuple[int, int, str]],
    ) -> None:
        while frame := await _frame(reader):
            api_key, version, correlation = struct.unpack(">hhi", frame[:8])
            (client_len,) = struct.unpack(">h", frame[8:10])
            body = frame[10 + max(0, client_len) :]
            group = _string(body) if api_key in (_OFFSET_COMMIT, _OFFSET_FETCH) else ""
            asked[correlation] = (api_key, version, group)
            if api_key == _OFFSET_COMMIT and version in _COMMITS:
                self._remember(_COMMITS[version].decode(body), group)
            writer.write(struct.pack(">i", len(frame)) + frame)
            await writer.drain()

    async def _answers(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        asked: dict[int, tuple[int, int, str]],
    ) -> None:
        while frame := await _frame(reader):
            (correlation,) = struct.unpack(">i", frame[:4])
            api_key, version, group = asked.pop(correlation, (-1, -1, ""))
            if api_key == _OFFSET_FETCH and version in _FETCHES:
                frame = frame[:4] + self._fill(_FETCHES[version].decode(frame[4:]), group)
            writer.write(struct.pack(">i", len(frame)) + frame)
            await writer.drain()

    def _remember(self, request: Any, group: str) -> None:
        for topic, partitions in request.topics:
            for entry in partitions:
                partition, offset, metadata = entry[0], entry[1], entry[-1]
                self.kept[(group, topic, partition)] = (offset, metadata or "")

    def _fill(self, answer: Any, group: str) -> bytes:
        topics = []
        for topic, partitions in answer.topics:
            filled = []
            for partition, offset, metadata, *rest in partitions:
                kept_offset, kept = self.kept.get((group, topic, partition), (-1, ""))
                keep = kept_offset == offset and kept != "" and not metadata
                self.filled += keep
                filled.append((partition, offset, kept if keep else metadata, *rest))
            topics.append((topic, filled))
        answer.topics = topics
        encoded: bytes = answer.encode()
        return encoded


@contextlib.asynccontextmanager
async def keeping_metadata(
    upstream_host: str, upstream_port: int, port: int
) -> AsyncIterator[MetadataKeeper]:
    """Serve a `MetadataKeeper` on 127.0.0.1:`port` until the block ends."""
    keeper = MetadataKeeper(upstream_host, upstream_port)
    server = await asyncio.start_server(keeper.serve, "127.0.0.1", port)
    try:
        yield keeper
    finally:
        server.close()
        await server.wait_closed()


@contextlib.asynccontextmanager
async def tansu_keeping_metadata() -> AsyncIterator[tuple[str, MetadataKeeper]]:
    """A Tansu broker of its own behind a `MetadataKeeper`; yields (bootstrap, keeper)."""
    upstream, proxy = _free_port(), _free_port()
    async with keeping_metadata("127.0.0.1", upstream, proxy) as keeper:
        with tansu_broker(address=f"127.0.0.1:{upstream}", advertised=f"127.0.0.1:{proxy}"):
            yield f"127.0.0.1:{proxy}", keeper


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _frame(reader: asyncio.StreamReader) -> bytes:
    try:
        (size,) = struct.unpack(">i", await reader.readexactly(4))
        return await reader.readexactly(size)
    except (asyncio.IncompleteReadError, ConnectionError):
        return b""


def _string(body: bytes) -> str:
    data = BytesIO(body)
    (length,) = struct.unpack(">h", data.read(2))
    return data.read(max(0, length)).decode("utf-8")
