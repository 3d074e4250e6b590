"""The fake exchange's trio shell: serving connections, routing their frames, the market clock.

The markets (`_market.Market`) are pure; this module drives them with trio's clock and speaks
real WebSocket frames (trio-websocket's server side) to each connection. It serves any
`trio.abc.Stream`: in memory through `FakeGateServer.connector`, or TCP through `_loopback`.

Around it: `_connection` (one connection's queue and tasks), `_subscriptions` (who hears
what), `_trading_api` and `_account` (the trading side), `_replies` (acks and errors),
`_rest` (REST bodies), `_faults` (the `--fault` language) and `_memory` (in-memory sockets).
The engines reach the server only through `_Host`, which implements their host protocols.
"""

from __future__ import annotations

import json
import math
import random
import typing
from typing import TYPE_CHECKING, Any, Final, cast
from urllib.parse import urlsplit

import trio
import trio_websocket

from gatetrio._core._encode import encode_event
from gatetrio._core._events import Pong, UpgradeRequested
from gatetrio._shell._excgroups import first_leaf
from gatetrio._shell._transport import MAX_MESSAGE_SIZE, MESSAGE_QUEUE_SIZE
from gatetrio._shell._transport._wsproto import WebSocket, connect_websocket

from . import _faults, _rest
from ._account import Account
from ._connection import Connection, Received, _describe_close, _ServerStream
from ._market import DEFAULT_CONTRACTS, DEFAULT_EPOCH_MS, STEP_MS, Market
from ._memory import memory_socket_pair
from ._profile import FakeProfile, resolve_profile
from ._replies import Replies
from ._subscriptions import Subscriptions
from ._trading_api import TradingApi

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence
    from typing import TypeVarTuple

    from gatetrio._core._config import Credentials
    from gatetrio._core._events import Event

    from ._connection import ConnRef, MarketKey
    from ._faults import FaultSpec
    from ._market import BookState, ContractSpec

    _Ts = TypeVarTuple("_Ts")

UPGRADE_MSG: Final = "The connection will soon be closed for a service upgrade. Please reconnect."
MALFORMED_FRAME: Final = (
    '{"time":1786540580,"channel":"futures.trades","event":"update","result":[{'
)
MAX_TIME_SKEW: Final = 60.0  # spec 8.1: `time` must be within 60 s of the server's clock


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


# ------------------------------------------------------------------------------- server


@typing.final
class FakeGateServer:
    """A protocol-faithful fake of Gate's futures WebSocket v4 server.

    It speaks the real protocol over real WebSocket frames: public and private channels
    (signed with `credentials`), the WebSocket trading API against a simulated account, the
    REST order-book snapshot, ping/pong, and Gate's refusals with Gate's error codes. Its
    markets are seeded: the same seed gives the same session, frame for frame.

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
            (the 2026-02 testnet order).
        profile: "live" (the default: as live Gate behaves), "docs" (the fake's
            earlier, documented behaviour) or a `FakeProfile`; see `gatetrio.testing.FakeProfile`.
        idle_timeout: close an idle connection after this long (None: the profile's; live:
            30.5 s without a client frame on a socket with no subscription, no close frame).
        protocol_ping_interval: seconds between the server's WebSocket pings. None: the
            profile's (live sends none; docs every 15 s).
        protocol_pong_timeout: how long a pong may take before the connection is closed.
            None: the profile's.
        send_queue_size: frames queued per connection before it is cut as a slow consumer.
        transport_buffer: bytes the in-memory socket buffers per direction.
        epoch_ms: wall time (unix ms) at the start; frames carry `epoch + elapsed`. None uses
            a fixed 2026 date, so frames repeat exactly.
        markets: contract lists replacing the defaults, keyed "usdt", "btc", "usd1",
            "delivery/usdt", "delivery/btc".
        max_time_skew: allowed |request time - server time| for signed requests.
        rest_latency: seconds `fetch_order_book` takes to answer.
        obu_full_every: about one push in this many of an obu stream is a re-sent full
            snapshot (0: never).
        book_update_full_every: the same for order_book_update (0: never).
        liquidations_as_object: public_liquidates `result` as one object (live 2026-08-10)
            instead of the documented array.
        max_received: keep only about this many `received` frames (None: all; a long-running
            server should bound it).

    Example (`server.run` serves until cancelled, so the nursery is cancelled at the end)::

        server = FakeGateServer(seed=0)
        async with trio.open_nursery() as nursery:
            await nursery.start(server.run)
            async with gatetrio.open_client(
                connector=server.connector, wall_clock=server.wall_time
            ) as client:
                ...
            nursery.cancel_scope.cancel()
    """

    def __init__(
        self,
        seed: int = 0,
        settle: str = "usdt",
        *,
        credentials: Credentials | None = None,
        obu_snapshot_before_ack: bool = False,
        profile: str | FakeProfile = "live",
        idle_timeout: float | None = None,
        protocol_ping_interval: float | None = None,
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
        self.profile = resolve_profile(profile)
        self.idle_timeout = self.profile.idle_timeout if idle_timeout is None else idle_timeout
        self.protocol_ping_interval = (
            self.profile.protocol_ping_interval
            if protocol_ping_interval is None
            else protocol_ping_interval
        )
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
            "candle_turnover": self.profile.candle_turnover,
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
        self._conns: dict[str, Connection] = {}
        self._t0: float | None = None
        self._nursery: trio.Nursery | None = None
        self._wakeup = trio.Event()
        self._refuse = 0
        self._replies = Replies(self._rng, wall_ms=self._wall_ms, enqueue=self._enqueue)
        host = _Host(self)
        self._subscriptions = Subscriptions(host)
        self._account = Account(host, self._rng)
        self._account.require_text_prefix = self.profile.order_text_prefix
        self._trading = TradingApi(host, self._account)
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

    @property
    def trading(self) -> TradingApi:
        """The WebSocket trading API: its rate limits and their measure (`max_rate`), and
        misbehaviour on demand (`misbehave`)."""
        return self._trading

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
                self._subscriptions.dispatch(key, market.tick(now))
            self._account.on_tick(self._wall_ms())

    def _wake_clock(self) -> None:
        """Make `_run_clock` look again at its deadline (a new topic or resting order)."""
        self._wakeup.set()

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
        """Dial the fake in memory with a plain trio-websocket client (its reader runs in
        `nursery`), to talk to it as a foreign client would. It returns trio-websocket's own
        connection, not a gatetrio `WebSocketLike`: for the client, wrap it in
        `gatetrio.testing.TrioWebSocket`.

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
                    raise first_leaf(rejected) from None
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
            conn_id=self._replies.hex(16),
            path=request.path,
            market_key=key,
            headers=headers,
            size_decimal=headers.get("x-gate-size-decimal") == "1",
            _stream=stream,
            _ws=ws,
            _send=send,
        )
        conn._last_traffic = conn._last_client = trio.current_time()
        self._market(key)
        self._conns[conn.conn_id] = conn
        try:
            await conn._run(
                recv,
                self._handle_message,
                ping_interval=self.protocol_ping_interval,
                pong_timeout=self.protocol_pong_timeout,
                idle_timeout=self.idle_timeout,
                idle_abort=self.profile.idle_abort,
            )
        finally:
            conn.closed = True
            conn.close_reason = conn.close_reason or _describe_close(ws)
            del self._conns[conn.conn_id]
            self._subscriptions.forget(conn)
            send.close()

    def _enqueue(self, conn: Connection, frame: str) -> None:
        if not conn._offer(frame):
            self.slow_consumers_cut += 1
            self._spawn(conn._close, 1008, "slow consumer")

    def _spawn(self, fn: Callable[[*_Ts], Awaitable[object]], *args: *_Ts) -> None:
        if self._nursery is None:
            raise RuntimeError("start FakeGateServer.run first: await nursery.start(server.run)")
        self._nursery.start_soon(fn, *args)

    # ------------------------------------------------------------------------- requests

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
            self._replies.error(conn, "", "", 1, "request message need json scheme")
            return
        self.received.append(Received(conn.conn_id, msg))
        channel = msg.get("channel")
        event = msg.get("event")
        if not isinstance(channel, str):
            self._replies.error(conn, "", "", 1, "request message need json scheme")
            return
        if channel == "futures.ping":
            now_ms = self._wall_ms()
            self._replies.event(
                conn, Pong(time=now_ms // 1000, time_ms=now_ms, conn_id=conn.conn_id)
            )
        elif event == "api":
            self._trading.handle(conn, msg, text)
        elif event == "subscribe" or event == "unsubscribe":  # noqa: PLR1714 - narrows to str
            self._subscriptions.handle(conn, msg, channel, event)
        else:
            self._replies.error(
                conn,
                channel,
                event if isinstance(event, str) else "",
                2,
                "invalid argument",
                msg=msg,
            )

    def push_private(
        self, channel: str, contract: str, event: Event | Callable[[bool], Event]
    ) -> None:
        """Send a private push to every connection subscribed to `channel` for `contract`.

        `event` may be a function of the connection's size-decimal mode returning the event.
        """
        self._subscriptions.push_private(channel, contract, event)

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

    # ------------------------------------------------------------------------- REST

    def rest_order_book(
        self,
        contract: str,
        limit: int = 10,
        settle: str | None = None,
        *,
        size_decimal: bool = True,
        with_id: bool = True,
    ) -> dict[str, object]:
        """The JSON body `GET /api/v4/futures/{settle}/order_book` answers on Gate's REST API."""
        return _rest.order_book(
            self.market_for(contract),
            contract,
            limit,
            settle,
            now=self.now,
            size_decimal=size_decimal,
            with_id=with_id,
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

    async def fetch_contracts(self, settle: str = "usdt") -> object:
        """A listing fetcher for in-memory tests (``open_pool(listing_fetcher=...)``): the JSON
        ``GET /api/v4/futures/{settle}/contracts`` answers, `rest_latency` seconds later."""
        status, body = self.handle_http("GET", f"/api/v4/futures/{settle}/contracts", {})
        await trio.sleep(self.rest_latency)
        if status != 200:
            raise KeyError(f"no {settle} market: {body.decode()}")
        return json.loads(body)

    def handle_http(self, method: str, target: str, headers: dict[str, str]) -> tuple[int, bytes]:
        """Answer a REST request (the loopback server's HTTP side): `(status, JSON body)`."""
        return _rest.handle_http(
            method,
            target,
            headers,
            market=self._listed_market,
            now=self.now,
            account=self._account,
        )

    def _listed_market(self, key: MarketKey) -> Market | None:
        return self._market(key) if key in self._specs else None

    # ------------------------------------------------------------------------- faults

    def drop(self, conn: ConnRef = None) -> None:
        """Abruptly close connections: no close frame (the client sees 1006 / a reset)."""
        for target in self._targets(conn):
            self._spawn(target._abort, "dropped")

    def stall(self, conn: ConnRef = None) -> None:
        """Keep sockets open but send nothing more: no pushes, replies, pongs or pings."""
        for target in self._targets(conn):
            target._set_stalled(stalled=True)

    def resume(self, conn: ConnRef = None) -> None:
        """End a stall; frames produced meanwhile are lost."""
        for target in self._targets(conn):
            target._set_stalled(stalled=False)

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
            self._spawn(target._close_later, grace)

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
                self._spawn(target._close, 1008, "slow consumer")
        return cut

    def close(self, conn: ConnRef = None, code: int = 1000, reason: str = "") -> None:
        """Close connections politely with a close frame."""
        for target in self._targets(conn):
            self._spawn(target._close, code, reason)

    def push(self, event: Event | str, conn: ConnRef = None) -> None:
        """Send any event (encoded as Gate would) or raw frame text to connections."""
        frame = event if isinstance(event, str) else encode_event(event)
        for target in self._targets(conn):
            self._enqueue(target, frame)

    def apply_fault(self, fault: FaultSpec) -> None:
        """Apply a parsed `--fault` once (its schedule is the caller's business)."""
        _faults.apply_fault(self, fault)

    async def run_faults(self, faults: Sequence[FaultSpec]) -> None:
        """Apply each fault at its time (seconds after `run` started), repeating as asked."""
        await _faults.run_faults(self, faults, start_time=self._start_time)


@typing.final
class _Host:
    """The server as its engines see it: `SubscriptionHost`, `AccountHost`, `TradingApiHost`.

    A separate object, so the engines get exactly these members and never the server's
    internals, and FakeGateServer's public surface stays what its docstring says.
    """

    __slots__ = ("_server",)

    def __init__(self, server: FakeGateServer) -> None:
        self._server = server

    @property
    def credentials(self) -> Credentials | None:
        return self._server.credentials

    @property
    def max_time_skew(self) -> float:
        return self._server.max_time_skew

    @property
    def obu_snapshot_before_ack(self) -> bool:
        return self._server.obu_snapshot_before_ack

    @property
    def profile(self) -> FakeProfile:
        return self._server.profile

    @property
    def replies(self) -> Replies:
        return self._server._replies

    @property
    def connections(self) -> list[Connection]:
        return self._server.connections

    def now(self) -> float:
        return self._server.now()

    def wall_time(self) -> float:
        return self._server.wall_time()

    def market(self, key: MarketKey) -> Market:
        return self._server._market(key)

    def market_for(self, contract: str) -> Market:
        return self._server.market_for(contract)

    def push_private(
        self, channel: str, contract: str, event: Event | Callable[[bool], Event]
    ) -> None:
        self._server.push_private(channel, contract, event)

    def wake_clock(self) -> None:
        self._server._wake_clock()

    def drop(self, conn: Connection) -> None:
        self._server.drop(conn)
