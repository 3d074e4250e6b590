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

The stream is the operator's: an existing one is used as it is (what differs from `stream` is
reported, `stream_report`) and changed only with `update_stream=True`. Its duplicate window is
what makes redundant collectors safe, and it is finite: an event older than the window when
it is sent (a collector that stalled, a buffer drained after an outage) may be a copy the
stream can no longer recognise. Each one is counted (`beyond_window`) and reported, and
`beyond_window="drop"` drops them instead; the consumers' re-sequencing drops the copies they
recognise.

What goes into the buffer, and with which predecessor (`Gatetrio-Prev`, for the consumers'
order), is `_feeds`'. The block's tasks live in its nursery: once the block is left, every
method but `statistics()` raises `UsageError` (nothing can be added, flushed or waited for).
"""

from __future__ import annotations

import collections
import contextlib
import enum
import functools
import logging
import random
import time
from concurrent.futures import CancelledError, Future
from typing import TYPE_CHECKING, Final, Literal, final
from urllib.parse import urlsplit

import attrs
import trio

from gatetrio import channels
from gatetrio._core._backoff import Backoff
from gatetrio._core._catalog import OBU_LEVEL
from gatetrio._core._errors import UsageError
from gatetrio._core._requests import check_contract
from gatetrio._shell._excgroups import open_host_nursery

from ._bridge import NatsLink, NatsOptions, PublishOutcome, nats_options, open_asyncio_thread
from ._errors import NatsError, PublishBufferFull, StreamMismatch
from ._feeds import GapWatch, forward, forward_book
from ._wire import DEFAULT_PREFIX, StreamReport, StreamSettings, check_prefix, check_settle

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Sequence

    from gatetrio._core._requests import ChannelSpec
    from gatetrio._shell._client import Client, ClientEvent
    from gatetrio._shell._subscription import Subscription

    from ._bridge import AsyncioThread
    from ._wire import Envelope

log: Final = logging.getLogger("gatetrio.nats")

DEFAULT_BUFFER: Final = 100_000
MAX_BATCH: Final = 512
MAX_IN_FLIGHT: Final = 2048  # messages sent and awaiting their acks
ACK_TIMEOUT: Final = 2.0  # seconds for JetStream to acknowledge a batch's messages
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
    STREAM_MISMATCH = "stream_mismatch"
    """The stream exists with other settings; it is used as it is (detail: what differs)."""
    BEYOND_WINDOW = "beyond_window"
    """Events older than the stream's duplicate window were sent (or dropped, by policy)."""


@final
@attrs.frozen
class PublisherEvent:
    kind: PublisherEventKind
    detail: str
    time: float  # trio.current_time()


@final
@attrs.frozen
class PublisherStatistics:
    """Exact counters: every message enqueued ends as published, duplicates, dropped,
    beyond_window_dropped or buffered."""

    enqueued: int
    published: int
    """Acknowledged as new by JetStream."""
    duplicates: int
    """Acknowledged as a duplicate (another collector, or a retry, wrote it first)."""
    dropped: int
    """Removed from a full buffer (DROP_OLDEST): never published by this collector."""
    buffered: int
    """Waiting or in flight now (after the block: left unacknowledged when it closed)."""
    peak_buffered: int
    publish_failures: int
    """Publish attempts not acknowledged (each message is retried until it is)."""
    connected: bool
    disconnects: int
    connect_failures: int
    snapshots: int
    """Book snapshots enqueued."""
    events_dropped: int
    beyond_window: int = 0
    """Of `published`: events older than the stream's duplicate window when sent (a copy of
    one another collector published first is stored twice; consumers drop it)."""
    beyond_window_dropped: int = 0
    """Events older than the duplicate window dropped unsent (`beyond_window="drop"`)."""
    chain_breaks: int = 0
    """Times this collector could not vouch for what came before an event (a reconnect,
    items its subscription dropped): the next events went without a predecessor."""


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
        update_stream: bool = False,
        beyond_window: Literal["publish", "drop"] = "publish",
        wall_clock: Callable[[], float] = time.time,
        client_events: Subscription[ClientEvent] | None = None,
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
        self._update_stream = update_stream
        self._drop_beyond = beyond_window == "drop"
        self._wall_clock = wall_clock
        self.stream_report: StreamReport | None = None
        """What `wait_ready` found: the stream created, or as it is and how it differs."""
        self._window_ms = stream.duplicate_window * 1000.0
        self._watch = GapWatch(client_events)
        self._closed = False
        self._queue: collections.deque[Envelope] = collections.deque()
        self._in_flight = 0  # messages handed to the bridge, not yet acked or failed
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
                "beyond_window",
                "beyond_window_dropped",
                "chain_breaks",
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
        After the block (the counts no longer change) it raises `UsageError`.
        """
        self._check_open("wait_statistics")
        await trio.lowlevel.checkpoint()
        while not condition(stats := self.statistics()):
            await self._changed.wait()
            self._check_open("wait_statistics")
        return stats

    @contextlib.asynccontextmanager
    async def events(self) -> AsyncIterator[trio.MemoryReceiveChannel[PublisherEvent]]:
        """Publisher events (bounded: a slow reader misses the newest, counted in
        `events_dropped`). The channel ends when the publisher's block does."""
        self._check_open("events")
        send, recv = trio.open_memory_channel[PublisherEvent](EVENT_BUFFER)
        self._watchers.append(send)
        try:
            with recv:
                yield recv
        finally:
            with contextlib.suppress(ValueError):  # already ended by `close`
                self._watchers.remove(send)
            send.close()

    async def add(self, spec: ChannelSpec[object]) -> None:
        """Publish every item of `spec` (a public channel) until the publisher closes.

        Returns once the exchange acknowledged the subscription; raises what `subscribe`
        raises (`SubscriptionRejected`, ...), and `UsageError` after the block.
        """
        self._check_open("add")
        await self._nursery.start(forward, self, spec, self._watch)

    async def add_book(
        self, contract: str, *, level: int = int(OBU_LEVEL), snapshot_every: float = 5.0
    ) -> None:
        """Publish `contract`'s obu deltas and a full snapshot every `snapshot_every` seconds.

        Consumers build an exact book from them with `gatetrio.nats.open_order_book`. obu is
        Gate's USDT-perpetual book stream (spec 6.6); other settles are not supported here.
        """
        self._check_open("add_book")
        check_contract(contract)
        if self.settle != "usdt":
            raise UsageError(
                f"books over the bus use futures.obu, USDT perpetuals only, not {self.settle}"
            )
        channels.obu(contract, level=level)  # a level Gate does not offer raises here
        if isinstance(snapshot_every, bool) or not snapshot_every > 0:
            raise UsageError(f"snapshot_every must be seconds > 0, got {snapshot_every!r}")
        await self._nursery.start(forward_book, self, contract, level, snapshot_every)

    def _check_open(self, what: str) -> None:
        if self._closed:
            raise UsageError(
                f"publisher.{what}() after its block: this publisher is closed; open a new "
                "one with gatetrio.nats.open_publisher()"
            )

    def mark_closed(self) -> None:
        """`open_publisher`'s block is over: end the event channels; from now on every method
        but `statistics()` raises `UsageError`."""
        self._closed = True
        self._connected = False  # the link closes next (not a disconnect: not counted)
        watchers, self._watchers = self._watchers, []
        for watcher in watchers:
            watcher.close()
        self._notify()

    def note_chain_break(self) -> None:
        """A feed could not vouch for what came before its next events (`_feeds`)."""
        self._counts["chain_breaks"] += 1

    def note_snapshot(self) -> None:
        """A feed enqueued a book snapshot."""
        self._counts["snapshots"] += 1
        self._notify()

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
        if self._closed:
            # One of our own feeds, woken with an item just as the block ended, is cancelled
            # here (it runs in the block's cancelled nursery); anyone else gets the error.
            await trio.lowlevel.checkpoint()
            self._check_open("put")
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
            self._check_open("put")
        self._queue.append(env)
        self._counts["enqueued"] += 1
        size = self._size()
        self._counts["peak_buffered"] = max(self._counts["peak_buffered"], size)
        self._notify()

    # -------------------------------------------------------------------------------- pump

    def _on_state(self, state: str, detail: str) -> None:
        # called on the asyncio thread by nats-py's callbacks
        with contextlib.suppress(trio.RunFinishedError):
            if state == "error":
                self._token.run_sync_soon(self._connect_failed, detail)
            else:
                self._token.run_sync_soon(self._set_connected, state == "connected", detail)

    def _connect_failed(self, detail: str) -> None:
        if self._connected or self._closed:
            return  # an error on a live connection; a disconnect, if any, is reported as one
        self._counts["connect_failures"] += 1
        if self._counts["connect_failures"] % 20 == 1:  # not a line per retry
            log.warning("NATS unavailable (%s); collecting into the buffer", detail)
        self._emit(PublisherEventKind.NATS_UNAVAILABLE, detail)
        self._notify()

    def _set_connected(self, connected: bool, detail: str) -> None:
        if connected == self._connected or self._closed:
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
        takes = f"{self.prefix}.{self.settle}.>"
        while True:
            try:
                await self._thread.run(self._link.connect)
                report = await self._thread.run(
                    functools.partial(
                        self._link.ensure_stream,
                        self.stream,
                        takes=takes,
                        update=self._update_stream,
                    )
                )
            except StreamMismatch:
                raise  # the operator's stream cannot take what we publish: say so, stop
            except NatsError as exc:  # e.g. the stream could not be set up yet (no JS leader)
                self._connect_failed(str(exc))
                await self._thread.run(self._link.close)
                await trio.sleep(backoff.next_delay())
                continue
            self._take_report(report)
            self._stream_ready = True
            self._notify()
            return

    def _take_report(self, report: StreamReport) -> None:
        self.stream_report = report
        self._window_ms = report.duplicate_window * 1000.0
        if report.differences:
            what = "; ".join(report.differences)
            if report.updated:
                log.warning("NATS stream %s updated as asked: %s", self.stream.name, what)
            else:
                log.warning(
                    "NATS stream %s exists with other settings, used as it is: %s "
                    "(update_stream=True changes it)",
                    self.stream.name,
                    what,
                )
            self._emit(PublisherEventKind.STREAM_MISMATCH, what)

    async def run_pump(self, *, task_status: trio.TaskStatus[None]) -> None:
        """Hand batches to the asyncio thread as they come, never waiting for acks.

        A batch is whatever is queued when the pump wakes (at most MAX_BATCH): one message
        when the feed is quiet, so nothing waits for company. Its acks come back as a call
        (`_published`), not to a task waiting here: sending is held back only by
        MAX_IN_FLIGHT messages awaiting acks, a retry's backoff, or NATS being down.
        (Measured: waiting for each batch's acks, with four batches in flight, added 3 ms p50
        and 30 ms p99 at 5 000 events/s; benchmarks/README.md, "NATS latency".)
        """
        task_status.started()
        await self._connect()
        queue = self._queue
        while True:
            while (
                not queue
                or not self._connected
                or self._in_flight >= MAX_IN_FLIGHT
                or trio.current_time() < self._retry_at
            ):
                if self._retry_at > trio.current_time():
                    with trio.move_on_at(self._retry_at):
                        await self._changed.wait()
                else:
                    await self._changed.wait()
            size = min(MAX_BATCH, len(queue), MAX_IN_FLIGHT - self._in_flight)
            batch = [queue.popleft() for _ in range(size)]
            if self._drop_beyond:
                batch = self._drop_old(batch)
            if batch:
                self._in_flight += len(batch)
                self._thread.submit(
                    functools.partial(self._link.publish_batch, batch, ack_wait=self._ack_timeout),
                    functools.partial(self._published, batch),
                )
            else:
                self._notify()
            await trio.lowlevel.checkpoint()

    def _stale(self, env: Envelope, now_ms: float) -> bool:
        return env.time_ms > 0 and now_ms - env.time_ms > self._window_ms

    def _drop_old(self, batch: list[Envelope]) -> list[Envelope]:
        now_ms = self._wall_clock() * 1000.0
        keep = [env for env in batch if not self._stale(env, now_ms)]
        if len(keep) != len(batch):
            dropped = len(batch) - len(keep)
            self._counts["beyond_window_dropped"] += dropped
            self._beyond_window(dropped, "dropped")
        return keep

    def _beyond_window(self, count: int, what: str) -> None:
        total = self._counts["beyond_window"] + self._counts["beyond_window_dropped"]
        if total == count or total // 1000 != (total - count) // 1000:  # not a line each
            log.warning(
                "NATS publish: %d events older than the stream's duplicate window (%gs) %s; "
                "%d so far",
                count,
                self._window_ms / 1000,
                what,
                total,
            )
        self._emit(PublisherEventKind.BEYOND_WINDOW, f"{count} {what}")

    def _published(self, batch: list[Envelope], future: Future[list[PublishOutcome]]) -> None:
        """A batch's acks are in (on the trio thread): count, retry what failed."""
        self._in_flight -= len(batch)
        try:
            outcomes = future.result()
        except BaseException as exc:  # noqa: BLE001 - closing, or the link failed: all unacked
            error = "publisher closed" if isinstance(exc, CancelledError) else str(exc)
            outcomes = [PublishOutcome(ok=False, error=error)] * len(batch)
            if isinstance(exc, CancelledError):
                # Closing with the batch unacknowledged: it is still ours, and counted as
                # buffered, so every message enqueued is accounted for after the block.
                self._queue.extendleft(reversed(batch))
                self._notify()
                return
        failed = [env for env, out in zip(batch, outcomes, strict=True) if not out.ok]
        stored_ms = self._wall_clock() * 1000.0  # the ack came just after the store
        stale = 0
        for env, out in zip(batch, outcomes, strict=True):
            if out.ok:
                self._counts["duplicates" if out.duplicate else "published"] += 1
                if not out.duplicate and self._stale(env, stored_ms):
                    stale += 1
        if stale:
            self._counts["beyond_window"] += stale
            self._beyond_window(stale, "stored")
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
        """Return once connected to NATS with the stream set up (`UsageError` after the
        block)."""
        self._check_open("wait_ready")
        await trio.lowlevel.checkpoint()
        while not (self._stream_ready and self._connected):
            await self._changed.wait()
            self._check_open("wait_ready")

    async def close_link(self) -> None:
        await self._thread.run(self._link.close)

    async def flush(self) -> None:
        """Wait until everything enqueued so far is acknowledged (or dropped).

        After the block nothing is sent any more: it raises `UsageError` (what was left is
        `statistics().buffered`).
        """
        self._check_open("flush")
        await trio.lowlevel.checkpoint()
        while self._size():
            await self._changed.wait()
            self._check_open("flush")


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
    update_stream: bool = False,
    beyond_window: Literal["publish", "drop"] = "publish",
    wall_clock: Callable[[], float] = time.time,
) -> AsyncIterator[Publisher]:
    """Publish `client`'s feeds into JetStream for the block (see the module doc).

    Args:
        nats: a URL, a comma-separated list or list of URLs (a cluster), or `NatsOptions`
            (credentials, TLS).
        stream: the stream to create if missing; default `StreamSettings.for_prefix(prefix)`.
            An existing stream is used as it is (`publisher.stream_report` says what
            differs; `StreamMismatch` if it does not take the subjects to publish).
        update_stream: change an existing stream to `stream`'s settings (its subjects are
            added to the stream's own, never removed).
        settle: the subjects' settle token; default from the client's URL.
        buffer: the bounded publish buffer's size, in messages.
        policy: what the buffer does when full (`BufferPolicy`).
        beyond_window: "publish" (default) or "drop" events older than the stream's
            duplicate window when sent; counted either way (`beyond_window*` statistics).
        wall_clock: unix time, to tell an event's age from the exchange's time in it.

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
    if beyond_window not in {"publish", "drop"}:
        raise UsageError(f"beyond_window must be 'publish' or 'drop', got {beyond_window!r}")
    async with (
        open_asyncio_thread() as thread,
        client.events(buffer=EVENT_BUFFER) as events,
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
            update_stream=update_stream,
            beyond_window=beyond_window,
            wall_clock=wall_clock,
            client_events=events,
        )
        try:
            await nursery.start(publisher.run_pump)
            yield publisher
        finally:
            # the pump first: closing the link under it would fail its sends; what is still
            # unacknowledged is counted as buffered (`_published`)
            nursery.cancel_scope.cancel(reason="publisher closed")
            publisher.mark_closed()
            with trio.CancelScope(shield=True):
                await publisher.close_link()
