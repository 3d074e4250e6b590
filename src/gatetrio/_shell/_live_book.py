"""Live order books: `Client.order_book(...)` keeps a pure `OrderBook` in sync with Gate.

Two ways, per spec 6.5 and 6.6, each a thin driver over a pure sync in `_core/_book/`:

- `futures.obu` (USDT perpetuals): `ObuSync`. The first push is a full snapshot; on a gap,
  unsubscribe and resubscribe that one stream to get a new snapshot.
- `futures.order_book_update` + the REST snapshot `order_book?with_id=true` (BTC, USD1,
  delivery, or by choice): `BookSync` buffers deltas (bounded) while the snapshot is fetched and
  applies the documented `U <= id+1 <= u` algorithm; on a gap only that contract fetches a new
  snapshot.

The drivers only move frames, fetch snapshots, resubscribe and wake readers; the syncs decide
and count. A gap, a malformed delta or a crossed book marks the book not ready, counts a resync,
reports it to the host (the client emits `BOOK_RESYNC`) and recovers that contract alone; other
books keep streaming. The host is a `BookHost` record, not the `Client`: see `_book_host.py`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Final, Protocol, TypeVar, final

import attrs
import trio

from gatetrio import channels
from gatetrio._core._backoff import Backoff
from gatetrio._core._book import (
    BookMethod,
    BookSync,
    Method,
    ObuStatus,
    ObuSync,
    OrderBook,
    SyncStatus,
    choose_depth,
    choose_method,
    parse_rest_snapshot,
)
from gatetrio._core._errors import ConnectionLost, ExchangeError, ProtocolError
from gatetrio._core._requests import check_contract

from ._excgroups import open_host_nursery
from ._subscription import OverflowPolicy

if TYPE_CHECKING:
    from gatetrio._core._events import BookDelta
    from gatetrio._core._requests import ChannelSpec

    from ._book_host import BookHost
    from ._rest import RestClient
    from ._subscription import Subscription, SubscriptionStatistics

T = TypeVar("T")

SnapshotFetcher = Callable[[str, int], Awaitable[object]]
"""`await fetch(contract, limit)` -> the REST order-book JSON (`id`, `bids`, `asks`, ...)."""


# A book consumer must see every delta; if it falls this far behind, the overflow shows up as a
# gap and the book resyncs rather than silently diverging (and is counted in `deltas_dropped`).
# The driver takes every buffered delta per wake-up (`Subscription.batches`), and the reader
# yields once a buffer is half full and pushes at most MAX_BATCH (64) frames per wake-up, so
# the driver runs before a buffer can fill: the bound is for memory, set so that a full buffer
# costs about what its book does (a decoded 20-level obu delta is ~3.3 kB, a drained 400-level
# book ~210 kB; 4096 deltas cost 13 MB a book: benchmarks/README.md, "Live books").
BOOK_BUFFER: Final = 64  # deltas, for streams deeper than 50 levels
SHALLOW_BOOK_BUFFER: Final = 32  # deltas, for 20- and 50-level streams
# Deltas kept while a REST snapshot is fetched (order_book_update): only those after the
# snapshot's id are used, and the snapshot is newer than what was buffered before it, so
# dropping the oldest is harmless; this covers a fetch of ~5 s at 20 ms.
SNAPSHOT_WAIT_BUFFER: Final = 256


def book_buffer(level: str) -> int:
    """The subscription buffer of a live book on a `level` stream, in deltas."""
    return BOOK_BUFFER if int(level) > 50 else SHALLOW_BOOK_BUFFER


SNAPSHOT_RETRY_INITIAL: Final = 0.2
SNAPSHOT_RETRY_MAX: Final = 5.0


@final
@attrs.frozen
class BookStatistics:
    """Counters of one live book, as returned by `LiveOrderBook.statistics()`.

    The same counters for both methods; where a counter does not apply to one, it stays 0.
    """

    contract: str
    """The contract, e.g. ``BTC_USDT``."""
    method: str
    """``obu`` or ``order_book_update``."""
    level: str
    """The stream's depth level, e.g. ``50``."""
    ready: bool
    """The book is complete and checked now."""
    update_id: int | None
    """Gate's update id the book is at; None before the first snapshot."""
    updates_applied: int
    """Deltas and snapshots that changed the book."""
    resyncs: int
    """Times the book was found wrong (gap, malformed, crossed) and rebuilt."""
    gaps: int
    """Update-id gaps seen (count); each causes a resync."""
    crossed: int
    """Times the best bid reached the best ask (count); each causes a resync."""
    malformed: int
    """Deltas that could not be applied (count); each causes a resync."""
    snapshots_fetched: int
    """REST snapshots loaded (order_book_update), or full pushes loaded (obu)."""
    snapshot_errors: int
    """REST snapshots that failed (no answer, an error, a malformed body); each is retried with
    backoff and reported (`BOOK_RESYNC`)."""
    duplicates_skipped: int
    """Deltas the book was already past (seen twice while two connections overlapped)."""
    deltas_dropped: int = 0
    """Deltas that could not be used: pushed out of the bounded buffer kept while a snapshot is
    fetched (order_book_update), or received before the first full push (obu)."""
    waiting: str = ""
    """Why the book is not ready ("" when it is): e.g. an obu stream Gate acked but never fed,
    which is what live Gate does for an unknown contract or level, or a REST snapshot that
    keeps failing."""
    snapshots_too_old: int = 0
    """REST snapshots older than the deltas buffered meanwhile (the fetch took too long); each
    is fetched again after a backoff and reported (`BOOK_RESYNC`)."""
    snapshots_ahead: int = 0
    """REST snapshots the stream stayed below for 100 deltas (an id from the future); each is
    fetched again and reported (`BOOK_RESYNC`)."""


@final
class LiveOrderBook:
    """A local order book kept in sync by the client.

    Created by `Client.order_book`, not instantiated directly. Read `book` at any time (check
    `ready` first: while resyncing the book is empty and not ready), or wait for changes with
    `wait_update()` / `async for update_id in live`.
    """

    def __init__(self, driver: _ObuDriver | _RestDriver) -> None:
        self._driver = driver
        self.contract: Final = driver.contract
        self.method: Final = driver.method
        self.level: Final = driver.level

    def __repr__(self) -> str:
        return (
            f"<LiveOrderBook {self.contract} {self.method} level={self.level} ready={self.ready}>"
        )

    @property
    def book(self) -> OrderBook:
        """The current book (replaced contents on every resync; never None)."""
        return self._driver.sync.book

    @property
    def ready(self) -> bool:
        """True while the book follows the stream; False while (re)synchronising."""
        return self._driver.ready

    async def wait_ready(self) -> None:
        """Return once the book is in sync (at once if it is).

        A server that keeps the book from syncing (gaps, failing snapshots) keeps this waiting,
        each resync counted and reported (`BOOK_RESYNC`): bound it with `trio.fail_after`;
        `statistics().waiting` says what it waits for.
        """
        while not self.ready:
            await self._driver.changed.wait()
        await trio.lowlevel.checkpoint()

    async def wait_update(self) -> int:
        """Wait for the next applied change and return the book's update id.

        Updates are conflated: a slow reader sees the latest id, not every one.
        """
        while True:
            await self._driver.changed.wait()
            update_id = self.book.update_id
            if self.ready and update_id is not None:
                return update_id

    def __aiter__(self) -> LiveOrderBook:
        return self

    async def __anext__(self) -> int:
        """The next update id (conflated, like `wait_update`); iteration never ends by itself."""
        return await self.wait_update()

    def statistics(self) -> BookStatistics:
        return self._driver.statistics()


class _SyncCounts(Protocol):
    """What both syncs' statistics have in common."""

    @property
    def updates_applied(self) -> int: ...
    @property
    def gaps(self) -> int: ...
    @property
    def crossed(self) -> int: ...
    @property
    def malformed(self) -> int: ...
    @property
    def duplicates(self) -> int: ...


class _Driver:
    """What both drivers share: the host, the readers' wake-up and the resync report."""

    def __init__(self, host: BookHost, contract: str, level: str) -> None:
        self.host: Final = host
        self.contract: Final = contract
        self.level: Final = level
        self.changed = trio.Event()
        """Set (and replaced) on every change readers may want: an update, a resync."""
        self.resyncs = 0
        self.buffer = book_buffer(level)
        self.dropped = 0  # deltas lost outside the sync: overflowed, or left behind on a resync
        self.live: Callable[[], SubscriptionStatistics] | None = None  # of the one in use

    def live_dropped(self) -> int:
        """Drops so far by the subscription in use (added to `dropped` when it ends)."""
        live = self.live
        return 0 if live is None else live().messages_dropped

    def notify(self) -> None:
        self.changed.set()
        self.changed = trio.Event()

    def book_statistics(
        self,
        counts: _SyncCounts,
        *,
        method: str,
        ready: bool,
        update_id: int | None,
        snapshots: int,
        snapshot_errors: int,
        unused: int,
        waiting: str = "",
        too_old: int = 0,
        ahead: int = 0,
    ) -> BookStatistics:
        """The one set of counters both methods report (`unused`: deltas the sync could not
        use; the subscription's own drops are added here)."""
        return BookStatistics(
            contract=self.contract,
            method=method,
            level=self.level,
            ready=ready,
            update_id=update_id,
            updates_applied=counts.updates_applied,
            resyncs=self.resyncs,
            gaps=counts.gaps,
            crossed=counts.crossed,
            malformed=counts.malformed,
            snapshots_fetched=snapshots,
            snapshot_errors=snapshot_errors,
            duplicates_skipped=counts.duplicates,
            deltas_dropped=unused + self.dropped + self.live_dropped(),
            waiting=waiting,
            snapshots_too_old=too_old,
            snapshots_ahead=ahead,
        )

    def resync(self, reason: str) -> None:
        self.resyncs += 1
        self.notify()
        self.host.report_resync(self.contract, reason)

    @contextlib.asynccontextmanager
    async def subscription(self, spec: ChannelSpec[T]) -> AsyncIterator[Subscription[T]]:
        """The book's subscription; what it drops (overflow) is added to `dropped`."""
        async with self.host.subscribe(
            spec, buffer=self.buffer, overflow=OverflowPolicy.DROP_OLDEST
        ) as sub:
            self.live = sub.statistics
            try:
                yield sub
            finally:
                self.dropped += sub.statistics().messages_dropped
                self.live = None


@final
class _ObuDriver(_Driver):
    """`futures.obu` into `ObuSync`; resubscribe whenever a status `needs_resync`."""

    method: Final = "obu"

    def __init__(self, host: BookHost, contract: str, level: str) -> None:
        super().__init__(host, contract, level)
        self.sync: Final = ObuSync(contract)

    @property
    def ready(self) -> bool:
        return self.sync.book.ready

    def lost_connection(self) -> None:
        # The resubscription on the next connection starts with a full push again.
        if self.sync.book.ready:
            self.sync.reset()
            self.notify()

    async def run(self) -> None:
        sync = self.sync
        feed = sync.feed
        applied_status = ObuStatus.APPLIED
        spec = channels.obu(self.contract, level=int(self.level))
        while True:
            reason = "the obu subscription ended"
            async with self.subscription(spec) as sub:
                async for batch in sub.batches(self.buffer):
                    # readers are woken once per batch: they read the book, not each delta
                    applied = False
                    for index, delta in enumerate(batch):
                        status = feed(delta)
                        if status is applied_status:
                            applied = True
                        elif status.needs_resync:  # the book is cleared already
                            reason = sync.last_resync
                            self.dropped += len(batch) - index - 1
                            break
                    else:
                        if applied:
                            self.notify()
                        continue
                    break
            sync.reset()  # a subscription that ended leaves the book loaded but stale
            self.resync(reason)

    def statistics(self) -> BookStatistics:
        counts = self.sync.statistics()
        return self.book_statistics(
            counts,
            method=self.method,
            ready=self.ready,
            update_id=self.sync.book.update_id,
            snapshots=counts.snapshots,
            snapshot_errors=0,
            unused=counts.waiting_dropped,
            waiting=self._waiting(),
        )

    def _waiting(self) -> str:
        if self.ready:
            return ""
        live = self.live
        if live is None:
            return "subscribing"
        stats = live()
        if not stats.ready:
            return "waiting for the subscribe ack"
        if stats.silent and stats.messages_received == 0:
            return (
                f"acked but no data: Gate acks an obu stream of an unknown contract or level "
                f"(ob.{self.contract}.{self.level}) and then sends nothing"
            )
        return "waiting for the first full snapshot"


@final
class _RestDriver(_Driver):
    """`futures.order_book_update` into `BookSync`, plus a task fetching REST snapshots."""

    method: Final = "order_book_update"

    def __init__(
        self,
        host: BookHost,
        contract: str,
        level: str,
        *,
        frequency: str,
        fetch: SnapshotFetcher,
    ) -> None:
        super().__init__(host, contract, level)
        self.sync: Final = BookSync(
            contract, max_buffered=SNAPSHOT_WAIT_BUFFER, reject_crossed=True
        )
        self.frequency: Final = frequency
        self.fetch: Final = fetch
        self.need_snapshot = trio.Event()
        self.snapshots = 0
        self.snapshot_errors = 0
        self.last_snapshot_failure = ""

    @property
    def ready(self) -> bool:
        return self.sync.status is SyncStatus.SYNCED

    def lost_connection(self) -> None:
        # Deltas buffered from the old connection are useless too; the next delta on the new
        # one finds the sync needing a snapshot and wakes the fetcher.
        was_ready = self.sync.book.ready
        self.sync.reset()
        if was_ready:
            self.notify()

    async def run(self) -> None:
        spec = channels.order_book_update(self.contract, frequency=self.frequency, level=self.level)
        async with self.subscription(spec) as sub, trio.open_nursery() as nursery:
            nursery.start_soon(self._run_fetcher)
            async for batch in sub.batches(self.buffer):
                applied = False
                for delta in batch:
                    applied = self._feed(delta) or applied
                if applied:  # readers are woken once per batch
                    self.notify()
            nursery.cancel_scope.cancel(reason="the order_book_update subscription ended")

    def _feed(self, delta: BookDelta) -> bool:
        """Feed one delta; True when it changed a synced book (readers to be woken)."""
        sync = self.sync
        before, update_id = sync.status, sync.book.update_id
        try:
            status = sync.feed(delta)
        except ProtocolError as exc:  # the sync has reset itself and counted it
            self.resync(str(exc))
            self.need_snapshot.set()
            return False
        if status is SyncStatus.NEED_SNAPSHOT:
            if before is not SyncStatus.NEED_SNAPSHOT:  # a gap, too old, or crossed
                self.resync(sync.last_resync)
            self.need_snapshot.set()
            return False
        return status is SyncStatus.SYNCED and sync.book.update_id != update_id

    async def _run_fetcher(self) -> None:
        backoff = Backoff(
            initial=SNAPSHOT_RETRY_INITIAL,
            maximum=SNAPSHOT_RETRY_MAX,
            jitter=0.0,
            rng=self.host.rng,
        )
        while True:
            while self.sync.status is SyncStatus.NEED_SNAPSHOT:
                await self._fetch_snapshot(backoff)
            await self.need_snapshot.wait()
            self.need_snapshot = trio.Event()

    async def _fetch_snapshot(self, backoff: Backoff) -> None:
        try:
            snapshot = parse_rest_snapshot(await self.fetch(self.contract, int(self.level)))
            status = self.sync.load_snapshot(
                snapshot.id, snapshot.bids, snapshot.asks, t=snapshot.t
            )
        except (ConnectionLost, ProtocolError, ExchangeError) as exc:
            # the REST helper has retried what may pass already: wait longer, say so, go again
            self.snapshot_errors += 1
            delay = backoff.next_delay()
            self.last_snapshot_failure = f"snapshot failed: {exc}"
            self.host.report_resync(
                self.contract, f"{self.last_snapshot_failure}; again in {delay:g}s"
            )
            await trio.sleep(delay)
            return
        self.snapshots += 1
        if status is SyncStatus.NEED_SNAPSHOT:
            delay = backoff.next_delay()
            self.last_snapshot_failure = (
                f"REST snapshot {snapshot.id} older than the deltas buffered meanwhile "
                "(a slow fetch)"
            )
            self.host.report_resync(
                self.contract, f"{self.last_snapshot_failure}; again in {delay:g}s"
            )
            await trio.sleep(delay)
        else:
            backoff.reset()
            self.last_snapshot_failure = ""
            self.notify()

    def _waiting(self) -> str:
        if self.ready:
            return ""
        if self.last_snapshot_failure:
            return self.last_snapshot_failure
        if self.sync.status is SyncStatus.NEED_SNAPSHOT:
            return "fetching the REST snapshot"
        return "waiting for a delta past the REST snapshot"

    def statistics(self) -> BookStatistics:
        counts = self.sync.statistics()
        return self.book_statistics(
            counts,
            method=self.method,
            ready=self.ready,
            update_id=self.sync.book.update_id,
            snapshots=self.snapshots,
            snapshot_errors=self.snapshot_errors,
            unused=counts.deltas_dropped,
            waiting=self._waiting(),
            too_old=counts.snapshots_too_old,
            ahead=counts.snapshots_ahead,
        )


def choose_level(method: BookMethod, depth: int) -> tuple[str, str]:
    """(level, interval) of the stream covering `depth` (`_core/_book.choose_depth`)."""
    stream = choose_depth(method, depth)
    return stream.level, stream.interval


def snapshot_fetcher(rest: RestClient) -> SnapshotFetcher:
    """The REST snapshot fetcher on the client's REST helper: `GET .../order_book` with
    `with_id=true` and `limit` = the stream's level (spec 6.5), sizes as the socket's (the
    helper sends ``X-Gate-Size-Decimal`` alike). `parse_rest_snapshot` checks the body."""
    path = rest.route.market_path("order_book")

    async def fetch(contract: str, limit: int) -> object:
        return await rest.get(path, query={"contract": contract, "limit": limit, "with_id": True})

    return fetch


@contextlib.asynccontextmanager
async def open_order_book(
    host: BookHost,
    contract: str,
    *,
    depth: int = 20,
    method: Method = "auto",
    snapshot_fetcher: SnapshotFetcher | None = None,
) -> AsyncIterator[LiveOrderBook]:
    """See `Client.order_book`; `host` is what the client lends the book."""
    check_contract(contract)
    chosen = choose_method(host.url, method)
    level, frequency = choose_level(chosen, depth)
    await host.check_contract(contract)  # UnknownContract, before anything is subscribed
    driver: _ObuDriver | _RestDriver
    if chosen == "obu":
        driver = _ObuDriver(host, contract, level)
    else:
        fetch = snapshot_fetcher or host.fetch_snapshot
        driver = _RestDriver(host, contract, level, frequency=frequency, fetch=fetch)
    with host.watch_lost(driver.lost_connection):
        async with open_host_nursery("order_book block exited") as nursery:
            nursery.start_soon(driver.run)
            yield LiveOrderBook(driver)
