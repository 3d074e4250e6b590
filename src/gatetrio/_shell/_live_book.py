"""Live order books: `Client.order_book(...)` keeps a pure `OrderBook` in sync with Gate.

Two ways, per spec 6.5 and 6.6:

- `futures.obu` (USDT perpetuals): the first push is a full snapshot; on a gap, unsubscribe and
  resubscribe that one stream to get a new snapshot.
- `futures.order_book_update` + the REST snapshot `order_book?with_id=true` (BTC, USD1,
  delivery, or by choice): deltas are buffered (bounded) while the snapshot is fetched, then
  `BookSync` applies the documented `U <= id+1 <= u` algorithm; on a gap only that contract
  fetches a new snapshot.

A gap, a malformed delta or a crossed book marks the book not ready, counts a resync, emits a
`BOOK_RESYNC` client event and recovers that contract alone; other books keep streaming.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Final, Literal, final
from urllib.parse import urlsplit

import attrs
import trio

from gatetrio import channels
from gatetrio._core._backoff import Backoff
from gatetrio._core._book import BookSync, OrderBook, SyncStatus
from gatetrio._core._config import rest_base_url
from gatetrio._core._errors import BookGap, ConnectionLost, ProtocolError, UsageError
from gatetrio._core._events import BookLevel, ObuDelta
from gatetrio._core._requests import check_contract

from ._subscription import OverflowPolicy

if TYPE_CHECKING:
    from ._client import Client

SnapshotFetcher = Callable[[str, int], Awaitable[Mapping[str, object]]]
"""`await fetch(contract, limit)` -> the REST order-book JSON (`id`, `bids`, `asks`, ...)."""

Method = Literal["auto", "obu", "order_book_update"]

# A book consumer must see every delta; if it falls this far behind, the overflow shows up as a
# gap and the book resyncs rather than silently diverging.
BOOK_BUFFER: Final = 4096
SNAPSHOT_RETRY_INITIAL: Final = 0.2
SNAPSHOT_RETRY_MAX: Final = 5.0


@final
@attrs.frozen
class BookStatistics:
    """Counters of one live book, as returned by `LiveOrderBook.statistics()`."""

    contract: str
    method: str
    level: str
    ready: bool
    update_id: int | None
    updates_applied: int
    resyncs: int
    gaps: int
    crossed: int
    malformed: int
    snapshots_fetched: int
    snapshot_errors: int
    duplicates_skipped: int


@final
class LiveOrderBook:
    """A local order book kept in sync by the client.

    Created by `Client.order_book`, not instantiated directly. Read `book` at any time (check
    `ready` first: while resyncing the book is empty and not ready), or wait for changes with
    `wait_update()` / `async for update_id in live`.
    """

    def __init__(self, contract: str, *, method: str, level: str) -> None:
        self.contract = contract
        self.method = method
        self.level = level
        self._sync = BookSync(contract, max_buffered=BOOK_BUFFER)
        self._changed = trio.Event()
        self._updates = 0
        self._resyncs = 0
        self._gaps = 0
        self._crossed = 0
        self._malformed = 0
        self._snapshots = 0
        self._snapshot_errors = 0
        self._duplicates = 0

    @property
    def book(self) -> OrderBook:
        """The current book (replaced contents on every resync; never None)."""
        return self._sync.book

    @property
    def ready(self) -> bool:
        """True while the book follows the stream; False while (re)synchronising."""
        sync = self._sync
        return sync.book.ready and (self.method == "obu" or sync.status is SyncStatus.SYNCED)

    async def wait_ready(self) -> None:
        """Return once the book is in sync (at once if it is)."""
        while not self.ready:
            await self._changed.wait()
        await trio.lowlevel.checkpoint()

    async def wait_update(self) -> int:
        """Wait for the next applied change and return the book's update id.

        Updates are conflated: a slow reader sees the latest id, not every one.
        """
        while True:
            await self._changed.wait()
            update_id = self.book.update_id
            if self.ready and update_id is not None:
                return update_id

    def __aiter__(self) -> LiveOrderBook:
        return self

    async def __anext__(self) -> int:
        """The next update id (conflated, like `wait_update`); iteration never ends by itself."""
        return await self.wait_update()

    def statistics(self) -> BookStatistics:
        return BookStatistics(
            contract=self.contract,
            method=self.method,
            level=self.level,
            ready=self.ready,
            update_id=self.book.update_id,
            updates_applied=self._updates,
            resyncs=self._resyncs,
            gaps=self._gaps,
            crossed=self._crossed,
            malformed=self._malformed,
            snapshots_fetched=self._snapshots,
            snapshot_errors=self._snapshot_errors,
            duplicates_skipped=self._duplicates,
        )

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    def _lost_connection(self) -> None:
        """The connection dropped: the book can no longer be trusted until resynced."""
        if self._sync.book.ready:
            self._sync.reset()
            self._notify()


def choose_method(url: str, method: Method) -> Literal["obu", "order_book_update"]:
    """obu where Gate documents it (USDT perpetuals), else order_book_update + REST."""
    if method == "auto":
        path = urlsplit(url).path.rstrip("/")
        return "obu" if path.endswith("/usdt") and "/delivery/" not in path else "order_book_update"
    if method not in ("obu", "order_book_update"):
        raise UsageError(f"method must be 'auto', 'obu' or 'order_book_update', got {method!r}")
    return method


def choose_level(method: str, depth: int) -> tuple[str, str]:
    """(level, frequency) covering `depth` levels: the smallest stream that is deep enough."""
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
        raise UsageError(f"depth must be a positive int (levels per side), got {depth!r}")
    if method == "obu":
        if depth > 400:
            raise UsageError(f"futures.obu streams at most 400 levels, got depth={depth}")
        return ("50", "20ms") if depth <= 50 else ("400", "100ms")
    if depth > 100:
        raise UsageError(f"futures.order_book_update carries at most 100 levels, got {depth}")
    if depth <= 20:
        return "20", "20ms"
    return ("50", "100ms") if depth <= 50 else ("100", "100ms")


def rest_snapshot_fetcher(ws_url: str) -> SnapshotFetcher:
    """The default REST snapshot fetcher for a WebSocket URL (httpx, imported lazily)."""
    base = rest_base_url(ws_url)
    path = urlsplit(ws_url).path.rstrip("/")
    settle = path.rsplit("/", 1)[-1] or "btc"
    if settle == "ws":  # legacy /v4/ws is served as BTC (spec 1)
        settle = "btc"
    market = "delivery" if "/delivery/" in path else "futures"
    endpoint = f"{base}/{market}/{settle}/order_book"

    async def fetch(contract: str, limit: int) -> Mapping[str, object]:
        import httpx  # noqa: PLC0415 - keeps httpx out of gatetrio's import time

        params = {"contract": contract, "limit": str(limit), "with_id": "true"}
        try:
            async with httpx.AsyncClient(timeout=10.0) as http:
                response = await http.get(endpoint, params=params)
                response.raise_for_status()
                body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ConnectionLost(f"REST snapshot {endpoint}: {exc!r}") from exc
        if not isinstance(body, dict):
            raise ProtocolError("REST order book is not a JSON object", raw=str(body))
        return body

    return fetch


def _levels(raw: object, what: str) -> list[BookLevel]:
    if not isinstance(raw, list):
        raise ProtocolError(f"REST order book {what} is not a list", raw=repr(raw))
    levels = []
    for entry in raw:
        if not isinstance(entry, dict):
            raise ProtocolError(f"REST order book {what} level is not an object", raw=repr(entry))
        price, size = entry.get("p"), entry.get("s")
        if not isinstance(price, str) or not isinstance(size, int | str) or isinstance(size, bool):
            raise ProtocolError(f"REST order book {what} level is malformed", raw=repr(entry))
        levels.append(BookLevel(p=price, s=size))
    return levels


def parse_rest_snapshot(
    body: Mapping[str, object],
) -> tuple[int, list[BookLevel], list[BookLevel], int]:
    """(id, bids, asks, t ms) from Gate's REST order book; ProtocolError if malformed."""
    snapshot_id = body.get("id")
    if not isinstance(snapshot_id, int) or isinstance(snapshot_id, bool):
        raise ProtocolError("REST order book has no integer id (was with_id=true sent?)")
    update = body.get("update", body.get("current", 0))
    t = int(update * 1000) if isinstance(update, int | float) and math.isfinite(update) else 0
    return (
        snapshot_id,
        _levels(body.get("bids", []), "bids"),
        _levels(body.get("asks", []), "asks"),
        t,
    )


async def run_obu_book(client: Client, live: LiveOrderBook) -> None:
    """Keep `live` in sync from `futures.obu`; resubscribe the stream on any inconsistency."""
    book = live._sync.book
    spec = channels.obu(live.contract, level=int(live.level))
    while True:
        reason = "the obu subscription ended"
        async with client.subscribe(
            spec, buffer=BOOK_BUFFER, overflow=OverflowPolicy.DROP_OLDEST
        ) as sub:
            async for item in sub:
                if item.full:
                    # obu needs no REST step: a full push is the snapshot (spec 6.6)
                    try:
                        book.load_snapshot(item.u, item.b, item.a, t=item.t)
                    except ProtocolError as exc:  # a malformed level: count it, resubscribe
                        live._malformed += 1
                        reason = str(exc)
                        break
                    live._updates += 1
                    live._notify()
                    continue
                if not book.ready:
                    continue  # waiting for the full snapshot that starts every obu stream
                update_id = book.update_id
                if update_id is not None and item.u <= update_id:
                    live._duplicates += 1  # seen twice while two connections overlapped
                    continue
                reason = _apply(live, book, item)
                if reason:
                    break
                live._updates += 1
                live._notify()
        _resync(client, live, reason)


def _apply(live: LiveOrderBook, book: OrderBook, delta: ObuDelta) -> str:
    """Apply one obu delta; return why a resync is needed, or "" if none is."""
    try:
        book.apply(delta)
    except BookGap as gap:
        live._gaps += 1
        return str(gap)
    except ProtocolError as exc:
        live._malformed += 1
        return str(exc)
    if book.is_crossed():
        live._crossed += 1
        return f"crossed book on {live.contract} at update id {book.update_id}"
    return ""


def _resync(client: Client, live: LiveOrderBook, reason: str) -> None:
    live._resyncs += 1
    # After a gap or a malformed delta BookSync has reset itself already, keeping the offending
    # delta as the first of its new buffer (it may straddle the next snapshot's id): only a
    # book still loaded (obu, or a crossed book) needs resetting here.
    if live._sync.book.ready:
        live._sync.reset()
    live._notify()
    client._emit_book_resync(live.contract, reason)


async def run_rest_book(
    client: Client, live: LiveOrderBook, *, frequency: str, fetch: SnapshotFetcher
) -> None:
    """Keep `live` in sync from order_book_update deltas plus REST snapshots (spec 6.5)."""
    sync = live._sync
    spec = channels.order_book_update(live.contract, frequency=frequency, level=live.level)
    need_snapshot = trio.Event()
    async with (
        client.subscribe(spec, buffer=BOOK_BUFFER, overflow=OverflowPolicy.DROP_OLDEST) as sub,
        trio.open_nursery() as nursery,
    ):

        async def fetch_snapshots() -> None:
            nonlocal need_snapshot
            backoff = Backoff(
                initial=SNAPSHOT_RETRY_INITIAL,
                maximum=SNAPSHOT_RETRY_MAX,
                jitter=0.0,
                rng=client.config.rng,
            )
            while True:
                while sync.status is SyncStatus.NEED_SNAPSHOT:
                    try:
                        body = await fetch(live.contract, int(live.level))
                        snapshot_id, bids, asks, t = parse_rest_snapshot(body)
                        status = sync.load_snapshot(snapshot_id, bids, asks, t=t)
                    except (ConnectionLost, ProtocolError) as exc:
                        live._snapshot_errors += 1
                        client._emit_book_resync(live.contract, f"snapshot failed: {exc}")
                        await trio.sleep(backoff.next_delay())
                        continue
                    live._snapshots += 1
                    if status is SyncStatus.NEED_SNAPSHOT:  # too old for the buffered deltas
                        await trio.sleep(backoff.next_delay())
                    else:
                        backoff.reset()
                        live._notify()
                await need_snapshot.wait()
                need_snapshot = trio.Event()

        nursery.start_soon(fetch_snapshots)
        async for item in sub:
            before = sync.status
            if before is SyncStatus.SYNCED:
                update_id = sync.book.update_id
                if update_id is not None and item.u <= update_id and not item.full:
                    live._duplicates += 1
                    continue
            try:
                status = sync.feed(item)
            except ProtocolError as exc:
                live._malformed += 1
                _resync(client, live, str(exc))
                need_snapshot.set()
                continue
            if status is SyncStatus.SYNCED and sync.book.is_crossed():
                live._crossed += 1
                _resync(client, live, f"crossed book on {live.contract}")
                need_snapshot.set()
                continue
            if status is SyncStatus.NEED_SNAPSHOT:
                if before is not SyncStatus.NEED_SNAPSHOT:
                    live._gaps += 1
                    _resync(client, live, str(sync.last_gap))
                need_snapshot.set()
                continue
            if status is SyncStatus.SYNCED:
                live._updates += 1
                live._notify()
        nursery.cancel_scope.cancel()


@contextlib.asynccontextmanager
async def open_order_book(
    client: Client,
    contract: str,
    *,
    depth: int = 20,
    method: Method = "auto",
    snapshot_fetcher: SnapshotFetcher | None = None,
) -> AsyncIterator[LiveOrderBook]:
    """See `Client.order_book`."""
    check_contract(contract)
    chosen = choose_method(client.config.url, method)
    level, frequency = choose_level(chosen, depth)
    live = LiveOrderBook(contract, method=chosen, level=level)
    client._books.add(live)
    try:
        async with trio.open_nursery() as nursery:
            if chosen == "obu":
                nursery.start_soon(run_obu_book, client, live)
            else:
                fetch = snapshot_fetcher or rest_snapshot_fetcher(client.config.url)
                nursery.start_soon(
                    lambda: run_rest_book(client, live, frequency=frequency, fetch=fetch)
                )
            try:
                yield live
            finally:
                nursery.cancel_scope.cancel(reason="order_book block exited")
    finally:
        client._books.discard(live)
