"""In-memory sockets with bounded buffers, so a client that stops reading backs up as over TCP;
and dialing a fake server through one (`memory_dial`, `connect_trio_websocket`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast
from urllib.parse import urlsplit

import attrs
import trio
import trio_websocket

from gatetrio._shell._excgroups import first_leaf
from gatetrio._shell._transport import MAX_MESSAGE_SIZE, MESSAGE_QUEUE_SIZE

if TYPE_CHECKING:
    from collections.abc import Sequence


class _Pipe:
    """One direction of an in-memory socket: a bounded byte buffer, like a kernel buffer."""

    def __init__(self, capacity: int) -> None:
        self.data = bytearray()
        self.capacity = capacity
        self.eof = False  # the sender closed: the reader gets b"" once drained
        self.reader_closed = False  # the reader closed: the sender gets BrokenResourceError
        self.lot = trio.lowlevel.ParkingLot()


class _MemorySocket(trio.abc.Stream):
    """One end of an in-memory socket pair with bounded buffers.

    trio.testing's memory streams never block a sender. These do once `capacity` bytes sit
    unread, so a client that stops reading backs up into the fake's send queue as a real socket
    would, and the slow-consumer cut can be tested.
    """

    def __init__(self, incoming: _Pipe, outgoing: _Pipe) -> None:
        self._in = incoming
        self._out = outgoing
        self._closed = False

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await trio.lowlevel.checkpoint()
        view = memoryview(data)
        out = self._out
        while True:
            if self._closed:
                raise trio.ClosedResourceError
            if out.reader_closed:
                raise trio.BrokenResourceError
            if not view:
                return
            room = out.capacity - len(out.data)
            if room <= 0:
                await out.lot.park()
                continue
            out.data += view[:room]
            view = view[room:]
            out.lot.unpark_all()

    async def wait_send_all_might_not_block(self) -> None:
        while not self._closed and len(self._out.data) >= self._out.capacity:
            await self._out.lot.park()
        await trio.lowlevel.checkpoint()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        await trio.lowlevel.checkpoint()
        pipe = self._in
        while True:
            if self._closed:
                raise trio.ClosedResourceError
            if pipe.data:
                n = len(pipe.data) if max_bytes is None else min(max_bytes, len(pipe.data))
                chunk = bytes(pipe.data[:n])
                del pipe.data[:n]
                pipe.lot.unpark_all()
                return chunk
            if pipe.eof:
                return b""
            await pipe.lot.park()

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._out.eof = True
            self._in.reader_closed = True
            self._out.lot.unpark_all()
            self._in.lot.unpark_all()
        await trio.lowlevel.checkpoint()


def memory_socket_pair(capacity: int = 65536) -> tuple[trio.abc.Stream, trio.abc.Stream]:
    """Two connected in-memory streams, each direction buffering up to `capacity` bytes."""
    a_to_b, b_to_a = _Pipe(capacity), _Pipe(capacity)
    return _MemorySocket(b_to_a, a_to_b), _MemorySocket(a_to_b, b_to_a)


@attrs.frozen
class MemoryDial:
    """One in-memory dial of a fake server: the client's end and what its handshake names."""

    client: trio.abc.Stream
    server: trio.abc.Stream
    host: str  # the URL's netloc, for the Host header (a fake ignores it)
    resource: str  # the request target: path and query


def memory_dial(url: str, capacity: int) -> MemoryDial:
    """A fresh in-memory socket for a client dialing `url`; the server serves `.server`."""
    parts = urlsplit(url)
    resource = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    client, server = memory_socket_pair(capacity)
    return MemoryDial(client, server, parts.netloc, resource)


async def connect_trio_websocket(
    nursery: trio.Nursery,
    dial: MemoryDial,
    headers: Sequence[tuple[str, str]],
    *,
    refused: bool,
) -> trio_websocket.WebSocketConnection:
    """A trio-websocket client over `dial` (its reader runs in `nursery`).

    `refused`: the server will reject this handshake. trio-websocket raises a rejection in its
    reader task, so the handshake then runs in a nursery of our own and
    `trio_websocket.ConnectionRejected` raises here instead of inside the caller's nursery.
    """
    client = cast("trio.SocketStream", dial.client)
    extra = [(k.encode(), v.encode()) for k, v in headers]
    if refused:
        try:
            async with trio.open_nursery() as own:
                await trio_websocket.wrap_client_stream(
                    own, client, dial.host, dial.resource, extra_headers=extra
                )
        except BaseExceptionGroup as group:
            rejected = group.subgroup(trio_websocket.ConnectionRejected)
            if rejected is not None:
                raise first_leaf(rejected) from None
            raise
        raise RuntimeError("the fake accepted a handshake it meant to refuse")  # pragma: no cover
    return await trio_websocket.wrap_client_stream(
        nursery,
        client,
        dial.host,
        dial.resource,
        extra_headers=extra,
        message_queue_size=MESSAGE_QUEUE_SIZE,
        max_message_size=MAX_MESSAGE_SIZE,
    )
