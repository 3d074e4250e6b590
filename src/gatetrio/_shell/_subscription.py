"""Subscriptions: bounded receive channels fed synchronously by the client's reader task.

The shape is trio's `_channel.py`: one state object (`_State`) behind two endpoints, the
`Subscription` users receive from and the `SubscriptionFeed` the client pushes into. No other
class touches the state.

The reader never awaits a consumer (STYLE 2.1.3): `SubscriptionFeed.push` is sync, applies the
overflow policy and counts every drop. Why a deque rather than a trio memory channel:
DROP_OLDEST alone could be had from a memory channel (the feed holding a cloned receive end to
pop the oldest), but CONFLATE (replace the whole backlog with the latest item), the half-full
signal that lets the reader yield before a consumer falls behind, and the measured cost of a
memory channel's send/receive pair per item (benchmarks/README.md, "End-to-end") are not.

Waiting consumers park the way trio's memory channels do (`_channel.py`: an OrderedDict of
parked tasks, `wait_task_rescheduled`, an abort that removes the task), not on a `ParkingLot`:
a push then checks a plain dict for a parked consumer, and most pushes under load find none
(the consumer is busy with the previous items). `ParkingLot.unpark()` built a generator and a
list on every push whether or not anyone was parked, and even `bool(lot)` is a Python call: 9 %
of the client's time under a flood (issue 22).
"""

from __future__ import annotations

import collections
import enum
from typing import TYPE_CHECKING, Final, Generic, TypeVar, final

import attrs
import trio

from gatetrio._core._errors import GateTrioError, SubscriptionOverflow, UsageError

if TYPE_CHECKING:
    from collections.abc import Callable

    from gatetrio._core._protocol import SubscriptionStatus
    from gatetrio._core._requests import ChannelSpec

T = TypeVar("T")

DEFAULT_BATCH: Final = 256  # items per `receive_batch` / `batches` at most, unless told
# `async for item in sub` yields to the scheduler at least this often while items are buffered
# (and always when it waits); `receive()` yields on every call (benchmarks/README.md, "The
# per-item consumer").
YIELD_EVERY: Final = 16


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


# The members, read once: on Python 3.11 `OverflowPolicy.X` goes through EnumType.__getattr__
# (~700 instructions a read, callgrind), and `push` runs once per item of a flood.
_CONFLATE: Final = OverflowPolicy.CONFLATE
_DROP_OLDEST: Final = OverflowPolicy.DROP_OLDEST
_DROP_NEWEST: Final = OverflowPolicy.DROP_NEWEST


@final
@attrs.frozen
class SubscriptionStatistics:
    """A snapshot of one subscription's counters, as returned by `Subscription.statistics()`.

    `ready`: acked on the current connection (False while reconnecting). `silent`: no data for
    the client's `silence_timeout`; `silences` counts such spells. `last_latency_ms`: local wall
    clock minus the exchange's `time_ms` of the latest frame, in milliseconds.
    `backlog_seconds`: how long the buffer has held items without the consumer emptying it
    (trio clock; 0.0 when empty). A consumer that keeps up empties it every wake-up, so this
    stays near zero; one that falls behind shows a growing age here before it loses items.
    """

    channel: str
    """The channel name, e.g. ``futures.trades``."""
    ready: bool
    """Acknowledged on the current connection (False while reconnecting)."""
    messages_received: int
    """Items delivered into this subscription's buffer (count)."""
    messages_dropped: int
    """Items dropped by the overflow policy (count)."""
    buffer_used: int
    """Items waiting in the buffer now."""
    peak_buffer_used: int
    """The most items the buffer held at once."""
    max_buffer_size: int
    """The buffer's capacity (`buffer=` of `subscribe`), in items."""
    silent: bool
    """No data for the client's `silence_timeout` (seconds) right now."""
    silences: int
    """Spells of such silence (count)."""
    last_latency_ms: float | None
    """Milliseconds: local wall clock minus the exchange's `time_ms` of the latest frame."""
    backlog_seconds: float = 0.0


def _check_max(max: object) -> None:  # noqa: A002
    if type(max) is not int or max < 1:
        raise UsageError(f"max must be a positive int (items per batch), not {max!r}")


def _no_status() -> SubscriptionStatus | None:
    return None


def _now() -> float:
    try:
        return trio.current_time()
    except RuntimeError:  # pushed outside trio.run (unit tests): the backlog reads as new
        return float("inf")


class _State(Generic[T]):
    __slots__ = (
        "backlog_since",
        "closed",
        "dropped",
        "ended",
        "failure",
        "half",
        "items",
        "max",
        "overflow",
        "parked",
        "peak",
        "received",
        "spec",
        "status",
        "unyielded",
    )

    def __init__(
        self,
        spec: ChannelSpec[T],
        buffer: int,
        overflow: OverflowPolicy,
        status: Callable[[], SubscriptionStatus | None],
    ) -> None:
        self.spec = spec
        self.max = buffer
        self.half = buffer // 2
        self.overflow = overflow
        self.status = status
        self.items: collections.deque[T] = collections.deque()
        # consumers waiting for an item, oldest first (trio's memory channels keep the same)
        self.parked: collections.OrderedDict[trio.lowlevel.Task, None] = collections.OrderedDict()
        self.closed = False  # by the consumer (aclose)
        self.ended = False  # by the client: no more items will come
        self.failure: GateTrioError | None = None
        self.received = 0
        self.dropped = 0
        self.peak = 0
        self.backlog_since = 0.0  # trio time the buffer last went from empty to non-empty
        self.unyielded = 0  # items `async for` took since it last yielded to the scheduler


def _wake_one(state: _State[T]) -> None:
    task, _ = state.parked.popitem(last=False)
    trio.lowlevel.reschedule(task)


def _wake_all(state: _State[T]) -> None:
    parked = state.parked
    while parked:
        task, _ = parked.popitem(last=False)
        trio.lowlevel.reschedule(task)


async def _park(state: _State[T]) -> None:
    """Wait until a push, `end` or `aclose` wakes this task (a yield to the scheduler)."""
    task = trio.lowlevel.current_task()
    parked = state.parked
    parked[task] = None

    def abort(_: object) -> trio.lowlevel.Abort:
        del parked[task]
        return trio.lowlevel.Abort.SUCCEEDED

    await trio.lowlevel.wait_task_rescheduled(abort)


def open_subscription(
    spec: ChannelSpec[T],
    *,
    buffer: int,
    overflow: OverflowPolicy,
    status: Callable[[], SubscriptionStatus | None] = _no_status,
) -> tuple[Subscription[T], SubscriptionFeed[T]]:
    """A subscription's two endpoints over one bounded buffer.

    `status` reports the protocol's view of readiness, silence and latency (the client passes
    `GateProtocol.subscription_status` for its sub_id): the subscription keeps no copy.
    """
    state = _State(spec, buffer, overflow, status)
    return Subscription(state), SubscriptionFeed(state)


@final
class SubscriptionFeed(Generic[T]):
    """The producer end of a subscription: sync, never blocks. Used by the client only."""

    __slots__ = ("_state",)

    def __init__(self, state: _State[T]) -> None:
        self._state = state

    def push(self, item: T, now: float | None = None) -> bool:
        """Buffer one item without blocking; raises SubscriptionOverflow for the FAIL policy.

        `now` is the trio time (the reader passes the one it read for its batch; read here
        only when the buffer was empty and it is not given): it dates the backlog.
        Returns True when the buffer is more than half full: the reader then yields to the
        scheduler before pushing more (`_shell/_reader.py`), because a consumer takes one item
        per scheduler pass and a reader pushing a batch per pass would overflow it.
        """
        state = self._state
        state.received += 1
        if state.closed:  # the consumer closed its end: nothing is buffered for nobody
            state.dropped += 1
            return False
        items = state.items
        if not items:
            state.backlog_since = _now() if now is None else now
        policy = state.overflow
        if policy is _CONFLATE:
            if items:
                state.dropped += len(items)
                items.clear()
            items.append(item)
            state.peak = max(state.peak, 1)
            if state.parked:
                _wake_one(state)
            return False  # only the latest matters: nothing to wait for
        if len(items) >= state.max:
            state.dropped += 1
            if policy is _DROP_OLDEST:
                items.popleft()
            elif policy is _DROP_NEWEST:
                return True
            else:
                raise SubscriptionOverflow(state.spec.channel, buffer=state.max)
        items.append(item)
        used = len(items)
        if used > state.peak:  # noqa: PLR1730 - cheaper than a max() call, per push
            state.peak = used
        if state.parked:  # usually not: a busy consumer is not parked
            _wake_one(state)
        return used > state.half

    def end(self, failure: GateTrioError | None = None) -> None:
        """No more items will come; consumers see EndOfChannel (or `failure`) once drained."""
        state = self._state
        state.ended = True
        if failure is not None and state.failure is None:
            state.failure = failure
        _wake_all(state)

    @property
    def failure(self) -> GateTrioError | None:
        """Why the subscription ended, if it failed."""
        return self._state.failure

    @property
    def dropped(self) -> int:
        """Items dropped so far (overflow policy, or a closed consumer)."""
        return self._state.dropped

    @property
    def peak_buffer_used(self) -> int:
        return self._state.peak

    @property
    def accepting(self) -> bool:
        """False once ended by the client or closed by its consumer: pushes are wasted."""
        state = self._state
        return not (state.ended or state.closed)


@final
class Subscription(trio.abc.ReceiveChannel[T], Generic[T]):
    """The items of one subscription, in arrival order; async-iterable.

    Created by `Client.subscribe`, not instantiated directly. Leaving the `async with` block
    unsubscribes and closes it. If the exchange later rejects the subscription (for example
    when it is re-sent after a reconnect and a contract was delisted), `receive` raises that
    `SubscriptionRejected` (or `SubscribeTimeout`) once the buffered items are consumed.
    """

    __slots__ = ("_state",)

    def __init__(self, state: _State[T]) -> None:
        self._state = state

    @property
    def spec(self) -> ChannelSpec[T]:
        """What was subscribed (from `gatetrio.channels`)."""
        return self._state.spec

    def receive_nowait(self) -> T:
        """Return the next buffered item, or raise trio.WouldBlock if there is none."""
        state = self._state
        if state.closed:
            raise trio.ClosedResourceError
        if state.items:
            return state.items.popleft()
        if state.ended:
            if state.failure is not None:
                raise state.failure
            raise trio.EndOfChannel
        raise trio.WouldBlock

    def receive_batch_nowait(self, max: int = DEFAULT_BATCH) -> list[T]:  # noqa: A002
        """Return up to `max` buffered items, oldest first, or raise trio.WouldBlock if none.

        Raises EndOfChannel (or why the subscription failed) once ended and drained, like
        `receive_nowait`.
        """
        state = self._state
        items = state.items
        if items and not state.closed:
            if len(items) <= max:
                batch = list(items)
                items.clear()
                return batch
            popleft = items.popleft
            return [popleft() for _ in range(max)]
        _check_max(max)
        return [self.receive_nowait()]  # raises: closed, ended or empty

    async def receive_batch(self, max: int = DEFAULT_BATCH) -> list[T]:  # noqa: A002
        """Wait for at least one item, then return every buffered item up to `max`.

        The batch form of `receive`: one scheduler pass per batch instead of one per item, so a
        consumer that falls behind catches up in a few wake-ups. Overflow policies and drop
        counts are the subscription's, unchanged. Cancellation is atomic like `receive`'s:
        either a batch is returned or Cancelled is raised and the buffer is unchanged.

        Raises:
            UsageError: `max` is not a positive int.
        """
        _check_max(max)
        await trio.lowlevel.checkpoint_if_cancelled()
        state = self._state
        if state.items or state.ended or state.closed:  # (no WouldBlock raised and caught)
            batch = self.receive_batch_nowait(max)
            await trio.lowlevel.cancel_shielded_checkpoint()
            return batch
        while True:
            await _park(state)  # a yield already: return without a second checkpoint
            if state.items or state.ended or state.closed:
                return self.receive_batch_nowait(max)

    def batches(self, max: int = DEFAULT_BATCH) -> Batches[T]:  # noqa: A002
        """`async for batch in sub.batches():` each non-empty batch of `receive_batch(max)`.

        Ends when the subscription ends (or raises why it failed), like `async for item in sub`.
        An iterator object, not an async generator: leaving the loop early needs no cleanup.

        Raises:
            UsageError: `max` is not a positive int.
        """
        _check_max(max)
        return Batches(self, max)

    async def receive(self) -> T:
        """Wait for the next item.

        Cancellation is atomic: either an item is returned or Cancelled is raised and the
        buffer is unchanged.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        state = self._state
        if state.items or state.ended or state.closed:  # (no WouldBlock raised and caught)
            item = self.receive_nowait()
            await trio.lowlevel.cancel_shielded_checkpoint()
            return item
        while True:
            # parking already yielded to the scheduler; like trio's MemoryReceiveChannel, return
            # the item without a second checkpoint (a yield per item is the consumer's main cost)
            await _park(state)
            if state.items or state.ended or state.closed:
                return self.receive_nowait()

    async def __anext__(self) -> T:
        """`async for item in sub`: like `receive()`, with fewer scheduler round trips.

        Every item is a cancellation point (cancellation stays atomic: an item is returned or
        Cancelled is raised with the buffer unchanged). While items are already buffered, only
        every YIELD_EVERY-th one also yields to the scheduler: a yield per item was the per-item
        consumer's largest cost, and the reader, which refills the buffer, runs at the next
        yield anyway. A loop body that awaits anything yields there too.
        """
        state = self._state
        if state.items and state.unyielded < YIELD_EVERY and not state.closed:
            await trio.lowlevel.checkpoint_if_cancelled()  # no yield unless cancelled
            if state.items and not state.closed:  # (checked again: cancellation may yield)
                state.unyielded += 1
                return state.items.popleft()
        state.unyielded = 0
        try:
            return await self.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        """Close the consumer side (idempotent): buffered items are dropped and nothing more is
        buffered. The subscription itself ends with its `async with` block.
        """
        state = self._state
        state.closed = True
        state.dropped += len(state.items)  # every drop counted: nobody will read these
        state.items.clear()
        _wake_all(state)
        await trio.lowlevel.checkpoint()

    def statistics(self) -> SubscriptionStatistics:
        state = self._state
        status = state.status()
        return SubscriptionStatistics(
            channel=state.spec.channel,
            ready=status is not None and status.ready,
            messages_received=state.received,
            messages_dropped=state.dropped,
            buffer_used=len(state.items),
            peak_buffer_used=state.peak,
            max_buffer_size=state.max,
            silent=status is not None and status.silent,
            silences=0 if status is None else status.silences,
            last_latency_ms=None if status is None else status.last_latency_ms,
            backlog_seconds=max(0.0, _now() - state.backlog_since) if state.items else 0.0,
        )


@final
class Batches(Generic[T]):
    """What `Subscription.batches()` returns: an async iterator of non-empty lists of items."""

    __slots__ = ("_max", "_sub")

    def __init__(self, sub: Subscription[T], max: int) -> None:  # noqa: A002
        self._sub = sub
        self._max = max

    def __aiter__(self) -> Batches[T]:
        return self

    async def __anext__(self) -> list[T]:
        try:
            return await self._sub.receive_batch(self._max)
        except trio.EndOfChannel:
            raise StopAsyncIteration from None
