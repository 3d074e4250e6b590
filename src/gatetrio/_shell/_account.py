"""Live accounts: `Client.account()` keeps open orders, positions and the balance true.

    open_account(host, ...)                 async with; yields a LiveAccount
    └─ nursery "account"
       ├─ _run_channel x 7                  one per private subscription (!all): each batch of
       │                                    items into the sync, its changes out
       └─ _run_snapshots                    whenever the sync wants a snapshot: every
                                            subscription acked on the current connection, what
                                            they buffered fed, then REST (open and latest
                                            finished orders, positions, the account, the trades
                                            since the last one; orders it cannot place looked up
                                            by id), loaded

The pure `AccountSync` decides everything (`_core/_account/_sync.py` has the merge essay); this
module moves pushes and REST bodies into it and its changes out: to `async for change in
account` (bounded: the oldest are dropped first, counted), to the client's events
(ACCOUNT_RESYNC, ACCOUNT_CORRECTION) and to the `gatetrio.account` log.

When the account learns it may have missed pushes, it is unsynced until a snapshot taken after
that loads: the connection is lost (`watch_lost`; the subscriptions are re-sent on the next
connection by the client, and the snapshot waits until each is acked there), a subscription
dropped items (its buffer overflowed), or pushes skip an update id (the sync sees it). A
snapshot also checks a synced account every `check_interval` seconds and on `resync()`, since
pushes Gate drops without a later one about the same order show no gap. A snapshot that fails
is retried with capped backoff and reported (`REST_FAILED`, and a log line). A private
subscription Gate refuses (on a reconnect, say) ends the block with its error.
"""

from __future__ import annotations

import contextlib
import logging
import math
from typing import TYPE_CHECKING, Any, Final, final

import attrs
import msgspec
import trio

from gatetrio import channels
from gatetrio._core._account import (
    AccountChange,
    AccountSnapshot,
    AccountStatistics,
    AccountSync,
    AccountView,
    BalanceChange,
    ChangeReason,
    FillChange,
    OrderChange,
    PositionChange,
    SyncChange,
    read_account,
    read_positions,
    read_trades,
    server_time_ms,
)
from gatetrio._core._backoff import Backoff
from gatetrio._core._errors import (
    AccountUnsynced,
    ConnectionLost,
    ExchangeError,
    GateTrioError,
    ProtocolError,
    RequestRejected,
    UsageError,
)
from gatetrio._core._requests import ChannelSpec
from gatetrio._core._results import read_order, read_orders

from ._client_events import ClientEventKind
from ._excgroups import open_host_nursery
from ._subscription import OverflowPolicy, open_subscription

if TYPE_CHECKING:
    import random
    from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
    from decimal import Decimal

    from gatetrio._core._account import AccountItem, PositionKey
    from gatetrio._core._events import Order, Position

    from ._book_host import SubscribeFunction
    from ._rest import RestClient
    from ._subscription import Subscription

log: Final = logging.getLogger("gatetrio.account")

ACCOUNT_BUFFER: Final = 4096  # pushes a private subscription holds; past it: unsynced
CHANGES_BUFFER: Final = 1024  # changes `async for change in account` holds
DEFAULT_CHECK_INTERVAL: Final = 60.0  # seconds between snapshots that check a synced account
ORDERS_PAGE: Final = 100  # Gate's default page; open orders are paged until a short page
MAX_ORDER_PAGES: Final = 50  # 5000 open orders; more fails the snapshot rather than guess
FINISHED_ORDERS: Final = 100  # the latest finished orders each snapshot lists
TRADES_PAGE: Final = 1000  # Gate's largest page of my_trades
MAX_TRADE_PAGES: Final = 10
MAX_LOOKUPS: Final = 20  # orders a snapshot looks up by id; past it, as_of decides
SNAPSHOT_RETRY_INITIAL: Final = 0.5
SNAPSHOT_RETRY_MAX: Final = 30.0
ENDED: Final = "its async with block has ended"

_CHANGES_SPEC: Final[ChannelSpec[AccountChange]] = ChannelSpec(
    channel="gatetrio.account", payloads=(), keys=frozenset()
)


@final
class AccountHost(msgspec.Struct, frozen=True, eq=False):
    """What a live account needs from its client, as a record of callables (so this module
    never imports the client's). A msgspec Struct like `BookHost`, for the same reason."""

    subscribe: SubscribeFunction
    rest: RestClient
    """Signed REST calls for the snapshots."""
    wall_clock: Callable[[], float]
    rng: random.Random
    """The client's randomness (snapshot retry backoff)."""
    emit: Callable[[ClientEventKind, str, str], None]
    """`emit(kind, reason, channel)`: a client event."""
    watch_lost: Callable[[Callable[[], None]], contextlib.AbstractContextManager[None]]
    """`with watch_lost(callback):` the client calls `callback()` whenever its connection
    drops, for the block."""
    wait_change: Callable[[], Awaitable[None]]
    """`await wait_change()`: returns when a subscription became ready or failed."""


@final
class LiveAccount:
    """An account kept true by the client: open orders, positions and balance.

    Created by `Client.account()`, not instantiated directly. While `synced`, `orders`,
    `positions`, `position()` and `balance` are current; while not (between a lost connection
    and the snapshot after it, or after a gap), they raise `AccountUnsynced` rather than
    present a stale state as current; `view()` always answers, saying how current it is.
    `async for change in account` yields what changed and why (`AccountChange`). One task
    should read the changes: they are not copied to several readers.
    """

    def __init__(self, driver: _Driver) -> None:
        self._driver = driver
        self.user_id: Final = driver.user_id
        """The account's Gate UID (learned from Gate)."""

    def __repr__(self) -> str:
        view = self._driver.view()
        state = "synced" if view.synced else f"unsynced: {view.unsynced_reason}"
        return f"<LiveAccount user {self.user_id} {state}>"

    @property
    def synced(self) -> bool:
        """True while the state is current (a snapshot loaded, nothing missed since, and the
        account's block still running)."""
        return self._driver.synced

    @property
    def orders(self) -> Mapping[int, Order]:
        """The open orders by id (a copy). Raises `AccountUnsynced` while not synced."""
        return self._current().orders

    @property
    def positions(self) -> Mapping[PositionKey, Position]:
        """The positions by ``(contract, mode)`` as Gate lists them, flat ones included (a
        copy): ``account.positions["BTC_USDT", "single"]``. Raises `AccountUnsynced` while not
        synced."""
        return self._current().positions

    def position(self, contract: str, mode: str = "single") -> Position | None:
        """One position (`mode`: ``single``, ``dual_long`` or ``dual_short``), or None if
        Gate lists none. Raises `AccountUnsynced` while not synced."""
        return self._current().positions.get((contract, mode))

    @property
    def balance(self) -> Decimal:
        """The settle currency's total (Gate's ``total``; pushes call it ``balance``). Raises
        `AccountUnsynced` while not synced."""
        balance = self._current().balance
        if balance is None:  # pragma: no cover - synced means a snapshot was loaded
            raise AccountUnsynced("no snapshot yet")
        return balance

    def view(self) -> AccountView:
        """The state as the account has it now, current or not (`AccountView.synced`)."""
        return self._driver.view()

    async def wait_synced(self) -> None:
        """Return once the account is synced (at once if it is).

        Cancellation leaves nothing behind. Raises `UsageError` if the account's block has
        ended.
        """
        driver = self._driver
        while not driver.synced:
            driver.check_open()
            await driver.changed.wait()
        await trio.lowlevel.checkpoint()

    async def resync(self) -> int:
        """Check the account against a REST snapshot taken after this call, now; return how
        many corrections it made (0: the pushes had it right).

        Waits while the snapshot is retried after failures: bound it with `trio.fail_after`.
        Cancellation leaves the account as it was (the snapshot still loads when it comes).
        """
        return await self._driver.resync()

    def statistics(self) -> AccountStatistics:
        return self._driver.statistics()

    def __aiter__(self) -> LiveAccount:
        return self

    async def __anext__(self) -> AccountChange:
        """The next change (`AccountChange`); iteration ends when the account's block does."""
        return await self._driver.changes.__anext__()

    def _current(self) -> AccountView:
        view = self._driver.view()
        if not view.synced:
            raise AccountUnsynced(view.unsynced_reason)
        return view


@final
class _Driver:
    """The shell of one live account: its subscriptions, snapshots and change feed."""

    def __init__(
        self, host: AccountHost, user_id: str, *, changes_buffer: int, check_interval: float
    ) -> None:
        self.host: Final = host
        self.user_id: Final = user_id
        self.sync: Final = AccountSync(currency=host.rest.route.settle)
        self.check_interval: Final = check_interval
        self.changed = trio.Event()
        """Set (and replaced) on every change: readers of `synced` wait on it."""
        self.changes, self._feed = open_subscription(
            _CHANGES_SPEC, buffer=changes_buffer, overflow=OverflowPolicy.DROP_OLDEST
        )
        self._wanted = trio.Event()  # a snapshot is wanted
        self._subs: list[Subscription[Any]] = []
        self._seen_drops: dict[int, int] = {}
        self._begun = 0  # snapshots begun
        self._loaded_begun = 0  # which one (by `_begun`) loaded last
        self._last_corrections = 0
        self._last_failure = ""
        self._closed = False

    # ------------------------------------------------------------------ changes out

    def apply(self, changes: list[AccountChange]) -> None:
        """Pass `changes` on, tell the log and the client's events what matters."""
        for change in changes:
            self._feed.push(change)
            match change:
                case SyncChange(synced=False, reason=reason):
                    log.warning("account %s unsynced: %s", self.user_id, reason)
                    self.host.emit(ClientEventKind.ACCOUNT_RESYNC, reason, "")
                case SyncChange(synced=True, reason=reason, corrections=n):
                    log.info("account %s synced (%s, %d corrections)", self.user_id, reason, n)
                case _ if _reason(change) is ChangeReason.CORRECTION:
                    what, contract = _describe(change)
                    log.warning("account %s corrected: %s", self.user_id, what)
                    self.host.emit(ClientEventKind.ACCOUNT_CORRECTION, what, contract)
                case _:
                    pass
        if changes:
            self._notify()
        if self.sync.needs_snapshot:
            self._wanted.set()

    @property
    def synced(self) -> bool:
        return self.sync.synced and not self._closed

    def view(self) -> AccountView:
        """The sync's view; after the block, never current (no push reaches it any more)."""
        view = self.sync.view()
        if self._closed:
            return attrs.evolve(view, synced=False, unsynced_reason=ENDED)
        return view

    def _notify(self) -> None:
        self.changed.set()
        self.changed = trio.Event()

    def lost(self, reason: str) -> None:
        self.apply(self.sync.lost(reason))

    def check_open(self) -> None:
        if self._closed:
            raise UsageError(f"this live account is over: {ENDED}")

    def close(self) -> None:
        self._closed = True
        self._feed.end()
        self._notify()

    # ------------------------------------------------------------------ pushes in

    async def run_channel(
        self, spec: ChannelSpec[AccountItem], *, task_status: trio.TaskStatus[None]
    ) -> None:
        """Feed one private subscription's items into the sync, for as long as it lasts."""
        host = self.host
        async with host.subscribe(
            spec, buffer=ACCOUNT_BUFFER, overflow=OverflowPolicy.DROP_OLDEST
        ) as sub:
            self._subs.append(sub)
            task_status.started()
            async for batch in sub.batches(ACCOUNT_BUFFER):
                self._take(sub, batch)

    def _take(self, sub: Subscription[AccountItem], batch: list[AccountItem]) -> None:
        feed = self.sync.feed
        changes: list[AccountChange] = []
        for item in batch:
            changes.extend(feed(item))
        dropped = sub.statistics().messages_dropped
        before = self._seen_drops.get(id(sub), 0)
        if dropped > before:
            self._seen_drops[id(sub)] = dropped
            changes.extend(
                self.sync.lost(
                    f"{sub.spec.channel} dropped {dropped - before} pushes (its buffer was full)"
                )
            )
        self.apply(changes)

    def _drain(self) -> None:
        """Feed what every subscription has buffered (before a snapshot's requests go out)."""
        for sub in self._subs:
            while True:
                try:
                    batch = sub.receive_batch_nowait(ACCOUNT_BUFFER)
                except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                    break
                except GateTrioError:
                    break  # its pump raises it
                self._take(sub, batch)

    # ------------------------------------------------------------------ snapshots

    async def run_snapshots(self) -> None:
        backoff = Backoff(
            initial=SNAPSHOT_RETRY_INITIAL,
            maximum=SNAPSHOT_RETRY_MAX,
            jitter=0.0,
            rng=self.host.rng,
        )
        interval = self.check_interval
        while True:
            while not self.sync.needs_snapshot:
                with trio.move_on_after(interval) as scope:
                    await self._wanted.wait()
                self._wanted = trio.Event()
                if scope.cancelled_caught:
                    self.sync.request_snapshot()  # the periodic check
            await self._wait_ready()
            if await self._take_snapshot():
                backoff.reset()
            else:
                await trio.sleep(backoff.next_delay())

    async def _wait_ready(self) -> None:
        """Until every subscription is acked on the current connection: a snapshot taken
        before that could miss what its resubscription has not delivered yet."""
        while not all(sub.statistics().ready for sub in self._subs):
            await self.host.wait_change()

    async def _take_snapshot(self) -> bool:
        sync = self.sync
        self._drain()
        local_ms = round(self.host.wall_clock() * 1000)
        since = sync.fills_since_ms(local_ms)
        ticket = sync.begin_snapshot(local_ms)
        self._begun += 1
        begun = self._begun
        try:
            snapshot = await self._fetch(local_ms, since)
            found = await self._look_up(sync.vanished(snapshot)[:MAX_LOOKUPS])
        except (ConnectionLost, ProtocolError, ExchangeError) as exc:
            self._last_failure = str(exc)
            sync.snapshot_failed(str(exc))
            log.warning("account %s: snapshot failed: %s", self.user_id, exc)
            self._wanted.set()
            return False
        snapshot = attrs.evolve(
            snapshot,
            orders=snapshot.orders + tuple(o for o in found if o.status == "open"),
            finished=snapshot.finished + tuple(o for o in found if o.status != "open"),
        )
        changes = sync.load_snapshot(ticket, snapshot)
        self._last_corrections = sum(1 for c in changes if _reason(c) is ChangeReason.CORRECTION)
        self._loaded_begun = begun
        self._last_failure = ""
        self.apply(changes)
        self._notify()  # a resync() waits for this load even when it changed nothing
        return True

    async def _fetch(self, local_ms: int, fills_since_ms: int) -> AccountSnapshot:
        """The REST calls of one snapshot, concurrently; the first failure is raised."""
        rest = self.host.rest
        path = rest.route.market_path
        stamps: list[dict[str, str]] = []
        results: dict[str, object] = {}
        failures: list[GateTrioError] = []

        async def get(query: Mapping[str, str | int], *segments: str) -> object:
            headers: dict[str, str] = {}
            stamps.append(headers)
            return await rest.get(path(*segments), query=query, signed=True, answer_headers=headers)

        async def open_orders() -> object:
            orders: list[object] = []
            for page in range(MAX_ORDER_PAGES):
                query: dict[str, str | int] = {
                    "status": "open",
                    "limit": ORDERS_PAGE,
                    "offset": page * ORDERS_PAGE,
                }
                body = await get(query, "orders")
                if type(body) is not list:
                    raise ProtocolError("open orders: expected a JSON array")
                orders.extend(body)
                if len(body) < ORDERS_PAGE:
                    return orders
            raise ProtocolError(f"more than {ORDERS_PAGE * MAX_ORDER_PAGES} open orders")

        async def trades() -> object:
            found: list[object] = []
            for page in range(MAX_TRADE_PAGES):
                query: dict[str, str | int] = {
                    "from": fills_since_ms // 1000,
                    "limit": TRADES_PAGE,
                    "offset": page * TRADES_PAGE,
                }
                body = await get(query, "my_trades_timerange")
                if type(body) is not list:
                    raise ProtocolError("my trades: expected a JSON array")
                found.extend(body)
                if len(body) < TRADES_PAGE:
                    break
            else:
                log.warning("account %s: more trades than a snapshot reads", self.user_id)
            return found

        calls: dict[str, Callable[[], Awaitable[object]]] = {
            "open": open_orders,
            "finished": lambda: get({"status": "finished", "limit": FINISHED_ORDERS}, "orders"),
            "positions": lambda: get({}, "positions"),
            "account": lambda: get({}, "accounts"),
            "trades": trades,
        }

        async def run(name: str, call: Callable[[], Awaitable[object]]) -> None:
            try:
                results[name] = await call()
            except GateTrioError as exc:
                failures.append(exc)

        async with trio.open_nursery() as nursery:
            for name, call in calls.items():
                nursery.start_soon(run, name, call)
        if failures:
            raise failures[0]
        received_ms = round(self.host.wall_clock() * 1000)
        account = read_account(results["account"])
        if account.user_id and account.user_id != self.user_id:
            raise ProtocolError(
                f"REST accounts names user {account.user_id}, the account is {self.user_id}"
            )
        if account.currency and account.currency != rest.route.settle:
            raise ProtocolError(
                f"REST accounts is in {account.currency}, the account settles in "
                f"{rest.route.settle}"
            )
        return AccountSnapshot(
            as_of_ms=min(server_time_ms(s, local_ms) for s in stamps),
            read_by_ms=max(_out_time(s, received_ms) for s in stamps),
            orders=tuple(read_orders(results["open"])),
            finished=tuple(read_orders(results["finished"], "finished orders")),
            positions=read_positions(results["positions"]),
            balance=account.total,
            currency=account.currency,
            user_id=account.user_id,
            trades=read_trades(results["trades"]),
        )

    async def _look_up(self, order_ids: list[int]) -> list[Order]:
        """Orders by id, concurrently; one Gate no longer finds is left out."""
        rest = self.host.rest
        found: list[Order] = []
        failures: list[GateTrioError] = []

        async def one(order_id: int) -> None:
            try:
                body = await rest.get(rest.route.market_path("orders", str(order_id)), signed=True)
                found.append(read_order(body))
            except RequestRejected as exc:
                if exc.label != "ORDER_NOT_FOUND":
                    failures.append(exc)
            except GateTrioError as exc:
                failures.append(exc)

        async with trio.open_nursery() as nursery:
            for order_id in order_ids:
                nursery.start_soon(one, order_id)
        if failures:
            raise failures[0]
        return found

    async def resync(self) -> int:
        self.check_open()
        want = self._begun + 1  # one begun after this call
        self.sync.request_snapshot()
        self._wanted.set()
        while self._loaded_begun < want:
            self.check_open()
            await self.changed.wait()
        await trio.lowlevel.checkpoint()
        return self._last_corrections

    # ------------------------------------------------------------------ reporting

    def statistics(self) -> AccountStatistics:
        counts = self.sync.counts()
        as_of = self.sync.as_of_ms
        return AccountStatistics(
            synced=self.synced,
            user_id=self.user_id,
            snapshots=counts["snapshots"],
            snapshot_failures=counts["snapshot_failures"],
            corrections=counts["corrections"],
            order_corrections=counts["order_corrections"],
            position_corrections=counts["position_corrections"],
            balance_corrections=counts["balance_corrections"],
            fills_recovered=counts["fills_recovered"],
            gaps=counts["gaps"],
            stale_pushes=counts["stale_pushes"],
            pushes=counts["pushes"],
            unsynced=counts["unsynced"],
            last_sync_time=None if as_of is None else as_of / 1000,
            unsynced_reason=self.view().unsynced_reason,
            changes_dropped=self.changes.statistics().messages_dropped,
            other_balance_pushes=counts["other_balance_pushes"],
        )


def _out_time(headers: Mapping[str, str], fallback_ms: int) -> int:
    text = headers.get("x-out-time", "")
    return server_time_ms({"x-in-time": text}, fallback_ms)


def _reason(change: AccountChange) -> ChangeReason | None:
    match change:
        case SyncChange():
            return None
        case _:
            return change.reason


def _describe(change: AccountChange) -> tuple[str, str]:
    """A correction in a few words, and its contract ("" for the balance)."""
    match change:
        case OrderChange(order=order, before=before):
            if before is None:
                return f"order {order.id} ({order.status}) no push announced", order.contract
            if order.status != "open":
                how = order.finish_as or "finished, how unknown"
                return f"order {order.id} finished unannounced ({how})", order.contract
            return f"order {order.id} changed unannounced (left {order.left})", order.contract
        case PositionChange(key=(contract, mode), position=position):
            size = "gone" if position is None else f"size {position.size}"
            return f"position {contract} {mode}: {size}", contract
        case BalanceChange(balance=balance, before=before):
            return f"balance {before} -> {balance}", ""
        case FillChange(trade=trade):
            what = f"trade {trade.id} ({trade.size} at {trade.price}) no push brought"
            return what, trade.contract
        case _:
            return str(change), ""


ACCOUNT_CHANNELS: Final[tuple[Callable[[str], ChannelSpec[Any]], ...]] = (
    channels.orders,
    channels.usertrades,
    channels.positions,
    channels.balances,
    channels.liquidates,
    channels.auto_deleverages,
    channels.position_closes,
)
"""The private channels a live account subscribes, each for every contract (spec 7)."""


@contextlib.asynccontextmanager
async def open_account(
    host: AccountHost,
    user_id: str,
    *,
    changes_buffer: int = CHANGES_BUFFER,
    check_interval: float | None = DEFAULT_CHECK_INTERVAL,
) -> AsyncIterator[LiveAccount]:
    """See `Client.account`; `host` is what the client lends the account."""
    driver = _Driver(
        host,
        user_id,
        changes_buffer=changes_buffer,
        check_interval=math.inf if check_interval is None else check_interval,
    )
    try:
        with host.watch_lost(lambda: driver.lost("the connection was lost")):
            async with open_host_nursery("account block exited") as nursery:
                for builder in ACCOUNT_CHANNELS:
                    await nursery.start(driver.run_channel, builder(user_id))
                nursery.start_soon(driver.run_snapshots)
                yield LiveAccount(driver)
    finally:
        driver.close()
