"""`open_publisher`: a collector that publishes a gatetrio `Client`'s feeds into JetStream.

    async with gatetrio.open_client() as client:
        async with gatetrio.nats.open_publisher(client, "nats://127.0.0.1:4222") as publisher:
            await publisher.add(gatetrio.channels.trades("BTC_USDT"))
            await publisher.add_book("BTC_USDT")
            await trio.sleep_forever()

The exchange side never waits on NATS. Each `add` runs a task that drains its gatetrio
subscription into one bounded publish buffer; a pump task moves the buffer to NATS in ordered
batches on the asyncio thread (`_bridge.py`). When NATS is slow or down the buffer fills and
`policy` decides: `DROP_OLDEST` (the default: keep collecting, count every message dropped),
`BLOCK` (the feeding tasks wait; the client's own bounded subscriptions then drop, counted in
`client.statistics()`), or `FAIL` (raise `PublishBufferFull` out of the `async with`).

A publish that is not acknowledged is retried with the same `Nats-Msg-Id`, so a retry of a
message that did reach the stream is deduplicated: at least once into JetStream, and the
duplicate window makes it once. NATS down at start is not an error: the publisher keeps
connecting (with backoff) and the buffer policy applies meanwhile.
"""

from __future__ import annotations

import collections
import contextlib
import enum
import functools
import logging
import random
from typing import TYPE_CHECKING, Final, final
from urllib.parse import urlsplit

import attrs
import trio

from gatetrio import channels
from gatetrio._core._backoff import Backoff
from gatetrio._core._book import ObuStatus, ObuSync
from gatetrio._core._errors import UsageError
from gatetrio._core._events import ObuDelta, ObuLevel
from gatetrio._core._requests import check_contract
from gatetrio._shell._excgroups import open_host_nursery

from ._bridge import NatsLink, NatsOptions, nats_options, open_asyncio_thread
from ._errors import NatsError, PublishBufferFull
from ._wire import (
    DEFAULT_PREFIX,
    StreamSettings,
    book_subject,
    check_prefix,
    check_settle,
    envelope,
    snapshot_envelope,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Sequence

    from gatetrio._core._book import OrderBook
    from gatetrio._core._requests import ChannelSpec
    from gatetrio._shell._client import Client

    from ._bridge import AsyncioThread
    from ._wire import BusItem, Envelope

log: Final = logging.getLogger("gatetrio.nats")

DEFAULT_BUFFER: Final = 100_000
MAX_BATCH: Final = 512
MAX_IN_FLIGHT: Final = 4  # batches awaiting acks; 4 x 512 stays under nats-py's 4000 pending
ACK_TIMEOUT: Final = 2.0  # seconds for JetStream to acknowledge a batch's messages
SUBSCRIPTION_BUFFER: Final = 8192
EVENT_BUFFER: Final = 256


class BufferPolicy(enum.Enum):
    """What a full publish buffer does (see the module doc)."""

    DROP_OLDEST = "drop_oldest"
    BLOCK = "block"
    FAIL = "fail"


class PublisherEventKind(enum.Enum):
    NATS_CONNECTED = "nats_connected"
    NATS_DISCONNECTED = "nats_disconnected"
    NATS_UNAVAILABLE = "nats_unavailable"
    """A connection attempt failed; the publisher keeps trying."""
    PUBLISH_FAILED = "publish_failed"
    """A batch was not (fully) acknowledged; it is retried."""
    BUFFER_FULL = "buffer_full"
    """The buffer filled: from now on the policy drops or blocks."""
    BUFFER_RECOVERED = "buffer_recovered"
    """The buffer drained below half after being full."""


@final
@attrs.frozen
class PublisherEvent:
    kind: PublisherEventKind
    detail: str
    time: float  # trio.current_time()


@final
@attrs.frozen
class PublisherStatistics:
    """Exact counters; every message enqueued ends as published, duplicate, dropped or buffered."""

    enqueued: int
    published: int
    """Acknowledged as new by JetStream."""
    duplicates: int
    """Acknowledged as a duplicate (another collector, or a retry, wrote it first)."""
    dropped: int
    """Removed from a full buffer (DROP_OLDEST): never published by this collector."""
    buffered: int
    """Waiting or in flight now."""
    peak_buffered: int
    publish_failures: int
    """Publish attempts not acknowledged (each message is retried until it is)."""
    connected: bool
    disconnects: int
    connect_failures: int
    snapshots: int
    """Book snapshots enqueued."""
    events_dropped: int


@final
class Publisher:
    """Created by `open_publisher`; see the module doc."""

    def __init__(
        self,
        client: Client,
        *,
        thread: AsyncioThread,
        options: NatsOptions,
        nursery: trio.Nursery,
        settle: str,
        prefix: str,
        stream: StreamSettings,
        buffer: int,
        policy: BufferPolicy,
        ack_timeout: float,
    ) -> None:
        self.client: Final = client
        self.settle: Final = settle
        self.prefix: Final = prefix
        self.stream: Final = stream
        self.capacity: Final = buffer
        self.policy: Final = policy
        self._thread = thread
        self._link = NatsLink(options, on_state=self._on_state)
        self._token = trio.lowlevel.current_trio_token()
        self._nursery = nursery
        self._ack_timeout = ack_timeout
        self._queue: collections.deque[Envelope] = collections.deque()
        self._in_flight = 0  # messages handed to the bridge, not yet acked or failed
        self._batches_in_flight = 0
        self._retry_at = 0.0  # after a failed batch: no new batch before this (backoff)
        self._changed = trio.Event()
        self._connected = False
        self._stream_ready = False
        self._full = False
        self._watchers: list[trio.MemorySendChannel[PublisherEvent]] = []
        self._counts = dict.fromkeys(
            (
                "enqueued",
                "published",
                "duplicates",
                "dropped",
                "peak_buffered",
                "publish_failures",
                "disconnects",
                "connect_failures",
                "snapshots",
                "events_dropped",
            ),
            0,
        )
        self._rng = random.Random()
        self._backoff = Backoff(initial=0.05, maximum=2.0, jitter=0.05, rng=self._rng)

    # --------------------------------------------------------------------------- public API

    def statistics(self) -> PublisherStatistics:
        return PublisherStatistics(
            buffered=len(self._queue) + self._in_flight, connected=self._connected, **self._counts
        )

    async def wait_statistics(
        self, condition: Callable[[PublisherStatistics], bool]
    ) -> PublisherStatistics:
        """Wait until `condition(statistics)` holds; return the statistics it held for.

        Checked whenever a count or the connection changes (a message enqueued, dropped,
        published or retried; a snapshot; a connect or disconnect), so a monitor or a test
        waits instead of polling. It waits as long as it takes: bound it with a deadline.
        """
        await trio.lowlevel.checkpoint()
        while not condition(stats := self.statistics()):
            await self._changed.wait()
        return stats

    @contextlib.asynccontextmanager
    async def events(self) -> AsyncIterator[trio.MemoryReceiveChannel[PublisherEvent]]:
        """Publisher events (bounded: a slow reader loses the oldest... newest, counted)."""
        send, recv = trio.open_memory_channel[PublisherEvent](EVENT_BUFFER)
        self._watchers.append(send)
        try:
            with recv:
                yield recv
        finally:
            self._watchers.remove(send)
            send.close()

    async def add(self, spec: ChannelSpec[object]) -> None:
        """Publish every item of `spec` (a public channel) until the publisher closes.

        Returns once the exchange acknowledged the subscription; raises what `subscribe`
        raises (`SubscriptionRejected`, ...).
        """
        await self._nursery.start(self._forward, spec)

    async def add_book(
        self, contract: str, *, level: int = 50, snapshot_every: float = 5.0
    ) -> None:
        """Publish `contract`'s obu deltas and a full snapshot every `snapshot_every` seconds.

        Consumers build an exact book from them with `gatetrio.nats.open_order_book`. obu is
        Gate's USDT-perpetual book stream (spec 6.6); other settles are not supported here.
        """
        check_contract(contract)
        if self.settle != "usdt":
            raise UsageError(
                f"books over the bus use futures.obu, USDT perpetuals only, not {self.settle}"
            )
        if not snapshot_every > 0:
            raise UsageError(f"snapshot_every must be seconds > 0, got {snapshot_every!r}")
        await self._nursery.start(self._forward_book, contract, level, snapshot_every)

    # ------------------------------------------------------------------------------ buffer

    def _emit(self, kind: PublisherEventKind, detail: str) -> None:
        event = PublisherEvent(kind, detail, trio.current_time())
        for watcher in self._watchers:
            try:
                watcher.send_nowait(event)
            except trio.WouldBlock:
                self._counts["events_dropped"] += 1

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    def _size(self) -> int:
        return len(self._queue) + self._in_flight

    def _mark_full(self) -> None:
        if not self._full:
            self._full = True
            log.warning(
                "NATS publish buffer full (%d messages): policy %s",
                self.capacity,
                self.policy.value,
            )
            self._emit(PublisherEventKind.BUFFER_FULL, f"{self.capacity} messages")

    async def put(self, env: Envelope) -> None:
        """Enqueue one message, applying the buffer policy."""
        while self._size() >= self.capacity:
            self._mark_full()
            if self.policy is BufferPolicy.FAIL:
                raise PublishBufferFull(self.capacity)
            if self.policy is BufferPolicy.DROP_OLDEST:
                if self._queue:
                    self._queue.popleft()
                    self._counts["dropped"] += 1
                else:  # everything is in flight: the new message is the one that cannot fit
                    self._counts["dropped"] += 1
                    self._counts["enqueued"] += 1
                    self._notify()
                    return
                break
            await self._changed.wait()  # BLOCK: until the pump frees room
        self._queue.append(env)
        self._counts["enqueued"] += 1
        size = self._size()
        self._counts["peak_buffered"] = max(self._counts["peak_buffered"], size)
        self._notify()

    # ----------------------------------------------------------------------------- feeding

    async def _forward(
        self, spec: ChannelSpec[BusItem], *, task_status: trio.TaskStatus[None]
    ) -> None:
        settle, prefix = self.settle, self.prefix
        async with self.client.subscribe(spec, buffer=SUBSCRIPTION_BUFFER) as sub:
            task_status.started()
            async for item in sub:
                await self.put(envelope(item, settle=settle, prefix=prefix))

    async def _forward_book(
        self, contract: str, level: int, every: float, *, task_status: trio.TaskStatus[None]
    ) -> None:
        settle, prefix = self.settle, self.prefix
        spec = channels.obu(contract, level=level)
        delta_subject = book_subject(contract, str(level), settle=settle, prefix=prefix)
        sync = ObuSync(contract)  # our own copy, to snapshot; the consumers' sync is their own
        started = False
        while True:
            async with self.client.subscribe(spec, buffer=SUBSCRIPTION_BUFFER) as sub:
                if not started:
                    task_status.started()
                    started = True
                next_snapshot = trio.current_time()
                async for delta in sub:
                    await self.put(envelope(delta, settle=settle, prefix=prefix))
                    status = sync.feed(delta)
                    if status.needs_resync:
                        log.info("book %s resubscribing: %s", contract, sync.last_resync)
                        break
                    if status is ObuStatus.APPLIED and trio.current_time() >= next_snapshot:
                        snapshot = _full_push(sync.book, delta.s)
                        await self.put(snapshot_envelope(snapshot, delta_subject))
                        self._counts["snapshots"] += 1
                        self._notify()
                        next_snapshot = trio.current_time() + every
            sync.reset()

    # -------------------------------------------------------------------------------- pump

    def _on_state(self, state: str, detail: str) -> None:
        # called on the asyncio thread by nats-py's callbacks
        with contextlib.suppress(trio.RunFinishedError):
            if state == "error":
                self._token.run_sync_soon(self._connect_failed, detail)
            else:
                self._token.run_sync_soon(self._set_connected, state == "connected", detail)

    def _connect_failed(self, detail: str) -> None:
        if self._connected:
            return  # an error on a live connection; a disconnect, if any, is reported as one
        self._counts["connect_failures"] += 1
        if self._counts["connect_failures"] % 20 == 1:  # not a line per retry
            log.warning("NATS unavailable (%s); collecting into the buffer", detail)
        self._emit(PublisherEventKind.NATS_UNAVAILABLE, detail)
        self._notify()

    def _set_connected(self, connected: bool, detail: str) -> None:
        if connected == self._connected:
            return
        self._connected = connected
        if connected:
            log.info("NATS %s", detail)
            self._emit(PublisherEventKind.NATS_CONNECTED, detail)
        else:
            self._counts["disconnects"] += 1
            log.warning("NATS disconnected; buffering (%d queued)", self._size())
            self._emit(PublisherEventKind.NATS_DISCONNECTED, detail)
        self._notify()

    async def _connect(self) -> None:
        backoff = Backoff(initial=0.1, maximum=2.0, jitter=0.1, rng=self._rng)
        while True:
            try:
                await self._thread.run(self._link.connect)
                await self._thread.run(lambda: self._link.ensure_stream(self.stream))
            except NatsError as exc:  # e.g. the stream could not be set up yet (no JS leader)
                self._connect_failed(str(exc))
                await self._thread.run(self._link.close)
                await trio.sleep(backoff.next_delay())
                continue
            self._stream_ready = True
            self._notify()
            return

    async def run_pump(self, *, task_status: trio.TaskStatus[None]) -> None:
        """Send batches while earlier ones wait for their acks (at most MAX_IN_FLIGHT)."""
        task_status.started()
        await self._connect()
        queue = self._queue
        async with trio.open_nursery() as nursery:
            while True:
                while (
                    not queue
                    or not self._connected
                    or self._batches_in_flight >= MAX_IN_FLIGHT
                    or trio.current_time() < self._retry_at
                ):
                    if self._retry_at > trio.current_time():
                        with trio.move_on_at(self._retry_at):
                            await self._changed.wait()
                    else:
                        await self._changed.wait()
                batch = [queue.popleft() for _ in range(min(MAX_BATCH, len(queue)))]
                self._in_flight += len(batch)
                self._batches_in_flight += 1
                nursery.start_soon(self._publish, batch)

    async def _publish(self, batch: list[Envelope]) -> None:
        try:
            outcomes = await self._thread.run(
                functools.partial(self._link.publish_batch, batch, ack_wait=self._ack_timeout)
            )
        finally:
            self._in_flight -= len(batch)
            self._batches_in_flight -= 1
        failed = [env for env, out in zip(batch, outcomes, strict=True) if not out.ok]
        for out in outcomes:
            if out.ok:
                self._counts["duplicates" if out.duplicate else "published"] += 1
        if failed:
            # back at the front, in order: the same ids, so a copy that did land dedupes. With
            # batches pipelined, a later batch may have landed first: the stream order of a
            # retried message can differ from the feed's (ids, and so dedup, are unaffected).
            self._queue.extendleft(reversed(failed))
            self._counts["publish_failures"] += len(failed)
            error = next(out.error for out in outcomes if not out.ok)
            self._emit(PublisherEventKind.PUBLISH_FAILED, f"{len(failed)} unacked: {error}")
            log.warning(
                "NATS publish: %d of %d not acknowledged; retrying", len(failed), len(batch)
            )
            self._retry_at = trio.current_time() + self._backoff.next_delay()
            self._notify()
            return
        self._backoff.reset()
        if self._full and self._size() <= self.capacity // 2:
            self._full = False
            log.info("NATS publish buffer recovered (%d dropped so far)", self._counts["dropped"])
            self._emit(PublisherEventKind.BUFFER_RECOVERED, f"{self._counts['dropped']} dropped")
        self._notify()

    async def wait_ready(self) -> None:
        """Return once connected to NATS with the stream set up."""
        while not (self._stream_ready and self._connected):
            await self._changed.wait()
        await trio.lowlevel.checkpoint()

    async def close_link(self) -> None:
        await self._thread.run(self._link.close)

    async def flush(self) -> None:
        """Wait until everything enqueued so far is acknowledged (or dropped)."""
        while self._size():
            await self._changed.wait()


def _full_push(book: OrderBook, stream: str) -> ObuDelta:
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


def settle_of(url: str) -> str:
    """`usdt` from ``wss://fx-ws.gateio.ws/v4/ws/usdt`` (the last path segment)."""
    segment = urlsplit(url).path.rstrip("/").rpartition("/")[2]
    return check_settle(segment)


@contextlib.asynccontextmanager
async def open_publisher(
    client: Client,
    nats: NatsOptions | str | Sequence[str],
    *,
    stream: StreamSettings | None = None,
    prefix: str = DEFAULT_PREFIX,
    settle: str | None = None,
    buffer: int = DEFAULT_BUFFER,
    policy: BufferPolicy = BufferPolicy.DROP_OLDEST,
    ack_timeout: float = ACK_TIMEOUT,
) -> AsyncIterator[Publisher]:
    """Publish `client`'s feeds into JetStream for the block (see the module doc).

    Args:
        nats: a URL, a comma-separated list or list of URLs (a cluster), or `NatsOptions`
            (credentials, TLS).
        stream: the stream to create or update; default `StreamSettings.for_prefix(prefix)`.
        settle: the subjects' settle token; default from the client's URL.
        buffer: the bounded publish buffer's size, in messages.
        policy: what the buffer does when full (`BufferPolicy`).

    Leaving the block stops publishing; what is still buffered is not waited for (call
    `await publisher.flush()` first for that).
    """
    options = nats_options(nats)
    check_prefix(prefix)
    settle = settle_of(client.config.url) if settle is None else check_settle(settle)
    stream = StreamSettings.for_prefix(prefix) if stream is None else stream
    if isinstance(buffer, bool) or not isinstance(buffer, int) or buffer < 1:
        raise UsageError(f"buffer must be a positive int of messages, got {buffer!r}")
    if not isinstance(policy, BufferPolicy):
        raise UsageError(f"policy must be a BufferPolicy, got {policy!r}")
    async with (
        open_asyncio_thread() as thread,
        open_host_nursery("publisher closed") as nursery,
    ):
        publisher = Publisher(
            client,
            thread=thread,
            options=options,
            nursery=nursery,
            settle=settle,
            prefix=prefix,
            stream=stream,
            buffer=buffer,
            policy=policy,
            ack_timeout=ack_timeout,
        )
        try:
            await nursery.start(publisher.run_pump)
            yield publisher
        finally:
            # the pump and its publishes first: closing the link under them fails their calls
            nursery.cancel_scope.cancel(reason="publisher closed")
            with trio.CancelScope(shield=True):
                await publisher.close_link()
