"""The fake exchange's trio shell: serving connections, routing their frames, the market clock.

The markets (`_market.Market`) are pure; this module drives them with trio's clock and speaks
real WebSocket frames (trio-websocket's server side) to each connection. It serves any
`trio.abc.Stream`: in memory through `FakeGateServer.connector`, or TCP through `_loopback`.

Around it: `_connection` (the WebSocket-serving path and one connection's queue and tasks,
shared with the replay server), `_subscriptions` (who hears what), `_trading_api` and
`_account` (the trading side), `_replies` (acks and errors), `_rest` (REST bodies), `_faults`
(the `--fault` language) and `_memory` (in-memory sockets). The engines reach the server only
through `_host.EngineHost`, which implements their host protocols; connections only through
their verbs.
"""

from __future__ import annotations

import functools
import json
import math
import random
import typing
from collections import deque
from typing import TYPE_CHECKING, Final

import attrs
import trio

from gatetrio._core._encode import encode_event
from gatetrio._core._events import Pong, UpgradeRequested
from gatetrio._shell._transport._wsproto import WebSocket, connect_websocket

from . import _faults, _rest
from ._account import Account
from ._connection import (
    ConnectionHooks,
    ConnectionOptions,
    Liveness,
    Received,
    route,
    serve_websocket,
)
from ._fake_account import FakeAccount
from ._host import EngineHost
from ._market import DEFAULT_CONTRACTS, DEFAULT_EPOCH_MS, STEP_MS, Market, MarketOptions
from ._memory import MemoryDial, connect_trio_websocket, memory_dial
from ._price_orders import PriceOrders
from ._private_pushes import PrivatePushes
from ._profile import FakeProfile, resolve_profile
from ._replies import Replies
from ._rest_auth import RestAuth
from ._rest_transport import FakeRestTransport, RestRequest
from ._risk import Risk
from ._subscriptions import Subscriptions
from ._trading_api import TradingApi

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping, Sequence
    from typing import TypeVarTuple

    import trio_websocket

    from gatetrio._core._config import Credentials
    from gatetrio._core._events import Event

    from ._connection import Connection, ConnRef, MarketKey
    from ._faults import FaultSpec
    from ._market import BookState, ContractSpec
    from ._rest_reply import RestReply

    _Ts = TypeVarTuple("_Ts")

UPGRADE_MSG: Final = "The connection will soon be closed for a service upgrade. Please reconnect."
MALFORMED_FRAME: Final = (
    '{"time":1786540580,"channel":"futures.trades","event":"update","result":[{'
)
MAX_TIME_SKEW: Final = 60.0  # spec 8.1: `time` must be within 60 s of the server's clock
REST_RECEIVED: Final = 1000  # REST requests kept in `rest_received`
DEFAULT_CONNECTION_OPTIONS: Final = ConnectionOptions()
DEFAULT_MARKET_OPTIONS: Final = MarketOptions()


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
            earlier, documented behaviour) or a `FakeProfile`, which also sets the idle rule
            and the WebSocket pings (`attrs.evolve(PROFILES["live"], idle_timeout=...)`).
        connection: send queue and in-memory socket sizes, pong timeout (`ConnectionOptions`).
        market: how the markets shape their pushes (`MarketOptions`: full snapshots re-sent,
            the liquidations shape).
        epoch_ms: wall time (unix ms) at the start; frames carry `epoch + elapsed`. None uses
            a fixed 2026 date, so frames repeat exactly.
        markets: contract lists replacing the defaults, keyed "usdt", "btc", "usd1",
            "delivery/usdt", "delivery/btc".
        max_time_skew: allowed |request time - server time| for signed requests.
        rest_latency: seconds `fetch_order_book` takes to answer.
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
        connection: ConnectionOptions = DEFAULT_CONNECTION_OPTIONS,
        market: MarketOptions = DEFAULT_MARKET_OPTIONS,
        epoch_ms: int | None = None,
        markets: dict[str, Sequence[ContractSpec]] | None = None,
        max_time_skew: float = MAX_TIME_SKEW,
        rest_latency: float = 0.0,
        max_received: int | None = None,
    ) -> None:
        self.seed = seed
        self.settle = settle
        self.credentials = credentials
        self.obu_snapshot_before_ack = obu_snapshot_before_ack
        self.profile = resolve_profile(profile)
        self.connection = connection
        self.market_options = market
        self.max_time_skew = max_time_skew
        self.rest_latency = rest_latency
        self._epoch_ms: int = DEFAULT_EPOCH_MS if epoch_ms is None else epoch_ms
        self.max_received = max_received
        self._liveness = Liveness(
            ping_interval=self.profile.protocol_ping_interval,
            pong_timeout=connection.pong_timeout,
            idle_timeout=self.profile.idle_timeout,
            idle_abort=self.profile.idle_abort,
        )
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
        self._changed = trio.Event()  # set (and replaced) on each change `wait_until` watches
        self._refuse = 0
        self._replies = Replies(self._rng, wall_ms=self._wall_ms, enqueue=self._enqueue)
        self._hooks = ConnectionHooks(
            new_conn_id=functools.partial(self._replies.hex, 16),
            opened=self._opened,
            handle=self._handle_message,
            closed=self._forget,
        )
        host = EngineHost(
            self, replies=self._replies, market=self._market, wake_clock=self._wake_clock
        )
        self._subscriptions = Subscriptions(host)
        self._private = PrivatePushes(
            self._subscriptions.push_private, now=self.now, spawn=self._spawn
        )
        self._account = Account(host, self._rng)
        self._account.require_text_prefix = self.profile.order_text_prefix
        risk = self._account.risk = Risk(self._account, host)
        triggers = PriceOrders(self._account, host, self._rng.randrange(10**8, 10**9))
        self._account.triggers = triggers
        self.account = FakeAccount(
            self._account,
            risk,
            self._private,
            market_for=self.market_for,
            wall_ms=self._wall_ms,
            now=self.now,
            wake_clock=self._wake_clock,
        )
        """The fake's account: its truth, and happenings and push faults on demand."""
        self.rest_auth = RestAuth(
            credentials=lambda: self.credentials,
            wall_ms=self._wall_ms,
            max_time_skew=lambda: self.max_time_skew,
        )
        self._rest_host = _rest.RestHost(
            market=self._listed_market,
            now=self.now,
            account=self._account,
            auth=self.rest_auth,
            triggers=triggers,
            wake=self._wake_clock,
        )
        # the REST requests received (method, target, headers with lower-case names, body)
        self.rest_received: deque[RestRequest] = deque(maxlen=REST_RECEIVED)
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
                conn.cancel()  # one served on loopback runs outside this nursery

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
                options=self.market_options,
                candle_turnover=self.profile.candle_turnover,
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
            if self._account.needs_ticks():  # resting orders, liquidations: every 100 ms
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
        dial, _ = self._dial(url)
        # the endpoint (`statistics().url`, events, logs) says where the client really is: in
        # this process, not at the Gate host the URL may name
        return await connect_websocket(
            dial.client,
            host=dial.host,
            resource=dial.resource,
            headers=headers,
            endpoint=f"memory://fake-gate{dial.resource}",
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
        dial, refuse = self._dial(url)
        return await connect_trio_websocket(nursery, dial, headers, refused=refuse)

    def _dial(self, url: str) -> tuple[MemoryDial, bool]:
        """Open an in-memory socket to this fake and serve its far end.

        Returns the dial, and whether the handshake will be refused (decided now, so that a
        client that must not see the refusal in its own nursery can prepare for it).
        """
        if self._nursery is None:
            raise RuntimeError("start FakeGateServer.run first: await nursery.start(server.run)")
        dial = memory_dial(url, self.connection.transport_buffer)
        refuse = route(dial.resource) is None or self._take_refusal()
        self._nursery.start_soon(self.serve_stream, dial.server, b"", refuse)
        return dial, refuse

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
        decision; None decides once the path is known (`refuse(n)`; unknown paths get 404).
        """

        def refused() -> bool:
            if refuse if refuse is not None else self._take_refusal():
                self.handshakes_refused += 1
                return True
            return False

        await serve_websocket(
            stream,
            prefix,
            hooks=self._hooks,
            send_queue_size=self.connection.send_queue_size,
            liveness=self._liveness,
            refuse=refused,
        )

    def _opened(self, conn: Connection) -> None:
        self._market(conn.market_key)
        self._conns[conn.conn_id] = conn
        self._notify()

    def _forget(self, conn: Connection) -> None:
        del self._conns[conn.conn_id]
        self._subscriptions.forget(conn)
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    def _enqueue(self, conn: Connection, frame: str) -> None:
        if not conn.offer(frame):
            self.slow_consumers_cut += 1
            self._spawn(conn.close, 1008, "slow consumer")

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
        self._notify()  # waiters run after this (sync) handler: the frame is in and answered
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
        It goes the way the engine's own pushes go: `account.drop_pushes` and
        `account.delay_pushes` apply to it too.
        """
        self._private.push(channel, contract, event)

    # ------------------------------------------------------------------------- inspection

    @property
    def connections(self) -> list[Connection]:
        """The live connections, oldest first."""
        return list(self._conns.values())

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        """Return once `condition()` holds, checked at each change the fake sees: a connection
        opened or closed, a client frame received (and handled). For tests: wait on the fake's
        own state instead of polling it. It waits as long as it takes; bound it yourself."""
        while not condition():
            await self._changed.wait()
        await trio.lowlevel.checkpoint()

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
        ``GET /api/v4/futures/{settle}/contracts?limit=1000`` answers, `rest_latency` seconds
        later."""
        status, body = self.handle_http("GET", f"/api/v4/futures/{settle}/contracts?limit=1000", {})
        await trio.sleep(self.rest_latency)
        if status != 200:
            raise KeyError(f"no {settle} market: {body.decode()}")
        return json.loads(body)

    @property
    def rest_transport(self) -> FakeRestTransport:
        """A REST transport that reaches this fake in memory: pass it with the connector,
        ``open_client(connector=server.connector, rest_transport=server.rest_transport)``, so
        the client's REST helper (headers, signing, caps, error map) is exercised against
        `serve_http`, each answer `rest_latency` seconds after the request."""
        return FakeRestTransport(self._rest_exchange)

    def handle_http(
        self, method: str, target: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, bytes]:
        """Answer a REST request: `(status, JSON body)` (see `serve_http` for the headers)."""
        reply = self.serve_http(method, target, headers, body)
        return reply.status, reply.body

    def serve_http(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes = b""
    ) -> RestReply:
        """Answer a REST request as Gate's REST API v4 would: status, JSON body and headers
        (rate-limit headers on private routes). `rest_received` keeps what was asked."""
        lowered = {name.lower(): value for name, value in headers.items()}
        self.rest_received.append(RestRequest(method, target, lowered, body))
        reply = _rest.serve_http(method, target, lowered, body, self._rest_host)
        # Gate's gateway stamps every answer with when it took the request and when it
        # answered, in microseconds; the fake answers in the same instant it reads
        stamp = str(self._wall_ms() * 1000)
        return attrs.evolve(
            reply, headers=(*reply.headers, ("X-In-Time", stamp), ("X-Out-Time", stamp))
        )

    async def _rest_exchange(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> RestReply:
        reply = self.serve_http(method, target, headers, body)
        await trio.sleep(self.rest_latency)
        return reply

    def _listed_market(self, key: MarketKey) -> Market | None:
        return self._market(key) if key in self._specs else None

    # ------------------------------------------------------------------------- faults

    def drop(self, conn: ConnRef = None) -> None:
        """Abruptly close connections: no close frame (the client sees 1006 / a reset)."""
        for target in self._targets(conn):
            self._spawn(target.abort, "dropped")

    def stall(self, conn: ConnRef = None) -> None:
        """Keep sockets open but send nothing more: no pushes, replies, pongs or pings."""
        for target in self._targets(conn):
            target.stall()

    def resume(self, conn: ConnRef = None) -> None:
        """End a stall; frames produced meanwhile are lost."""
        for target in self._targets(conn):
            target.resume()

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
            self._spawn(self._close_after, target, grace)

    async def _close_after(self, conn: Connection, grace: float) -> None:
        await trio.sleep(grace)
        if not conn.closed:
            await conn.close(1001, "service upgrade")

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
                self._spawn(target.close, 1008, "slow consumer")
        return cut

    def close(self, conn: ConnRef = None, code: int = 1000, reason: str = "") -> None:
        """Close connections politely with a close frame."""
        for target in self._targets(conn):
            self._spawn(target.close, code, reason)

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
