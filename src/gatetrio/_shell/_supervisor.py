"""Supervision: connect, keep connecting, run the timers, hand over on upgrade notices.

    run_supervisor                   started by open_client; returns once connected first
    └─ nursery "connections"
       ├─ run_timers                 sleep until protocol.get_timer() → handle_timer → act
       └─ run_connection             one per WebSocket (two while one is handed over)
          └─ nursery "connection"
             ├─ run_reader           get_message → protocol.receive_text → feeds (sync)
             ├─ Connection.run_duties  writes what the timers post; closes when handed over
             └─ _report_resubscribed  (after a reconnect: one line once every ack is in)

Who opens and closes which socket, and when
-------------------------------------------
Only the supervisor opens sockets, one attempt at a time, each as a `run_connection` task in
its own nursery. A connection's nursery holds only the tasks `run_connection` starts in its
own body, before it reports itself started; every other task reaches a connection through its
verbs (`_connection.py`), none of which starts a task. So a connection can end at any moment,
between any two steps of any other task, and nothing ever finds its nursery closed (issue
17.3).

A socket ends in one of four ways, and each has one path:

1. The server ends it (close frame, EOF, a transport error): the reader raises
   `ConnectionLost`, the connection's nursery ends, `run_connection` reports the loss.
2. We abort it: a send stuck past `send_deadline` or a pong missed (`run_timers`) calls
   `Connection.abort(failure)`, which cancels its nursery and records why; the loss is reported
   with that reason rather than the cancellation it caused.
3. It was handed over: after an upgrade notice the protocol made a newer socket current, and
   once that one is resubscribed and the old one owes no replies it says `CloseConnection`.
   `Runtime.handle` calls `Connection.hand_over()`; the connection's duties task closes it
   politely while its reader still runs (the reader reads the close reply), then cancels the
   nursery. Its end is no loss: nothing is reported and nothing reconnects.
4. The client closes: `Runtime.shutdown()` closes every live socket the same polite way from
   `open_client`'s own task, while the readers still run; then the client nursery is cancelled.

Whatever the way, `_connection_ended` runs once per socket, shielded, after its nursery is
gone. Its first step is synchronous: `protocol.on_disconnected` and taking the connection out
of `Links` happen before any checkpoint, so no task ever sees a current generation whose socket
is gone. Then, if it was the current socket and the client is not closing, the loss is
reported (log, `DISCONNECTED`, live books told, the supervisor signalled). Last, the socket is
closed (politely within `CLOSE_GRACE`, or at once after a heartbeat failure: a server that
stops reading will not read a close frame either) and whoever waits in `wait_gone` is woken.

The handover, the shell's side (the core's side is in `_core/_protocol/__init__.py`). An
upgrade notice on the current socket signals the supervisor, which makes a new connection
while the old one keeps serving (make-before-break). `protocol.on_connected` makes the new one
current and the old one retiring; from then on both sockets' readers feed the protocol, which
drops each frame's second copy, until the new one is resubscribed; then the old one waits only
for replies to its own trading requests, and way 3 above closes it. Trading requests go to the
current socket only; the retiring one's login and replies stay its own.

Pacing (`ReconnectPacer`, core): no two connection attempts start closer than
`min_reconnect_interval`, failures back off exponentially with jitter, and the backoff only
starts over once a connection stayed up through a heartbeat (`ping_interval + pong_timeout`).
A connection that ends sooner, whether refused, reset, closed cleanly or ended by an upgrade
notice, is paced like a failed attempt. So a server that does any of these on every connection
gets about one connection per `backoff_max` once the delays have grown, and one that lets each
connection live through a heartbeat first gets at most one per heartbeat: never a storm. Nor
can it keep a waiter waiting by bouncing connections: `Client.subscribe`'s deadline is the
subscription's, not the socket's (the core's "Deadlines a server cannot restart").

The rule for every public wait: a wait for an answer has a deadline that no server behaviour
restarts: the handshake (`connect_deadline`), the first connection (`first_connect_timeout`),
a subscribe ack (`subscribe_deadline` from the call), a trading request (`request_timeout`,
connecting and logging in included), a REST call (`rest_deadline`), a send (`send_deadline`),
a pong (`pong_timeout`). A wait for state instead (a live book ready, an account synced, the
next item or event) lasts while the server keeps it from being true, and every failed attempt
on the way is counted, reported as a client event and retried at a paced rate: the caller
bounds it with `trio.fail_after` (tests/test_hostile_every_connection.py draws servers against
both).

The first connection must come within `first_connect_timeout`, else `FirstConnectTimeout`
(carrying the last attempt's failure) ends `open_client`: a client that cannot reach Gate says
so instead of waiting in silence. Every failed attempt is logged at WARNING with its cause and
the next delay.

Liveness that nothing can block: the timer task never sends itself (it posts pings to the
current connection's duties task), and every send has a deadline (`Connection.send`), so a
server that stops reading is detected by a stuck send or by the pong deadline, whichever comes
first, and the socket is aborted (`HeartbeatTimeout`).
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Final

import trio

from gatetrio._core._config import SIZE_DECIMAL_HEADER
from gatetrio._core._errors import (
    ConnectionLost,
    FirstConnectTimeout,
    HeartbeatTimeout,
    ReconnectLimitReached,
)

from ._client_events import ClientEventKind
from ._connection import Connection
from ._excgroups import collapse, only_of, open_host_nursery
from ._reader import run_reader
from ._transport import open_connection

if TYPE_CHECKING:
    from ._runtime import Runtime

log: Final = logging.getLogger("gatetrio.client")


async def run_supervisor(rt: Runtime, *, task_status: trio.TaskStatus[None]) -> None:
    """Connect (paced), and reconnect or hand over for as long as the client is open."""
    config = rt.config
    pacer = rt.pacer
    timeout = config.first_connect_timeout
    first_deadline = math.inf if timeout is None else trio.current_time() + timeout
    started = False
    attempts = 0  # since the last success
    last_failure: ConnectionLost | None = None
    at = trio.current_time()
    async with open_host_nursery("the client closed") as conns:  # one exception out, no group
        conns.start_soon(run_timers, rt)
        while True:
            if not started and at >= first_deadline:
                await trio.sleep_until(first_deadline)
                raise _first_connect_timeout(rt, attempts, last_failure)
            await trio.sleep_until(at)
            attempts += 1
            pacer.started(trio.current_time())
            rt.feeds.emit(ClientEventKind.CONNECTING, attempt=attempts, url=config.url)
            log.debug("connecting to %s (attempt %d)", config.url, attempts)
            try:
                with trio.move_on_at(math.inf if started else first_deadline) as scope:
                    await conns.start(run_connection, rt)
            except ConnectionLost as exc:
                last_failure = exc
                now = trio.current_time()
                retry_at = pacer.after_failure(now)
                if retry_at is None:
                    raise ReconnectLimitReached(
                        f"gave up after {pacer.backoff.attempt} reconnect attempts: {exc.reason}"
                    ) from exc
                at = retry_at
                log.warning(
                    "connect to %s failed: %s; retrying in %.1fs (attempt %d)",
                    config.url,
                    exc.reason,
                    at - now,
                    attempts,
                )
                rt.feeds.emit(
                    ClientEventKind.DISCONNECTED,
                    reason=exc.reason,
                    attempt=attempts,
                    url=config.url,
                )
                continue
            if scope.cancelled_caught:  # (not in the try: it is no failed attempt to retry)
                raise _first_connect_timeout(rt, attempts, last_failure)
            pacer.connected(trio.current_time())
            attempts = 0
            last_failure = None
            if not started:
                started = True
                task_status.started()
            at = await _wait_for_work(rt)


async def _wait_for_work(rt: Runtime) -> float:
    """Wait until the current connection is lost or Gate asks for a new one; return when the
    next attempt may start.
    """
    pacer = rt.pacer
    while True:
        lost, upgrade = await rt.signal.take()
        now = trio.current_time()
        if lost is not None and rt.protocol.current_generation is None:
            at = pacer.after_loss(now)  # (a pending upgrade is moot: a new socket is due)
            if at is None:
                raise ReconnectLimitReached(f"connection lost and no retries left: {lost}")
            log.warning("reconnecting to %s in %.1fs", rt.config.url, at - now)
            return at
        if upgrade is not None and upgrade == rt.protocol.current_generation:
            return pacer.for_upgrade(now)
        # a loss of a socket that was no longer current, or notices (a burst of them) for a
        # socket already replaced: nothing to do


def _first_connect_timeout(
    rt: Runtime, attempts: int, last: ConnectionLost | None
) -> FirstConnectTimeout:
    timeout = rt.config.first_connect_timeout
    cause = last.reason if last is not None else "the first attempt was still under way"
    error = FirstConnectTimeout(
        f"no connection to {rt.config.url} within {timeout:g}s "
        f"({attempts} attempt{'s' if attempts != 1 else ''}): {cause}",
        attempts=attempts,
    )
    error.__cause__ = last
    return error


async def run_connection(rt: Runtime, *, task_status: trio.TaskStatus[None]) -> None:
    """Own one WebSocket: connect, resubscribe, read; on its end, tell the protocol and the
    supervisor. Before it is started, a failure raises ConnectionLost to the caller of
    `start`; after, it never raises ConnectionLost (the supervisor is signalled instead).
    """
    config = rt.config
    headers = [SIZE_DECIMAL_HEADER] if config.size_decimal else []
    conn: Connection | None = None
    failure: ConnectionLost | None = None
    error: BaseException | None = None  # anything else: raised once the socket is reported
    started = False
    try:
        async with trio.open_nursery() as nursery:
            try:
                with trio.fail_after(config.connect_deadline):
                    ws = await open_connection(nursery, rt.connector, config.url, headers)
            except trio.TooSlowError as exc:
                raise ConnectionLost(
                    f"connect: no handshake within {config.connect_deadline:g}s"
                ) from exc
            connected = rt.protocol.on_connected(trio.current_time(), wall_time=rt.wall_clock())
            conn = Connection(
                ws,
                connected.generation,
                scope=nursery.cancel_scope,
                send_deadline=config.send_deadline,
            )
            rt.links.add(conn)
            log.info("connected to %s (connection %d)", conn.endpoint, conn.generation)
            rt.feeds.emit(ClientEventKind.CONNECTED, reason=conn.endpoint, url=conn.endpoint)
            # The only tasks this connection's nursery will ever hold, started while it is
            # surely open (see the module docstring).
            nursery.start_soon(run_reader, rt, conn)
            nursery.start_soon(conn.run_duties)
            await conn.send(connected.frames)
            for output in connected.outputs:
                rt.handle(output)
            rt.changed.notify()  # new deadlines (first ping, subscribe deadlines)
            rt.links.announce()
            if connected.frames:
                nursery.start_soon(_report_resubscribed, rt, len(connected.frames))
            started = True
            task_status.started()
    except BaseExceptionGroup as group:
        failure = only_of(group, ConnectionLost)
        if failure is None:
            error = collapse(group)  # raised below, outside this block: no group as context
    except ConnectionLost as exc:
        failure = exc
    finally:
        if conn is not None:
            with trio.CancelScope(shield=True):
                await _connection_ended(rt, conn, failure)
    if error is not None:
        raise error
    if not started:
        if failure is not None:
            raise failure
        if conn is not None and conn.failure is not None:
            raise conn.failure


async def _connection_ended(rt: Runtime, conn: Connection, failure: ConnectionLost | None) -> None:
    failure = conn.failure or failure  # an abort says why better than the error it caused
    generation = conn.generation
    was_current = rt.protocol.current_generation == generation
    # synchronous up to the close below: nobody sees a current generation without a socket
    for output in rt.protocol.on_disconnected(trio.current_time(), generation=generation):
        rt.handle(output)
    rt.links.remove(conn)
    if was_current and failure is not None and not rt.closed:
        # (no failure: our own cancellation ended it, a closing client or a KeyboardInterrupt)
        reason = failure.reason
        log.warning("connection %d to %s lost: %s", generation, conn.endpoint, reason)
        rt.feeds.emit(ClientEventKind.DISCONNECTED, reason=reason, url=conn.endpoint)
        rt.links.lost()
        rt.signal.set_lost(reason)
    elif not was_current:
        log.info("connection %d (handed over) closed", generation)
    await conn.close(graceful=not isinstance(failure, HeartbeatTimeout))
    conn.ended()
    rt.changed.notify()


async def _report_resubscribed(rt: Runtime, count: int) -> None:
    protocol = rt.protocol
    with trio.move_on_after(rt.config.subscribe_deadline + 1):
        while True:
            states = [protocol.subscription_status(i) for i in protocol.subscriptions()]
            if all(s is None or s.ready or s.failed for s in states):
                break
            await rt.changed.wait()
        log.info("resubscribed (%d subscribe frames)", count)
        rt.feeds.emit(ClientEventKind.RESUBSCRIBED, reason=f"{len(states)} subscriptions")


async def run_timers(rt: Runtime) -> None:
    """Run the protocol's deadlines: pings, pong and subscribe deadlines, silence, handover."""
    protocol = rt.protocol
    while True:
        deadline = protocol.get_timer()
        with trio.move_on_at(math.inf if deadline is None else deadline):
            await rt.changed.wait()
        try:
            result = protocol.handle_timer(trio.current_time(), wall_time=rt.wall_clock())
        except HeartbeatTimeout as exc:
            conn = rt.links.current()
            if conn is None:  # pragma: no cover - the protocol raises only while connected
                raise
            log.warning("connection %d: %s; dropping it", conn.generation, exc.reason)
            conn.abort(exc)
            await conn.wait_gone()
            continue
        if result.frames:
            conn = rt.links.current()
            if conn is not None:
                conn.post(result.frames)  # its duties task sends them: we never wait on a socket
        for output in result.outputs:
            rt.handle(output)
