"""A scripted, hostile HTTP server on real loopback sockets, for the REST helper's failure tests.

    async with hostile_http(behaviour) as server:
        server.url        ws://127.0.0.1:PORT/v4/ws/usdt (the socket URL whose REST it serves)
        server.requests   request heads received, in order

`behaviour(stream, request)` writes whatever it likes (raw bytes, at its own pace) and returns;
the connection is then closed. It is not an HTTP implementation: it speaks just enough to read
a request head, so each test can break the protocol exactly where it wants. Tests use trio's
real clock with it and bound every wait with the helper's own deadline.
"""

from __future__ import annotations

import contextlib
import gzip
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Final

import attrs
import trio

MAX_HEAD: Final = 65536
Behaviour = Callable[[trio.SocketStream, bytes], Awaitable[None]]


@attrs.define
class HostileHttp:
    port: int
    requests: list[bytes] = attrs.field(factory=list)
    connections: int = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v4/ws/usdt"


async def _read_head(stream: trio.SocketStream) -> bytes:
    head = b""
    while b"\r\n\r\n" not in head and len(head) < MAX_HEAD:
        chunk = await stream.receive_some(4096)
        if not chunk:
            break
        head += chunk
    return head


@contextlib.asynccontextmanager
async def hostile_http(behaviour: Behaviour) -> AsyncIterator[HostileHttp]:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    server = HostileHttp(port=listeners[0].socket.getsockname()[1])

    async def handle(stream: trio.SocketStream) -> None:
        server.connections += 1
        try:
            head = await _read_head(stream)
            server.requests.append(head)
            await behaviour(stream, head)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass  # the client gave up on us: that is the point
        finally:
            await trio.aclose_forcefully(stream)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.serve_listeners, handle, listeners)
        try:
            yield server
        finally:
            nursery.cancel_scope.cancel()


# ----------------------------------------------------------------------------- behaviours


def head(status: str = "200 OK", *headers: str) -> bytes:
    lines = "".join(f"{h}\r\n" for h in headers)
    return f"HTTP/1.1 {status}\r\n{lines}\r\n".encode()


def answer(status: str, body: bytes, *headers: str) -> Behaviour:
    """A complete answer with a correct Content-Length."""

    async def behave(stream: trio.SocketStream, _request: bytes) -> None:
        await stream.send_all(head(status, *headers, f"Content-Length: {len(body)}") + body)

    return behave


def endless(*, chunked: bool, declared: int | None = None, chunk: int = 65536) -> Behaviour:
    """A body that never ends (or declares `declared` bytes) of zeros, sent as fast as read."""

    async def behave(stream: trio.SocketStream, _request: bytes) -> None:
        headers = ["Content-Type: application/json"]
        if chunked:
            headers.append("Transfer-Encoding: chunked")
        elif declared is not None:
            headers.append(f"Content-Length: {declared}")
        else:
            headers.append("Connection: close")
        await stream.send_all(head("200 OK", *headers))
        block = b"0" * chunk
        framed = f"{chunk:x}\r\n".encode() + block + b"\r\n" if chunked else block
        while True:
            await stream.send_all(framed)

    return behave


def trickle(body: bytes, every: float) -> Behaviour:
    """A correct answer whose body comes one byte every `every` seconds."""

    async def behave(stream: trio.SocketStream, _request: bytes) -> None:
        await stream.send_all(
            head("200 OK", "Content-Type: application/json", f"Content-Length: {len(body)}")
        )
        for byte in body:
            await trio.sleep(every)
            await stream.send_all(bytes([byte]))

    return behave


async def silent(stream: trio.SocketStream, _request: bytes) -> None:
    """Reads the request, answers nothing, keeps the socket open."""
    await trio.sleep_forever()


async def hang_up(stream: trio.SocketStream, _request: bytes) -> None:
    """Closes at once, without a byte."""


def raw(data: bytes, *, then_wait: bool = False) -> Behaviour:
    """Sends `data` as it is (any protocol breakage the test wants), then closes (or waits)."""

    async def behave(stream: trio.SocketStream, _request: bytes) -> None:
        await stream.send_all(data)
        if then_wait:
            await trio.sleep_forever()

    return behave


def sequence(*behaviours: Behaviour) -> Behaviour:
    """One behaviour per connection, in order; the last repeats."""
    queue = list(behaviours)

    async def behave(stream: trio.SocketStream, request: bytes) -> None:
        step = queue.pop(0) if len(queue) > 1 else queue[0]
        await step(stream, request)

    return behave


def gzip_bomb(size: int) -> bytes:
    return gzip.compress(b"\0" * size, compresslevel=9)


def keep_alive(body: bytes, *, requests: int) -> Behaviour:
    """Answers `requests` requests on one connection (HTTP/1.1 keep-alive), then closes it
    without saying so, as servers do with idle connections."""

    async def behave(stream: trio.SocketStream, _request: bytes) -> None:
        reply = head("200 OK", "Content-Type: application/json", f"Content-Length: {len(body)}")
        await stream.send_all(reply + body)
        for _ in range(requests - 1):
            if not await _read_head(stream):
                return
            await stream.send_all(reply + body)

    return behave
