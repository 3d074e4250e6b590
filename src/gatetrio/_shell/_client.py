"""The trio shell: `open_client`, the supervised connection, heartbeat and subscriptions.

    open_client(...)                  async with; yields a Client
    └─ nursery "client"
       └─ _run_supervisor            connect → backoff → reconnect (forever or up to a limit)
          └─ nursery "connections"   at most two live connections (make-before-break upgrade)
             └─ _run_connection      one per WebSocket
                └─ nursery "connection"
                   ├─ _run_reader    get_message → protocol.receive_text → dispatch (sync)
                   └─ _run_heartbeat sleep_until(protocol.get_timer()) → handle_timer

The default transport (`_websocket.WebSocket`) has no task of its own: `_run_reader` reads the
socket. A trio-websocket connector adds that library's reader task to the connection's nursery.

All protocol logic lives in the pure `GateProtocol`; this module only moves frames and wakes tasks.
"""

from __future__ import annotations

import contextlib
import enum
import math
import time
from typing import TYPE_CHECKING, Any, Final, TypeVar, final

import attrs
import trio

from gatetrio._core._backoff import Backoff
from gatetrio._core._config import (
    CLOSE_GRACE,
    DEFAULT_BUFFER,
    SIZE_DECIMAL_HEADER,
    ClientConfig,
    Credentials,
    endpoint_url,
)
from gatetrio._core._errors import (
    AuthenticationError,
    ConnectionLost,
    GateTrioError,
    GateTrioInternalError,
    HeartbeatTimeout,
    ReconnectLimitReached,
    RequestRejected,
    UsageError,
)
from gatetrio._core._events import ApiError, ApiResult
from gatetrio._core._protocol import (
    ApiAcked,
    ApiCompleted,
    ApiLost,
    Delivery,
    GateProtocol,
    Malformed,
    Notice,
    PongReceived,
    SubscriptionFailed,
    SubscriptionReady,
    Upgrade,
)
from gatetrio._core._requests import ChannelSpec, Login

from ._book_host import BookHost
from ._live_book import LiveOrderBook, Method, SnapshotFetcher, open_order_book
from ._subscription import OverflowPolicy, Subscription
from ._transport import (
    TRANSPORT_ERRORS,
    Connector,
    WebSocketLike,
    connection_lost,
    default_connector,
    map_transport_errors,
    open_connection,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Mapping

    from gatetrio._core._protocol import Output
    from gatetrio._core._requests import ApiRequest

T = TypeVar("T")

EVENTS_BUFFER: Final = 256
HANDOVER_DEDUPE: Final = 4096  # frames remembered while two connections overlap
# Frames handled per reader wake-up at most (one receive_some of the default transport can hold
# ~300); a batch also ends once a subscription is half full (see _run_reader).
MAX_BATCH: Final = 64


class ClientEventKind(enum.Enum):
    """What happened to the client; see `Client.events()`."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    RESUBSCRIBED = "resubscribed"
    UPGRADE = "upgrade"
    MALFORMED_FRAME = "malformed_frame"
    CHANNEL_SILENT = "channel_silent"
    SUBSCRIPTION_FAILED = "subscription_failed"
    BOOK_RESYNC = "book_resync"
    NOTICE = "notice"


@final
@attrs.frozen
class ClientEvent:
    """A connection-state change or a notable incident, stamped with trio's clock (`at`)."""

    kind: ClientEventKind
    at: float
    reason: str = ""
    channel: str = ""
    attempt: int = 0


@final
@attrs.frozen
class ClientStatistics:
    """A snapshot of the client's counters, as returned by `Client.statistics()`."""

    connected: bool
    url: str
    connects: int
    reconnects: int
    upgrades: int
    messages_received: int
    messages_by_channel: Mapping[str, int]
    malformed_frames: int
    unrouted_items: int
    messages_dropped: int
    peak_buffer_used: int
    open_subscriptions: int
    last_pong_rtt: float | None
    last_latency_ms: float | None
    silences: int


@attrs.define
class _ApiWaiter:
    conn: _Connection  # the socket the request went out on; its reply can come only there
    done: trio.Event = attrs.field(factory=trio.Event)
    reply: ApiResult | ApiError | None = None
    lost: str = ""


_CLIENT_EVENTS_SPEC: Final[ChannelSpec[ClientEvent]] = ChannelSpec(
    channel="gatetrio.client", payloads=(), keys=frozenset()
)


@attrs.define(eq=False)
class _Connection:
    ws: WebSocketLike
    scope: trio.CancelScope
    logged_in: bool = False
    login_lock: trio.Lock = attrs.field(factory=trio.Lock)  # one futures.login per connection
    handed_over: bool = False
    closing: bool = False  # we started the close handshake: the reader ends quietly
    upgrade: trio.Event = attrs.field(factory=trio.Event)


@final
class Client:
    """A supervised connection to one Gate futures endpoint.

    Created by `open_client`, not instantiated directly. Subscriptions, order books and
    trading-API requests survive reconnects: they are re-sent from current state.
    """

    def __init__(
        self,
        config: ClientConfig,
        *,
        connector: Connector,
        wall_clock: Callable[[], float],
    ) -> None:
        self.config = config
        self._connector = connector
        self._wall_clock = wall_clock
        self._protocol = GateProtocol(
            ping_interval=config.ping_interval,
            pong_timeout=config.pong_timeout,
            silence_timeout=config.silence_timeout,
            credentials=config.credentials,
        )
        self._subs: dict[int, Subscription[Any]] = {}
        self._api: dict[str, _ApiWaiter] = {}
        self._current: _Connection | None = None
        # set (and replaced) when a subscription is added, acked or failed: wakes the heartbeat
        # (a silence deadline may now come first) and whoever waits for subscriptions to be ready
        self._subs_changed = trio.Event()
        self._watchers: list[Subscription[ClientEvent]] = []
        self._dedupe: dict[int, None] | None = None
        self._live: set[_Connection] = set()
        self._connected_event = trio.Event()
        self._conns: trio.Nursery | None = None
        self._closed = False
        self._connects = 0
        self._reconnects = 0
        self._upgrades = 0
        self._silences = 0
        self._last_rtt: float | None = None
        self._last_latency_ms: float | None = None
        self._retired_dropped = 0
        self._retired_peak = 0
        # live books' lost-connection callbacks (BookHost.connection_lost)
        self._books: set[Callable[[], None]] = set()

    # ------------------------------------------------------------------------- public API

    @contextlib.asynccontextmanager
    async def subscribe(
        self,
        spec: ChannelSpec[T],
        *,
        buffer: int = DEFAULT_BUFFER,
        overflow: OverflowPolicy = OverflowPolicy.DROP_OLDEST,
    ) -> AsyncIterator[Subscription[T]]:
        """Subscribe to `spec` (from `gatetrio.channels`) and yield its items as they arrive.

        Waits for the exchange's ack; raises `SubscriptionRejected` (code and message from the
        exchange, e.g. an unknown contract) or `AuthenticationError` if it refuses. Items that
        arrive before the ack (obu snapshots) are kept. Leaving the block unsubscribes.

        Cancellation while waiting for the ack leaves nothing registered.

        Example::

            async with client.subscribe(gatetrio.channels.trades("BTC_USDT")) as trades:
                async for trade in trades:
                    print(trade.price, trade.size)
        """
        self._check_open()
        if not isinstance(buffer, int) or buffer < 1:
            raise UsageError(f"buffer must be a positive int, got {buffer!r}")
        if not isinstance(overflow, OverflowPolicy):
            raise UsageError(f"overflow must be an OverflowPolicy, got {overflow!r}")
        sub: Subscription[T] = Subscription(spec, buffer=buffer, overflow=overflow)
        # checks the spec (and credentials for a private one) before registering anything
        sub_id, frames = self._protocol.subscribe(
            spec, wall_time=self._wall_clock(), now=trio.current_time()
        )
        # registered before anything is sent, so data that beats the ack is kept
        self._subs[sub_id] = sub
        self._notify_subs_changed()
        try:
            await self._send_current(frames)
            if self._protocol.is_ready(sub_id):
                sub._ready = True  # its targets were all live already: no SubscriptionReady
            while not sub._ready and sub._failure is None:
                await self._subs_changed.wait()
            if sub._failure is not None:
                raise sub._failure
            yield sub
        finally:
            del self._subs[sub_id]
            stats = sub.statistics()
            self._retired_dropped += stats.messages_dropped
            self._retired_peak = max(self._retired_peak, stats.peak_buffer_used)
            sub._end()
            frames = self._protocol.unsubscribe(sub_id, wall_time=self._wall_clock())
            with trio.move_on_after(CLOSE_GRACE, shield=True):
                await self._send_current(frames)

    @contextlib.asynccontextmanager
    async def events(
        self, *, buffer: int = EVENTS_BUFFER
    ) -> AsyncIterator[Subscription[ClientEvent]]:
        """Yield a channel of `ClientEvent`s: connection state changes and incidents.

        Bounded like every subscription (oldest dropped first, drops counted).
        """
        watcher: Subscription[ClientEvent] = Subscription(
            _CLIENT_EVENTS_SPEC, buffer=buffer, overflow=OverflowPolicy.DROP_OLDEST
        )
        self._watchers.append(watcher)
        try:
            await trio.lowlevel.checkpoint()
            yield watcher
        finally:
            self._watchers.remove(watcher)
            watcher._end()

    def order_book(
        self,
        contract: str,
        *,
        depth: int = 20,
        method: Method = "auto",
        snapshot_fetcher: SnapshotFetcher | None = None,
    ) -> contextlib.AbstractAsyncContextManager[LiveOrderBook]:
        """Maintain a local order book of `contract` for the duration of an `async with` block.

        Args:
            contract: e.g. "BTC_USDT".
            depth: levels per side the caller needs; picks the smallest Gate stream that is
                deep enough (obu 50/400; order_book_update 20/50/100).
            method: "obu" (USDT perpetuals), "order_book_update" (deltas + REST snapshot), or
                "auto": obu where Gate documents it, else order_book_update.
            snapshot_fetcher: `await fetch(contract, limit)` returning Gate's REST order-book
                JSON; defaults to an httpx GET against the REST host matching the client's URL.

        A gap, malformed delta or crossed book resyncs this contract only (visible as a
        `BOOK_RESYNC` event and in `statistics()`); the book is not ready meanwhile. Errors that
        cannot be recovered surface from the `async with`.

        Example::

            async with client.order_book("BTC_USDT", depth=10) as live:
                async for update_id in live:
                    print(live.book.best_bid(), live.book.best_ask())
        """
        self._check_open()
        host = BookHost(
            url=self.config.url,
            rng=self.config.rng,
            subscribe=self.subscribe,
            report_resync=self._emit_book_resync,
            connection_lost=self._books,
        )
        return open_order_book(
            host, contract, depth=depth, method=method, snapshot_fetcher=snapshot_fetcher
        )

    async def wait_connected(self) -> None:
        """Return once the client has a live connection (at once if it already has one)."""
        while self._current is None:
            self._check_open()
            await self._connected_event.wait()
        await trio.lowlevel.checkpoint()

    async def request(self, request: ApiRequest) -> ApiResult:
        """Send one trading-API request and return its final result (the ack is skipped).

        Logs in first when the connection is not logged in yet. Raises `RequestRejected`
        (label, status, message from the exchange) or `ConnectionLost` when the connection
        drops before the reply, in which case the request may or may not have executed:
        requests are never replayed. If cancelled after sending, the reply is discarded.
        """
        self._check_open()
        if self.config.credentials is None:
            raise UsageError("the trading API needs credentials=gatetrio.Credentials(...)")
        if "/delivery/" in self.config.url:
            raise UsageError("Gate offers no WebSocket trading API on delivery endpoints")
        await self.wait_connected()
        conn = self._current
        if conn is None:
            raise ConnectionLost("not connected")
        if not conn.logged_in and not isinstance(request, Login):
            async with conn.login_lock:  # concurrent first requests share one login
                if not conn.logged_in:
                    await self._roundtrip(Login(), conn)
                    conn.logged_in = True
        # sent on the connection that is logged in, even if an upgrade handover began meanwhile
        return await self._roundtrip(request, conn)

    def statistics(self) -> ClientStatistics:
        p = self._protocol.statistics()
        subs = [s.statistics() for s in self._subs.values()]
        return ClientStatistics(
            connected=self._current is not None,
            url=self.config.url,
            connects=self._connects,
            reconnects=self._reconnects,
            upgrades=self._upgrades,
            messages_received=p.frames_received,
            messages_by_channel=dict(p.messages_by_channel),
            malformed_frames=p.malformed,
            unrouted_items=p.unrouted,
            messages_dropped=self._retired_dropped + sum(s.messages_dropped for s in subs),
            peak_buffer_used=max([self._retired_peak, *(s.peak_buffer_used for s in subs)]),
            open_subscriptions=len(self._subs),
            last_pong_rtt=self._last_rtt,
            last_latency_ms=self._last_latency_ms,
            silences=self._silences,
        )

    # ------------------------------------------------------------------------ supervision

    async def _run_supervisor(self, *, task_status: trio.TaskStatus[None]) -> None:
        backoff = Backoff.from_config(self.config)
        ends_send, ends_recv = trio.open_memory_channel[str](2)
        started = False
        async with ends_send, ends_recv, trio.open_nursery() as conns:
            self._conns = conns
            while True:
                self._emit(ClientEventKind.CONNECTING, attempt=backoff.attempt)
                try:
                    await conns.start(self._run_connection, ends_send)
                except ConnectionLost as exc:
                    self._emit(ClientEventKind.DISCONNECTED, reason=exc.reason)
                    if backoff.exhausted:
                        raise ReconnectLimitReached(
                            f"gave up after {backoff.attempt} reconnect attempts: {exc.reason}"
                        ) from exc
                    await trio.sleep(backoff.next_delay())
                    continue
                if not started:
                    started = True
                    task_status.started()
                backoff.reset()
                # a handed-over connection reports "" and its successor is already live
                while (reason := await ends_recv.receive()) == "":
                    pass
                if self._closed:
                    return
                self._reconnects += 1
                if backoff.exhausted:
                    raise ReconnectLimitReached(f"connection lost and no retries left: {reason}")
                await trio.sleep(backoff.next_delay())

    async def _run_connection(
        self, ends: trio.MemorySendChannel[str], *, task_status: trio.TaskStatus[None]
    ) -> None:
        """Own one WebSocket: connect, resubscribe, read, ping; report how it ended."""
        config = self.config
        headers = [SIZE_DECIMAL_HEADER] if config.size_decimal else []
        ended = "connection closed"
        dead = False  # a stalled peer will not answer a close frame: abort instead
        conn: _Connection | None = None
        try:
            async with trio.open_nursery() as nursery:
                try:
                    with trio.fail_after(config.connect_deadline):
                        ws = await open_connection(nursery, self._connector, config.url, headers)
                except trio.TooSlowError as exc:
                    raise ConnectionLost(
                        f"connect: no handshake within {config.connect_deadline}s"
                    ) from exc
                conn = _Connection(ws=ws, scope=nursery.cancel_scope)
                previous = self._current
                frames = self._protocol.on_connected(
                    trio.current_time(), wall_time=self._wall_clock()
                )
                self._current = conn
                self._connects += 1
                self._live.add(conn)
                await self._send(conn, frames)
                nursery.start_soon(self._run_reader, conn)
                nursery.start_soon(self._run_heartbeat, conn)
                self._emit(ClientEventKind.CONNECTED, reason=config.url)
                if previous is not None:  # make-before-break: wait until resubscribed
                    with trio.move_on_after(config.subscribe_deadline):
                        await self._wait_all_ready()
                self._connected_event.set()
                self._connected_event = trio.Event()
                if frames:
                    nursery.start_soon(self._report_resubscribed)
                task_status.started()
                await conn.upgrade.wait()
                # make before break: the next connection is live before this one closes
                self._upgrades += 1
                self._dedupe = {}
                conns = self._conns
                if conns is None:  # pragma: no cover - set before any connection starts
                    raise GateTrioInternalError("connection started outside the supervisor")
                try:
                    await conns.start(self._run_connection, ends)
                except ConnectionLost as exc:
                    self._emit(ClientEventKind.DISCONNECTED, reason=f"upgrade: {exc.reason}")
                    await trio.sleep_forever()  # keep serving until the server closes us
                conn.handed_over = conn.closing = True
                await _close_websocket(ws)  # while its reader runs, so the handshake completes
                nursery.cancel_scope.cancel(reason="handed over after upgrade notice")
        except BaseExceptionGroup as group:
            lost = _only_connection_lost(group)
            if lost is None or conn is None:
                raise _collapse(group)  # noqa: B904 - the group stays attached as __context__
            ended = lost.reason
            dead = isinstance(lost, HeartbeatTimeout)
        except ConnectionLost as exc:
            if conn is None:
                raise
            ended = exc.reason
            dead = isinstance(exc, HeartbeatTimeout)
        finally:
            if conn is not None:
                self._live.discard(conn)
                for waiter in self._api.values():
                    # covers a connection handed over after an upgrade too, whose pending
                    # requests the protocol (now tracking the new socket) does not report lost
                    if waiter.conn is conn and not waiter.done.is_set():
                        waiter.lost = "connection lost before the reply"
                        waiter.done.set()
                if len(self._live) <= 1:
                    self._dedupe = None
                if self._current is conn:
                    self._current = None
                    for book_lost_connection in list(self._books):
                        book_lost_connection()
                    for output in self._protocol.on_disconnected(trio.current_time()):
                        self._handle(output)
                if conn.handed_over:
                    ended = ""
                elif not self._closed:
                    self._emit(ClientEventKind.DISCONNECTED, reason=ended)
                await _close_websocket(conn.ws, graceful=not dead)
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            ends.send_nowait(ended)

    async def _aclose_connections(self) -> None:
        """Close every live socket politely while its reader still runs (bounded, shielded)."""
        for conn in list(self._live):
            conn.closing = True
            await _close_websocket(conn.ws)

    async def _report_resubscribed(self) -> None:
        with trio.move_on_after(self.config.subscribe_deadline):
            await self._wait_all_ready()
            self._emit(ClientEventKind.RESUBSCRIBED, reason=f"{len(self._subs)} subscriptions")

    async def _wait_all_ready(self) -> None:
        """Return once every subscription is acked on the current connection or has failed."""
        is_ready = self._protocol.is_ready
        while any(
            not is_ready(sub_id) and sub._failure is None for sub_id, sub in self._subs.items()
        ):
            await self._subs_changed.wait()

    async def _run_reader(self, conn: _Connection) -> None:
        """Read frames, run them through the protocol and dispatch the outputs (sync).

        After each `get_message()` it drains, without awaiting, what the transport has already
        parsed (`receive_nowait`, up to MAX_BATCH frames): the reader then runs once per batch
        instead of once per frame (benchmarks/README.md "End-to-end"). A consumer takes one item
        per scheduler pass, though, so the batch ends early once a subscription's buffer is more
        than half full (`Subscription._push`): the next `get_message()` is a checkpoint and the
        consumers catch up instead of their buffers overflowing. The reader still never waits
        for a consumer; one that falls behind for real loses items by its overflow policy.
        """
        ws = conn.ws
        drain = _queued_message_getter(ws)
        protocol = self._protocol
        receive_text = protocol.receive_text
        subs = self._subs
        handle = self._handle
        wall_clock = self._wall_clock
        current_time = trio.current_time
        while True:
            try:
                text: str | bytes = await ws.get_message()
            except ConnectionLost:
                if conn.closing:
                    return  # our own close: the close reply (or EOF) ended the read
                raise
            except TRANSPORT_ERRORS as exc:  # a trio-websocket connection
                if conn.closing:
                    return  # our own close; trio-websocket finishes the handshake
                raise connection_lost("receive", exc) from exc
            now = current_time()  # a batch is handled without yielding: one clock read
            dedupe = self._dedupe  # nor can a handover start or end within it
            first = True
            crowded = False
            left = MAX_BATCH
            while True:
                if dedupe is not None and _seen_on_the_other_connection(dedupe, text):
                    outputs = []
                else:
                    outputs = receive_text(text, now=now)
                for output in outputs:
                    if type(output) is Delivery:
                        sub = subs.get(output.sub_id)
                        if sub is not None:
                            if sub._push(output.item):
                                crowded = True
                            if first:  # one latency sample per batch keeps the clock off
                                first = False
                                stamp = output.frame.time_ms
                                if stamp:
                                    sub._last_latency_ms = self._last_latency_ms = (
                                        wall_clock() * 1000 - stamp
                                    )
                    else:
                        handle(output, conn)
                left -= 1
                if crowded or not left or drain is None:
                    break
                try:
                    text = drain()
                except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                    break  # nothing queued, or closed: get_message() reports it properly

    async def _run_heartbeat(self, conn: _Connection) -> None:
        protocol = self._protocol
        while self._current is conn:
            deadline = protocol.get_timer()
            changed = self._subs_changed
            with trio.move_on_at(math.inf if deadline is None else deadline):
                await changed.wait()
            if self._current is not conn:
                return
            result = protocol.handle_timer(trio.current_time(), wall_time=self._wall_clock())
            await self._send(conn, result.frames)
            for sub_id in result.silent:
                sub = self._subs.get(sub_id)
                if sub is not None:
                    sub._silent = True
                    sub._silences += 1
                    self._silences += 1
                    self._emit(ClientEventKind.CHANNEL_SILENT, channel=sub.spec.channel)

    # -------------------------------------------------------------------------- dispatch

    def _handle(self, output: Output, conn: _Connection | None = None) -> None:
        match output:
            case Delivery(sub_id=sub_id, item=item):
                sub = self._subs.get(sub_id)
                if sub is not None:
                    sub._push(item)
            case SubscriptionReady(sub_id=sub_id):
                sub = self._subs.get(sub_id)
                if sub is not None:
                    sub._ready = True
                self._notify_subs_changed()  # a silence deadline starts now
            case SubscriptionFailed(sub_id=sub_id, error=error):
                sub = self._subs.get(sub_id)
                if sub is not None:
                    sub._end(error)
                    self._emit(
                        ClientEventKind.SUBSCRIPTION_FAILED,
                        channel=sub.spec.channel,
                        reason=str(error),
                    )
                self._notify_subs_changed()
            case PongReceived(rtt=rtt):
                self._last_rtt = rtt
            case Upgrade():
                self._emit(ClientEventKind.UPGRADE)
                if conn is not None:
                    conn.upgrade.set()
            case Malformed(error=error):
                self._emit(ClientEventKind.MALFORMED_FRAME, reason=str(error))
            case Notice(event=event):
                self._emit(ClientEventKind.NOTICE, reason=repr(event))
            case ApiAcked():
                pass
            case ApiCompleted(req_id=req_id, event=event):
                waiter = self._api.get(req_id)
                if waiter is not None:
                    waiter.reply = event
                    waiter.done.set()
            case ApiLost(req_id=req_id):
                waiter = self._api.get(req_id)
                if waiter is not None:
                    waiter.lost = "connection lost before the reply"
                    waiter.done.set()
            case _:
                pass  # unrouted items, unmatched replies: counted by the protocol

    # ---------------------------------------------------------------------------- helpers

    async def _roundtrip(self, request: ApiRequest, conn: _Connection) -> ApiResult:
        if conn.closing or conn not in self._live:
            raise ConnectionLost("the connection closed before the request was sent")
        req_id, frame = self._protocol.api_request(request, wall_time=self._wall_clock())
        waiter = self._api[req_id] = _ApiWaiter(conn)
        try:
            await self._send(conn, [frame])
            await waiter.done.wait()
        finally:
            del self._api[req_id]
            self._protocol.forget_api(req_id)
        if waiter.lost:
            raise ConnectionLost(
                f"{waiter.lost}; the request may or may not have executed (never replayed)"
            )
        reply = waiter.reply
        if isinstance(reply, ApiError):
            if reply.header.channel == "futures.login":
                raise AuthenticationError(
                    reply.message,
                    code=reply.label or reply.header.status,
                    channel=reply.header.channel,
                )
            raise RequestRejected(
                reply.message,
                label=reply.label,
                status=reply.header.status,
                req_id=req_id,
                channel=reply.header.channel,
            )
        if reply is None:  # pragma: no cover - done is only set with a reply or a loss
            raise GateTrioInternalError("API waiter woke without a reply")
        return reply

    async def _send_current(self, frames: list[str]) -> None:
        """Send on the current connection, if any; a lost one is the supervisor's business.

        The reconnect re-sends subscriptions from state, and unsubscribes die with the socket.
        """
        conn = self._current
        if conn is None or not frames:
            await trio.lowlevel.checkpoint()
            return
        with contextlib.suppress(ConnectionLost):
            await self._send(conn, frames)

    async def _send(self, conn: _Connection, frames: list[str]) -> None:
        for frame in frames:
            with map_transport_errors("send"):
                await conn.ws.send_message(frame)

    def _emit_book_resync(self, contract: str, reason: str) -> None:
        self._emit(ClientEventKind.BOOK_RESYNC, channel=contract, reason=reason)

    def _notify_subs_changed(self) -> None:
        self._subs_changed.set()
        self._subs_changed = trio.Event()

    def _emit(
        self, kind: ClientEventKind, *, reason: str = "", channel: str = "", attempt: int = 0
    ) -> None:
        if not self._watchers:
            return
        event = ClientEvent(kind, trio.current_time(), reason, channel, attempt)
        for watcher in self._watchers:
            watcher._push(event)

    def _check_open(self) -> None:
        if self._closed:
            raise UsageError("this client is closed; open a new one with gatetrio.open_client()")


async def _close_websocket(ws: WebSocketLike, *, graceful: bool = True) -> None:
    """Close `ws` gracefully within CLOSE_GRACE (shielded), else abort its stream."""
    with trio.move_on_after(CLOSE_GRACE if graceful else 0, shield=True) as scope:
        await ws.aclose()
    if scope.cancelled_caught:
        abort = getattr(ws, "abort", None)  # gatetrio's WebSocket has one
        if callable(abort):
            with trio.CancelScope(shield=True):
                await abort()
            return
        # trio-websocket offers no public abort; without this the socket would leak until GC
        stream = getattr(ws, "_stream", None)
        if isinstance(stream, trio.abc.AsyncResource):
            await trio.aclose_forcefully(stream)


def _queued_message_getter(ws: WebSocketLike) -> Callable[[], str | bytes] | None:
    """The connection's `receive_nowait`, or that of trio-websocket's private queue, or None.

    gatetrio's own WebSocket has `receive_nowait`; trio-websocket has no public non-blocking
    get_message. Without either the client still works, just one frame per wake-up.
    """
    receive_nowait = getattr(ws, "receive_nowait", None)
    if callable(receive_nowait):
        getter: Callable[[], str | bytes] = receive_nowait
        return getter
    queue = getattr(ws, "_recv_channel", None)
    if isinstance(queue, trio.MemoryReceiveChannel):
        return queue.receive_nowait
    return None


def _seen_on_the_other_connection(dedupe: dict[int, None], text: str | bytes) -> bool:
    """During an upgrade handover both sockets carry the same pushes: drop the second copy."""
    key = hash(text)
    if key in dedupe:
        del dedupe[key]
        return True
    dedupe[key] = None
    if len(dedupe) > HANDOVER_DEDUPE:
        del dedupe[next(iter(dedupe))]
    return False


def _only_connection_lost(group: BaseExceptionGroup[BaseException]) -> ConnectionLost | None:
    """The first ConnectionLost if every non-Cancelled leaf of `group` is one, else None."""
    leaves = [e for e in _leaves(group) if not isinstance(e, trio.Cancelled)]
    if leaves and all(isinstance(e, ConnectionLost) for e in leaves):
        first = leaves[0]
        return first if isinstance(first, ConnectionLost) else None
    return None


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in _leaves(sub)]
    return [exc]


def _collapse(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """One exception to raise for `group` (STYLE 2.6, "second" pattern).

    A single real failure is raised as itself; several become one GateTrioError whose cause is
    the group. KeyboardInterrupt wins, and a group of only Cancelled stays a group so trio's
    cancel scopes can absorb it.
    """
    leaves = _leaves(group)
    real = [e for e in leaves if not isinstance(e, trio.Cancelled)]
    for leaf in real:
        if isinstance(leaf, KeyboardInterrupt):
            return leaf
    if not real:
        return group
    if len(real) == 1:
        return real[0]
    if all(isinstance(e, GateTrioError) for e in real):
        error = GateTrioError(f"{len(real)} failures: " + "; ".join(map(str, real)))
    else:
        error = GateTrioInternalError(
            f"{len(real)} concurrent failures (please report): " + "; ".join(map(repr, real))
        )
    error.__cause__ = group
    return error


@contextlib.asynccontextmanager
async def open_client(
    settle: str = "usdt",
    *,
    url: str | None = None,
    testnet: bool = False,
    delivery: bool = False,
    credentials: Credentials | None = None,
    config: ClientConfig | None = None,
    connector: Connector | None = None,
    wall_clock: Callable[[], float] = time.time,
) -> AsyncIterator[Client]:
    """Connect to Gate's futures WebSocket and keep the connection alive for the block.

    Args:
        settle: "usdt", "btc" or "usd1" (perpetuals), or "usdt"/"btc" with `delivery=True`.
        url: connect here instead (e.g. a fake exchange); overrides settle/testnet/delivery.
        testnet: use Gate's testnet endpoint.
        credentials: API key and secret, for private channels and the trading API.
        config: liveness, backoff and buffer settings (`ClientConfig`); `url` and
            `credentials` given here override the config's.
        connector: how to open the WebSocket (tests pass `FakeGateServer.connector`).
        wall_clock: unix time source for Gate's `time` fields and latency figures.

    Returns once the first connection is up. Reconnects with capped exponential backoff
    and jitter, forever unless `config.max_reconnects` is set, in which case
    `ReconnectLimitReached` is raised from here. Any failure inside surfaces from here as
    one exception (never a bare ExceptionGroup for a single failure). On exit every task
    is gone and the socket is closed within a bounded, shielded grace period.

    Example::

        async with gatetrio.open_client(settle="usdt") as client:
            async with client.subscribe(gatetrio.channels.trades("BTC_USDT")) as trades:
                async for trade in trades:
                    ...
    """
    resolved_url = url or endpoint_url(settle, delivery=delivery, testnet=testnet)
    if config is None:
        config = ClientConfig(url=resolved_url, credentials=credentials)
    else:
        config = attrs.evolve(
            config,
            url=url or config.url,
            credentials=credentials if credentials is not None else config.credentials,
        )
    client = Client(config, connector=connector or default_connector, wall_clock=wall_clock)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(client._run_supervisor)
            try:
                yield client
            finally:
                client._closed = True
                await client._aclose_connections()
                nursery.cancel_scope.cancel(reason="open_client exited")
    except BaseExceptionGroup as group:
        raise _collapse(group)  # noqa: B904 - the group stays attached as __context__
    finally:
        client._closed = True
        client._connected_event.set()  # a wait_connected() elsewhere raises UsageError now
        for sub in client._subs.values():
            sub._end()
