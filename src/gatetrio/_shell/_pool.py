"""`open_pool` and `Pool`: many contracts over several supervised connections (shards).

    open_pool(...)                    async with; yields a Pool
    └─ nursery "pool"
       ├─ shard 0: open_client(...)    an ordinary Client: its own supervisor and reader
       ├─ shard 1: ...                 opened when the streams outgrow the others
       ├─ per shard: event forwarder   → Pool.events() watchers, tagged with the shard
       └─ listing refresh              contracts="all": REST /contracts every refresh_interval

Each stream (one payload element: a contract for trades, a stream for obu) is placed on a
shard with fewer than `streams_per_connection` streams, preferring the shard that already
carries its contract. A spec spanning shards is split into one subscription per shard, merged
into one `Subscription` by forwarder tasks. Each shard is an ordinary client, so one that
fails reconnects and resubscribes alone; the others never notice.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import typing
from typing import TYPE_CHECKING, Any, Final, TypeVar, final

import attrs
import trio

from gatetrio._core._config import DEFAULT_BUFFER, ClientConfig
from gatetrio._core._errors import (
    GateTrioError,
    SubscribeTimeout,
    SubscriptionRejected,
    UsageError,
)
from gatetrio._core._listing import listed_contracts
from gatetrio._core._requests import ChannelSpec

from ._client import Client, ClientEvent, ClientStatistics, open_client
from ._client_events import merge_statistics
from ._excgroups import open_host_nursery
from ._listing import fetch_listing
from ._raw_tap import RAW_BUFFER, RAW_SPEC, RawFrame
from ._subscription import OverflowPolicy, Subscription, SubscriptionFeed, open_subscription

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence

    from gatetrio._core._book import Method

    from ._live_book import LiveOrderBook, SnapshotFetcher
    from ._rest import RestClient
    from ._transport import Connector

T = TypeVar("T")
log: Final = logging.getLogger("gatetrio.pool")

DEFAULT_STREAMS_PER_CONNECTION: Final = 100
REFRESH_INTERVAL: Final = 300.0  # seconds between listing refreshes (contracts="all")
FORWARD_BATCH: Final = 256
EVENTS_BUFFER: Final = 1024
_POOL_EVENTS_SPEC: Final[ChannelSpec[PoolEvent]] = ChannelSpec(
    channel="gatetrio.pool", payloads=(), keys=frozenset()
)


@final
@attrs.frozen
class PoolEvent:
    """A shard's `ClientEvent`, or a listing change (`shard` -1, `listed`/`delisted` set)."""

    shard: int
    event: ClientEvent | None = None
    listed: tuple[str, ...] = ()
    delisted: tuple[str, ...] = ()


@final
@attrs.frozen
class PoolStatistics:
    """Per-shard `ClientStatistics` and their sum (`merged`); `streams` per shard."""

    shards: tuple[ClientStatistics, ...]
    streams: tuple[int, ...]
    merged: ClientStatistics
    contracts: int
    listing_refreshes: int
    listing_failures: int


def _contract_of(element: str) -> str:
    """The contract a payload element names (`ob.BTC_USDT.50` -> BTC_USDT)."""
    if element.startswith("ob.") and element.count(".") >= 2:
        return element.split(".")[1]
    return element


def split_spec(spec: ChannelSpec[T], groups: Iterable[Sequence[str]]) -> list[ChannelSpec[T]]:
    """`spec` as one spec per group of its payload elements (a batched spec only)."""
    return [
        ChannelSpec(
            channel=spec.channel,
            payloads=(tuple(group),),
            keys=frozenset(group) & spec.keys or spec.keys,
            private=spec.private,
            batched=True,
        )
        for group in groups
        if group
    ]


@final
class Pool:
    """Several supervised connections serving one market's contracts; from `open_pool`."""

    def __init__(
        self,
        nursery: trio.Nursery,
        open_shard: Callable[[], contextlib.AbstractAsyncContextManager[Client]],
        *,
        streams_per_connection: int,
    ) -> None:
        self._nursery = nursery
        self._open_shard = open_shard
        self.streams_per_connection = streams_per_connection
        self._shards: list[Client] = []
        self._streams: list[int] = []  # open streams per shard
        self._home: dict[str, int] = {}  # contract -> the shard that carries it
        self._watchers: list[SubscriptionFeed[PoolEvent]] = []
        self._shard_added = trio.Event()
        self._contracts: tuple[str, ...] = ()
        self._listing_changed = trio.Event()
        self.listing_refreshes = 0
        self.listing_failures = 0
        self._open_lock = trio.Lock()
        self._closed = False  # the block of open_pool has ended

    # ------------------------------------------------------------------------ shards

    @property
    def shards(self) -> tuple[Client, ...]:
        """The shards' clients, in the order they were opened."""
        return tuple(self._shards)

    @property
    def rest(self) -> RestClient:
        """The first shard's REST helper (`Client.rest`): the listing and any REST call."""
        return self._shards[0].rest

    @property
    def contracts(self) -> tuple[str, ...]:
        """The listed contracts (contracts="all" or a filter), as last refreshed; else ()."""
        return self._contracts

    async def _run_shard(self, *, task_status: trio.TaskStatus[Client]) -> None:
        async with self._open_shard() as client:
            index = len(self._shards)
            self._shards.append(client)
            self._streams.append(0)
            async with client.events(buffer=EVENTS_BUFFER) as events:
                task_status.started(client)
                self._shard_added.set()
                self._shard_added = trio.Event()
                async for event in events:
                    for watcher in self._watchers:
                        watcher.push(PoolEvent(index, event))

    async def _place(self, contracts: Sequence[str]) -> list[int]:
        """The shard of each contract's next stream, opening shards as needed."""
        async with self._open_lock:
            if self._closed:  # its nursery takes no new shards: say so, not trio's RuntimeError
                raise UsageError("this pool is closed; open a new one with gatetrio.open_pool()")
            cap = self.streams_per_connection
            placed: list[int] = []
            load = self._streams  # live: a stream closed while a shard opens is counted
            for contract in contracts:
                home = self._home.get(contract)
                if home is None or load[home] >= cap:
                    home = next((i for i, n in enumerate(load) if n < cap), None)
                    if home is None:
                        await self._nursery.start(self._run_shard)  # appends its 0
                        home = len(load) - 1
                    self._home.setdefault(contract, home)
                load[home] += 1
                placed.append(home)
            return placed

    # ------------------------------------------------------------------------ public API

    @contextlib.asynccontextmanager
    async def subscribe(
        self,
        spec: ChannelSpec[T],
        *,
        buffer: int = DEFAULT_BUFFER,
        overflow: OverflowPolicy = OverflowPolicy.DROP_OLDEST,
    ) -> AsyncIterator[Subscription[T]]:
        """As `Client.subscribe`, over the shards: a batched spec (trades, obu, tickers, ...
        of many contracts) is spread by `streams_per_connection` and merged back into one
        subscription; any other spec goes whole to its contract's shard."""
        if spec.batched and len(spec.payloads) == 1:
            elements = spec.payloads[0]
            shards = await self._place([_contract_of(e) for e in elements])
        else:
            key = min(spec.keys) if spec.keys else ""
            elements = ()
            shards = await self._place([_contract_of(key)])
        groups: dict[int, list[str]] = {}
        for element, shard in zip(elements, shards, strict=False):
            groups.setdefault(shard, []).append(element)
        if not elements:
            groups = {shards[0]: []}
        parts = split_spec(spec, groups.values()) if elements else [spec]
        owners = list(groups)
        counts = [len(g) or 1 for g in groups.values()]
        try:
            async with contextlib.AsyncExitStack() as stack:
                subs = [
                    await stack.enter_async_context(
                        self._shards[owner].subscribe(part, buffer=buffer, overflow=overflow)
                    )
                    for owner, part in zip(owners, parts, strict=True)
                ]
                if len(subs) == 1:
                    yield subs[0]
                    return
                merged, feed = open_subscription(spec, buffer=buffer, overflow=overflow)
                try:
                    async with open_host_nursery("pool subscription closed") as nursery:
                        for sub in subs:
                            nursery.start_soon(_forward, sub, feed)
                        yield merged
                finally:
                    feed.end()
        finally:
            for owner, n in zip(owners, counts, strict=True):
                self._streams[owner] -= n

    @contextlib.asynccontextmanager
    async def subscribe_listed(
        self,
        factory: Callable[[str], ChannelSpec[T]],
        *,
        buffer: int = DEFAULT_BUFFER,
        overflow: OverflowPolicy = OverflowPolicy.DROP_OLDEST,
    ) -> AsyncIterator[Subscription[T]]:
        """`factory(contract)` for every listed contract, following the listing as it is
        refreshed: new listings are subscribed, delisted ones unsubscribed. One merged
        subscription; a contract the exchange rejects (delisted meanwhile) is logged and
        left out, the others go on.

        Example::

            async with pool.subscribe_listed(gatetrio.channels.trades) as trades:
                ...
        """
        if not self._contracts:
            raise UsageError('subscribe_listed needs open_pool(contracts="all" or a filter)')
        merged, feed = open_subscription(
            factory(self._contracts[0]), buffer=buffer, overflow=overflow
        )
        scopes: dict[str, trio.CancelScope] = {}

        async def one(contract: str, *, task_status: trio.TaskStatus[trio.CancelScope]) -> None:
            with trio.CancelScope() as scope:
                task_status.started(scope)
                try:
                    async with self.subscribe(
                        factory(contract), buffer=buffer, overflow=overflow
                    ) as sub:
                        await _forward(sub, feed)
                except (SubscriptionRejected, SubscribeTimeout) as exc:
                    log.warning("%s left out: %s", contract, exc)

        async def follow(nursery: trio.Nursery) -> None:
            while True:
                changed = self._listing_changed
                wanted = set(self._contracts)
                for contract in sorted(wanted - scopes.keys()):
                    scopes[contract] = await nursery.start(one, contract)
                for contract in sorted(scopes.keys() - wanted):
                    scopes.pop(contract).cancel(reason=f"{contract} delisted")
                await changed.wait()

        try:
            async with open_host_nursery("listed subscription closed") as nursery:
                nursery.start_soon(follow, nursery)
                yield merged
        finally:
            feed.end()

    def order_book(
        self,
        contract: str,
        *,
        depth: int = 20,
        method: Method = "auto",
        snapshot_fetcher: SnapshotFetcher | None = None,
    ) -> contextlib.AbstractAsyncContextManager[LiveOrderBook]:
        """As `Client.order_book`, on the shard that carries `contract` (placed first)."""
        return self._order_book(contract, depth, method, snapshot_fetcher)

    @contextlib.asynccontextmanager
    async def _order_book(
        self, contract: str, depth: int, method: Method, fetcher: SnapshotFetcher | None
    ) -> AsyncIterator[LiveOrderBook]:
        (shard,) = await self._place([contract])
        try:
            async with self._shards[shard].order_book(
                contract, depth=depth, method=method, snapshot_fetcher=fetcher
            ) as live:
                yield live
        finally:
            self._streams[shard] -= 1

    @contextlib.asynccontextmanager
    async def events(
        self, *, buffer: int = EVENTS_BUFFER
    ) -> AsyncIterator[Subscription[PoolEvent]]:
        """Every shard's `ClientEvent`s tagged with the shard, and listing changes."""
        sub, feed = open_subscription(
            _POOL_EVENTS_SPEC, buffer=buffer, overflow=OverflowPolicy.DROP_OLDEST
        )
        self._watchers.append(feed)
        try:
            await trio.lowlevel.checkpoint()
            yield sub
        finally:
            self._watchers.remove(feed)
            feed.end()

    @contextlib.asynccontextmanager
    async def raw_frames(
        self, *, buffer: int = RAW_BUFFER, overflow: OverflowPolicy = OverflowPolicy.DROP_NEWEST
    ) -> AsyncIterator[Subscription[RawFrame]]:
        """Every shard's raw frames (`RawFrame.shard` says which), shards opened later too."""
        sub, feed = open_subscription(RAW_SPEC, buffer=buffer, overflow=overflow)
        try:
            async with open_host_nursery("raw frames closed") as nursery:
                nursery.start_soon(self._tap_all, nursery, feed, buffer)
                await trio.lowlevel.checkpoint()
                yield sub
        finally:
            feed.end()

    async def _tap_all(
        self, nursery: trio.Nursery, feed: SubscriptionFeed[RawFrame], buffer: int
    ) -> None:
        tapped = 0
        while True:
            while tapped < len(self._shards):
                await nursery.start(_tap_shard, self._shards[tapped], tapped, feed, buffer)
                tapped += 1
            await self._shard_added.wait()

    async def wait_listing_changed(self) -> None:
        """Return after the next listing refresh that listed or delisted a contract."""
        await self._listing_changed.wait()

    def statistics(self) -> PoolStatistics:
        shards = tuple(client.statistics() for client in self._shards)
        return PoolStatistics(
            shards=shards,
            streams=tuple(self._streams),
            merged=merge_statistics(shards),
            contracts=len(self._contracts),
            listing_refreshes=self.listing_refreshes,
            listing_failures=self.listing_failures,
        )

    # ------------------------------------------------------------------------ listing

    def _set_listing(self, contracts: tuple[str, ...]) -> None:
        old, new = set(self._contracts), set(contracts)
        self._contracts = contracts
        if old != new and self.listing_refreshes > 1:
            change = PoolEvent(
                -1, listed=tuple(sorted(new - old)), delisted=tuple(sorted(old - new))
            )
            for watcher in self._watchers:
                watcher.push(change)
            self._listing_changed.set()
            self._listing_changed = trio.Event()

    async def _start(
        self,
        contracts: str | Callable[[str], bool] | None,
        listing_fetcher: Callable[[], Awaitable[object]] | None,
        refresh_interval: float,
    ) -> None:
        """Open the first shard, then (with `contracts`) the listing and its refresh task."""
        first = await self._nursery.start(self._run_shard)
        if contracts is None:
            return
        keep = None if contracts == "all" else typing.cast("Callable[[str], bool]", contracts)
        fetch = listing_fetcher or functools.partial(fetch_listing, first.rest)
        self.listing_refreshes = 1
        self._set_listing(listed_contracts(await fetch(), keep=keep))
        self._nursery.start_soon(self._refresh_listing, fetch, keep, refresh_interval)

    async def _refresh_listing(
        self,
        fetch: Callable[[], Awaitable[object]],
        keep: Callable[[str], bool] | None,
        interval: float,
    ) -> None:
        while True:
            await trio.sleep(interval)
            try:
                contracts = listed_contracts(await fetch(), keep=keep)
            except GateTrioError as exc:  # a failed refresh keeps the last listing
                self.listing_failures += 1
                log.warning("contract listing refresh failed: %s", exc)
                continue
            self.listing_refreshes += 1
            self._set_listing(contracts)


async def _forward(sub: Subscription[T], feed: SubscriptionFeed[T]) -> None:
    """Move one shard's items into the merged feed, a scheduler pass at a time."""
    async for first in sub:
        feed.push(first)
        with contextlib.suppress(trio.WouldBlock):
            for _ in range(FORWARD_BATCH):
                feed.push(sub.receive_nowait())


async def _tap_shard(
    client: Client,
    shard: int,
    feed: SubscriptionFeed[RawFrame],
    buffer: int,
    *,
    task_status: trio.TaskStatus[None],
) -> None:
    async with client.raw_frames(buffer=buffer) as tap:
        task_status.started()
        async for frame in tap:
            feed.push(RawFrame(frame.received_ns, frame.generation, frame.text, shard))


@contextlib.asynccontextmanager
async def open_pool(
    settle: str = "usdt",
    *,
    contracts: str | Callable[[str], bool] | None = None,
    streams_per_connection: int = DEFAULT_STREAMS_PER_CONNECTION,
    refresh_interval: float = REFRESH_INTERVAL,
    listing_fetcher: Callable[[], Awaitable[object]] | None = None,
    url: str | None = None,
    config: ClientConfig | None = None,
    connector: Connector | None = None,
    wall_clock: Callable[[], float] | None = None,
    **client_options: Any,
) -> AsyncIterator[Pool]:
    """Open a pool of connections to one market; yields a `Pool` with the first shard up.

    Args:
        contracts: "all" resolves `pool.contracts` from REST `/futures/{settle}/contracts`
            (without contracts being delisted) and refreshes it every `refresh_interval`
            seconds; a function of a contract name filters that listing; None lists nothing
            (subscribe any contracts you name).
        streams_per_connection: payload elements (a contract's trades, an obu stream) per
            shard; more streams open more shards.
        listing_fetcher: `await fetch()` returning the `/contracts` JSON (default: every page
            of it through the first shard's REST helper, `Client.rest`).
        settle: as `open_client`, for every shard; so are `url`, `config`, `connector`,
            `wall_clock` and any other keyword (`client_options`).

    Example::

        async with gatetrio.open_pool(contracts="all") as pool:
            async with pool.subscribe(gatetrio.channels.trades(*pool.contracts)) as trades:
                async for trade in trades:
                    ...
    """
    if isinstance(streams_per_connection, bool) or not isinstance(streams_per_connection, int):
        raise UsageError(f"streams_per_connection must be an int, got {streams_per_connection!r}")
    if streams_per_connection < 1:
        raise UsageError(f"streams_per_connection must be >= 1, got {streams_per_connection}")
    if not (isinstance(refresh_interval, int | float) and refresh_interval > 0):
        raise UsageError(f"refresh_interval must be > 0 seconds, got {refresh_interval!r}")
    if not (contracts is None or contracts == "all" or callable(contracts)):
        raise UsageError(f'contracts must be "all", a filter function or None, got {contracts!r}')
    options: dict[str, Any] = dict(client_options)
    if url is not None:
        options["url"] = url
    if config is not None:
        options["config"] = config
    if connector is not None:
        options["connector"] = connector
    if wall_clock is not None:
        options["wall_clock"] = wall_clock

    def open_shard() -> contextlib.AbstractAsyncContextManager[Client]:
        return open_client(settle, **options)

    async with open_host_nursery("open_pool exited") as nursery:
        pool = Pool(nursery, open_shard, streams_per_connection=streams_per_connection)
        await pool._start(contracts, listing_fetcher, refresh_interval)  # noqa: SLF001
        try:
            yield pool
        finally:
            pool._closed = True  # noqa: SLF001 - its nursery takes no new shards now
