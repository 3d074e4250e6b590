"""The client's shell state, each piece with one owner that changes it through verbs.

A `Runtime` is built once per `open_client` and its attributes never change after; what
changes lives inside them, and each is changed only through the verbs listed here (the shape
of trio's `MemoryChannelState`, which only its two endpoints change):

    protocol  GateProtocol     (core) every protocol fact and every counter it can see:
                               readiness, silence, generations, correlation, malformed frames
    pacer     ReconnectPacer   (core) when the next attempt may start; counts failed attempts
                               and lost connections. Changed by the supervisor alone.
    links     Links            the live sockets by generation. The supervisor `add`s, `announce`s
                               and `remove`s them; anyone reads `current()` and sends on it.
    feeds     Feeds            the producer ends: subscriptions (`attach`/`retire`, by
                               `Client.subscribe`), event watchers (`watching`) and raw taps
                               (`tapping`). The reader and `handle` push into them; nobody
                               else does.
    waiters   Waiters          trading requests awaiting their outcome: `Trading` expects and
                               forgets them; `handle` completes or fails them.
    changed   Broadcast        "a deadline may have moved, a subscription became ready or
                               failed": wakes the timer task and whoever waits for an ack.
    signal    SupervisorSignal "the current socket is lost" / "Gate asks for a new one":
                               raised by a connection's end and by `handle`; the supervisor alone
                               waits on it.

`handle` is the one place where the protocol's outputs become wake-ups, events and log
records. Nothing here keeps a copy of protocol state: `Client.statistics()` assembles the
owners' own statistics (`assemble_statistics` in `_client_events.py`). Who opens and closes
which socket, and when, is the supervisor's essay (`_supervisor.py`); what may be asked of a
live socket, at any moment of its life, is `_connection.py`'s.
"""

from __future__ import annotations

import contextlib
import logging
import typing
from typing import TYPE_CHECKING, Any, Final, final

import attrs
import trio

from gatetrio._core._backoff import Backoff, ReconnectPacer
from gatetrio._core._errors import (
    ConnectionLost,
    GateTrioError,
    ReplyUnreadable,
    RequestLost,
    RequestTimeout,
)
from gatetrio._core._protocol import (
    ApiAcked,
    ApiCompleted,
    ApiFailed,
    CloseConnection,
    Delivery,
    Malformed,
    Notice,
    PongReceived,
    ProtocolViolation,
    RateLimitPaused,
    SubscriptionFailed,
    SubscriptionReady,
    SubscriptionSilent,
    Unknown,
    Unmatched,
    UnsubscribeAcked,
    UnsubscribeFailed,
    Upgrade,
)

from ._client_events import ClientEvent, ClientEventKind

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence

    from gatetrio._core._config import ClientConfig
    from gatetrio._core._protocol import GateProtocol, Output

    from ._connection import Connection
    from ._raw_tap import RawFrame
    from ._subscription import SubscriptionFeed
    from ._transport import Connector

log: Final = logging.getLogger("gatetrio.client")

# Malformed frames are logged one by one up to this many, then one line per this many more:
# a hostile server must not turn the log into its own flood.
MALFORMED_LOG_FIRST: Final = 20
MALFORMED_LOG_EVERY: Final = 1000
LOG_FRAME_CHARS: Final = 200


@final
class Broadcast:
    """Wakes every task waiting in `wait()` when `notify()` is called (no memory of it after)."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = trio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = trio.Event()

    async def wait(self) -> None:
        """Wait for the next `notify()` (the one after this call began)."""
        await self._event.wait()


@final
class SupervisorSignal:
    """What the supervisor waits for: the current connection lost, or an upgrade requested."""

    __slots__ = ("_lost", "_upgrade", "_wake")

    def __init__(self) -> None:
        self._lost: str | None = None
        self._upgrade: int | None = None  # the generation Gate asked to replace
        self._wake = trio.Event()

    def set_lost(self, reason: str) -> None:
        self._lost = reason
        self._wake.set()

    def set_upgrade(self, generation: int) -> None:
        self._upgrade = generation
        self._wake.set()

    async def take(self) -> tuple[str | None, int | None]:
        """Wait until something was signalled; return (lost reason, generation to replace)
        and clear both."""
        if self._lost is None and self._upgrade is None:
            await self._wake.wait()
        self._wake = trio.Event()
        taken = self._lost, self._upgrade
        self._lost, self._upgrade = None, None
        return taken


@final
@attrs.frozen
class LinkStatistics:
    url: str  # the current connection's endpoint, else the configured URL


@final
class Links:
    """The live connections by generation: the current one, and any being handed over."""

    __slots__ = ("_conns", "_lost_watchers", "_protocol", "_up", "_url")

    def __init__(self, protocol: GateProtocol, url: str) -> None:
        self._protocol = protocol
        self._url = url
        self._conns: dict[int, Connection] = {}
        self._up = Broadcast()  # a connection came up (or the client closed)
        self._lost_watchers: set[Callable[[], None]] = set()

    def current(self) -> Connection | None:
        """The connection new requests go to, or None while disconnected."""
        generation = self._protocol.current_generation
        return None if generation is None else self._conns.get(generation)

    def get(self, generation: int) -> Connection | None:
        return self._conns.get(generation)

    def all(self) -> list[Connection]:
        return list(self._conns.values())

    @property
    def lost_watchers(self) -> int:
        """How many callbacks `watch_lost` has registered now."""
        return len(self._lost_watchers)

    # supervisor's verbs

    def add(self, conn: Connection) -> None:
        """`conn` is up (the protocol made it current already)."""
        self._conns[conn.generation] = conn

    def announce(self) -> None:
        """The new connection has sent its resubscriptions: wake `wait_connected`."""
        self._up.notify()

    def remove(self, conn: Connection) -> None:
        del self._conns[conn.generation]

    def lost(self) -> None:
        """The current connection was lost: call every `watch_lost` callback."""
        for callback in list(self._lost_watchers):
            callback()

    # anyone's

    async def wait_change(self) -> None:
        """Wait until a connection comes up (or the client closes)."""
        await self._up.wait()

    @contextlib.contextmanager
    def watch_lost(self, callback: Callable[[], None]) -> Iterator[None]:
        """Call `callback()` whenever the current connection is lost, for the block."""
        self._lost_watchers.add(callback)
        try:
            yield
        finally:
            self._lost_watchers.discard(callback)

    async def send_current(self, frames: list[str]) -> None:
        """Send on the current connection, if any; a lost one is the supervisor's business.

        The reconnect re-sends subscriptions from state, and unsubscribes die with the socket.
        """
        conn = self.current()
        if conn is None or not frames:
            await trio.lowlevel.checkpoint()
            return
        try:
            await conn.send(frames)
        except ConnectionLost as exc:
            log.debug("send on connection %d failed: %s", conn.generation, exc.reason)

    def statistics(self) -> LinkStatistics:
        conn = self.current()
        return LinkStatistics(url=self._url if conn is None else conn.endpoint)


@final
@attrs.frozen
class FeedStatistics:
    messages_dropped: int  # by every subscription's overflow policy, closed ones included
    peak_buffer_used: int  # the most any one subscription held at once
    open_subscriptions: int


@final
class Feeds:
    """The producer ends the client pushes into: subscriptions by sub_id, event watchers and
    raw-frame taps. The reader holds `by_id` and `taps` (read-only views of live containers)."""

    __slots__ = ("_by_id", "_retired_dropped", "_retired_peak", "_taps", "_watchers")

    def __init__(self) -> None:
        self._by_id: dict[int, SubscriptionFeed[Any]] = {}
        self._watchers: list[SubscriptionFeed[ClientEvent]] = []
        self._taps: list[SubscriptionFeed[RawFrame]] = []
        self._retired_dropped = 0
        self._retired_peak = 0

    @property
    def by_id(self) -> Mapping[int, SubscriptionFeed[Any]]:
        return self._by_id

    @property
    def taps(self) -> Sequence[SubscriptionFeed[RawFrame]]:
        return self._taps

    def attach(self, sub_id: int, feed: SubscriptionFeed[Any]) -> None:
        """Feed subscription `sub_id` from now on (before its subscribe frame is out)."""
        self._by_id[sub_id] = feed

    def retire(self, sub_id: int) -> None:
        """Stop feeding `sub_id` and end its feed; its drops and peak stay counted."""
        feed = self._by_id.pop(sub_id)
        self._retired_dropped += feed.dropped
        self._retired_peak = max(self._retired_peak, feed.peak_buffer_used)
        feed.end()

    @contextlib.contextmanager
    def watching(self, feed: SubscriptionFeed[ClientEvent]) -> Iterator[None]:
        """Push every `ClientEvent` into `feed` for the block; end it after."""
        with _member(self._watchers, feed):
            yield

    @contextlib.contextmanager
    def tapping(self, feed: SubscriptionFeed[RawFrame]) -> Iterator[None]:
        """Push every inbound frame into `feed` for the block; end it after."""
        with _member(self._taps, feed):
            yield

    def emit(
        self,
        kind: ClientEventKind,
        *,
        reason: str = "",
        channel: str = "",
        attempt: int = 0,
        url: str = "",
    ) -> None:
        """Tell every watcher (none: nothing is built)."""
        if not self._watchers:
            return
        event = ClientEvent(kind, trio.current_time(), reason, channel, attempt, url)
        for watcher in self._watchers:
            watcher.push(event)

    def end_all(self) -> None:
        """The client is closed: every subscription ends (its `async for` stops)."""
        for feed in self._by_id.values():
            feed.end()

    def statistics(self) -> FeedStatistics:
        feeds = self._by_id.values()
        return FeedStatistics(
            messages_dropped=self._retired_dropped + sum(f.dropped for f in feeds),
            peak_buffer_used=max([self._retired_peak, *(f.peak_buffer_used for f in feeds)]),
            open_subscriptions=len(self._by_id),
        )


@contextlib.contextmanager
def _member(members: list[SubscriptionFeed[Any]], feed: SubscriptionFeed[Any]) -> Iterator[None]:
    members.append(feed)  # in place: the reader holds the list
    try:
        yield
    finally:
        members.remove(feed)
        feed.end()


@final
class ApiWaiter:
    """One trading request's wait; `Waiters` fills in its outcome: a result or an error.

    A plain slotted class (identity equality, as it was with attrs' eq=False): attrs would
    compile its generated methods at import time (benchmarks/README.md, issue 22).
    """

    __slots__ = ("done", "error", "result")

    def __init__(self) -> None:
        self.done = trio.Event()
        self.result: object = None
        self.error: GateTrioError | None = None


@final
class Waiters:
    """Trading requests sent and awaiting their outcome, by req_id."""

    __slots__ = ("_waiting",)

    def __init__(self) -> None:
        self._waiting: dict[str, ApiWaiter] = {}

    def __len__(self) -> int:
        return len(self._waiting)

    def expect(self, req_id: str) -> ApiWaiter:
        waiter = self._waiting[req_id] = ApiWaiter()
        return waiter

    def forget(self, req_id: str) -> None:
        del self._waiting[req_id]

    def complete(self, req_id: str, result: object) -> None:
        waiter = self._waiting.get(req_id)
        if waiter is not None:
            waiter.result = result
            waiter.done.set()

    def fail(self, req_id: str, error: GateTrioError) -> None:
        waiter = self._waiting.get(req_id)
        if waiter is not None:
            waiter.error = error
            waiter.done.set()


@final
class Runtime:
    """Shell state shared by the client's tasks: see the module docstring for who owns what."""

    def __init__(
        self,
        config: ClientConfig,
        protocol: GateProtocol,
        *,
        connector: Connector,
        wall_clock: Callable[[], float],
    ) -> None:
        self.config: Final = config
        self.protocol: Final = protocol
        self.connector: Final = connector
        self.wall_clock: Final = wall_clock
        self.pacer: Final = ReconnectPacer(
            Backoff.from_config(config),
            min_interval=config.min_reconnect_interval,
            stable_after=config.ping_interval + config.pong_timeout,
        )
        self.links: Final = Links(protocol, config.url)
        self.feeds: Final = Feeds()
        self.waiters: Final = Waiters()
        self.changed: Final = Broadcast()
        self.signal: Final = SupervisorSignal()
        self._closed = False
        self._malformed_logged = 0

    # ----------------------------------------------------------------------- lifecycle

    @property
    def closed(self) -> bool:
        """The client is closing or closed: losses are not reported, calls raise UsageError."""
        return self._closed

    async def shutdown(self) -> None:
        """The body is done: close every live socket politely while its reader still runs."""
        self._closed = True
        for conn in self.links.all():
            await conn.close()

    def finished(self) -> None:
        """Every task is gone: wake whoever still waits, and end every subscription."""
        self._closed = True
        self.links.announce()  # a wait_connected() elsewhere raises UsageError now
        self.changed.notify()  # so does a subscribe() waiting for its ack
        self.feeds.end_all()

    # -------------------------------------------------------------------------- outputs

    def handle(self, output: Output) -> None:
        """Act on one protocol output (deliveries have their own fast path in the reader)."""
        feeds = self.feeds
        match output:
            case Delivery(sub_id=sub_id, item=item):
                feed = feeds.by_id.get(sub_id)
                if feed is not None:
                    feed.push(item)
            case SubscriptionReady():
                self.changed.notify()  # a silence deadline starts now; subscribe() may wait
            case SubscriptionFailed(sub_id=sub_id, error=error):
                feed = feeds.by_id.get(sub_id)
                if feed is not None:
                    feed.end(error)
                    log.warning("subscription failed: %s", error)
                    feeds.emit(ClientEventKind.SUBSCRIPTION_FAILED, reason=str(error))
                self.changed.notify()
            case SubscriptionSilent(channel=channel, reason=reason):
                log.warning("%s: %s", channel, reason)
                feeds.emit(ClientEventKind.CHANNEL_SILENT, channel=channel, reason=reason)
            case Upgrade(generation=generation):
                log.info("connection %d: upgrade notice, connecting anew", generation)
                feeds.emit(ClientEventKind.UPGRADE)
                self.signal.set_upgrade(generation)
            case CloseConnection(generation=generation, reason=reason):
                conn = self.links.get(generation)
                if conn is not None and conn.hand_over():
                    log.info("connection %d: %s; closing it", generation, reason)
                    feeds.emit(ClientEventKind.HANDED_OVER, reason=reason, url=conn.endpoint)
            case Malformed(error=error):
                self._report_malformed(error)
            case Notice(event=event):
                log.info("system notice: %r", event)
                feeds.emit(ClientEventKind.NOTICE, reason=repr(event))
            case ApiCompleted(req_id=req_id, result=result):
                self.waiters.complete(req_id, result)
            case ApiFailed(req_id=req_id, error=error):
                self.report_api_failure(error)
                self.waiters.fail(req_id, error)
            case RateLimitPaused(group=group, delay=delay, channel=channel):
                reason = f"Gate's rate limit: no {group} request goes out for {delay:.3f}s"
                log.warning("%s: %s", channel, reason)
                feeds.emit(ClientEventKind.RATE_LIMITED, channel=channel, reason=reason)
            case UnsubscribeFailed(error=error):
                log.warning("unsubscribe failed: %s", error)
            case ProtocolViolation(error=error):
                log.error("the exchange says a request was malformed (please report): %s", error)
            case Unmatched(event=event):
                log.debug("reply that answers nothing on its socket: %.200r", event)
            case PongReceived() | ApiAcked() | UnsubscribeAcked() | Unknown():
                pass  # counted by the protocol; nothing waits on them
            case _:
                typing.assert_never(output)

    def report_api_failure(self, error: GateTrioError) -> None:
        """Log and report a trading request that ended without an answer (a rejection is not
        one: the caller gets it as an exception, and it says all there is)."""
        match error:
            case RequestTimeout():
                kind = ClientEventKind.REQUEST_TIMEOUT
            case RequestLost():
                kind = ClientEventKind.REQUEST_LOST
            case ReplyUnreadable():
                kind = ClientEventKind.REQUEST_UNREADABLE
            case _:
                return
        ids = getattr(error, "client_order_ids", ())
        log.warning("%s%s", error, f" (client order ids {', '.join(ids)})" if ids else "")
        self.feeds.emit(kind, channel=getattr(error, "channel", ""), reason=str(error))

    def _report_malformed(self, error: Exception) -> None:
        """A frame that could not be taken in: logged (bounded), reported, never fatal."""
        self._malformed_logged += 1
        count = self._malformed_logged
        if count <= MALFORMED_LOG_FIRST or count % MALFORMED_LOG_EVERY == 0:
            raw = getattr(error, "raw", None)
            log.warning(
                "malformed frame #%d ignored: %s; frame: %.*r",
                count,
                error,
                LOG_FRAME_CHARS,
                raw,
            )
        self.feeds.emit(ClientEventKind.MALFORMED_FRAME, reason=str(error))
