"""`open_order_book`: a live order book built from what `Publisher.add_book` publishes.

    async with gatetrio.nats.open_order_book("nats://127.0.0.1:4222", "BTC_USDT") as live:
        async for update_id in live:
            print(live.book.best_bid())

It reads the book's deltas and its companion snapshots through an ephemeral consumer, as one
sequence: the re-sequencing window (`_reorder`) puts two collectors' interleaved copies back
in update-id order, so a mere reorder on the bus never clears the book; `BusBookSync` (pure)
applies them. It starts a little before the latest snapshot (BOOK_LOOKBACK seconds of the
stream), so a delta stored just before the snapshot it follows is not missed; the book is
exact from that snapshot on. A real gap (an update no collector published) clears it until the
next snapshot or full push.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Final, final

import attrs
import trio

from gatetrio._core._catalog import OBU_LEVEL
from gatetrio._core._errors import UsageError
from gatetrio._core._events import ObuDelta
from gatetrio._core._requests import check_contract
from gatetrio._shell._excgroups import open_host_nursery
from gatetrio._shell._live_book import BookStatistics

from ._bus_book import BusBookSync, BusStatus
from ._consumer import ACK_WAIT, DEFAULT_STREAM, FETCH_BATCH, feed_spec, open_subscription
from ._pull import Start
from ._reorder import Reorder
from ._wire import DEFAULT_PREFIX, book_subject, check_prefix, check_settle, snapshot_subject

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

    from gatetrio._core._book import OrderBook

    from ._bridge import NatsOptions
    from ._consumer import BusSubscription

log: Final = logging.getLogger("gatetrio.nats")

BOOK_LEVEL: Final = int(OBU_LEVEL)  # the one default obu level (`Publisher.add_book`'s too)
BOOK_LOOKBACK: Final = 2.0  # seconds of the stream read before the latest snapshot


@final
class BusOrderBook:
    """A local order book built from the bus, with `LiveOrderBook`'s interface.

    Created by `open_order_book`. It starts from a snapshot in the stream, applies the deltas
    after it in update-id order, and on a gap on the bus clears itself (not ready) until the
    next snapshot.
    """

    method: Final = "nats"

    def __init__(self, contract: str, level: str) -> None:
        self.contract: Final = contract
        self.level: Final = level
        self.sync: Final = BusBookSync(contract)
        self.changed = trio.Event()
        self.resyncs = 0
        self.subscription: BusSubscription | None = None
        """What the book reads through (its statistics: the re-sequencing counters)."""
        self._closed = False

    def __repr__(self) -> str:
        return f"<BusOrderBook {self.contract} level={self.level} ready={self.ready}>"

    @property
    def book(self) -> OrderBook:
        return self.sync.book

    @property
    def ready(self) -> bool:
        return self.sync.book.ready

    async def wait_ready(self) -> None:
        """Wait until the book is exact (`UsageError` after the block: it never will be)."""
        await trio.lowlevel.checkpoint()
        while not self.ready:
            self._check_open("wait_ready")
            await self.changed.wait()

    async def wait_update(self) -> int:
        """The book's update id after the next change (conflated, like `LiveOrderBook`).

        After the block nothing changes any more: it raises `UsageError`.
        """
        while True:
            self._check_open("wait_update")
            await self.changed.wait()
            update_id = self.book.update_id
            if self.ready and update_id is not None:
                return update_id

    def _check_open(self, what: str) -> None:
        if self._closed:
            raise UsageError(
                f"{what}() after the book's block: it is no longer fed; open a new one with "
                "gatetrio.nats.open_order_book()"
            )

    def mark_closed(self) -> None:
        """`open_order_book`'s block is over: wake every waiter (they raise `UsageError`)."""
        self._closed = True
        self.changed.set()
        self.changed = trio.Event()

    def __aiter__(self) -> BusOrderBook:
        return self

    async def __anext__(self) -> int:
        return await self.wait_update()

    def statistics(self) -> BookStatistics:
        counts = self.sync.statistics()
        return BookStatistics(
            contract=self.contract,
            method=self.method,
            level=self.level,
            ready=self.ready,
            update_id=self.book.update_id,
            updates_applied=counts.updates_applied,
            resyncs=self.resyncs,
            gaps=counts.gaps,
            crossed=counts.crossed,
            malformed=counts.malformed,
            snapshots_fetched=counts.snapshots,
            snapshot_errors=0,
            duplicates_skipped=counts.duplicates,
            deltas_dropped=counts.waiting_dropped,
        )

    def feed(self, delta: ObuDelta) -> BusStatus:
        status = self.sync.feed(delta)
        if status.needs_resync:
            self.resyncs += 1
            log.warning(
                "bus book %s: %s; waiting for the next snapshot",
                self.contract,
                self.sync.last_resync,
            )
        if status is BusStatus.APPLIED or status.needs_resync:
            self.changed.set()
            self.changed = trio.Event()
        return status


async def _feed_book(live: BusOrderBook, sub: BusSubscription) -> None:
    async for item in sub:
        if isinstance(item, ObuDelta):
            live.feed(item)


@contextlib.asynccontextmanager
async def open_order_book(
    nats: NatsOptions | str | Sequence[str],
    contract: str,
    *,
    level: int = BOOK_LEVEL,
    settle: str = "usdt",
    prefix: str = DEFAULT_PREFIX,
    stream: str = DEFAULT_STREAM,
    reorder: Reorder | None = Reorder(),  # noqa: B008 - frozen, shared safely
) -> AsyncIterator[BusOrderBook]:
    """Keep a local book of `contract` from what `Publisher.add_book` publishes.

    `reorder` is the re-sequencing window in front of the book (see `open_consumer`).
    """
    check_contract(contract)
    check_prefix(prefix)
    check_settle(settle)
    deltas = book_subject(contract, str(level), settle=settle, prefix=prefix)
    snapshots = snapshot_subject(deltas)
    spec = feed_spec(
        stream=stream,
        subjects=(deltas, snapshots),
        start="all",
        durable=None,
        shared=False,
        ack_wait=ACK_WAIT,
        batch=FETCH_BATCH,
        reorder=reorder,
    )
    spec = attrs.evolve(
        spec, start=Start(policy="before_last", subject=snapshots, lookback=BOOK_LOOKBACK)
    )
    live = BusOrderBook(contract, str(level))
    async with (
        open_subscription(nats, spec, reorder=reorder, group=lambda _: deltas) as sub,
        open_host_nursery("bus order book closed") as nursery,
    ):
        live.subscription = sub
        nursery.start_soon(_feed_book, live, sub)
        try:
            yield live
        finally:
            live.mark_closed()
