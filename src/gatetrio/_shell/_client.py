"""`open_client` and `Client`: the public face of the trio shell.

    open_client(...)                  async with; yields a Client
    └─ nursery "client"
       └─ run_supervisor             _supervisor.py: connections, timers, pacing, handover

All protocol logic lives in the pure `GateProtocol`; the shell's shared state is a `Runtime`
(`_runtime.py`). This module turns user calls into protocol calls and waits.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import time
from typing import TYPE_CHECKING, Final, TypeVar, final

import attrs
import trio

from gatetrio._core._account import read_account
from gatetrio._core._config import CLOSE_GRACE, DEFAULT_BUFFER, ClientConfig, endpoint_url
from gatetrio._core._errors import GateTrioError, ProtocolError, UsageError, UserIdMismatch
from gatetrio._core._protocol import GateProtocol
from gatetrio._core._requests import ChannelSpec, Login
from gatetrio._core._rest import RestRoute, rest_route

from ._account import (
    CHANGES_BUFFER,
    DEFAULT_CHECK_INTERVAL,
    AccountHost,
    LiveAccount,
    open_account,
)
from ._book_host import BookHost
from ._client_events import ClientEvent, ClientEventKind, ClientStatistics, assemble_statistics
from ._contracts import ContractCheck
from ._excgroups import open_host_nursery
from ._live_book import LiveOrderBook, SnapshotFetcher, open_order_book
from ._live_book import snapshot_fetcher as snapshot_fetcher_for
from ._raw_tap import RAW_BUFFER, RAW_SPEC, RawFrame
from ._rest import NoRestTransport, RestClient, RestTransport, default_transport
from ._runtime import Runtime
from ._subscription import OverflowPolicy, Subscription, open_subscription
from ._supervisor import run_supervisor
from ._trading import Trading
from ._transport import default_connector, make_connector

if TYPE_CHECKING:
    import ssl
    from collections.abc import AsyncIterator, Callable, Mapping

    from gatetrio._core._book import Method
    from gatetrio._core._config import Credentials, RateLimitPolicy
    from gatetrio._core._errors import RequestInDoubt
    from gatetrio._core._request_base import TradingRequest
    from gatetrio._core._resolve import Resolution

    from ._transport import Connector

__all__ = ["Client", "ClientEvent", "ClientEventKind", "ClientStatistics", "open_client"]

T = TypeVar("T")
ResultT = TypeVar("ResultT")

EVENTS_BUFFER: Final = 256
log: Final = logging.getLogger("gatetrio.client")

_CLIENT_EVENTS_SPEC: Final[ChannelSpec[ClientEvent]] = ChannelSpec(
    channel="gatetrio.client", payloads=(), keys=frozenset()
)


@final
class Client:
    """A supervised connection to one Gate futures endpoint.

    Created by `open_client`, not instantiated directly. Subscriptions and order books survive
    reconnects: they are re-sent from current state. Trading requests never are.
    """

    def __init__(self, runtime: Runtime, rest: RestClient) -> None:
        self.config = runtime.config
        self._protocol = runtime.protocol
        self._rt = runtime
        self._rest = rest
        self._contracts = ContractCheck(rest, self.subscribe)
        self._trading = Trading(runtime, self.wait_connected, rest)
        self._user_id: str | None = None
        self._user_id_lock = trio.Lock()

    @property
    def rest(self) -> RestClient:
        """The client's REST helper: Gate's REST API v4 on the host matching the client's URL,
        with its size cap, deadline, retries, signing and typed errors (`RestClient`). Order
        books, the contract listing and signed account calls all go through it."""
        return self._rest

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

        Waits for the exchange's ack at most `config.subscribe_deadline` from the call
        (`SubscribeTimeout`), reconnecting included: a reconnect or a handover re-sends the
        subscribe frame but never restarts that deadline, so no server can keep this waiting
        by ending its connections. Raises `SubscriptionRejected` (code and message from the
        exchange, e.g. an unknown contract) or `AuthenticationError` if it refuses. Items
        that arrive before the ack (obu snapshots) are kept. Leaving the block unsubscribes.

        Cancellation, or any error, while waiting for the ack leaves nothing registered.
        A private spec built without a user id (``channels.orders()``) gets the account's,
        learned from Gate first (`user_id()`).

        Example::

            async with client.subscribe(gatetrio.channels.trades("BTC_USDT")) as trades:
                async for trade in trades:
                    print(trade.price, trade.size)
        """
        self._check_open()
        if isinstance(buffer, bool) or not isinstance(buffer, int) or buffer < 1:
            raise UsageError(f"buffer must be a positive int, got {buffer!r}")
        if not isinstance(overflow, OverflowPolicy):
            raise UsageError(f"overflow must be an OverflowPolicy, got {overflow!r}")
        if isinstance(spec, ChannelSpec) and spec.learns_user_id:
            spec = spec.with_user_id(await self.user_id())  # channels.orders() and the like
        rt = self._rt
        protocol = self._protocol
        # checks the spec (and credentials for a private one) before registering anything
        sub_id, frames = protocol.subscribe(
            spec, wall_time=rt.wall_clock(), now=trio.current_time()
        )
        sub, feed = open_subscription(
            spec,
            buffer=buffer,
            overflow=overflow,
            status=functools.partial(protocol.subscription_status, sub_id),
        )
        # registered before anything is sent, so data that beats the ack is kept
        rt.feeds.attach(sub_id, feed)
        rt.changed.notify()  # a subscribe deadline may now come first
        try:
            await rt.links.send_current(frames)
            while not protocol.is_ready(sub_id):
                if feed.failure is not None:
                    raise feed.failure
                self._check_open()
                await rt.changed.wait()
            yield sub
        finally:
            rt.feeds.retire(sub_id)
            frames = protocol.unsubscribe(sub_id, wall_time=rt.wall_clock())
            rt.changed.notify()
            with trio.move_on_after(CLOSE_GRACE, shield=True):
                await rt.links.send_current(frames)

    @contextlib.asynccontextmanager
    async def events(
        self, *, buffer: int = EVENTS_BUFFER
    ) -> AsyncIterator[Subscription[ClientEvent]]:
        """Yield a channel of `ClientEvent`s: connection state changes and incidents.

        Bounded like every subscription (oldest dropped first, drops counted). The same
        happenings are logged under the `gatetrio` logger, including those before the first
        connection, when `open_client` has not returned yet.
        """
        sub, feed = open_subscription(
            _CLIENT_EVENTS_SPEC, buffer=buffer, overflow=OverflowPolicy.DROP_OLDEST
        )
        with self._rt.feeds.watching(feed):
            await trio.lowlevel.checkpoint()
            yield sub

    @contextlib.asynccontextmanager
    async def raw_frames(
        self, *, buffer: int = RAW_BUFFER, overflow: OverflowPolicy = OverflowPolicy.DROP_NEWEST
    ) -> AsyncIterator[Subscription[RawFrame]]:
        """Yield every inbound frame verbatim (`RawFrame`: receive time, connection, text).

        For recorders: open it before subscribing so the acks are in it too. Bounded like
        every subscription; by default a consumer that falls behind loses the newest frames,
        counted in its `statistics().messages_dropped` (the backlog it has stays contiguous).
        """
        self._check_open()
        if isinstance(buffer, bool) or not isinstance(buffer, int) or buffer < 1:
            raise UsageError(f"buffer must be a positive int, got {buffer!r}")
        if not isinstance(overflow, OverflowPolicy) or overflow is OverflowPolicy.CONFLATE:
            raise UsageError(
                f"overflow must be an OverflowPolicy other than CONFLATE, got {overflow!r}"
            )
        sub, feed = open_subscription(RAW_SPEC, buffer=buffer, overflow=overflow)
        with self._rt.feeds.tapping(feed):
            await trio.lowlevel.checkpoint()
            yield sub

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
                JSON; defaults to a GET through the client's REST helper (`Client.rest`).

        A contract the market does not list raises `UnknownContract` on entry, before
        anything is subscribed (live Gate acks an obu stream of any name and then sends
        nothing): the client asks REST (``/contracts/{name}``, at most 5 s, remembered for an
        hour) and, when REST is off or gives no answer, a ``futures.tickers`` subscription,
        which Gate refuses at once for an unknown contract.

        A gap, malformed delta or crossed book resyncs this contract only (visible as a
        `BOOK_RESYNC` event and in `statistics()`); the book is not ready meanwhile. Errors that
        cannot be recovered surface from the `async with`.

        Example::

            async with client.order_book("BTC_USDT", depth=10) as live:
                async for update_id in live:
                    print(live.book.best_bid(), live.book.best_ask())
        """
        self._check_open()
        rt = self._rt
        host = BookHost(
            url=self.config.url,
            rng=self.config.rng,
            subscribe=self.subscribe,
            report_resync=self._report_resync,
            check_contract=self._contracts.check,
            fetch_snapshot=snapshot_fetcher_for(self._rest),
            watch_lost=rt.links.watch_lost,
        )
        return open_order_book(
            host, contract, depth=depth, method=method, snapshot_fetcher=snapshot_fetcher
        )

    def account(
        self,
        *,
        changes_buffer: int = CHANGES_BUFFER,
        check_interval: float | None = DEFAULT_CHECK_INTERVAL,
    ) -> contextlib.AbstractAsyncContextManager[LiveAccount]:
        """Keep the account's open orders, positions and balance true for an `async with`.

        It learns the account's UID (`user_id()`), subscribes every private channel that
        changes them for every contract (orders, usertrades, positions, balances, liquidates,
        auto_deleverages, position_closes), and takes a signed REST snapshot (open and recent
        finished orders, positions, the account, the trades since the last one) at start,
        after every reconnect (once its subscriptions are acked again), after a gap in the
        pushes' update ids, every `check_interval` seconds (None: never) and on
        `LiveAccount.resync()`. Pushes and snapshots are merged by version, so a push older
        than a snapshot never reverts it and no trade is reported twice; what a snapshot
        finds the pushes missed is a correction (`ChangeReason.CORRECTION`, counted in
        `statistics()`, and an `ACCOUNT_CORRECTION` client event). While pushes may have been
        missed the account is unsynced (an `ACCOUNT_RESYNC` event) and its state raises
        `AccountUnsynced` rather than pass for current.

        Args:
            changes_buffer: changes `async for change in account` holds before dropping the
                oldest (counted in `statistics().changes_dropped`).
            check_interval: seconds between snapshots that check a synced account, or None.

        Needs credentials and REST (`UsageError` at once without them, and on delivery
        endpoints).
        Raises `UserIdMismatch` if `Credentials.user_id` is not the key's account. A private
        subscription Gate refuses ends the block with `SubscriptionRejected`.

        Example::

            async with client.account() as account:
                await account.wait_synced()
                print(account.balance, account.orders, account.positions)
                async for change in account:
                    print(change)
        """
        self._check_open()
        if self.config.credentials is None:
            raise UsageError("a live account needs credentials=gatetrio.Credentials(...)")
        if "/delivery/" in self.config.url:
            raise UsageError("live accounts are for perpetual endpoints (not delivery)")
        if not self._rest.enabled:  # its snapshots would fail forever: it could never sync
            raise UsageError(
                "a live account needs REST for its snapshots, and this client's REST is off "
                "(a connector without a rest_transport): pass rest_transport= to open_client"
            )
        if isinstance(changes_buffer, bool) or not isinstance(changes_buffer, int):
            raise UsageError(f"changes_buffer must be a positive int, got {changes_buffer!r}")
        if changes_buffer < 1:
            raise UsageError(f"changes_buffer must be a positive int, got {changes_buffer!r}")
        if check_interval is not None and not (
            isinstance(check_interval, int | float)
            and not isinstance(check_interval, bool)
            and check_interval > 0
        ):
            raise UsageError(f"check_interval must be seconds > 0 or None, got {check_interval!r}")
        return self._open_account(changes_buffer, check_interval)

    @contextlib.asynccontextmanager
    async def _open_account(
        self, changes_buffer: int, check_interval: float | None
    ) -> AsyncIterator[LiveAccount]:
        rt = self._rt
        user_id = await self.user_id()

        def emit(kind: ClientEventKind, reason: str, channel: str) -> None:
            rt.feeds.emit(kind, reason=reason, channel=channel)

        host = AccountHost(
            subscribe=self.subscribe,
            rest=self._rest,
            wall_clock=rt.wall_clock,
            rng=self.config.rng,
            emit=emit,
            watch_lost=rt.links.watch_lost,
            wait_change=rt.changed.wait,
        )
        async with open_account(
            host, user_id, changes_buffer=changes_buffer, check_interval=check_interval
        ) as account:
            yield account

    async def user_id(self) -> str:
        """The account's Gate UID, as Gate says it: learned once, from REST
        ``/futures/{settle}/accounts`` (``user``), or, with REST off, from the socket's
        ``futures.login`` reply (``uid``), then kept.

        Raises `UsageError` without credentials, and `UserIdMismatch` if
        `Credentials.user_id` is set to another account's UID (the private channels would
        refuse it, or serve another account's data under it).
        """
        self._check_open()
        creds = self.config.credentials
        if creds is None:
            raise UsageError("the account's user id needs credentials=gatetrio.Credentials(...)")
        if self._user_id is None:
            async with self._user_id_lock:
                if self._user_id is None:
                    learned = await self._learn_user_id()
                    if creds.user_id and creds.user_id != learned:
                        raise UserIdMismatch(configured=creds.user_id, actual=learned)
                    self._user_id = learned
        await trio.lowlevel.checkpoint()
        return self._user_id

    async def _learn_user_id(self) -> str:
        rest = self._rest
        if rest.enabled:
            body = await rest.get(rest.route.market_path("accounts"), signed=True)
            uid = read_account(body).user_id
        else:
            uid = (await self.request(Login())).uid
        if not uid.isascii() or not uid.isdigit():
            raise ProtocolError(f"Gate gave no user id the client can use: {uid!r:.40}")
        return uid

    async def wait_connected(self) -> None:
        """Return once the client has a live connection (at once if it already has one)."""
        links = self._rt.links
        while links.current() is None:
            self._check_open()
            await links.wait_change()
        await trio.lowlevel.checkpoint()

    async def request(
        self,
        request: TradingRequest[ResultT],
        *,
        request_timeout: float | None = None,
        req_header: Mapping[str, str] | None = None,
        rate_limit: RateLimitPolicy | None = None,
    ) -> ResultT:
        """Send one trading request and return its typed result (the ack is skipped).

        The result type is the request's: `PlaceOrder`, `AmendOrder`, `CancelOrder` and
        `GetOrder` give an `Order`; `BatchPlaceOrders` a list of `BatchOrderOutcome`;
        `CancelOrders` a list of `CancelOutcome`; `CancelAllOrders` and `ListOrders` a list of
        `Order`; `Login` a `LoginResult`. Every order carries a client order id (`text`),
        generated when you give none.

        Exactly one outcome, within `request_timeout` seconds of the call (default
        `config.request_timeout`), connecting and logging in (once per connection) included:

        - the result;
        - `RequestRejected` (a subclass per label: `RateLimited`, `OrderNotFound`,
          `InvalidArgument`, `RequestUnauthorized`, `RequestExpired`): Gate refused it;
        - `Throttled`: the client's rate limiter held it back (`rate_limit`, default
          `config.rate_limit_policy`: wait for a turn within the deadline, or fail at once);
        - `RequestInDoubt`: no final answer. `RequestTimeout` (with `sent` and `acked`: what
          was seen before the deadline), `RequestLost` (its socket closed), `ReplyUnreadable`.
          An order in doubt may or may not exist: ``await client.resolve(exc)`` finds out.

        Requests are never re-sent. Replies count only from the socket the request went out
        on, and an upgrade handover keeps it open for them (up to `config.handover_grace`).
        `req_header` is Gate's request header; orders get ``x-gate-exptime`` = their deadline
        unless it sets one. Cancellation: a request cancelled before it was sent is not sent;
        one cancelled after may have executed (logged with its client order ids).

        Example::

            order = await client.request(
                gatetrio.PlaceOrder(contract="BTC_USDT", size=1, price="60000"),
                request_timeout=5.0,
            )
            print(order.id, order.text, order.status, order.left)
        """
        self._check_open()
        return await self._trading.request(
            request, request_timeout=request_timeout, req_header=req_header, rate_limit=rate_limit
        )

    async def resolve(
        self, exc: RequestInDoubt, *, request_timeout: float | None = None
    ) -> Resolution:
        """Find out for certain what an in-doubt trading request did.

        `exc` is the `RequestInDoubt` (`RequestTimeout`, `RequestLost`, `ReplyUnreadable`)
        that `request` raised. Waits until Gate can no longer carry the request out (its
        ``x-gate-exptime`` plus `config.resolve_margin`, at most about `request_timeout`),
        then looks its orders up by their client order ids: `Resolution.executed` (`placed`
        for orders) and the orders as they stand now. A request that was never sent resolves
        at once, unexecuted. Each lookup has `request_timeout` (default
        `config.request_timeout`); a lookup that fails raises as `request` does, and resolve can
        be called again. Raises `UsageError` for a request that changes nothing (`GetOrder`,
        `ListOrders`, `Login`: send it again). Never re-sends the request.

        Example::

            try:
                order = await client.request(gatetrio.PlaceOrder(...))
            except gatetrio.RequestInDoubt as exc:
                resolution = await client.resolve(exc)
                order = resolution.order  # None: it was not placed
        """
        self._check_open()
        return await self._trading.resolve(exc, request_timeout=request_timeout)

    def statistics(self) -> ClientStatistics:
        """A snapshot of the counters; see `ClientStatistics` for fields and units."""
        rt = self._rt
        return assemble_statistics(
            self._protocol.statistics(),
            rt.pacer.statistics(),
            rt.feeds.statistics(),
            rt.links.statistics(),
            rest=self._rest.statistics(),
        )

    # ---------------------------------------------------------------------------- helpers

    def _report_resync(self, contract: str, reason: str) -> None:
        log.warning("order book %s resyncs: %s", contract, reason)
        self._rt.feeds.emit(ClientEventKind.BOOK_RESYNC, channel=contract, reason=reason)

    def _check_open(self) -> None:
        if self._rt.closed:
            raise UsageError("this client is closed; open a new one with gatetrio.open_client()")


def _new_runtime(
    config: ClientConfig, *, connector: Connector, wall_clock: Callable[[], float]
) -> Runtime:
    protocol = GateProtocol(
        ping_interval=config.ping_interval,
        pong_timeout=config.pong_timeout,
        silence_timeout=config.silence_timeout,
        first_data_timeout=config.first_data_timeout,
        subscribe_deadline=config.subscribe_deadline,
        handover_grace=config.handover_grace,
        credentials=config.credentials,
        entropy=os.urandom,  # client order ids (_core/_client_ids.py)
        order_rate_limit=config.order_rate_limit,
        cancel_rate_limit=config.cancel_rate_limit,
        rate_limit_window=config.rate_limit_window,
    )
    return Runtime(config, protocol, connector=connector, wall_clock=wall_clock)


def _new_rest(
    rt: Runtime,
    *,
    transport: RestTransport | None,
    custom_connector: bool,
    ssl_context: ssl.SSLContext | None,
) -> RestClient:
    """The client's REST helper; its failures become `REST_FAILED` events."""
    config = rt.config
    try:
        route = rest_route(config.url)
    except UsageError:
        if not custom_connector:
            raise
        route = RestRoute(base="http://invalid/api/v4", market="futures", settle="usdt")
        transport = NoRestTransport(f"REST is off: no REST host for the URL {config.url!r}")
    if transport is None:
        transport = (
            NoRestTransport("REST is off: open_client was given a connector but no rest_transport")
            if custom_connector
            else default_transport(ssl_context=ssl_context)
        )

    def report(call: str, error: GateTrioError, attempt: int) -> None:
        rt.feeds.emit(ClientEventKind.REST_FAILED, reason=str(error), channel=call, attempt=attempt)

    return RestClient(
        route, transport=transport, config=config, wall_clock=rt.wall_clock, report=report
    )


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
    ssl_context: ssl.SSLContext | None = None,
    wall_clock: Callable[[], float] = time.time,
    rest_transport: RestTransport | None = None,
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
        ssl_context: TLS settings for wss:// (a private CA, client certificates); default:
            the system's trust store. Not combinable with `connector`.
        wall_clock: unix time source for Gate's `time` fields and latency figures.
        rest_transport: how REST calls travel (`Client.rest`; tests pass
            `FakeGateServer.rest_transport`). Default: HTTP/1.1 to the REST host matching the
            URL, with `ssl_context`; with your own `connector` and no `rest_transport`, REST
            is off (each call fails with `RestUnavailable`): a custom socket says nothing
            about where REST should go.

    Returns once the first connection is up, or raises `FirstConnectTimeout` (with the last
    attempt's cause) when none came within `config.first_connect_timeout` (30 s by default).
    Reconnects with paced, capped exponential backoff and jitter, forever unless
    `config.max_reconnects` is set, in which case `ReconnectLimitReached` is raised from
    here. The block's own exception comes out unchanged (the same object); a failure of the
    client's own surfaces from here as one exception, never an ExceptionGroup for a single
    failure. On exit every task is gone and the sockets are closed within a bounded,
    shielded grace period. Progress and failures are logged under the `gatetrio` logger.

    Example::

        async with gatetrio.open_client(settle="usdt") as client:
            async with client.subscribe(gatetrio.channels.trades("BTC_USDT")) as trades:
                async for trade in trades:
                    ...
    """
    if connector is not None and ssl_context is not None:
        raise UsageError("pass ssl_context or connector, not both (a connector does its own TLS)")
    resolved_url = url or endpoint_url(settle, delivery=delivery, testnet=testnet)
    if config is None:
        config = ClientConfig(url=resolved_url, credentials=credentials)
    else:
        config = attrs.evolve(
            config,
            url=url or config.url,
            credentials=credentials if credentials is not None else config.credentials,
        )
    custom_connector = connector is not None
    if connector is None:
        connector = (
            default_connector if ssl_context is None else make_connector(ssl_context=ssl_context)
        )
    rt = _new_runtime(config, connector=connector, wall_clock=wall_clock)
    rest = _new_rest(
        rt,
        transport=rest_transport,
        custom_connector=custom_connector,
        ssl_context=ssl_context,
    )
    try:
        async with open_host_nursery("open_client exited") as nursery:
            await nursery.start(run_supervisor, rt)
            try:
                yield Client(rt, rest)
            finally:
                await rt.shutdown()  # politely, while the readers still run
    finally:
        rt.finished()
        with trio.CancelScope(shield=True):  # bounded inside: CLOSE_GRACE
            await rest.aclose()
