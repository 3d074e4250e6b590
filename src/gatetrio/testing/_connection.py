"""One client connection of the fake: its stream, bounded send queue and per-connection tasks.

Per connection: one reader task (hands client frames to the server), one writer task draining
a bounded send queue (every frame goes through it, so replies and pushes keep their order), a
protocol-ping task, and an idle watchdog. Nothing awaits a slow client except its own writer:
when its queue is full `_offer` says so and the server cuts the connection, as Gate does
with a consumer that does not keep up.
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

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._market import Topic

MarketKey = tuple[bool, str]  # (delivery, settle)

_CLOSE_GRACE: Final = 1.0


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


@typing.final
@attrs.define(eq=False)
class Connection:
    """One live (or finished) client connection of the fake. Read it; do not change it.

    `topics` are the public streams it subscribed (`("futures.trades", "BTC_USDT")`, ...);
    `private` the private subscriptions as `(channel, contract or "!all" or "")`.
    """

    conn_id: str
    path: str
    market_key: MarketKey
    headers: dict[str, str]
    size_decimal: bool
    topics: set[Topic] = attrs.field(factory=set)
    private: set[tuple[str, str]] = attrs.field(factory=set)
    logged_in: bool = False
    closed: bool = False
    close_reason: str = ""
    frames_sent: int = 0
    frames_received: int = 0
    _stream: _ServerStream = attrs.field(default=None, repr=False, alias="_stream")
    _ws: trio_websocket.WebSocketConnection = attrs.field(default=None, repr=False, alias="_ws")
    _send: trio.MemorySendChannel[str] = attrs.field(default=None, repr=False, alias="_send")
    _scope: trio.CancelScope = attrs.field(factory=trio.CancelScope, repr=False)
    _last_traffic: float = attrs.field(default=0.0, repr=False)
    _last_client: float = attrs.field(default=0.0, repr=False)  # the last client frame
    _closing: bool = attrs.field(default=False, repr=False)

    @property
    def stalled(self) -> bool:
        return self._stream is not None and self._stream.stalled

    @property
    def send_backlog(self) -> int:
        """Frames waiting in this connection's bounded send queue."""
        return self._send.statistics().current_buffer_used if self._send is not None else 0

    @property
    def subscriptions(self) -> list[tuple[str, ...]]:
        """Every subscription, public topics and private ones, sorted."""
        return sorted([*self.topics, *self.private])

    # ---- the server's side of the connection (FakeGateServer runs these)

    def _offer(self, frame: str) -> bool:
        """Queue `frame` for the writer; False only when the bounded queue is full."""
        if self.closed or self._closing:
            return True  # a closing connection takes no more frames: nothing to count
        try:
            self._send.send_nowait(frame)
        except trio.WouldBlock:
            return False
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            pass
        return True

    def _set_stalled(self, *, stalled: bool) -> None:
        self._stream.stalled = stalled
        if not stalled:
            self._last_traffic = self._last_client = trio.current_time()

    async def _run(
        self,
        recv: trio.MemoryReceiveChannel[str],
        handle: Callable[[Connection, str | bytes], None],
        *,
        ping_interval: float | None,
        pong_timeout: float,
        idle_timeout: float,
        idle_abort: bool = False,
    ) -> None:
        """Read frames into `handle` until the client leaves or the connection is closed.

        `ping_interval` None: no server pings (as live Gate). `idle_abort`: the live idle
        rule, see `_run_idle_abort`.
        """
        with self._scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._run_writer, recv)
                if ping_interval is not None:
                    nursery.start_soon(self._run_pinger, ping_interval, pong_timeout)
                if idle_abort:
                    nursery.start_soon(self._run_idle_abort, idle_timeout)
                else:
                    nursery.start_soon(self._run_idle_watchdog, idle_timeout)
                await self._run_reader(handle)
                nursery.cancel_scope.cancel()

    async def _run_reader(self, handle: Callable[[Connection, str | bytes], None]) -> None:
        ws = self._ws
        while True:
            try:
                message = await ws.get_message()
            except trio_websocket.ConnectionClosed:
                return
            self._last_traffic = self._last_client = trio.current_time()
            self.frames_received += 1
            handle(self, message)

    async def _run_writer(self, recv: trio.MemoryReceiveChannel[str]) -> None:
        ws = self._ws
        async for frame in recv:
            try:
                await ws.send_message(frame)
            except trio_websocket.ConnectionClosed:
                self._scope.cancel()
                return
            self.frames_sent += 1
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
                await self._close(1011, "ping timeout")
                return

    async def _run_idle_watchdog(self, idle_timeout: float) -> None:
        """Close connections with no message either way for `idle_timeout` (GATEWS#34)."""
        while True:
            deadline = self._last_traffic + idle_timeout
            if trio.current_time() >= deadline and not self.stalled:
                await self._close(1000, "idle timeout")
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
                await self._abort("1006 idle timeout")
                return
            await trio.sleep_until(max(deadline, now + 0.001))
            if self.stalled or self.topics or self.private:
                self._last_client = trio.current_time()

    async def _close(self, code: int, reason: str) -> None:
        """Close with a close frame if the client takes it in time, else drop the socket."""
        if self._closing:
            return
        self._closing = True
        self.close_reason = f"{code} {reason}"
        with trio.move_on_after(_CLOSE_GRACE, shield=True):
            await self._ws.aclose(code, reason)
        await self._stream.abort()
        self._scope.cancel()

    async def _abort(self, reason: str) -> None:
        self._closing = True
        self.close_reason = reason
        await self._stream.abort()
        self._scope.cancel()

    async def _close_later(self, delay: float) -> None:
        await trio.sleep(delay)
        if not self.closed:
            await self._close(1001, "service upgrade")


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
