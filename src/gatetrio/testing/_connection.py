"""One client connection of a fake server, and the one WebSocket-serving path both servers use.

`serve_websocket` is how a stream becomes a `Connection`, for `FakeGateServer` and
`ReplayServer` alike: the handshake (404 for a path that names no market, 503 when the server
refuses), then the connection's tasks until it ends. A server takes part through its
`ConnectionHooks` (a conn id, register, each client frame, unregister) and talks to a live
connection only through its verbs: `offer`/`send` a frame, `stall`/`resume`, `close`, `abort`.

Per connection: one reader task (hands client frames to the server), one writer task draining
a bounded send queue (every frame goes through it, so replies and pushes keep their order), a
protocol-ping task, and an idle watchdog. Nothing awaits a slow client except its own writer:
when its queue is full `offer` says so and the server cuts the connection, as Gate does with a
consumer that does not keep up.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import typing
from typing import TYPE_CHECKING, Any, Final, NamedTuple

import attrs
import trio
import trio_websocket

from gatetrio._shell._transport import MAX_MESSAGE_SIZE

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._market import Topic

MarketKey = tuple[bool, str]  # (delivery, settle)

CLOSE_GRACE: Final = 1.0  # seconds a client gets to answer our close frame
NOT_FOUND_BODY: Final = b'{"label":"NOT_FOUND","message":"unknown path"}'


def route(path: str) -> MarketKey | None:
    """The market a WebSocket path selects (Gate's live and testnet paths), or None if unknown."""
    path = path.split("?", 1)[0].rstrip("/")
    match path.split("/"):
        case ["", "v4", "ws"]:
            return (False, "btc")  # the legacy path is served as BTC settle
        case ["", "v4", "ws", ("usdt" | "btc" | "usd1") as settle]:
            return (False, settle)
        case ["", "v4", "ws", "futures", ("usdt" | "btc" | "usd1") as settle]:
            return (False, settle)  # the testnet spelling
        case ["", "v4", "ws", "delivery", ("usdt" | "btc") as settle]:
            return (True, settle)
    return None


@typing.final
@attrs.frozen(kw_only=True)
class ConnectionOptions:
    """How a fake server queues for each connection (`FakeGateServer(connection=...)`).

    Attributes:
        send_queue_size: frames queued per connection before it is cut as a slow consumer.
        transport_buffer: bytes an in-memory socket buffers per direction (`connector`).
        pong_timeout: seconds a client may take to answer a WebSocket ping before it is closed.
    """

    send_queue_size: int = 1000
    transport_buffer: int = 65536
    pong_timeout: float = 10.0


@attrs.frozen(kw_only=True)
class Liveness:
    """When a server pings a connection and when it gives up on an idle one.

    `ping_interval` None: no WebSocket pings (live Gate sends none). `idle_abort`: live's idle
    rule (a socket with no subscription and no client frame for `idle_timeout` is dropped
    without a close frame); otherwise no frame either way for `idle_timeout` closes with 1000.
    """

    ping_interval: float | None
    pong_timeout: float
    idle_timeout: float
    idle_abort: bool


@attrs.frozen(kw_only=True)
class ConnectionHooks:
    """A server's side of `serve_websocket`, called in this order for each connection."""

    new_conn_id: Callable[[], str]
    """Called once the handshake is accepted (so refusals draw nothing from a seeded id)."""
    opened: Callable[[Connection], None]
    """The connection is about to run: register it."""
    handle: Callable[[Connection, str | bytes], None]
    """One client frame; must not block (replies go through `Connection.offer`)."""
    closed: Callable[[Connection], None]
    """The connection has ended (`closed` is True): forget it."""


class _ServerStream(trio.abc.Stream):
    """The server's view of a client stream: replays bytes already read (the loopback server
    peeks at the HTTP head), swallows output while stalled, and can be aborted (RST on TCP)."""

    def __init__(self, inner: trio.abc.Stream, prefix: bytes = b"") -> None:
        self.inner = inner
        self._prefix = prefix
        self.stalled = False

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        if self.stalled:
            await trio.lowlevel.checkpoint()  # the bytes vanish: the socket looks open but mute
            return
        await self.inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        if self._prefix:
            await trio.lowlevel.checkpoint()
            n = len(self._prefix) if max_bytes is None else max_bytes
            chunk, self._prefix = self._prefix[:n], self._prefix[n:]
            return chunk
        return await self.inner.receive_some(max_bytes)

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def abort(self) -> None:
        """Close without a WebSocket close frame; a TCP peer gets a reset."""
        if isinstance(self.inner, trio.SocketStream):
            with contextlib.suppress(OSError):  # already closed
                self.inner.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await trio.aclose_forcefully(self.inner)


def _never() -> bool:
    return False


async def serve_websocket(
    stream: trio.abc.Stream,
    prefix: bytes,
    *,
    hooks: ConnectionHooks,
    send_queue_size: int,
    liveness: Liveness,
    refuse: Callable[[], bool] = _never,
) -> None:
    """Serve one client stream, WebSocket handshake first, until the connection ends.

    `prefix` holds bytes already read from `stream`. A path that names no market is answered
    404; then `refuse()` decides whether the handshake is rejected with 503. The stream is
    closed on the way out, whatever happened.
    """
    wrapped = _ServerStream(stream, prefix)
    try:
        async with trio.open_nursery() as nursery:
            request = await trio_websocket.wrap_server_stream(
                nursery, wrapped, message_queue_size=64, max_message_size=MAX_MESSAGE_SIZE
            )
            key = route(request.path)
            if key is None:
                await request.reject(404, body=NOT_FOUND_BODY)
            elif refuse():
                await request.reject(503, body=b"Service Unavailable")
            else:
                ws = await request.accept()
                headers = {
                    k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.headers
                }
                send, recv = trio.open_memory_channel[str](send_queue_size)
                conn = Connection(
                    conn_id=hooks.new_conn_id(),
                    path=request.path,
                    market_key=key,
                    headers=headers,
                    size_decimal=headers.get("x-gate-size-decimal") == "1",
                    stream=wrapped,
                    ws=ws,
                    send=send,
                )
                hooks.opened(conn)
                try:
                    await conn.run(recv, hooks.handle, liveness)
                finally:
                    hooks.closed(conn)
            nursery.cancel_scope.cancel()
    finally:
        await trio.aclose_forcefully(wrapped)


@typing.final
@attrs.define(eq=False)
class Connection:
    """One live (or finished) client connection of the fake. Read it; do not change it.

    `topics` are the public streams it subscribed (`("futures.trades", "BTC_USDT")`, ...);
    `private` the private subscriptions as `(channel, contract or "!all" or "")`. Created by
    the server for each accepted handshake, not instantiated directly.
    """

    conn_id: str
    path: str
    market_key: MarketKey
    headers: dict[str, str]
    size_decimal: bool
    _stream: _ServerStream = attrs.field(repr=False, kw_only=True, alias="stream")
    _ws: trio_websocket.WebSocketConnection = attrs.field(repr=False, kw_only=True, alias="ws")
    _send: trio.MemorySendChannel[str] = attrs.field(repr=False, kw_only=True, alias="send")
    topics: set[Topic] = attrs.field(factory=set)
    private: set[tuple[str, str]] = attrs.field(factory=set)
    logged_in: bool = False
    _closed: bool = attrs.field(default=False, alias="closed")
    _close_reason: str = attrs.field(default="", alias="close_reason")
    _frames_sent: int = attrs.field(default=0, alias="frames_sent")
    _frames_received: int = attrs.field(default=0, alias="frames_received")
    _scope: trio.CancelScope = attrs.field(factory=trio.CancelScope, repr=False, init=False)
    _last_traffic: float = attrs.field(default=0.0, repr=False, init=False)
    _last_client: float = attrs.field(default=0.0, repr=False, init=False)  # last client frame
    _closing: bool = attrs.field(default=False, repr=False, init=False)

    @property
    def closed(self) -> bool:
        """The connection has ended (its tasks are done, or its server stopped)."""
        return self._closed

    @property
    def close_reason(self) -> str:
        """How it ended: ``"1008 slow consumer"``, ``"dropped"``, ``"1000 bye"``, ..."""
        return self._close_reason

    @property
    def frames_sent(self) -> int:
        return self._frames_sent

    @property
    def frames_received(self) -> int:
        return self._frames_received

    @property
    def stalled(self) -> bool:
        return self._stream.stalled

    @property
    def send_backlog(self) -> int:
        """Frames waiting in this connection's bounded send queue."""
        return self._send.statistics().current_buffer_used

    @property
    def subscriptions(self) -> list[tuple[str, ...]]:
        """Every subscription, public topics and private ones, sorted."""
        return sorted([*self.topics, *self.private])

    # ---- verbs for the server that hosts it

    def offer(self, frame: str) -> bool:
        """Queue `frame` for the writer; False only when the bounded queue is full.

        A closing connection takes no more frames (True: there is nothing to count).
        """
        if self._closed or self._closing:
            return True
        try:
            self._send.send_nowait(frame)
        except trio.WouldBlock:
            return False
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            pass
        return True

    async def send(self, frame: str) -> None:
        """Queue `frame`, waiting for room instead of failing (a replay played as fast as
        possible paces itself on its slowest subscriber); dropped if the connection ends."""
        if self._closed or self._closing:
            await trio.lowlevel.checkpoint()
            return
        with contextlib.suppress(trio.ClosedResourceError, trio.BrokenResourceError):
            await self._send.send(frame)

    def touch(self) -> None:
        """Count now as traffic from the client: the idle rules start again from here."""
        self._last_traffic = self._last_client = trio.current_time()

    def stall(self) -> None:
        """Send nothing more until `resume`: the socket looks open but is mute."""
        self._stream.stalled = True

    def resume(self) -> None:
        """End a stall; the idle rules start again (frames queued meanwhile are lost)."""
        self._stream.stalled = False
        self.touch()

    async def close(self, code: int, reason: str) -> None:
        """Close with a close frame if the client takes it in time, else drop the socket."""
        if self._closing:
            return
        self._closing = True
        self._close_reason = f"{code} {reason}"
        with trio.move_on_after(CLOSE_GRACE, shield=True):
            await self._ws.aclose(code, reason)
        await self._stream.abort()
        self._scope.cancel()

    async def abort(self, reason: str) -> None:
        """Drop the socket without a close frame (the client sees 1006, or a TCP reset)."""
        self._closing = True
        self._close_reason = reason
        await self._stream.abort()
        self._scope.cancel()

    def cancel(self) -> None:
        """End the connection now, from outside its tasks (its server is stopping): it takes
        no more frames, and its socket closes without a close frame as its tasks unwind."""
        self._closing = self._closed = True
        self._scope.cancel()

    async def run(
        self,
        recv: trio.MemoryReceiveChannel[str],
        handle: Callable[[Connection, str | bytes], None],
        liveness: Liveness,
    ) -> None:
        """Read frames into `handle` until the client leaves or the connection is closed;
        `recv` is the far end of the send queue. Marks the connection closed on the way out."""
        self.touch()
        try:
            with self._scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._run_writer, recv)
                    if liveness.ping_interval is not None:
                        nursery.start_soon(
                            self._run_pinger, liveness.ping_interval, liveness.pong_timeout
                        )
                    if liveness.idle_abort:
                        nursery.start_soon(self._run_idle_abort, liveness.idle_timeout)
                    else:
                        nursery.start_soon(self._run_idle_watchdog, liveness.idle_timeout)
                    await self._run_reader(handle)
                    nursery.cancel_scope.cancel()
        finally:
            self._closed = True
            self._close_reason = self._close_reason or _describe_close(self._ws)
            self._send.close()

    async def _run_reader(self, handle: Callable[[Connection, str | bytes], None]) -> None:
        ws = self._ws
        while True:
            try:
                message = await ws.get_message()
            except trio_websocket.ConnectionClosed:
                return
            self._last_traffic = self._last_client = trio.current_time()
            self._frames_received += 1
            handle(self, message)

    async def _run_writer(self, recv: trio.MemoryReceiveChannel[str]) -> None:
        ws = self._ws
        async for frame in recv:
            try:
                await ws.send_message(frame)
            except trio_websocket.ConnectionClosed:
                self._scope.cancel()
                return
            self._frames_sent += 1
            if not self.stalled:
                self._last_traffic = trio.current_time()

    async def _run_pinger(self, interval: float, pong_timeout: float) -> None:
        """WebSocket protocol pings; a client that does not pong in time is closed."""
        count = 0
        while True:
            await trio.sleep(interval)
            if self.stalled:
                continue  # a stalled server pings nobody
            count += 1
            with trio.move_on_after(pong_timeout) as scope:
                try:
                    await self._ws.ping(struct.pack("!Q", count))
                except trio_websocket.ConnectionClosed:
                    return
            if scope.cancelled_caught and not self.stalled:
                await self.close(1011, "ping timeout")
                return

    async def _run_idle_watchdog(self, idle_timeout: float) -> None:
        """Close connections with no message either way for `idle_timeout` (GATEWS#34)."""
        while True:
            deadline = self._last_traffic + idle_timeout
            if trio.current_time() >= deadline and not self.stalled:
                await self.close(1000, "idle timeout")
                return
            await trio.sleep_until(max(deadline, trio.current_time() + 0.001))
            if self.stalled:
                self._last_traffic = trio.current_time()

    async def _run_idle_abort(self, idle_timeout: float) -> None:
        """Live's idle rule: a socket with no subscription and no client frame for
        `idle_timeout` is dropped without a close frame (the client sees 1006)."""
        while True:
            deadline = self._last_client + idle_timeout
            now = trio.current_time()
            if now >= deadline and not self.stalled and not self.topics and not self.private:
                await self.abort("1006 idle timeout")
                return
            await trio.sleep_until(max(deadline, now + 0.001))
            if self.stalled or self.topics or self.private:
                self._last_client = trio.current_time()


class Received(NamedTuple):
    """One client frame the fake received: unpacks as ``(conn_id, frame)``."""

    conn_id: str
    frame: dict[str, Any] | str  # the parsed JSON object, or the raw text if it was not one

    @property
    def channel(self) -> str | None:
        return _text_field(self.frame, "channel")

    @property
    def event(self) -> str | None:
        return _text_field(self.frame, "event")


def _text_field(frame: dict[str, Any] | str, name: str) -> str | None:
    value = frame.get(name) if isinstance(frame, dict) else None
    return value if isinstance(value, str) else None


ConnRef = Connection | str | None
"""A fault target: a Connection, its conn_id, or None for every live connection."""


def _describe_close(ws: trio_websocket.WebSocketConnection) -> str:
    reason = ws.closed
    if reason is None:
        return "closed"
    return f"{reason.code} {reason.reason or reason.name}"
