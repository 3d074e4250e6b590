"""The recorder: a client's raw frames and connection events, into a rotating zstd recording.

    open_recorder(client, DIR)          async with; yields a Recorder
    └─ nursery
       ├─ pump frames    client.raw_frames() → encoded lines → pending batch
       ├─ pump events    client.events()     → encoded lines → pending batch
       ├─ ticker         hands the pending batch on every `flush_interval`
       ├─ snapshots      a REST snapshot per order_book_update stream, at its start and after
       │                 each gap (`_snapshots`), as `r` lines: the base a replay's book needs
       └─ writer         batches → worker thread → PartWriter (one zstd frame per batch)

Memory is bounded: the tap's buffer, one pending batch (at most `batch_lines`), and
`WRITE_QUEUE` batches waiting for the disk. When the disk is slower than the feed, the frame
pump blocks handing its batch on, the tap's buffer fills, and the tap drops the newest frames:
each loss is counted and written as a `d` line where it happened, so a gap in a capture is
always explained.
"""

from __future__ import annotations

import contextlib
import functools
import time
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import attrs
import trio

from gatetrio._core._errors import ProtocolError, UsageError
from gatetrio._shell._excgroups import open_host_nursery
from gatetrio._shell._live_book import snapshot_fetcher
from gatetrio._shell._pool import PoolEvent, PoolStatistics
from gatetrio._shell._raw_tap import RAW_BUFFER

from ._files import PartWriter, import_zstandard
from ._format import DropLine, EventLine, FrameLine, Manifest, RestSnapshotLine, encode_line
from ._snapshots import StreamWatch

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Mapping

    from gatetrio._shell._client import Client, ClientEvent
    from gatetrio._shell._live_book import SnapshotFetcher
    from gatetrio._shell._pool import Pool
    from gatetrio._shell._raw_tap import RawFrame
    from gatetrio._shell._subscription import Subscription

WRITE_QUEUE: Final = 4  # batches waiting for the disk
EVENTS_BUFFER: Final = 1024
CLOSE_DEADLINE: Final = 10.0  # seconds the last batches get to reach the disk on exit
SNAPSHOT_CONCURRENCY: Final = 4  # REST snapshots fetched at once
SNAPSHOT_ATTEMPTS: Final = 5  # then a `rest_snapshot_failed` event line says it is missing
SNAPSHOT_RETRY_INITIAL: Final = 0.2
SNAPSHOT_RETRY_MAX: Final = 5.0


@typing.final
@attrs.frozen
class RecorderStatistics:
    """Counters of a `Recorder`: lines written, losses, and bytes on disk (compressed)."""

    frames: int
    events: int
    frames_dropped: int
    events_dropped: int
    batches_written: int
    bytes_written: int
    parts: int
    snapshots: int = 0
    """REST snapshots recorded (order_book_update streams)."""


@typing.final
class Recorder:
    """A running recording (from `open_recorder`); read its `statistics()` or `directory`."""

    def __init__(
        self,
        directory: Path,
        writer: PartWriter,
        *,
        wall_clock: Callable[[], float],
        batch_lines: int,
        throttle: Callable[[int], Awaitable[None]] | None,
        in_thread: bool,
        snapshot_fetcher: SnapshotFetcher | None = None,
    ) -> None:
        self.directory = directory
        self._fetch = snapshot_fetcher
        self._watch = StreamWatch() if snapshot_fetcher is not None else None
        self._inflight: dict[tuple[str, int], bool] = {}  # stream: wanted again after this one
        self._limiter = trio.CapacityLimiter(SNAPSHOT_CONCURRENCY)
        self._snapshot_nursery: trio.Nursery | None = None
        self._snapshots = 0
        self._in_thread = in_thread
        self._writer = writer
        self._wall_clock = wall_clock
        self._batch_lines = batch_lines
        self._throttle = throttle
        self._pending: list[bytes] = []  # encoded lines (or, after a cancel, a whole batch)
        self._pending_lines = 0
        self._first_ns = 0
        self._last_ns = 0
        self._send, self._recv = trio.open_memory_channel[tuple[bytes, int, int, int]](WRITE_QUEUE)
        self._frames = 0
        self._events = 0
        self._frames_dropped = 0
        self._events_dropped = 0
        self._batches = 0
        self._written = trio.Event()  # the writer finished: every batch handed on is on disk

    def statistics(self) -> RecorderStatistics:
        return RecorderStatistics(
            frames=self._frames,
            events=self._events,
            frames_dropped=self._frames_dropped,
            events_dropped=self._events_dropped,
            batches_written=self._batches,
            bytes_written=self._writer.bytes_written,
            parts=len(self._writer.manifest.parts),
            snapshots=self._snapshots,
        )

    # ------------------------------------------------------------------------ the tasks

    def _add(self, data: bytes, ns: int) -> None:
        if not self._pending:
            self._first_ns = ns
        self._pending.append(data)
        self._pending_lines += 1
        self._last_ns = ns

    async def _hand_on(self) -> None:
        """Queue the pending batch for the writer (blocks while the disk is behind)."""
        if not self._pending:
            await trio.lowlevel.checkpoint()
            return
        data, lines, first_ns = b"".join(self._pending), self._pending_lines, self._first_ns
        self._pending, self._pending_lines = [], 0
        try:
            await self._send.send((data, lines, first_ns, self._last_ns))
        except trio.Cancelled:  # a cancelled send sent nothing: the batch stays pending
            self._pending.insert(0, data)
            self._pending_lines += lines
            self._first_ns = first_ns
            raise

    def _note_drops(self, what: typing.Literal["frames", "events"], total: int, shard: int) -> None:
        seen = self._frames_dropped if what == "frames" else self._events_dropped
        if total > seen:
            ns = time_ns(self._wall_clock)
            self._add(encode_line(DropLine(ns=ns, s=shard, what=what, n=total - seen)), ns)
            if what == "frames":
                self._frames_dropped = total
            else:
                self._events_dropped = total

    async def _pump_frames(self, tap: Subscription[RawFrame], shard: int) -> None:
        watch = self._watch
        async for frame in tap:
            self._add(encode_line(frame_line(frame, shard)), frame.received_ns)
            self._frames += 1
            if watch is not None:
                wanted = watch.needs_snapshot(frame.text)
                if wanted is not None:
                    self._want_snapshot(wanted, shard + frame.shard)
            self._note_drops("frames", tap.statistics().messages_dropped, shard)
            if self._pending_lines >= self._batch_lines:
                await self._hand_on()

    async def _pump_events(
        self, events: Subscription[ClientEvent] | Subscription[PoolEvent], shard: int
    ) -> None:
        async for item in events:
            ns = time_ns(self._wall_clock)
            self._add(encode_line(event_line(item, ns, shard)), ns)
            self._events += 1
            self._note_drops("events", events.statistics().messages_dropped, shard)

    def _want_snapshot(self, stream: tuple[str, int], shard: int) -> None:
        """Fetch a snapshot of `stream` (contract, level) soon; once more after the one in
        flight, if any (it may predate the gap that asks for this one)."""
        if stream in self._inflight:
            self._inflight[stream] = True
            return
        nursery = self._snapshot_nursery
        if nursery is not None:
            self._inflight[stream] = False
            nursery.start_soon(self._take_snapshots, stream, shard)

    async def _take_snapshots(self, stream: tuple[str, int], shard: int) -> None:
        try:
            while True:
                async with self._limiter:
                    await self._take_snapshot(*stream, shard)
                if not self._inflight[stream]:
                    return
                self._inflight[stream] = False
        finally:
            del self._inflight[stream]

    async def _take_snapshot(self, contract: str, limit: int, shard: int) -> None:
        """One `r` line, retried with backoff; after the last attempt an event says why not."""
        fetch = self._fetch
        if fetch is None:  # pragma: no cover - only wanted with a fetcher
            return
        delay = SNAPSHOT_RETRY_INITIAL
        for attempt in range(1, SNAPSHOT_ATTEMPTS + 1):
            try:
                body = _json_object(await fetch(contract, limit))
            except Exception as exc:  # noqa: BLE001 - a failed snapshot must not end the recording
                if attempt == SNAPSHOT_ATTEMPTS:
                    ns = time_ns(self._wall_clock)
                    reason = f"{limit} levels: {exc!r}"
                    line = EventLine(
                        ns=ns,
                        s=shard,
                        kind="rest_snapshot_failed",
                        reason=reason,
                        channel=contract,
                        attempt=attempt,
                    )
                    self._add(encode_line(line), ns)
                    return
                await trio.sleep(delay)
                delay = min(delay * 2, SNAPSHOT_RETRY_MAX)
                continue
            ns = time_ns(self._wall_clock)
            snapshot = RestSnapshotLine(ns=ns, s=shard, contract=contract, limit=limit, body=body)
            self._add(encode_line(snapshot), ns)
            self._snapshots += 1
            return

    def _mark(self, source: Client | Pool, kind: str, shard: int) -> None:
        """A line saying where the capture starts or ends, with the connection state then."""
        stats = source.statistics()
        merged = stats.merged if isinstance(stats, PoolStatistics) else stats
        ns = time_ns(self._wall_clock)
        state = "connected" if merged.connected else "not connected"
        line = EventLine(ns=ns, s=shard, kind=kind, reason=state, url=merged.url)
        self._add(encode_line(line), ns)

    async def _tick(self, interval: float) -> None:
        while True:
            await trio.sleep(interval)
            await self._hand_on()

    async def _write(self) -> None:
        writer = self._writer
        try:
            async for data, lines, first_ns, last_ns in self._recv:
                if self._throttle is not None:
                    await self._throttle(len(data))
                write = functools.partial(writer.write_batch, data, lines, first_ns, last_ns)
                await self._run_sync(write)
                self._batches += 1
        finally:
            self._written.set()

    async def _write_within(self, scope: trio.CancelScope) -> None:
        with scope:
            await self._write()

    async def _run_sync(self, fn: Callable[[], object]) -> None:
        if self._in_thread:
            await trio.to_thread.run_sync(fn)
        else:
            fn()
            await trio.lowlevel.checkpoint()

    async def _finish(self) -> None:
        """Write what is pending, wait for the writer, close the part and the manifest."""
        manifest = self._writer.manifest
        manifest.frames = self._frames
        manifest.events = self._events
        manifest.frames_dropped = self._frames_dropped
        manifest.events_dropped = self._events_dropped
        manifest.snapshots = self._snapshots
        await self._hand_on()
        self._send.close()
        await self._written.wait()
        manifest.frames = self._frames  # the drained tail is counted now
        await self._run_sync(self._writer.close)

    @contextlib.asynccontextmanager
    async def _running(
        self, client: Client | Pool, buffer: int, shard: int, flush_interval: float
    ) -> AsyncIterator[None]:
        """Tap `client` and write until the block ends, then flush what is left (bounded)."""
        async with (
            client.raw_frames(buffer=buffer) as tap,
            client.events(buffer=EVENTS_BUFFER) as events,
            open_host_nursery("recorder closed") as outer,
        ):
            # Shielded: a cancellation from outside (`record --duration`, Ctrl-C) must not stop
            # the writer before `_finish` below handed it the last batches; only a disk that
            # misses CLOSE_DEADLINE cancels it.
            writer_scope = trio.CancelScope(shield=True)
            outer.start_soon(self._write_within, writer_scope)
            self._mark(client, "recording_started", shard)  # what was up before the first event
            try:
                async with open_host_nursery("recorder closed") as nursery:
                    self._snapshot_nursery = nursery
                    nursery.start_soon(self._pump_frames, tap, shard)
                    nursery.start_soon(self._pump_events, events, shard)
                    nursery.start_soon(self._tick, flush_interval)
                    yield
            finally:
                self._snapshot_nursery = None
                # what the tap still buffers is recorded too: nothing received is lost on exit
                with contextlib.suppress(
                    trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError
                ):
                    while True:
                        frame = tap.receive_nowait()
                        self._add(encode_line(frame_line(frame, shard)), frame.received_ns)
                        self._frames += 1
                self._note_drops("frames", tap.statistics().messages_dropped, shard)
                self._note_drops("events", events.statistics().messages_dropped, shard)
                self._mark(client, "recording_stopped", shard)
                with trio.move_on_after(CLOSE_DEADLINE, shield=True) as scope:
                    await self._finish()
                if scope.cancelled_caught:
                    writer_scope.cancel(reason="the disk did not take the last batches")


def event_line(item: ClientEvent | PoolEvent, ns: int, shard: int) -> EventLine:
    """A client's event, or a pool's (tagged with its shard; -1 for a listing change)."""
    if isinstance(item, PoolEvent):
        if item.event is None:
            reason = f"listed {' '.join(item.listed)}; delisted {' '.join(item.delisted)}"
            return EventLine(ns=ns, s=-1, kind="listing", reason=reason)
        shard, item = shard + item.shard, item.event
    return EventLine(
        ns=ns,
        s=shard,
        kind=item.kind.value,
        at=item.at,
        reason=item.reason,
        channel=item.channel,
        attempt=item.attempt,
        url=item.url,
    )


def time_ns(wall_clock: Callable[[], float]) -> int:
    return round(wall_clock() * 1e9)


@contextlib.asynccontextmanager
async def open_recorder(
    client: Client | Pool,
    directory: str | Path,
    *,
    shard: int = 0,
    meta: Mapping[str, object] | None = None,
    buffer: int = RAW_BUFFER,
    flush_interval: float = 0.25,
    batch_lines: int = 2048,
    max_part_bytes: int = 64 * 1024 * 1024,
    fsync: bool = False,
    wall_clock: Callable[[], float] = time.time,
    throttle: Callable[[int], Awaitable[None]] | None = None,
    in_thread: bool = True,
    book_snapshots: bool = True,
    snapshot_fetcher: SnapshotFetcher | None = None,
) -> AsyncIterator[Recorder]:
    """Record every frame `client` receives, and its connection events, into `directory`.

    `client` may be a `Pool`: every shard is recorded, `s` telling them apart.

    Open it before subscribing, so the acks are recorded too. Lines reach the disk at least
    every `flush_interval` seconds (or `batch_lines` lines), one zstd frame per batch; parts
    rotate at about `max_part_bytes` compressed. `wall_clock` stamps events (frames carry the
    client's receive time). `throttle(nbytes)` is awaited before each write (to simulate or
    impose a slow disk). Compression and writes run in a worker thread; `in_thread=False` runs
    them in the trio thread instead (tests under a mock clock, whose time would jump while a
    thread works). Needs the `record` extra (zstandard).

    With `book_snapshots` (the default), every `futures.order_book_update` stream recorded gets
    a REST snapshot (`r` line) when it first shows up and after each gap in its update ids, so a
    replay can rebuild its book exactly: `snapshot_fetcher(contract, limit)` fetches it, by
    default from the REST host matching the client's URL (as `Client.order_book` does). A
    snapshot that keeps failing is recorded as a `rest_snapshot_failed` event.

    Example::

        async with gatetrio.recording.open_recorder(client, "capture") as recorder:
            async with client.subscribe(gatetrio.channels.trades("BTC_USDT")) as trades:
                ...
    """
    import_zstandard()
    if not flush_interval > 0:
        raise UsageError(f"flush_interval must be > 0 seconds, got {flush_interval!r}")
    if isinstance(batch_lines, bool) or not isinstance(batch_lines, int) or batch_lines < 1:
        raise UsageError(f"batch_lines must be a positive int, got {batch_lines!r}")
    path = Path(directory)
    fetcher = None
    if book_snapshots:
        fetcher = snapshot_fetcher if snapshot_fetcher is not None else _rest_fetcher(client)
    manifest = Manifest(created_ns=time_ns(wall_clock), meta=dict(meta or {}))
    writer = PartWriter(path, manifest, max_part_bytes=max_part_bytes, fsync=fsync)
    recorder = Recorder(
        path,
        writer,
        wall_clock=wall_clock,
        batch_lines=batch_lines,
        throttle=throttle,
        in_thread=in_thread,
        snapshot_fetcher=fetcher,
    )
    async with recorder._running(client, buffer, shard, flush_interval):  # noqa: SLF001
        yield recorder


def _rest_fetcher(source: Client | Pool) -> SnapshotFetcher:
    """The REST snapshot fetcher of `source`'s REST helper (a pool's first shard's)."""
    return snapshot_fetcher(source.rest)


def _json_object(body: object) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ProtocolError("REST order book is not a JSON object", raw=str(body)[:200])
    return body


def frame_line(frame: RawFrame, shard: int) -> FrameLine:
    shard += frame.shard
    text = frame.text
    if isinstance(text, str):
        return FrameLine(ns=frame.received_ns, s=shard, c=frame.generation, t=text)
    return FrameLine(ns=frame.received_ns, s=shard, c=frame.generation, b=text)
