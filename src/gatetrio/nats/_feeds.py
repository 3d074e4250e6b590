"""What a `Publisher` publishes: a client's feeds turned into envelopes for its buffer.

`forward` drains one gatetrio subscription (a public channel) into the publisher's buffer;
`forward_book` does the same for an obu book and adds a full snapshot every few seconds
(`Publisher.add` and `add_book` run them in the publisher's nursery). The buffer, the pump
and the acks are `_publisher`'s; this module only says what goes in, and with which
predecessor.

The chain. For trades, book tickers and tickers each message carries the key of the event
the collector saw just before on the same subject (`Gatetrio-Prev`, see `_reorder`), so
consumers put two collectors' copies back in order without waiting. A collector vouches for
that only while it knows nothing came between: after anything that may have cost it events
(a reconnect to the exchange, a failed resubscription, items its own subscription dropped)
the next events of the batch carry none. `GapWatch` tells when that happened, from the
client's events.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Final, Protocol

import trio

from gatetrio import channels
from gatetrio._core._book import ObuStatus, ObuSync
from gatetrio._core._events import ObuDelta, ObuLevel
from gatetrio._shell._client_events import ClientEventKind

from ._reorder import Kind
from ._wire import Envelope, book_subject, envelope, sequence, snapshot_envelope

if TYPE_CHECKING:
    from gatetrio._core._book import OrderBook
    from gatetrio._core._requests import ChannelSpec
    from gatetrio._shell._client import Client, ClientEvent
    from gatetrio._shell._subscription import Subscription

    from ._wire import BusItem

log: Final = logging.getLogger("gatetrio.nats")


class Sink(Protocol):
    """What a feed needs of its `Publisher` (a protocol: `_publisher` imports this module)."""

    @property
    def settle(self) -> str: ...
    @property
    def prefix(self) -> str: ...
    @property
    def client(self) -> Client: ...

    async def put(self, env: Envelope) -> None: ...

    def note_chain_break(self) -> None: ...

    def note_snapshot(self) -> None: ...


SUBSCRIPTION_BUFFER: Final = 8192
GAP_EVENTS: Final = frozenset({ClientEventKind.DISCONNECTED, ClientEventKind.SUBSCRIPTION_FAILED})
"""Client events after which a subscription may have missed items."""


class GapWatch:
    """Counts the client events that may have cost a subscription items (its `epoch`)."""

    def __init__(self, events: Subscription[ClientEvent] | None) -> None:
        self._events = events
        self._epoch = 0

    def epoch(self) -> int:
        """A counter bumped by each client event that may have cost a subscription events.

        Read right after taking a batch: an event the client logged before the batch's last
        item arrived is in the watcher by then, so a batch that spans a reconnect sees it.
        """
        events = self._events
        if events is None:
            return self._epoch
        with contextlib.suppress(trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
            for event in events.receive_batch_nowait(1024):
                if event.kind in GAP_EVENTS:
                    self._epoch += 1
        if events.statistics().messages_dropped:  # events lost: assume the worst, always
            self._epoch += 1
        return self._epoch


async def forward(
    publisher: Sink,
    spec: ChannelSpec[BusItem],
    watch: GapWatch,
    *,
    task_status: trio.TaskStatus[None],
) -> None:
    """Publish every item of `spec`, each chained to the one before it on its subject."""
    settle, prefix = publisher.settle, publisher.prefix
    last: dict[str, int] = {}  # subject -> key of the last event seen on it
    async with publisher.client.subscribe(spec, buffer=SUBSCRIPTION_BUFFER) as sub:
        task_status.started()
        epoch, dropped = watch.epoch(), 0
        async for batch in sub.batches():
            now_epoch, now_dropped = watch.epoch(), sub.statistics().messages_dropped
            broken = now_epoch != epoch or now_dropped != dropped
            if broken:
                epoch, dropped = now_epoch, now_dropped
                publisher.note_chain_break()
            for item in batch:
                kind, key, _ = sequence(item)
                env = envelope(item, settle=settle, prefix=prefix)
                if kind is Kind.CHAIN:
                    prev = None if broken else last.get(env.subject)
                    last[env.subject] = key
                    if prev is not None and prev < key:
                        env = Envelope(
                            env.subject, env.msg_id, env.payload, env.exact, prev, env.time_ms
                        )
                await publisher.put(env)


async def forward_book(
    publisher: Sink,
    contract: str,
    level: int,
    every: float,
    *,
    task_status: trio.TaskStatus[None],
) -> None:
    """Publish `contract`'s obu deltas, and a full snapshot every `every` seconds.

    The snapshots come from a book of our own (`ObuSync`); when it needs a resync the stream
    is subscribed again (Gate's full push restarts it), and consumers see the gap on the bus
    until the next full book.
    """
    settle, prefix = publisher.settle, publisher.prefix
    spec = channels.obu(contract, level=level)
    delta_subject = book_subject(contract, str(level), settle=settle, prefix=prefix)
    sync = ObuSync(contract)  # our own copy, to snapshot; the consumers' sync is their own
    started = False
    while True:
        async with publisher.client.subscribe(spec, buffer=SUBSCRIPTION_BUFFER) as sub:
            if not started:
                task_status.started()
                started = True
            next_snapshot = trio.current_time()
            async for delta in sub:
                await publisher.put(envelope(delta, settle=settle, prefix=prefix))
                status = sync.feed(delta)
                if status.needs_resync:
                    log.info("book %s resubscribing: %s", contract, sync.last_resync)
                    break
                if status is ObuStatus.APPLIED and trio.current_time() >= next_snapshot:
                    snapshot = full_push(sync.book, delta.s)
                    await publisher.put(snapshot_envelope(snapshot, delta_subject))
                    publisher.note_snapshot()
                    next_snapshot = trio.current_time() + every
        sync.reset()


def full_push(book: OrderBook, stream: str) -> ObuDelta:
    """The whole `book` as an obu full push (what Gate sends on subscribing)."""
    return ObuDelta(
        t=book.t,
        s=stream,
        u=book.update_id or 0,
        b=tuple(ObuLevel(str(price), _size_text(size)) for price, size in book.bids()),
        a=tuple(ObuLevel(str(price), _size_text(size)) for price, size in book.asks()),
        full=True,
    )


def _size_text(size: object) -> int | str:
    return size if isinstance(size, int) else str(size)
