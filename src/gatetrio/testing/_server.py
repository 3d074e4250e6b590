"""The fake exchange's trio shell: connections, subscriptions, faults, and the market clock.

The markets (`_market.Market`) are pure; this module drives them with trio's clock and speaks
real WebSocket frames (trio-websocket's server side) to each connection. It serves any
`trio.abc.Stream`: in memory through `FakeGateServer.connector`, or TCP through `_loopback`.

Per connection: one reader task (records and answers client frames), one writer task draining
a bounded send queue (every frame goes through it, so replies and pushes keep their order), a
protocol-ping task, and an idle watchdog. Nothing awaits a slow client except its own writer:
when its queue overflows the connection is cut, as Gate does (spec 13.6).
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import socket
import struct
import typing
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, NamedTuple, cast
from urllib.parse import parse_qs, urlsplit

import attrs
import msgspec
import trio
import trio_websocket

from gatetrio._core._auth import verify_api_sign, verify_subscription_sign
from gatetrio._core._encode import encode_event
from gatetrio._core._events import (
    ApiAck,
    ApiError,
    ApiHeader,
    ApiResult,
    Balance,
    BalancesUpdate,
    ErrorReply,
    Event,
    Order,
    OrdersUpdate,
    Pong,
    Position,
    PositionsUpdate,
    SubscribeAck,
    UpgradeRequested,
    UserTrade,
    UserTradesUpdate,
)
from gatetrio._shell._transport import MAX_MESSAGE_SIZE, MESSAGE_QUEUE_SIZE
from gatetrio._shell._transport._wsproto import WebSocket, connect_websocket

from ._market import (
    ALL,
    DEFAULT_CONTRACTS,
    DEFAULT_EPOCH_MS,
    STEP_MS,
    BookState,
    Market,
    SubscribeError,
    _dec_text,
    _plain,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable, Sequence
    from typing import TypeVarTuple

    from gatetrio._core._config import Credentials

    from ._market import ContractSpec, Push, Topic

    _Ts = TypeVarTuple("_Ts")

MarketKey = tuple[bool, str]  # (delivery, settle)

PRIVATE_CHANNELS: Final = frozenset(
    {
        "futures.orders",
        "futures.usertrades",
        "futures.liquidates",
        "futures.auto_deleverages",
        "futures.position_closes",
        "futures.balances",
        "futures.reduce_risk_limits",
        "futures.positions",
        "futures.position_adl_rank",
        "futures.autoorders",
    }
)
TRADING_CHANNELS: Final = frozenset(
    {
        "futures.login",
        "futures.order_place",
        "futures.order_batch_place",
        "futures.order_cancel",
        "futures.order_cancel_ids",
        "futures.order_cancel_cp",
        "futures.order_amend",
        "futures.order_list",
        "futures.order_status",
    }
)
UPGRADE_MSG: Final = "The connection will soon be closed for a service upgrade. Please reconnect."
MALFORMED_FRAME: Final = (
    '{"time":1786540580,"channel":"futures.trades","event":"update","result":[{'
)
MAX_TIME_SKEW: Final = 60.0  # spec 8.1: `time` must be within 60 s of the server's clock
_CLOSE_GRACE: Final = 1.0
_SIGN_LABELS: Final = {
    "key": '{"label":"INVALID_KEY","message":"Invalid key provided"}\n',
    "sign": '{"label":"INVALID_SIGNATURE","message":"Signature mismatch"}\n',
    "time": '{"label":"REQUEST_EXPIRED","message":"gap between request time and server time '
    'exceeds 60s"}\n',
}


def route(path: str) -> MarketKey | None:
    """The market a WebSocket path selects (spec 1 and 14), or None for an unknown path."""
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


# ---------------------------------------------------------------------------- transport


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


# --------------------------------------------------------------------------- connections


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


@typing.final
@attrs.frozen
class FaultSpec:
    """A fault as the `--fault` option spells it: ``KIND[:ARG...][@AT[/EVERY]]``.

    Kinds: ``drop``, ``stall``, ``resume``, ``gap:CONTRACT[:SIZE]``, ``upgrade[:GRACE]``,
    ``refuse:N``, ``malformed``, ``cut-slow``. `at` is seconds after start (default 0), `every`
    repeats it. Example: ``gap:BTC_USDT:5@10/30`` skips 5 ids on BTC_USDT at 10 s, 40 s, ...
    """

    kind: str
    args: tuple[str, ...] = ()
    at: float = 0.0
    every: float | None = None


FAULT_KINDS: Final = (
    "drop",
    "stall",
    "resume",
    "gap",
    "upgrade",
    "refuse",
    "malformed",
    "cut-slow",
)


def parse_fault(text: str) -> FaultSpec:
    """Parse a `--fault` value; ValueError says what is wrong."""
    spec, _, when = text.partition("@")
    kind, *args = spec.split(":")
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault {kind!r}; choose from {', '.join(FAULT_KINDS)}")
    at_text, _, every_text = when.partition("/")
    try:
        at = float(at_text) if at_text else 0.0
        every = float(every_text) if every_text else None
    except ValueError:
        raise ValueError(f"bad time in fault {text!r}: use KIND@SECONDS[/EVERY]") from None
    if kind == "gap" and not 1 <= len(args) <= 2:
        raise ValueError("gap needs a contract: gap:BTC_USDT[:SIZE]")
    if kind == "refuse" and len(args) != 1:
        raise ValueError("refuse needs a count: refuse:3")
    try:
        for arg in args[1:] if kind == "gap" else args:
            float(arg)
    except ValueError:
        raise ValueError(f"bad number in fault {text!r}") from None
    if every is not None and every <= 0:
        raise ValueError("the repeat interval must be > 0")
    return FaultSpec(kind, tuple(args), at, every)


# ------------------------------------------------------------------------------- server


@typing.final
class FakeGateServer:
    """A protocol-faithful fake of Gate's futures WebSocket v4 server (spec section 14).

    Serve it in memory for tests (`connector`), or on loopback (`python -m gatetrio serve`).
    Start the market clock with ``await nursery.start(server.run)``; every connection and
    market lives in that task.

    Args:
        seed: markets, conn ids and trace ids all derive from it: one seed, one session.
        settle: the market opened at start; the others open when first used (by a connection
            to their path or a `book`/REST call naming one of their contracts).
        credentials: key/secret/user_id that private subscriptions and futures.login must sign
            with. None accepts any private subscription unsigned (and any login).
        obu_snapshot_before_ack: push the first obu snapshot before the subscribe ack
            (the 2026-02 testnet order, spec 6.6).
        idle_timeout: close a connection after this long without a message either way.
        protocol_ping_interval / protocol_pong_timeout: server WebSocket pings, and how long a
            pong may take before the connection is closed (spec 4.1).
        send_queue_size: frames queued per connection before it is cut as a slow consumer.
        transport_buffer: bytes the in-memory socket buffers per direction.
        epoch_ms: wall time (unix ms) at the start; frames carry `epoch + elapsed`. None uses
            a fixed 2026 date, so frames repeat exactly.
        markets: contract lists replacing the defaults, keyed "usdt", "btc", "usd1",
            "delivery/usdt", "delivery/btc".
        max_time_skew: allowed |request time - server time| for signed requests.
        rest_latency: seconds `fetch_order_book` takes to answer.
        obu_full_every / book_update_full_every: about one push in this many of an obu /
            order_book_update stream is a re-sent full snapshot (0: never).
        liquidations_as_object: public_liquidates `result` as one object (live 2026-08-10)
            instead of the documented array.
        max_received: keep only about this many `received` frames (None: all; a long-running
            server should bound it).

    Example::

        server = FakeGateServer(seed=0)
        async with trio.open_nursery() as nursery:
            await nursery.start(server.run)
            ws = await server.connector(nursery, "wss://fx-ws.gateio.ws/v4/ws/usdt", [])
    """

    def __init__(
        self,
        seed: int = 0,
        settle: str = "usdt",
        *,
        credentials: Credentials | None = None,
        obu_snapshot_before_ack: bool = False,
        idle_timeout: float = 60.0,
        protocol_ping_interval: float = 15.0,
        protocol_pong_timeout: float = 10.0,
        send_queue_size: int = 1000,
        transport_buffer: int = 65536,
        epoch_ms: int | None = None,
        markets: dict[str, Sequence[ContractSpec]] | None = None,
        max_time_skew: float = MAX_TIME_SKEW,
        rest_latency: float = 0.0,
        obu_full_every: int = 600,
        book_update_full_every: int = 0,
        liquidations_as_object: bool = False,
        max_received: int | None = None,
    ) -> None:
        self.seed = seed
        self.settle = settle
        self.credentials = credentials
        self.obu_snapshot_before_ack = obu_snapshot_before_ack
        self.idle_timeout = idle_timeout
        self.protocol_ping_interval = protocol_ping_interval
        self.protocol_pong_timeout = protocol_pong_timeout
        self.send_queue_size = send_queue_size
        self.transport_buffer = transport_buffer
        self.max_time_skew = max_time_skew
        self.rest_latency = rest_latency
        self._epoch_ms: int = DEFAULT_EPOCH_MS if epoch_ms is None else epoch_ms
        self.max_received = max_received
        self._market_options: dict[str, Any] = {
            "obu_full_every": obu_full_every,
            "book_update_full_every": book_update_full_every,
            "liquidations_as_object": liquidations_as_object,
        }
        self._specs: dict[MarketKey, Sequence[ContractSpec]] = dict(DEFAULT_CONTRACTS)
        for name, specs in (markets or {}).items():
            delivery, _, settle_name = name.rpartition("/")
            self._specs[(delivery == "delivery", settle_name)] = tuple(specs)
        self._contract_market = {
            spec.name: key for key, specs in self._specs.items() for spec in specs
        }
        self._rng = random.Random(f"{seed}:server")
        self._markets: dict[MarketKey, Market] = {}
        self._subscribers: dict[tuple[MarketKey, Topic], set[Connection]] = {}
        self._conns: dict[str, Connection] = {}
        self._t0: float | None = None
        self._nursery: trio.Nursery | None = None
        self._wakeup = trio.Event()
        self._refuse = 0
        self._account = _Account(self)
        self.received: list[Received] = []
        """Every client frame, in order: `(conn_id, frame)` where frame is the parsed JSON
        object, or the raw text when it was not one; `.channel`/`.event` read the frame."""
        self.handshakes_refused = 0
        self.slow_consumers_cut = 0

    # ------------------------------------------------------------------------- lifecycle

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run the market clock and every connection until cancelled.

        Start it with `nursery.start(server.run)`; it is ready when that returns. Cancelling
        it ends every connection abruptly (their sockets close; clients see 1006).
        """
        if self._nursery is not None:
            raise RuntimeError("FakeGateServer.run is already running")
        self._t0 = trio.current_time()
        if (False, self.settle) in self._specs:
            self._market((False, self.settle))
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                task_status.started()
                await self._run_clock()
        finally:
            self._nursery = None
            for conn in list(self._conns.values()):
                conn.closed = True

    def now(self) -> float:
        """Seconds since `run` started, on trio's clock."""
        return trio.current_time() - self._start_time()

    def _start_time(self) -> float:
        if self._t0 is None:
            raise RuntimeError("start FakeGateServer.run first: await nursery.start(server.run)")
        return self._t0

    def wall_time(self) -> float:
        """The fake's unix time: pass `wall_clock=server.wall_time` to a client under test so
        its signed requests fall inside the ±60 s window."""
        return self._wall_ms() / 1000

    def _wall_ms(self) -> int:
        return self._epoch_ms + round(self.now() * 1000)

    def _market(self, key: MarketKey) -> Market:
        delivery, settle = key
        market = self._markets.get(key)
        if market is None:
            # A market starts when first used; its clock still reads the server's time.
            start_ms = round(self.now() * 1000) // STEP_MS * STEP_MS
            market = Market(
                self.seed,
                settle,
                delivery=delivery,
                contracts=self._specs[key],
                epoch_ms=self._epoch_ms,
                start=start_ms / 1000,
                **self._market_options,
            )
            self._markets[key] = market
        return market

    def market_for(self, contract: str) -> Market:
        """The market that lists `contract` (created on first use)."""
        key = self._contract_market.get(contract)
        if key is None:
            raise KeyError(f"no market lists {contract!r}")
        return self._market(key)

    async def _run_clock(self) -> None:
        while True:
            # Idle markets still advance once a second: the work stays spread out, and a
            # subscriber never waits on a long catch-up.
            deadline = math.floor(self.now()) + 1.0
            if self._account.has_open_orders():  # resting orders are matched every 100 ms
                deadline = math.floor(self.now() * 10 + 1) / 10
            for market in self._markets.values():
                due = market.next_deadline()
                if due is not None:
                    deadline = min(deadline, due)
            with trio.move_on_at(self._start_time() + deadline):
                await self._wakeup.wait()
            self._wakeup = trio.Event()
            now = self.now()
            for key, market in list(self._markets.items()):
                self._dispatch(key, market.tick(now))
            self._account.on_tick()

    def _dispatch(self, key: MarketKey, pushes: Iterable[Push]) -> None:
        for push in pushes:
            subscribers = self._subscribers.get((key, push.topic))
            if not subscribers:
                continue
            frames: dict[bool, str] = {}
            for conn in list(subscribers):
                mode = conn.size_decimal
                frame = frames.get(mode)
                if frame is None:
                    frame = frames[mode] = self._encode_push(key, push, mode)
                self._enqueue(conn, frame)

    def _encode_push(self, key: MarketKey, push: Push, size_decimal: bool) -> str:
        event = push.event(size_decimal)
        if (
            push.topic[0] == "futures.public_liquidates"
            and self._markets[key].liquidations_as_object
        ):
            return encode_event(event, liquidation_object=True)
        return encode_event(event)

    # ------------------------------------------------------------------------- serving

    async def connector(
        self,
        nursery: trio.Nursery,
        url: str,
        headers: Sequence[tuple[str, str]],
    ) -> WebSocket:
        """A `gatetrio._shell._transport.Connector` that reaches this fake in memory.

        Speaks real WebSocket frames over an in-memory socket with gatetrio's own transport
        (the one `default_connector` uses), so client tests exercise it; the URL's path picks
        the market (``/v4/ws/usdt``, ``/v4/ws/delivery/btc``, ...) and its host is ignored.
        Nothing runs in `nursery`.

        Raises:
            ConnectionLost: the fake refused the handshake (`refuse`: "handshake rejected with
                HTTP 503") or the path is unknown (HTTP 404).

        Cancellation: if cancelled during the handshake no connection is left behind (the
        server side sees its socket close).
        """
        del nursery  # gatetrio's transport has no background task
        client_stream, resource, _ = self._dial(url)
        return await connect_websocket(
            client_stream, host=urlsplit(url).netloc, resource=resource, headers=headers
        )

    async def trio_websocket_connector(
        self,
        nursery: trio.Nursery,
        url: str,
        headers: Sequence[tuple[str, str]],
    ) -> trio_websocket.WebSocketConnection:
        """As `connector`, but the client side is trio-websocket (its reader runs in `nursery`).

        Raises:
            trio_websocket.ConnectionRejected: the fake refused the handshake (`refuse`, HTTP
                503) or the path is unknown (HTTP 404).
        """
        parts = urlsplit(url)
        client_stream, resource, refuse = self._dial(url)
        extra = [(k.encode(), v.encode()) for k, v in headers]
        if refuse:
            # Run the refused handshake in a nursery of our own, so the rejection raises here
            # instead of inside the caller's nursery.
            try:
                async with trio.open_nursery() as own:
                    await trio_websocket.wrap_client_stream(
                        own,
                        cast("trio.SocketStream", client_stream),
                        parts.netloc,
                        resource,
                        extra_headers=extra,
                    )
            except BaseExceptionGroup as group:
                rejected = group.subgroup(trio_websocket.ConnectionRejected)
                if rejected is not None:
                    raise _first_leaf(rejected) from None
                raise
            raise RuntimeError(
                "the fake accepted a handshake it meant to refuse"
            )  # pragma: no cover
        return await trio_websocket.wrap_client_stream(
            nursery,
            cast("trio.SocketStream", client_stream),
            parts.netloc,
            resource,
            extra_headers=extra,
            message_queue_size=MESSAGE_QUEUE_SIZE,
            max_message_size=MAX_MESSAGE_SIZE,
        )

    def _dial(self, url: str) -> tuple[trio.abc.Stream, str, bool]:
        """Open an in-memory socket to this fake and serve its far end.

        Returns the client's end, the request target, and whether the handshake will be refused.
        """
        if self._nursery is None:
            raise RuntimeError("start FakeGateServer.run first: await nursery.start(server.run)")
        parts = urlsplit(url)
        resource = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        client_stream, server_stream = memory_socket_pair(self.transport_buffer)
        refuse = route(resource) is None or self._take_refusal()
        self._nursery.start_soon(self.serve_stream, server_stream, b"", refuse)
        return client_stream, resource, refuse

    def _take_refusal(self) -> bool:
        if self._refuse > 0:
            self._refuse -= 1
            return True
        return False

    async def serve_stream(
        self, stream: trio.abc.Stream, prefix: bytes = b"", refuse: bool | None = None
    ) -> None:
        """Serve one client stream (WebSocket handshake first) until it closes.

        `prefix` holds bytes already read from `stream`. `refuse` forces the handshake
        decision; None decides now (`refuse(n)` and unknown paths).
        """
        wrapped = _ServerStream(stream, prefix)
        try:
            async with trio.open_nursery() as nursery:
                request = await trio_websocket.wrap_server_stream(
                    nursery, wrapped, message_queue_size=64, max_message_size=MAX_MESSAGE_SIZE
                )
                key = route(request.path)
                if key is None:
                    await request.reject(
                        404, body=b'{"label":"NOT_FOUND","message":"unknown path"}'
                    )
                    nursery.cancel_scope.cancel()
                    return
                if refuse if refuse is not None else self._take_refusal():
                    self.handshakes_refused += 1
                    await request.reject(503, body=b"Service Unavailable")
                    nursery.cancel_scope.cancel()
                    return
                ws = await request.accept()
                await self._serve_connection(ws, wrapped, request, key)
                nursery.cancel_scope.cancel()
        finally:
            await trio.aclose_forcefully(wrapped)

    async def _serve_connection(
        self,
        ws: trio_websocket.WebSocketConnection,
        stream: _ServerStream,
        request: trio_websocket.WebSocketRequest,
        key: MarketKey,
    ) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.headers}
        send, recv = trio.open_memory_channel[str](self.send_queue_size)
        conn = Connection(
            conn_id=self._hex(16),
            path=request.path,
            market_key=key,
            headers=headers,
            size_decimal=headers.get("x-gate-size-decimal") == "1",
            _stream=stream,
            _ws=ws,
            _send=send,
        )
        conn._last_traffic = trio.current_time()
        self._market(key)
        self._conns[conn.conn_id] = conn
        try:
            with conn._scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._run_writer, conn, recv)
                    nursery.start_soon(self._run_pinger, conn)
                    nursery.start_soon(self._run_idle_watchdog, conn)
                    await self._run_reader(conn)
                    nursery.cancel_scope.cancel()
        finally:
            conn.closed = True
            conn.close_reason = conn.close_reason or _describe_close(ws)
            del self._conns[conn.conn_id]
            self._forget(conn)
            send.close()

    def _forget(self, conn: Connection) -> None:
        for topic in conn.topics:
            self._unsubscribe(conn, topic)
        conn.topics = set()

    async def _run_reader(self, conn: Connection) -> None:
        ws = conn._ws
        while True:
            try:
                message = await ws.get_message()
            except trio_websocket.ConnectionClosed:
                return
            conn._last_traffic = trio.current_time()
            conn.frames_received += 1
            self._handle_message(conn, message)

    async def _run_writer(self, conn: Connection, recv: trio.MemoryReceiveChannel[str]) -> None:
        ws = conn._ws
        async for frame in recv:
            try:
                await ws.send_message(frame)
            except trio_websocket.ConnectionClosed:
                conn._scope.cancel()
                return
            conn.frames_sent += 1
            if not conn.stalled:
                conn._last_traffic = trio.current_time()

    async def _run_pinger(self, conn: Connection) -> None:
        """Protocol pings (spec 4.1); a client that does not pong in time is closed."""
        count = 0
        while True:
            await trio.sleep(self.protocol_ping_interval)
            if conn.stalled:
                continue  # a stalled server pings nobody
            count += 1
            with trio.move_on_after(self.protocol_pong_timeout) as scope:
                try:
                    await conn._ws.ping(struct.pack("!Q", count))
                except trio_websocket.ConnectionClosed:
                    return
            if scope.cancelled_caught and not conn.stalled:
                await self._close(conn, 1011, "ping timeout")
                return

    async def _run_idle_watchdog(self, conn: Connection) -> None:
        """Close connections with no message either way for `idle_timeout` (GATEWS#34)."""
        while True:
            deadline = conn._last_traffic + self.idle_timeout
            if trio.current_time() >= deadline and not conn.stalled:
                await self._close(conn, 1000, "idle timeout")
                return
            await trio.sleep_until(max(deadline, trio.current_time() + 0.001))
            if conn.stalled:
                conn._last_traffic = trio.current_time()

    async def _close(self, conn: Connection, code: int, reason: str) -> None:
        """Close with a close frame if the client takes it in time, else drop the socket."""
        if conn._closing:
            return
        conn._closing = True
        conn.close_reason = f"{code} {reason}"
        with trio.move_on_after(_CLOSE_GRACE, shield=True):
            await conn._ws.aclose(code, reason)
        await conn._stream.abort()
        conn._scope.cancel()

    async def _abort(self, conn: Connection, reason: str) -> None:
        conn._closing = True
        conn.close_reason = reason
        await conn._stream.abort()
        conn._scope.cancel()

    def _enqueue(self, conn: Connection, frame: str) -> None:
        if conn.closed or conn._closing:
            return
        try:
            conn._send.send_nowait(frame)
        except trio.WouldBlock:
            self.slow_consumers_cut += 1
            self._spawn(self._close, conn, 1008, "slow consumer")
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            pass

    def _spawn(self, fn: Callable[[*_Ts], Awaitable[object]], *args: *_Ts) -> None:
        if self._nursery is None:
            raise RuntimeError("start FakeGateServer.run first: await nursery.start(server.run)")
        self._nursery.start_soon(fn, *args)

    # ------------------------------------------------------------------------- requests

    def _hex(self, digits: int) -> str:
        return f"{self._rng.getrandbits(digits * 4):0{digits}x}"

    def _handle_message(self, conn: Connection, message: str | bytes) -> None:
        text = message if isinstance(message, str) else message.decode("utf-8", "replace")
        try:
            msg = json.loads(text)
        except ValueError:
            msg = None
        if self.max_received is not None and len(self.received) > self.max_received * 5 // 4:
            del self.received[: len(self.received) - self.max_received]
        if not isinstance(msg, dict):
            self.received.append(Received(conn.conn_id, text))
            self._reply_error(conn, "", "", 1, "request message need json scheme")
            return
        self.received.append(Received(conn.conn_id, msg))
        channel = msg.get("channel")
        event = msg.get("event")
        if not isinstance(channel, str):
            self._reply_error(conn, "", "", 1, "request message need json scheme")
            return
        if channel == "futures.ping":
            now_ms = self._wall_ms()
            self._send_event(conn, Pong(time=now_ms // 1000, time_ms=now_ms, conn_id=conn.conn_id))
        elif event == "api":
            self._account.handle(conn, msg, text)
        elif event == "subscribe" or event == "unsubscribe":  # noqa: PLR1714 - narrows to str
            if channel in PRIVATE_CHANNELS:
                self._handle_private(conn, msg, channel, event)
            else:
                self._handle_public(conn, msg, channel, event)
        else:
            self._reply_error(
                conn,
                channel,
                event if isinstance(event, str) else "",
                2,
                "invalid argument",
                msg=msg,
            )

    def _handle_public(
        self, conn: Connection, msg: dict[str, Any], channel: str, event: str
    ) -> None:
        key = conn.market_key
        market = self._market(key)
        now = self.now()
        payload = msg.get("payload")
        unsub_all = isinstance(payload, list) and payload[:1] == ["unsub_all"]
        if channel == "futures.contract_stats" and event == "unsubscribe" and unsub_all:
            for topic in [t for t in conn.topics if t[0] == channel]:  # spec 6.9
                conn.topics.discard(topic)
                self._unsubscribe(conn, topic)
            self._ack(conn, msg, channel, event)
            return
        try:
            topics = market.parse_subscription(channel, payload)
        except SubscribeError as exc:
            self._reply_error(conn, channel, event, exc.code, exc.message, msg=msg)
            return
        if event == "subscribe" and channel == "futures.obu":
            # one subscription per stream and connection; a duplicate fails the batch (spec 6.6)
            for topic in topics:
                if topic in conn.topics:
                    message = f"Alert sub ob.{topic[1]}.{topic[2]}"
                    self._reply_error(conn, channel, event, 2, message, msg=msg)
                    return
        if event == "unsubscribe":
            for topic in topics:
                if topic in conn.topics:
                    conn.topics.discard(topic)
                    self._unsubscribe(conn, topic)
            self._ack(conn, msg, channel, event)
            return
        firsts: list[str] = []
        market.advance(now)  # a new topic's stream starts from the book as it is now
        for topic in topics:
            if topic in conn.topics:
                continue
            conn.topics.add(topic)
            market.subscribe(topic)
            self._subscribers.setdefault((key, topic), set()).add(conn)
            firsts.extend(
                self._encode_push(key, push, conn.size_decimal)
                for push in market.initial_pushes(topic, now)
            )
        self._wakeup.set()
        before_ack = channel == "futures.obu" and self.obu_snapshot_before_ack
        if before_ack:
            for frame in firsts:
                self._enqueue(conn, frame)
        self._ack(conn, msg, channel, event)
        if not before_ack:
            for frame in firsts:
                self._enqueue(conn, frame)

    def _unsubscribe(self, conn: Connection, topic: Topic) -> None:
        key = conn.market_key
        subscribers = self._subscribers.get((key, topic))
        if subscribers is not None:
            subscribers.discard(conn)
            if not subscribers:
                del self._subscribers[(key, topic)]
        self._markets[key].unsubscribe(topic)

    def _handle_private(
        self, conn: Connection, msg: dict[str, Any], channel: str, event: str
    ) -> None:
        problem = self._check_auth(msg, channel, event)
        if problem is not None:
            self._reply_error(conn, channel, event, 4, _SIGN_LABELS[problem], msg=msg)
            return
        payload = msg.get("payload")
        if (
            not isinstance(payload, list)
            or not payload
            or not all(isinstance(p, str) for p in payload)
        ):
            self._reply_error(conn, channel, event, 2, "invalid argument", msg=msg)
            return
        market = self._market(conn.market_key)
        if channel == "futures.balances":
            targets = [""]
        else:
            # [uid, contract...] (contract lists or "!all"); adl_rank/autoorders may omit the uid
            names = payload[1:] if len(payload) > 1 or payload[0].isdigit() else payload
            targets = names or [ALL]
            for name in targets:
                if name != ALL and not market.has_contract(name):
                    self._reply_error(conn, channel, event, 2, f"unknown contract {name}", msg=msg)
                    return
        for target in targets:
            if event == "subscribe":
                conn.private.add((channel, target))
            else:
                conn.private.discard((channel, target))
        self._ack(conn, msg, channel, event)

    def _check_auth(self, msg: dict[str, Any], channel: str, event: str) -> str | None:
        creds = self.credentials
        if creds is None:
            return None
        auth = msg.get("auth")
        if not isinstance(auth, dict) or auth.get("KEY") != creds.key:
            return "key"
        req_time = msg.get("time")
        if isinstance(req_time, bool) or not isinstance(req_time, int):
            return "sign"
        if not verify_subscription_sign(
            channel, event, req_time, sign=auth.get("SIGN"), secret=creds.secret
        ):
            return "sign"
        if abs(req_time - self.wall_time()) > self.max_time_skew:
            return "time"
        return None

    def _ack(self, conn: Connection, msg: dict[str, Any], channel: str, event: str) -> None:
        now_ms = self._wall_ms()
        self._send_event(
            conn,
            SubscribeAck(
                channel=channel,
                event=event,
                id=_request_id(msg),
                payload=_payload_echo(msg),
                conn_id=conn.conn_id,
                trace_id=self._hex(32),
                time=now_ms // 1000,
                time_ms=now_ms,
            ),
        )

    def _reply_error(
        self,
        conn: Connection,
        channel: str,
        event: str,
        code: int,
        message: str,
        *,
        msg: dict[str, Any] | None = None,
    ) -> None:
        now_ms = self._wall_ms()
        self._send_event(
            conn,
            ErrorReply(
                channel=channel,
                event=event,
                code=code,
                message=message,
                id=None if msg is None else _request_id(msg),
                payload=None if msg is None else _payload_echo(msg),
                conn_id=conn.conn_id,
                trace_id=self._hex(32),
                time=now_ms // 1000,
                time_ms=now_ms,
            ),
        )

    def _send_event(self, conn: Connection, event: Event) -> None:
        self._enqueue(conn, encode_event(event))

    def push_private(
        self, channel: str, contract: str, event: Event | Callable[[bool], Event]
    ) -> None:
        """Send a private push to every connection subscribed to `channel` for `contract`.

        `event` may be a function of the connection's size-decimal mode returning the event.
        """
        frames: dict[bool, str] = {}
        for conn in list(self._conns.values()):
            subs = conn.private
            if (channel, contract) in subs or (channel, ALL) in subs or (channel, "") in subs:
                mode = conn.size_decimal
                if mode not in frames:
                    ev = event(mode) if callable(event) else event
                    frames[mode] = encode_event(ev)
                self._enqueue(conn, frames[mode])

    # ------------------------------------------------------------------------- inspection

    @property
    def connections(self) -> list[Connection]:
        """The live connections, oldest first."""
        return list(self._conns.values())

    def _targets(self, conn: ConnRef) -> list[Connection]:
        if conn is None:
            return self.connections
        if isinstance(conn, str):
            found = self._conns.get(conn)
            return [] if found is None else [found]
        return [] if conn.closed else [conn]

    def book(self, contract: str, depth: int | None = None) -> BookState:
        """The fake's own current book of `contract` (levels best first, Decimal)."""
        market = self.market_for(contract)
        market.advance(self.now())
        return market.book(contract, depth)

    def book_at(self, contract: str, update_id: int, depth: int | None = None) -> BookState:
        """The fake's book of `contract` right after update `update_id` (kept for the last
        20 000 ids per contract). A level-L stream's client holds exactly `depth=L` of it.

        Raises:
            KeyError: the id is in the future or too old.
        """
        market = self.market_for(contract)
        market.advance(self.now())
        return market.book_at(contract, update_id, depth)

    def update_id(self, contract: str) -> int:
        market = self.market_for(contract)
        market.advance(self.now())
        return market.update_id(contract)

    def rest_order_book(
        self,
        contract: str,
        limit: int = 10,
        settle: str | None = None,
        *,
        size_decimal: bool = True,
        with_id: bool = True,
    ) -> dict[str, object]:
        """The JSON body `GET /api/v4/futures/{settle}/order_book` answers (spec 6.5)."""
        market = self.market_for(contract)
        if settle is not None and settle != market.settle:
            raise KeyError(f"{contract} is not a {settle}-settled contract")
        return market.rest_order_book(
            contract, limit, now=self.now(), size_decimal=size_decimal, with_id=with_id
        )

    async def fetch_order_book(self, contract: str, limit: int) -> dict[str, object]:
        """A REST snapshot fetcher for in-memory tests (``await fetch(contract, limit)``).

        Pass it as ``client.order_book(..., snapshot_fetcher=server.fetch_order_book)``. The
        snapshot is taken when called and returned `rest_latency` seconds later, so deltas
        pushed meanwhile are newer than it, as with a real round trip. Sizes are decimal
        strings (``X-Gate-Size-Decimal: 1``), ids as with ``with_id=true``.
        """
        body = self.rest_order_book(contract, limit)
        await trio.sleep(self.rest_latency)
        return body

    def handle_http(self, method: str, target: str, headers: dict[str, str]) -> tuple[int, bytes]:
        """Answer a REST request (the loopback server's HTTP side): `(status, JSON body)`."""
        parts = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        segments = parts.path.rstrip("/").split("/")

        def error(status: int, label: str, message: str) -> tuple[int, bytes]:
            return status, json.dumps({"label": label, "message": message}).encode()

        if method not in ("GET", "HEAD"):
            return error(405, "METHOD_NOT_ALLOWED", f"{method} is not served by the fake")
        match segments:
            case ["", "api", "v4", ("futures" | "delivery") as kind, settle, "order_book"]:
                key = (kind == "delivery", settle)
                contract = query.get("contract", "")
                if key not in self._specs:
                    return error(404, "NOT_FOUND", f"unknown settle {settle}")
                market = self._market(key)
                if not market.has_contract(contract):
                    return error(400, "CONTRACT_NOT_FOUND", f"contract {contract} not found")
                try:
                    limit = int(query.get("limit", "10"))
                except ValueError:
                    return error(400, "INVALID_PARAM_VALUE", "limit must be an integer")
                if not 1 <= limit <= 1000:
                    return error(400, "INVALID_PARAM_VALUE", "limit must be 1..1000")
                body = market.rest_order_book(
                    contract,
                    limit,
                    now=self.now(),
                    size_decimal=headers.get("x-gate-size-decimal") == "1",
                    with_id=query.get("with_id") == "true",
                )
                return 200, json.dumps(body, separators=(",", ":")).encode()
            case ["", "api", "v4", ("futures" | "delivery") as kind, settle, "contracts", *rest]:
                key = (kind == "delivery", settle)
                if key not in self._specs or len(rest) > 1:
                    return error(404, "NOT_FOUND", "not found")
                market = self._market(key)
                if rest:
                    if not market.has_contract(rest[0]):
                        return error(400, "CONTRACT_NOT_FOUND", f"contract {rest[0]} not found")
                    return 200, json.dumps(market.contract_details(rest[0])).encode()
                details = [market.contract_details(c) for c in market.contracts]
                return 200, json.dumps(details).encode()
        return error(404, "NOT_FOUND", f"no route for {parts.path}")

    # ------------------------------------------------------------------------- faults

    def drop(self, conn: ConnRef = None) -> None:
        """Abruptly close connections: no close frame (the client sees 1006 / a reset)."""
        for target in self._targets(conn):
            self._spawn(self._abort, target, "dropped")

    def stall(self, conn: ConnRef = None) -> None:
        """Keep sockets open but send nothing more: no pushes, replies, pongs or pings."""
        for target in self._targets(conn):
            target._stream.stalled = True

    def resume(self, conn: ConnRef = None) -> None:
        """End a stall; frames produced meanwhile are lost."""
        for target in self._targets(conn):
            target._stream.stalled = False
            target._last_traffic = trio.current_time()

    def inject_gap(self, contract: str, size: int = 5) -> tuple[int, int]:
        """Skip `size` update ids on every book stream of `contract`; see `Market.inject_gap`.

        Returns the first and last skipped id.
        """
        market = self.market_for(contract)
        return market.inject_gap(contract, size, self.now())

    def send_upgrade(self, grace: float = 5.0, conn: ConnRef = None) -> None:
        """Send the `futures.system` upgrade notice now; close with 1001 after `grace` s."""
        now_ms = self._wall_ms()
        frame = encode_event(UpgradeRequested(msg=UPGRADE_MSG, time=now_ms // 1000, time_ms=now_ms))
        for target in self._targets(conn):
            self._enqueue(target, frame)
            self._spawn(self._close_later, target, grace)

    async def _close_later(self, conn: Connection, delay: float) -> None:
        await trio.sleep(delay)
        if not conn.closed:
            await self._close(conn, 1001, "service upgrade")

    def refuse(self, n: int = 1) -> None:
        """Reject the next `n` WebSocket handshakes with HTTP 503."""
        self._refuse += n

    def send_malformed(self, conn: ConnRef = None, text: str = MALFORMED_FRAME) -> None:
        """Send one frame that is not valid JSON (or `text`, e.g. a wrong-shape object)."""
        for target in self._targets(conn):
            self._enqueue(target, text)

    def cut_slow_consumers(self, min_backlog: int = 1) -> list[str]:
        """Cut (close 1008) connections with at least `min_backlog` frames unsent; their ids."""
        cut = []
        for target in self.connections:
            if target.send_backlog >= min_backlog:
                self.slow_consumers_cut += 1
                cut.append(target.conn_id)
                self._spawn(self._close, target, 1008, "slow consumer")
        return cut

    def close(self, conn: ConnRef = None, code: int = 1000, reason: str = "") -> None:
        """Close connections politely with a close frame."""
        for target in self._targets(conn):
            self._spawn(self._close, target, code, reason)

    def push(self, event: Event | str, conn: ConnRef = None) -> None:
        """Send any event (encoded as Gate would) or raw frame text to connections."""
        frame = event if isinstance(event, str) else encode_event(event)
        for target in self._targets(conn):
            self._enqueue(target, frame)

    def apply_fault(self, fault: FaultSpec) -> None:
        """Apply a parsed `--fault` once (its schedule is the caller's business)."""
        args = fault.args
        match fault.kind:
            case "drop":
                self.drop()
            case "stall":
                self.stall()
            case "resume":
                self.resume()
            case "gap":
                self.inject_gap(args[0], int(args[1]) if len(args) > 1 else 5)
            case "upgrade":
                self.send_upgrade(float(args[0]) if args else 5.0)
            case "refuse":
                self.refuse(int(args[0]))
            case "malformed":
                self.send_malformed()
            case "cut-slow":
                self.cut_slow_consumers()

    async def run_faults(self, faults: Sequence[FaultSpec]) -> None:
        """Apply each fault at its time (seconds after `run` started), repeating as asked."""
        async with trio.open_nursery() as nursery:
            for fault in faults:
                nursery.start_soon(self._run_fault, fault)

    async def _run_fault(self, fault: FaultSpec) -> None:
        at = fault.at
        while True:
            await trio.sleep_until(self._start_time() + at)
            self.apply_fault(fault)
            if fault.every is None:
                return
            at += fault.every


def _first_leaf(group: BaseExceptionGroup[Any]) -> BaseException:
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


def _describe_close(ws: trio_websocket.WebSocketConnection) -> str:
    reason = ws.closed
    if reason is None:
        return "closed"
    return f"{reason.code} {reason.reason or reason.name}"


def _request_id(msg: dict[str, Any]) -> int | None:
    rid = msg.get("id")
    return rid if isinstance(rid, int) and not isinstance(rid, bool) else None


def _payload_echo(msg: dict[str, Any]) -> tuple[str, ...] | None:
    payload = msg.get("payload")
    if isinstance(payload, list) and all(isinstance(p, str) for p in payload):
        return tuple(payload)
    return None


# ------------------------------------------------------------------------------- trading


@attrs.define(eq=False)
class _Order:
    id: int
    contract: str
    units: int  # signed size in size steps
    price: Decimal  # 0: market order
    tif: str
    text: str
    create_ms: int
    left: int = 0  # signed, like `units`
    filled_value: Decimal = Decimal(0)  # sum of price * units filled, for fill_price
    status: str = "open"
    finish_as: str = ""
    finish_ms: int = 0
    update_ms: int = 0
    update_id: int = 0
    reduce_only: bool = False
    is_close: bool = False
    iceberg: int = 0
    amend_text: str = "-"
    stp_act: str = "-"
    role: str = ""

    def fill_price(self) -> Decimal:
        done = abs(self.units - self.left)
        return (self.filled_value / done) if done else Decimal(0)


@attrs.define(eq=False)
class _Position:
    units: int = 0
    entry: Decimal = Decimal(0)
    realised_pnl: Decimal = Decimal(0)
    update_id: int = 0


_FILL_CHANNELS: Final = ("futures.usertrades", "futures.positions", "futures.balances")
_TKFR: Final = Decimal("0.0005")
_FEE_QUANTUM: Final = Decimal("1e-10")
_MKFR: Final = Decimal("0.0002")
RATE_LIMIT: Final = 100  # place/amend/cancel requests per second (spec 9)
KEPT_ORDERS: Final = 10_000  # orders kept for order_status/order_list; older finished ones go
_RATE_LIMITED: Final = frozenset(
    {
        "futures.order_place",
        "futures.order_batch_place",
        "futures.order_amend",
        "futures.order_cancel",
        "futures.order_cancel_ids",
        "futures.order_cancel_cp",
    }
)


@attrs.define(eq=False, kw_only=True)
class _ApiRequest:
    conn: Connection
    channel: str
    req_id: str
    trace_id: str
    now_ms: int
    limits: dict[str, int] = attrs.field(factory=dict)


class _ApiFailure(Exception):
    def __init__(self, status: str, label: str, message: str = "") -> None:
        super().__init__(label)
        self.status = status
        self.label = label
        self.message = message or f"label: {label}, message: "


class _Account:
    """The fake's trading-API side (spec 8): one account whose orders trade against the book.

    Taker orders sweep the fake's book (public trades, new update id); gtc remainders rest off
    the book and fill as makers once the market trades through their price. Every fill pushes
    futures.orders, futures.usertrades, futures.positions and futures.balances as in the 2024
    live sequence (spec 14).
    """

    def __init__(self, server: FakeGateServer) -> None:
        self.server = server
        self.orders: dict[int, _Order] = {}
        self.positions: dict[str, _Position] = {}
        self.balance = Decimal(10000)
        self._rate_second = -1
        self._rate_count = 0
        rng = server._rng
        # above 2**53 on purpose: JS/float parsers corrupt such ids (spec 13.10)
        self._next_order_id = rng.randrange(5 * 10**16, 6 * 10**16)
        self._next_trade_id = rng.randrange(10**7, 10**8)

    @property
    def user_id(self) -> str:
        creds = self.server.credentials
        return creds.user_id if creds is not None and creds.user_id else "20011"

    # ---- request handling

    def handle(self, conn: Connection, msg: dict[str, Any], raw: str) -> None:
        server = self.server
        channel = msg.get("channel")
        payload = msg.get("payload")
        if not isinstance(channel, str) or channel not in TRADING_CHANNELS or conn.market_key[0]:
            # delivery has no trading API: it answers as for a channel that does not exist
            server._reply_error(conn, str(channel), "api", 2, f"unknown channel {channel}", msg=msg)
            return
        if not isinstance(payload, dict):
            server._reply_error(conn, channel, "api", 2, "invalid argument", msg=msg)
            return
        req = _ApiRequest(
            conn=conn,
            channel=channel,
            req_id=str(payload.get("req_id", "")),
            trace_id=server._hex(32),
            now_ms=server._wall_ms(),
        )
        after: list[Callable[[], None]] = []
        try:
            if channel in _RATE_LIMITED:
                self._rate_limit(req)
            self._check_request(req, payload, raw)
            if channel == "futures.login":
                conn.logged_in = True
                result: object = {"uid": self.user_id, "api_key": str(payload.get("api_key", ""))}
            else:
                param = payload.get("req_param")
                if channel in ("futures.order_place", "futures.order_batch_place"):
                    # the ack echoes the request first (spec 8.3); `ack` is absent on the result
                    echo = {
                        "req_id": req.req_id,
                        "api_key": "",
                        "timestamp": "",
                        "signature": "",
                        "trace_id": req.trace_id,
                        "text": "",
                        "req_header": {"trace_id": req.trace_id},
                        "req_param": param,
                    }
                    ack = ApiAck(
                        request_id=req.req_id, header=self._header(req, "200"), result=echo
                    )
                    server._send_event(conn, ack)
                result = self._call(conn, channel, param, req.now_ms, after)
        except _ApiFailure as exc:
            header = self._header(req, exc.status)
            error = ApiError(
                request_id=req.req_id, header=header, label=exc.label, message=exc.message
            )
            server._send_event(conn, error)
            return
        header = self._header(req, "200")
        server._send_event(conn, ApiResult(request_id=req.req_id, header=header, result=result))
        for push in after:
            push()
        server._wakeup.set()  # a new resting order moves the clock's next deadline

    def _header(self, req: _ApiRequest, status: str) -> ApiHeader:
        now_ms = req.now_ms
        conn_id = req.conn.conn_id
        return ApiHeader(
            status=status,
            channel=req.channel,
            response_time=str(now_ms),
            client_id=f"127.0.0.1-0x{conn_id[:10]}",
            conn_id=conn_id,
            conn_trace_id=conn_id * 2,
            trace_id=req.trace_id,
            x_in_time=now_ms * 1000,
            x_out_time=now_ms * 1000 + 87,
            x_gate_ratelimit_requests_remain=req.limits.get("remain"),
            x_gate_ratelimit_limit=req.limits.get("limit"),
            x_gat_ratelimit_reset_timestamp=req.limits.get("reset"),
        )

    def _rate_limit(self, req: _ApiRequest) -> None:
        """100 place/amend/cancel requests per second (spec 9), with Gate's headers."""
        second = req.now_ms // 1000
        if second != self._rate_second:
            self._rate_second, self._rate_count = second, 0
        self._rate_count += 1
        over = self._rate_count > RATE_LIMIT
        # reset: when the next window opens if over the limit, else the current time (spec 8.3)
        req.limits = {
            "remain": max(0, RATE_LIMIT - self._rate_count),
            "limit": RATE_LIMIT,
            "reset": (second + 1) * 1000 if over else req.now_ms,
        }
        if over:
            raise _ApiFailure("429", "TOO_MANY_REQUESTS", "Request Rate limit Exceeded (311)")

    def _check_request(self, req: _ApiRequest, payload: dict[str, Any], raw: str) -> None:
        header = payload.get("req_header")
        if isinstance(header, dict):
            exptime = header.get("x-gate-exptime")
            if isinstance(exptime, str) and exptime.isdigit() and int(exptime) < req.now_ms:
                raise _ApiFailure("400", "REQUEST_EXPIRED", "request expired: x-gate-exptime")
        creds = self.server.credentials
        channel = req.channel
        signed = "signature" in payload or channel == "futures.login"
        if creds is None or (req.conn.logged_in and not signed):
            return
        if not signed:
            raise _ApiFailure("401", "INVALID_KEY", "please login first (futures.login)")
        if payload.get("api_key") != creds.key:
            raise _ApiFailure("401", "INVALID_KEY", "Invalid key provided")
        timestamp = payload.get("timestamp")
        if not isinstance(timestamp, str) or not timestamp.isdigit():
            raise _ApiFailure("400", "INVALID_PARAM_VALUE", "timestamp must be unix seconds")
        signature = payload.get("signature")
        texts = [""] if channel == "futures.login" else _req_param_texts(raw, payload)
        if not any(
            verify_api_sign(channel, text, timestamp, signature=signature, secret=creds.secret)
            for text in texts
        ):
            raise _ApiFailure("401", "INVALID_SIGNATURE", "Signature mismatch")
        if abs(int(timestamp) - req.now_ms / 1000) > self.server.max_time_skew:
            raise _ApiFailure("400", "REQUEST_EXPIRED", "gap between timestamp and server time")

    # ---- channels

    def _call(
        self,
        conn: Connection,
        channel: str,
        param: object,
        now_ms: int,
        after: list[Callable[[], None]],
    ) -> object:
        mode = conn.size_decimal
        match channel:
            case "futures.order_place":
                order = self._place(conn, _param_dict(param), now_ms, after)
                return self._order_json(order, size_decimal=mode)
            case "futures.order_batch_place":
                if not isinstance(param, list) or not param or len(param) > 10:
                    raise _ApiFailure("400", "INVALID_PARAM_VALUE", "1 to 10 orders")
                results: list[object] = []
                for item in param:
                    try:
                        order = self._place(conn, _param_dict(item), now_ms, after)
                    except _ApiFailure as exc:
                        results.append(
                            {"succeeded": False, "label": exc.label, "message": exc.message}
                        )
                    else:
                        results.append(
                            {"succeeded": True} | self._order_json(order, size_decimal=mode)
                        )
                return results
            case "futures.order_cancel":
                order = self._find(_param_dict(param).get("order_id"))
                self._cancel(order, now_ms, after)
                return self._order_json(order, size_decimal=mode)
            case "futures.order_cancel_ids":
                if not isinstance(param, list) or len(param) > 20:
                    raise _ApiFailure("400", "INVALID_PARAM_VALUE", "at most 20 order ids")
                out: list[object] = []
                for order_id in param:
                    entry: dict[str, object] = {"id": str(order_id), "user_id": int(self.user_id)}
                    try:
                        self._cancel(self._find(order_id), now_ms, after)
                    except _ApiFailure as exc:
                        entry["message"] = exc.label
                    else:
                        entry["succeeded"] = True
                    out.append(entry)
                return out
            case "futures.order_cancel_cp":
                p = _param_dict(param)
                contract = p.get("contract")
                if not isinstance(contract, str) or not self._market(conn).has_contract(contract):
                    raise _ApiFailure("400", "CONTRACT_NOT_FOUND")
                side = p.get("side")
                cancelled = []
                for order in list(self.orders.values()):
                    if order.status != "open" or order.contract != contract:
                        continue
                    if side in ("bid", "ask") and (order.units > 0) != (side == "bid"):
                        continue
                    self._cancel(order, now_ms, after)
                    cancelled.append(self._order_json(order, size_decimal=mode))
                return cancelled
            case "futures.order_amend":
                p = _param_dict(param)
                order = self._find(p.get("order_id"))
                return self._order_json(self._amend(order, p, now_ms, after), size_decimal=mode)
            case "futures.order_list":
                p = _param_dict(param)
                status = p.get("status")
                if status not in ("open", "finished"):
                    raise _ApiFailure("400", "INVALID_PARAM_VALUE", "status is open or finished")
                contract = p.get("contract")
                found = [
                    o
                    for o in self.orders.values()
                    if o.status == status and (contract in (None, "") or o.contract == contract)
                ]
                limit = p.get("limit", 100)
                limit = limit if isinstance(limit, int) and 0 < limit <= 1000 else 100
                return [self._order_json(o, size_decimal=mode) for o in reversed(found)][:limit]
            case _:  # futures.order_status
                order = self._find(_param_dict(param).get("order_id"))
                return self._order_json(order, size_decimal=mode)

    def _market(self, conn: Connection) -> Market:
        return self.server._market(conn.market_key)

    def _find(self, order_id: object) -> _Order:
        text = str(order_id) if isinstance(order_id, int | str) else ""
        if text.isdigit() and int(text) in self.orders:
            return self.orders[int(text)]
        for order in self.orders.values():
            if text and order.text == text:
                return order
        raise _ApiFailure("400", "ORDER_NOT_FOUND")

    def _place(
        self, conn: Connection, p: dict[str, Any], now_ms: int, after: list[Callable[[], None]]
    ) -> _Order:
        market = self._market(conn)
        contract = p.get("contract")
        if not isinstance(contract, str) or not market.has_contract(contract):
            raise _ApiFailure("400", "CONTRACT_NOT_FOUND")
        tif = p.get("tif", "gtc")
        if tif not in ("gtc", "ioc", "poc", "fok"):
            raise _ApiFailure(
                "400", "INVALID_ARGUMENT", f"label: INVALID_ARGUMENT, message: invalid TIF {tif}"
            )
        if p.get("stp_act") not in (None, "-"):
            raise _ApiFailure("400", "INVALID_PARAM_VALUE", "set stp_act without stp_id")
        text = p.get("text") or "apiv4-ws"
        if not isinstance(text, str):
            raise _ApiFailure("400", "INVALID_PARAM_VALUE", "text must be a string")
        try:
            size = Decimal(str(p.get("size")))
            price = Decimal(str(p.get("price", "0")))
        except ArithmeticError:
            raise _ApiFailure(
                "400", "INVALID_PARAM_VALUE", "size and price must be numbers"
            ) from None
        if not size.is_finite() or not price.is_finite() or price < 0:
            raise _ApiFailure("400", "INVALID_PARAM_VALUE", "size and price must be numbers")
        units = market.size_units(contract, size)
        closing = bool(p.get("close")) or p.get("auto_size") is not None
        if units is None or (units == 0 and not closing):
            raise _ApiFailure("400", "INVALID_PARAM_VALUE", f"invalid size {p.get('size')}")
        if closing:
            units = -self.positions.get(contract, _Position()).units
            if units == 0:
                raise _ApiFailure("400", "INVALID_PARAM_VALUE", "no position to close")
        if price == 0 and tif not in ("ioc", "fok"):
            raise _ApiFailure("400", "INVALID_PARAM_VALUE", "market orders need tif ioc or fok")
        self._next_order_id += 1
        order = _Order(
            id=self._next_order_id,
            contract=contract,
            units=units,
            price=price,
            tif=tif,
            text=text,
            create_ms=now_ms,
            left=units,
            update_ms=now_ms,
            reduce_only=bool(p.get("reduce_only")),
            is_close=bool(p.get("close")),
        )
        self.orders[order.id] = order
        if len(self.orders) > KEPT_ORDERS * 5 // 4:  # a long-running serve: trim in batches
            finished = [oid for oid, o in self.orders.items() if o.status != "open"]
            for oid in finished[: len(self.orders) - KEPT_ORDERS]:
                del self.orders[oid]
        now = self.server.now()
        available = market.liquidity(contract, units, price, now)
        if tif == "poc" and available:
            order.status, order.finish_as, order.finish_ms, order.left = (
                "finished",
                "poc",
                now_ms,
                units,
            )
            self._push_order(order, "poc", after)
            return order
        if tif == "fok" and available < abs(units):
            order.status, order.finish_as, order.finish_ms = "finished", "fok", now_ms
            self._push_order(order, "fok", after)
            return order
        self._push_order(order, "_new", after)
        fills = market.execute(contract, units, price, now) if available else []
        details: list[Callable[[], None]] = []
        sign = 1 if units > 0 else -1
        for fill_price, fill_units in fills:
            self._fill(order, fill_price, fill_units * sign, now_ms, details, role="taker")
        if order.left and tif in ("ioc", "fok"):
            order.status, order.finish_as, order.finish_ms = "finished", "ioc", now_ms
        elif order.left:
            market.take_trade_extremes(contract, now)  # only later trades can fill the rest
        if order.status == "finished" or fills:
            self._push_order(order, order.finish_as or "_update", after)
        after.extend(details)  # the order's own push first, then its trades (ROQ 2024 order)
        return order

    def _fill(
        self,
        order: _Order,
        price: Decimal,
        units: int,
        now_ms: int,
        after: list[Callable[[], None]],
        *,
        role: str,
    ) -> None:
        server = self.server
        market = server.market_for(order.contract)
        spec = market.spec(order.contract)
        order.left -= units
        order.filled_value += price * abs(units)
        order.role = role
        order.update_ms = now_ms
        if order.left == 0:
            order.status, order.finish_as, order.finish_ms = "finished", "filled", now_ms
        contracts = abs(units) * spec.size_step
        if spec.quanto_multiplier:
            notional = contracts * spec.quanto_multiplier * price
        else:
            notional = contracts / price
        fee = _plain((notional * (_TKFR if role == "taker" else _MKFR)).quantize(_FEE_QUANTUM))
        pos = self.positions.setdefault(order.contract, _Position())
        old = pos.units
        if old == 0 or (old > 0) == (units > 0):
            pos.entry = (pos.entry * abs(old) + price * abs(units)) / (abs(old) + abs(units))
        else:
            closed = min(abs(old), abs(units))
            step = spec.size_step * (spec.quanto_multiplier or 1)
            pos.realised_pnl += (price - pos.entry) * closed * step * (1 if old > 0 else -1)
            if abs(units) > abs(old):
                pos.entry = price
        pos.units = old + units
        if pos.units == 0:
            pos.entry = Decimal(0)
        pos.realised_pnl -= fee
        pos.update_id += 1
        self.balance -= fee
        self._next_trade_id += 1
        trade_id = str(self._next_trade_id)
        balance, update_id, pos_units = self.balance, pos.update_id, pos.units
        entry, pnl = pos.entry, pos.realised_pnl
        contract, order_id, text = order.contract, str(order.id), order.text
        time_s, user = now_ms // 1000, self.user_id

        def push(size_decimal: bool) -> list[Event]:
            size = market.units_size(contract, units, size_decimal=size_decimal)
            close = market.units_size(
                contract, -units if old and (old > 0) != (units > 0) else 0, size_decimal=True
            )
            return [
                UserTradesUpdate(
                    result=(
                        UserTrade(
                            id=trade_id,
                            order_id=order_id,
                            contract=contract,
                            size=size,
                            price=price,
                            role=role,
                            text=text,
                            fee=fee,
                            point_fee=Decimal(0),
                            create_time=time_s,
                            create_time_ms=now_ms,
                            amend_text="-",
                            biz_info="-",
                            close_size=Decimal(close),
                        ),
                    ),
                    time=time_s,
                    time_ms=now_ms + 1,
                ),
                PositionsUpdate(
                    result=(
                        Position(
                            contract=contract,
                            size=market.units_size(contract, pos_units, size_decimal=size_decimal),
                            entry_price=entry,
                            liq_price=Decimal(0),
                            margin=balance,
                            realised_pnl=pnl,
                            realised_point=Decimal(0),
                            history_pnl=Decimal(0),
                            history_point=Decimal(0),
                            last_close_pnl=Decimal(0),
                            leverage=Decimal(0),
                            leverage_max=Decimal(spec.leverage_max),
                            maintenance_rate=Decimal("0.005"),
                            risk_limit=Decimal(1_000_000),
                            cross_leverage_limit=Decimal(10),
                            mode="single",
                            time=time_s,
                            time_ms=now_ms,
                            update_id=update_id,
                            user=user,
                            pos_margin_mode="cross",
                            lever=Decimal(10),
                        ),
                    ),
                    time=time_s,
                    time_ms=now_ms + 10,
                ),
                BalancesUpdate(
                    result=(
                        Balance(
                            balance=balance,
                            change=-fee,
                            type="fee",
                            text=f"{contract}:{order_id}",
                            time=time_s,
                            time_ms=now_ms,
                            user=user,
                            currency=market.settle,
                        ),
                    ),
                    time=time_s,
                    time_ms=now_ms + 22,
                ),
            ]

        # usertrades, positions and balances follow the order push of the same fill
        after.append(lambda: self._push_each(contract, push))

    def _push_each(self, contract: str, build: Callable[[bool], list[Event]]) -> None:
        cache: dict[bool, list[Event]] = {}

        def pick(index: int) -> Callable[[bool], Event]:
            def get(size_decimal: bool) -> Event:
                if size_decimal not in cache:
                    cache[size_decimal] = build(size_decimal)
                return cache[size_decimal][index]

            return get

        for index, channel in enumerate(_FILL_CHANNELS):
            self.server.push_private(channel, contract, pick(index))

    def _push_order(self, order: _Order, finish_as: str, after: list[Callable[[], None]]) -> None:
        order.update_id += 1
        snapshot = attrs.evolve(order, finish_as=finish_as)
        market = self.server.market_for(order.contract)
        user = self.user_id

        def build(size_decimal: bool) -> Event:
            o = snapshot
            end_ms = o.finish_ms or o.create_ms  # live: finish_time = create time while open
            return OrdersUpdate(
                result=(
                    Order(
                        id=o.id,
                        contract=o.contract,
                        size=market.units_size(o.contract, o.units, size_decimal=size_decimal),
                        price=o.price,
                        status=o.status,
                        left=market.units_size(o.contract, o.left, size_decimal=size_decimal),
                        fill_price=o.fill_price(),
                        finish_as=o.finish_as,
                        create_time=o.create_ms // 1000,
                        create_time_ms=o.create_ms,
                        finish_time=end_ms // 1000,
                        finish_time_ms=end_ms,
                        update_time=o.update_ms,
                        update_id=o.update_id,
                        text=o.text,
                        tif=o.tif,
                        iceberg=0,
                        is_close=o.is_close,
                        is_reduce_only=o.reduce_only,
                        mkfr=_MKFR,
                        tkfr=_TKFR,
                        user=user,
                        id_string=str(o.id),
                        amend_text=o.amend_text,
                        biz_info="-",
                        stp_act="-",
                        stp_id="0",
                    ),
                ),
                time=o.update_ms // 1000,
                time_ms=o.update_ms + 2,
            )

        after.append(lambda: self.server.push_private("futures.orders", order.contract, build))

    def _cancel(self, order: _Order, now_ms: int, after: list[Callable[[], None]]) -> None:
        if order.status != "open":
            raise _ApiFailure("404", "ORDER_NOT_FOUND")
        order.status, order.finish_as, order.finish_ms, order.update_ms = (
            "finished",
            "cancelled",
            now_ms,
            now_ms,
        )
        self._push_order(order, "cancelled", after)

    def _amend(
        self, order: _Order, p: dict[str, Any], now_ms: int, after: list[Callable[[], None]]
    ) -> _Order:
        if order.status != "open":
            raise _ApiFailure("404", "ORDER_NOT_FOUND")
        market = self.server.market_for(order.contract)
        if p.get("price") is not None:
            order.price = _positive_decimal(p["price"])
        if p.get("size") is not None:
            units = market.size_units(order.contract, _positive_decimal(p["size"]))
            if units is None:
                raise _ApiFailure("400", "INVALID_PARAM_VALUE", "size is off the size step")
            filled = order.units - order.left
            if units <= abs(filled):  # Gate: a size at or below the filled part cancels
                self._cancel(order, now_ms, after)
                return order
            units *= 1 if order.units > 0 else -1  # the side cannot change
            order.left = units - filled
            order.units = units
        if isinstance(p.get("amend_text"), str):
            order.amend_text = p["amend_text"]
        order.update_ms = now_ms
        self._push_order(order, "_update", after)
        self.match_resting(now_ms, after)
        return order

    def match_resting(self, now_ms: int, after: list[Callable[[], None]]) -> None:
        """Fill resting orders the market traded through, as makers at their own price.

        Resting orders stay off the public book (so `book_at` is the simulated market alone);
        a sell at P fills once a buy trade prints at P or higher or the best bid reaches P, and
        a buy the other way round.
        """
        now = self.server.now()
        extremes: dict[str, tuple[Decimal | None, Decimal | None]] = {}
        for order in list(self.orders.values()):
            if order.status != "open":
                continue
            market = self.server.market_for(order.contract)
            if order.contract not in extremes:
                extremes[order.contract] = market.take_trade_extremes(order.contract, now)
            buy_high, sell_low = extremes[order.contract]
            bid, ask = market.best_bid_ask(order.contract)
            if order.units > 0:
                crossed = (ask is not None and ask <= order.price) or (
                    sell_low is not None and sell_low <= order.price
                )
            else:
                crossed = (bid is not None and bid >= order.price) or (
                    buy_high is not None and buy_high >= order.price
                )
            if crossed:
                details: list[Callable[[], None]] = []
                self._fill(order, order.price, order.left, now_ms, details, role="maker")
                self._push_order(order, "filled", after)
                after.extend(details)

    def has_open_orders(self) -> bool:
        return any(o.status == "open" for o in self.orders.values())

    def on_tick(self) -> None:
        if not self.has_open_orders():
            return
        after: list[Callable[[], None]] = []
        self.match_resting(self.server._wall_ms(), after)
        for push in after:
            push()

    def _order_json(self, order: _Order, *, size_decimal: bool) -> dict[str, object]:
        market = self.server.market_for(order.contract)

        def size(units: int) -> object:
            value = market.units_size(order.contract, units, size_decimal=size_decimal)
            return str(value) if isinstance(value, Decimal) else value

        out: dict[str, object] = {
            "id": order.id,
            "user": int(self.user_id) if self.user_id.isdigit() else self.user_id,
            "contract": order.contract,
            "create_time": order.create_ms / 1000,
            "update_time": order.update_ms / 1000,
            "size": size(order.units),
            "left": size(order.left),
            "price": _dec_text(order.price),
            "fill_price": _dec_text(order.fill_price()),
            "status": order.status,
            "tif": order.tif,
            "text": order.text,
            "iceberg": 0,
            "is_reduce_only": order.reduce_only,
            "is_close": order.is_close,
            "tkfr": str(_TKFR),
            "mkfr": str(_MKFR),
            "biz_info": "-",
            "amend_text": order.amend_text,
            "stp_act": "-",
        }
        if order.status == "finished":
            out["finish_as"] = order.finish_as
            out["finish_time"] = order.finish_ms / 1000
        return out


def _positive_decimal(value: object) -> Decimal:
    try:
        number = abs(Decimal(str(value)))
    except ArithmeticError:
        number = Decimal(0)
    if not number.is_finite() or number <= 0:
        raise _ApiFailure("400", "INVALID_PARAM_VALUE", f"invalid number {value!r}")
    return number


def _param_dict(param: object) -> dict[str, Any]:
    if not isinstance(param, dict):
        raise _ApiFailure("400", "INVALID_ARGUMENT", "req_param must be an object")
    return param


class _ApiPayloadRaw(msgspec.Struct):
    req_param: msgspec.Raw = msgspec.Raw(b"")


class _ApiFrameRaw(msgspec.Struct):
    payload: _ApiPayloadRaw


def _req_param_texts(raw: str, payload: dict[str, Any]) -> list[str]:
    """The req_param texts a signature may cover: the exact bytes sent first, then the common
    re-serialisations (compact, and Python's default separators as gatews signs)."""
    texts = []
    try:
        exact = msgspec.json.decode(raw, type=_ApiFrameRaw).payload.req_param
    except msgspec.DecodeError:
        exact = msgspec.Raw(b"")
    if exact:
        texts.append(bytes(exact).decode())
    param = payload.get("req_param")
    texts.append(json.dumps(param, separators=(",", ":"), ensure_ascii=False))
    texts.append(json.dumps(param))
    return texts
