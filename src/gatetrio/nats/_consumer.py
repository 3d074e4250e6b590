"""Reading the bus: `open_consumer` (items in stream order) and `open_order_book` (a live book).

Both read through an ephemeral JetStream pull consumer (no acks, forgotten by the server 30 s
after this process goes away). Pulling is the flow control: at most `batch` messages are held
here, nothing is dropped on this side, and a slow reader leaves the backlog in the stream. If
the consumer is lost (its node died, the connection dropped) it is recreated from the next
stream sequence, so a node loss skips nothing and repeats nothing.

    trades = ["gate.futures.usdt.trades.>"]
    async with gatetrio.nats.open_consumer("nats://127.0.0.1:4222", trades) as sub:
        async for trade in sub:
            ...

    async with gatetrio.nats.open_order_book("nats://127.0.0.1:4222", "BTC_USDT") as live:
        async for update_id in live:
            print(live.book.best_bid())
"""

from __future__ import annotations

import collections
import contextlib
import logging
import random
from typing import TYPE_CHECKING, Any, Final, final

import attrs
import trio

from gatetrio._core._backoff import Backoff
from gatetrio._core._errors import ProtocolError, UsageError
from gatetrio._core._events import ObuDelta
from gatetrio._core._requests import check_contract
from gatetrio._shell._excgroups import open_host_nursery
from gatetrio._shell._live_book import BookStatistics

from ._bridge import NatsLink, nats_options, open_asyncio_thread
from ._bus_book import BusBookSync, BusStatus
from ._errors import NatsError
from ._wire import (
    DEFAULT_PREFIX,
    book_subject,
    check_prefix,
    check_settle,
    decode_payload,
    snapshot_subject,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

    from gatetrio._core._book import OrderBook

    from ._bridge import AsyncioThread, BusMessage, NatsOptions
    from ._wire import BusItem

log: Final = logging.getLogger("gatetrio.nats")

DEFAULT_STREAM: Final = "GATE_FUTURES"
FETCH_BATCH: Final = 512
FETCH_WAIT: Final = 1.0  # seconds a fetch long-polls for the first message


@final
@attrs.frozen
class ConsumerStatistics:
    received: int
    malformed: int
    """Messages whose payload was not a gatetrio bus payload (skipped, counted)."""
    last_stream_seq: int
    consumer_restarts: int
    """Times the pull consumer was recreated (node loss, reconnect)."""


class _Puller:
    """One ephemeral pull consumer, recreated from the next sequence when it fails."""

    def __init__(
        self,
        thread: AsyncioThread,
        link: NatsLink,
        stream: str,
        subjects: Sequence[str],
        *,
        start_seq: int | None,
        new_only: bool,
        batch: int,
    ) -> None:
        self.thread = thread
        self.link = link
        self.stream = stream
        self.subjects = tuple(subjects)
        self.next_seq = start_seq
        self.new_only = new_only
        self.batch = batch
        self.restarts = 0
        self._psub: Any = None
        self._backoff = Backoff(initial=0.1, maximum=2.0, jitter=0.1, rng=random.Random())

    async def fetch(self) -> list[BusMessage]:
        while True:
            try:
                if self._psub is None:
                    self._psub = await self.thread.run(
                        lambda: self.link.pull(
                            self.stream,
                            self.subjects,
                            start_seq=self.next_seq,
                            new_only=self.new_only,
                            batch=self.batch,
                        )
                    )
                msgs = await self.thread.run(lambda: self.link.fetch(self._psub, FETCH_WAIT))
            except NatsError as exc:
                log.warning("NATS consumer on %s: %s; recreating", self.stream, exc)
                await self._drop()
                await trio.sleep(self._backoff.next_delay())
                continue
            self._backoff.reset()
            if msgs:
                self.next_seq = msgs[-1].stream_seq + 1
                self.new_only = False
                return msgs

    async def _drop(self) -> None:
        psub, self._psub = self._psub, None
        if psub is not None:
            self.restarts += 1
            await self.thread.run(lambda: self.link.unsubscribe(psub))

    async def close(self) -> None:
        with trio.CancelScope(shield=True):
            await self._drop()


@final
class BusSubscription:
    """Items read off the bus, in stream order; created by `open_consumer`."""

    def __init__(self, puller: _Puller) -> None:
        self._puller = puller
        self._pending: collections.deque[BusMessage] = collections.deque()
        self._received = 0
        self._malformed = 0
        self._last_seq = 0

    def statistics(self) -> ConsumerStatistics:
        return ConsumerStatistics(
            received=self._received,
            malformed=self._malformed,
            last_stream_seq=self._last_seq,
            consumer_restarts=self._puller.restarts,
        )

    async def receive_message(self) -> tuple[BusMessage, BusItem]:
        """The next message and the item it carries (malformed payloads are skipped, counted)."""
        while True:
            if not self._pending:
                self._pending.extend(await self._puller.fetch())
            else:
                await trio.lowlevel.checkpoint()
            msg = self._pending.popleft()
            self._last_seq = msg.stream_seq
            try:
                item = decode_payload(msg.data)
            except ProtocolError:
                self._malformed += 1
                continue
            self._received += 1
            return msg, item

    def __aiter__(self) -> BusSubscription:
        return self

    async def __anext__(self) -> BusItem:
        return (await self.receive_message())[1]


@contextlib.asynccontextmanager
async def _open_puller(
    nats: NatsOptions | str | Sequence[str],
    stream: str,
    subjects: Sequence[str],
    *,
    start: str,
    batch: int,
    snapshot_of: str | None = None,
) -> AsyncIterator[_Puller]:
    options = nats_options(nats)
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise UsageError(f"batch must be a positive int, got {batch!r}")
    async with open_asyncio_thread() as thread:
        link = NatsLink(options)
        try:
            await thread.run(link.connect)
            start_seq: int | None = None
            if snapshot_of is not None:  # a book starts at its latest snapshot
                start_seq = await thread.run(lambda: link.last_seq(stream, snapshot_of))
            puller = _Puller(
                thread,
                link,
                stream,
                subjects,
                start_seq=start_seq,
                new_only=start == "new" and snapshot_of is None,
                batch=batch,
            )
            try:
                yield puller
            finally:
                await puller.close()
        finally:
            with trio.CancelScope(shield=True):
                await thread.run(link.close)


@contextlib.asynccontextmanager
async def open_consumer(
    nats: NatsOptions | str | Sequence[str],
    subjects: Sequence[str],
    *,
    stream: str = DEFAULT_STREAM,
    start: str = "new",
    batch: int = FETCH_BATCH,
) -> AsyncIterator[BusSubscription]:
    """Read items published under `subjects` (wildcards allowed) from `stream`.

    `start` is "new" (messages published from now on) or "all" (the stream's whole history).
    Raises `NatsUnavailable` if NATS cannot be reached at start; later losses are recovered.
    """
    if isinstance(subjects, str):
        subjects = [subjects]
    if not subjects or not all(isinstance(s, str) and s for s in subjects):
        raise UsageError(f"subjects must be NATS subjects like 'gate.futures.>', got {subjects!r}")
    if start not in {"new", "all"}:
        raise UsageError(f"start must be 'new' or 'all', got {start!r}")
    async with _open_puller(nats, stream, subjects, start=start, batch=batch) as puller:
        yield BusSubscription(puller)


# ------------------------------------------------------------------------------------ books


@final
class BusOrderBook:
    """A local order book built from the bus, with `LiveOrderBook`'s interface.

    Created by `open_order_book`. It starts from the latest snapshot in the stream, applies the
    deltas after it, and on a gap on the bus clears itself (not ready) until the next snapshot.
    """

    method: Final = "nats"

    def __init__(self, contract: str, level: str) -> None:
        self.contract: Final = contract
        self.level: Final = level
        self.sync: Final = BusBookSync(contract)
        self.changed = trio.Event()
        self.resyncs = 0

    def __repr__(self) -> str:
        return f"<BusOrderBook {self.contract} level={self.level} ready={self.ready}>"

    @property
    def book(self) -> OrderBook:
        return self.sync.book

    @property
    def ready(self) -> bool:
        return self.sync.book.ready

    async def wait_ready(self) -> None:
        while not self.ready:
            await self.changed.wait()
        await trio.lowlevel.checkpoint()

    async def wait_update(self) -> int:
        """The book's update id after the next change (conflated, like `LiveOrderBook`)."""
        while True:
            await self.changed.wait()
            update_id = self.book.update_id
            if self.ready and update_id is not None:
                return update_id

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


async def _feed_book(live: BusOrderBook, puller: _Puller) -> None:
    while True:
        for msg in await puller.fetch():
            try:
                item = decode_payload(msg.data)
            except ProtocolError:
                item = None
            if isinstance(item, ObuDelta):
                live.feed(item)


@contextlib.asynccontextmanager
async def open_order_book(
    nats: NatsOptions | str | Sequence[str],
    contract: str,
    *,
    level: int = 50,
    settle: str = "usdt",
    prefix: str = DEFAULT_PREFIX,
    stream: str = DEFAULT_STREAM,
) -> AsyncIterator[BusOrderBook]:
    """Keep a local book of `contract` from what `Publisher.add_book` publishes."""
    check_contract(contract)
    check_prefix(prefix)
    check_settle(settle)
    deltas = book_subject(contract, str(level), settle=settle, prefix=prefix)
    snapshots = snapshot_subject(deltas)
    live = BusOrderBook(contract, str(level))
    async with (
        _open_puller(
            nats,
            stream,
            [deltas, snapshots],
            start="all",
            batch=FETCH_BATCH,
            snapshot_of=snapshots,
        ) as puller,
        open_host_nursery("bus order book closed") as nursery,
    ):
        nursery.start_soon(_feed_book, live, puller)
        yield live
