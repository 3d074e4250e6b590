"""Subscriptions: bounded receive channels fed synchronously by the client's reader task.

The reader never awaits a consumer (STYLE 2.13.5): `_push` is sync, applies the overflow policy
and counts every drop. A plain deque + ParkingLot is used instead of a trio memory channel because
memory channels cannot drop their *oldest* element from the sending side.
"""

from __future__ import annotations

import collections
import enum
from typing import TYPE_CHECKING, Generic, TypeVar, final

import attrs
import trio

from gatetrio._core._errors import GateTrioError, SubscriptionOverflow

if TYPE_CHECKING:
    from gatetrio._core._requests import ChannelSpec

T = TypeVar("T")


class OverflowPolicy(enum.Enum):
    """What a subscription does when its buffer is full and another item arrives.

    The reader never waits for a consumer, so blocking is not offered.
    """

    DROP_OLDEST = "drop_oldest"
    """Discard the oldest buffered item (default: recent data matters most)."""
    DROP_NEWEST = "drop_newest"
    """Discard the arriving item (keep the backlog intact)."""
    CONFLATE = "conflate"
    """Keep only the latest item (tickers, book tickers: a snapshot-like value)."""
    FAIL = "fail"
    """Raise SubscriptionOverflow from `open_client`: for consumers that must see everything."""


@final
@attrs.frozen
class SubscriptionStatistics:
    """A snapshot of one subscription's counters, as returned by `Subscription.statistics()`."""

    channel: str
    ready: bool
    messages_received: int
    messages_dropped: int
    buffer_used: int
    peak_buffer_used: int
    max_buffer_size: int
    silent: bool
    silences: int
    last_latency_ms: float | None


@final
class Subscription(trio.abc.ReceiveChannel[T], Generic[T]):
    """The items of one subscription, in arrival order; async-iterable.

    Created by `Client.subscribe`, not instantiated directly. Leaving the `async with` block
    unsubscribes and closes it. If the exchange later rejects the subscription (for example
    when it is re-sent after a reconnect and a contract was delisted), `receive` raises that
    `SubscriptionRejected` once the buffered items are consumed.
    """

    def __init__(self, spec: ChannelSpec[T], *, buffer: int, overflow: OverflowPolicy) -> None:
        self.spec = spec
        self._max = buffer
        self._half = buffer // 2
        self._overflow = overflow
        self._items: collections.deque[T] = collections.deque()
        self._lot = trio.lowlevel.ParkingLot()
        self._closed = False  # by the consumer (aclose)
        self._ended = False  # by the client: no more items will come
        self._failure: GateTrioError | None = None
        self._ready = False
        self._received = 0
        self._dropped = 0
        self._peak = 0
        self._silent = False
        self._silences = 0
        self._last_latency_ms: float | None = None

    # ----------------------------------------------------------- producer side (client, sync)

    def _push(self, item: T) -> bool:
        """Buffer one item without blocking; raises SubscriptionOverflow for the FAIL policy.

        Returns True when the buffer is more than half full: the reader then yields to the
        scheduler before pushing more (`Client._run_reader`), because a consumer takes one item
        per scheduler pass and a reader pushing a batch per pass would overflow it.
        """
        self._received += 1
        self._silent = False
        items = self._items
        policy = self._overflow
        if policy is OverflowPolicy.CONFLATE:
            if items:
                self._dropped += len(items)
                items.clear()
            items.append(item)
            self._peak = max(self._peak, 1)
            self._lot.unpark()
            return False  # only the latest matters: nothing to wait for
        if len(items) >= self._max:
            self._dropped += 1
            if policy is OverflowPolicy.DROP_OLDEST:
                items.popleft()
            elif policy is OverflowPolicy.DROP_NEWEST:
                return True
            else:
                raise SubscriptionOverflow(self.spec.channel, buffer=self._max)
        items.append(item)
        used = len(items)
        self._peak = max(self._peak, used)
        self._lot.unpark()
        return used > self._half

    def _end(self, failure: GateTrioError | None = None) -> None:
        """No more items will come; wake consumers so they see EndOfChannel (or `failure`)."""
        self._ended = True
        if failure is not None and self._failure is None:
            self._failure = failure
        self._lot.unpark_all()

    # ----------------------------------------------------------------------- consumer side

    def receive_nowait(self) -> T:
        """Return the next buffered item, or raise trio.WouldBlock if there is none."""
        if self._closed:
            raise trio.ClosedResourceError
        if self._items:
            return self._items.popleft()
        if self._ended:
            if self._failure is not None:
                raise self._failure
            raise trio.EndOfChannel
        raise trio.WouldBlock

    async def receive(self) -> T:
        """Wait for the next item.

        Cancellation is atomic: either an item is returned or Cancelled is raised and the
        buffer is unchanged.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        try:
            item = self.receive_nowait()
        except trio.WouldBlock:
            pass
        else:
            await trio.lowlevel.cancel_shielded_checkpoint()
            return item
        while True:
            # parking already yielded to the scheduler; like trio's MemoryReceiveChannel, return
            # the item without a second checkpoint (a yield per item is the consumer's main cost)
            await self._lot.park()
            try:
                return self.receive_nowait()
            except trio.WouldBlock:
                continue

    async def aclose(self) -> None:
        """Close the consumer side (idempotent). The subscription itself ends with its block."""
        self._closed = True
        self._items.clear()
        self._lot.unpark_all()
        await trio.lowlevel.checkpoint()

    def statistics(self) -> SubscriptionStatistics:
        return SubscriptionStatistics(
            channel=self.spec.channel,
            ready=self._ready,
            messages_received=self._received,
            messages_dropped=self._dropped,
            buffer_used=len(self._items),
            peak_buffer_used=self._peak,
            max_buffer_size=self._max,
            silent=self._silent,
            silences=self._silences,
            last_latency_ms=self._last_latency_ms,
        )
