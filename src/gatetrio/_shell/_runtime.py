"""The client's shared shell state: live sockets, subscription feeds, waiters, and the one place
where the protocol's outputs turn into wake-ups, events and log records.

Everything protocol-shaped (readiness, silence, pending requests, generations, de-duplication,
RTT) is asked of the `GateProtocol`; this object only holds what trio needs: sockets, cancel
scopes, events and the producer ends of the subscriptions.
"""

from __future__ import annotations

import logging
import typing
from typing import TYPE_CHECKING, Any, Final

import attrs
import trio

from gatetrio._core._config import CLOSE_GRACE
from gatetrio._core._errors import (
    ConnectionLost,
    GateTrioError,
    HeartbeatTimeout,
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
    Unknown,
    Unmatched,
    UnsubscribeAcked,
    UnsubscribeFailed,
    Upgrade,
)

from ._client_events import ClientEvent, ClientEventKind
from ._transport import map_transport_errors

if TYPE_CHECKING:
    from collections.abc import Callable

    from gatetrio._core._config import ClientConfig
    from gatetrio._core._protocol import GateProtocol, Output

    from ._raw_tap import RawFrame
    from ._subscription import SubscriptionFeed
    from ._transport import Connector, WebSocketLike

log: Final = logging.getLogger("gatetrio.client")

# Malformed frames are logged one by one up to this many, then one line per this many more:
# a hostile server must not turn the log into its own flood.
MALFORMED_LOG_FIRST: Final = 20
MALFORMED_LOG_EVERY: Final = 1000
LOG_FRAME_CHARS: Final = 200


@attrs.define(eq=False)
class Connection:
    """One WebSocket and the trio things around it. Its protocol state lives in the core."""

    ws: WebSocketLike
    generation: int
    scope: trio.CancelScope  # of the connection's nursery
    nursery: trio.Nursery
    endpoint: str
    login_lock: trio.Lock = attrs.field(factory=trio.Lock)  # one futures.login per connection
    closing: bool = False  # we started the close handshake: the reader ends quietly
    failure: ConnectionLost | None = None  # why we aborted it (a stuck send, a heartbeat)
    gone: trio.Event = attrs.field(factory=trio.Event)


@attrs.define(eq=False)
class ApiWaiter:
    """One trading request's outcome, once the protocol reports it: a result or an error."""

    done: trio.Event = attrs.field(factory=trio.Event)
    result: object = None
    error: GateTrioError | None = None


@attrs.define(eq=False)
class SupervisorSignal:
    """What the supervisor waits for: the current connection lost, or an upgrade requested."""

    lost: str | None = None
    upgrade: bool = False
    wake: trio.Event = attrs.field(factory=trio.Event)

    def set_lost(self, reason: str) -> None:
        self.lost = reason
        self.wake.set()

    def set_upgrade(self) -> None:
        self.upgrade = True
        self.wake.set()

    async def wait(self) -> None:
        if self.lost is None and not self.upgrade:
            await self.wake.wait()
        self.wake = trio.Event()


class Runtime:
    """Shell state shared by the client's tasks (internal: attributes are the interface)."""

    def __init__(
        self,
        config: ClientConfig,
        protocol: GateProtocol,
        *,
        connector: Connector,
        wall_clock: Callable[[], float],
    ) -> None:
        self.config = config
        self.protocol = protocol
        self.connector = connector
        self.wall_clock = wall_clock
        self.feeds: dict[int, SubscriptionFeed[Any]] = {}
        self.waiters: dict[str, ApiWaiter] = {}
        self.conns: dict[int, Connection] = {}  # by generation: the current one and retiring
        self.watchers: list[SubscriptionFeed[ClientEvent]] = []
        self.taps: list[SubscriptionFeed[RawFrame]] = []  # Client.raw_frames(): the reader feeds
        self.signal = SupervisorSignal()
        # set (and replaced) when the protocol's timer may have moved earlier or a subscription
        # became ready or failed: wakes the timer task and whoever waits for readiness
        self.changed = trio.Event()
        self.connected_event = trio.Event()
        self.closed = False
        self.connects = 0
        self.reconnects = 0
        self.upgrades = 0
        self.connect_failures = 0
        self.silences = 0
        self.retired_dropped = 0
        self.retired_peak = 0
        self.malformed_logged = 0
        # called when the current connection is lost (live books mark themselves not ready)
        self.lost_callbacks: set[Callable[[], None]] = set()
        self.malformed_in_shell = 0  # frames the protocol took in but whose handling failed

    # ------------------------------------------------------------------------ connections

    def current(self) -> Connection | None:
        generation = self.protocol.current_generation
        return None if generation is None else self.conns.get(generation)

    def abort(self, conn: Connection, failure: ConnectionLost) -> None:
        """End `conn` now (a stuck send, a missed pong): its task reports `failure`."""
        if conn.failure is None:
            conn.failure = failure
        conn.scope.cancel(reason=failure.reason)

    async def send(self, conn: Connection, frames: list[str]) -> None:
        """Send `frames` on `conn`, each within `send_deadline`, else abort `conn`.

        Raises:
            ConnectionLost: the socket is gone, or the send was stuck (`HeartbeatTimeout`: the
                server stopped reading; the socket is aborted and the supervisor reconnects).
        """
        deadline = self.config.send_deadline
        for frame in frames:
            with trio.move_on_after(deadline) as scope:
                with map_transport_errors("send"):
                    await conn.ws.send_message(frame)
            if scope.cancelled_caught:
                failure = HeartbeatTimeout(
                    f"send stuck for {deadline:g}s: the server is not reading"
                )
                self.abort(conn, failure)
                raise failure

    async def send_current(self, frames: list[str]) -> None:
        """Send on the current connection, if any; a lost one is the supervisor's business.

        The reconnect re-sends subscriptions from state, and unsubscribes die with the socket.
        """
        conn = self.current()
        if conn is None or not frames:
            await trio.lowlevel.checkpoint()
            return
        try:
            await self.send(conn, frames)
        except ConnectionLost as exc:
            log.debug("send on connection %d failed: %s", conn.generation, exc.reason)

    # --------------------------------------------------------------------------- outputs

    def notify(self) -> None:
        self.changed.set()
        self.changed = trio.Event()

    def emit(
        self,
        kind: ClientEventKind,
        *,
        reason: str = "",
        channel: str = "",
        attempt: int = 0,
        url: str = "",
    ) -> None:
        if not self.watchers:
            return
        event = ClientEvent(kind, trio.current_time(), reason, channel, attempt, url)
        for watcher in self.watchers:
            watcher.push(event)

    def handle(self, output: Output) -> None:
        """Act on one protocol output (deliveries have their own fast path in the reader)."""
        match output:
            case Delivery(sub_id=sub_id, item=item):
                feed = self.feeds.get(sub_id)
                if feed is not None:
                    feed.push(item)
            case SubscriptionReady():
                self.notify()  # a silence deadline starts now; subscribe() may be waiting
            case SubscriptionFailed(sub_id=sub_id, error=error):
                feed = self.feeds.get(sub_id)
                if feed is not None:
                    feed.end(error)
                    log.warning("subscription failed: %s", error)
                    self.emit(ClientEventKind.SUBSCRIPTION_FAILED, reason=str(error))
                self.notify()
            case Upgrade(generation=generation):
                self.upgrades += 1
                log.info("connection %d: upgrade notice, connecting anew", generation)
                self.emit(ClientEventKind.UPGRADE)
                self.signal.set_upgrade()
            case CloseConnection(generation=generation, reason=reason):
                conn = self.conns.get(generation)
                if conn is not None and not conn.closing:
                    log.info("connection %d: %s; closing it", generation, reason)
                    self.emit(ClientEventKind.HANDED_OVER, reason=reason, url=conn.endpoint)
                    conn.closing = True
                    conn.nursery.start_soon(close_connection, conn)
            case Malformed(error=error):
                self.report_malformed(error)
            case Notice(event=event):
                log.info("system notice: %r", event)
                self.emit(ClientEventKind.NOTICE, reason=repr(event))
            case ApiCompleted(req_id=req_id, result=result):
                waiter = self.waiters.get(req_id)
                if waiter is not None:
                    waiter.result = result
                    waiter.done.set()
            case ApiFailed(req_id=req_id, error=error):
                self.report_api_failure(error)
                waiter = self.waiters.get(req_id)
                if waiter is not None:
                    waiter.error = error
                    waiter.done.set()
            case RateLimitPaused(group=group, delay=delay, channel=channel):
                reason = f"Gate's rate limit: no {group} request goes out for {delay:.3f}s"
                log.warning("%s: %s", channel, reason)
                self.emit(ClientEventKind.RATE_LIMITED, channel=channel, reason=reason)
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
        """Log and report a trading request that ended without an answer (never a rejection:
        the caller gets that one as an exception and it says all there is)."""
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
        self.emit(kind, channel=getattr(error, "channel", ""), reason=str(error))

    def report_malformed(self, error: Exception) -> None:
        """A frame that could not be taken in: logged (bounded), reported, never fatal."""
        self.malformed_logged += 1
        count = self.malformed_logged
        if count <= MALFORMED_LOG_FIRST or count % MALFORMED_LOG_EVERY == 0:
            raw = getattr(error, "raw", None)
            log.warning(
                "malformed frame #%d ignored: %s; frame: %.*r",
                count,
                error,
                LOG_FRAME_CHARS,
                raw,
            )
        self.emit(ClientEventKind.MALFORMED_FRAME, reason=str(error))


async def close_connection(conn: Connection, *, graceful: bool = True) -> None:
    """Close `conn`'s socket politely within CLOSE_GRACE (shielded), else abort it; then end
    its task. Run while its reader still runs, so the close handshake completes.
    """
    conn.closing = True
    with trio.move_on_after(CLOSE_GRACE if graceful else 0, shield=True) as scope:
        await conn.ws.aclose()
    if scope.cancelled_caught:
        with trio.CancelScope(shield=True):
            await conn.ws.abort()
    conn.scope.cancel(reason="closed")
