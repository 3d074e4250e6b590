"""Supervision: connect, keep connecting, run the timers, hand over on upgrade notices.

    run_supervisor                   started by open_client; returns once connected first
    └─ nursery "connections"
       ├─ run_timers                 sleep until protocol.get_timer() → handle_timer → act
       └─ run_connection             one per WebSocket (two while one is handed over)
          └─ nursery "connection"
             ├─ run_reader           get_message → protocol.receive_text → feeds (sync)
             └─ short tasks          pings, the resubscribe report, a handed-over close

Pacing (`ReconnectPacer`): no two connection attempts start closer than `min_reconnect_interval`,
failures back off exponentially with jitter, and the backoff only starts over once a connection
stayed up through a heartbeat. So no server behaviour (refusals, instant closes, an upgrade
notice on every connection) makes more than about one connect per `min_reconnect_interval`.

The first connection must come within `first_connect_timeout`, else `FirstConnectTimeout`
(carrying the last attempt's failure) ends `open_client`: a client that cannot reach Gate says
so instead of waiting in silence. Every failed attempt is logged at WARNING with its cause and
the next delay.

Liveness that nothing can block: the timer task never sends itself (pings go out from short
tasks), and every send has a deadline (`Runtime.send`), so a server that stops reading is
detected by a stuck send or by the pong deadline, whichever comes first, and the socket is
aborted (`HeartbeatTimeout`).
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Final

import trio

from gatetrio._core._backoff import Backoff, ReconnectPacer
from gatetrio._core._catalog import CHANNELS
from gatetrio._core._config import SIZE_DECIMAL_HEADER
from gatetrio._core._errors import (
    ConnectionLost,
    FirstConnectTimeout,
    HeartbeatTimeout,
    ReconnectLimitReached,
)

from ._client_events import ClientEventKind
from ._excgroups import collapse, only_of
from ._reader import run_reader
from ._runtime import Connection, close_connection
from ._transport import open_connection

if TYPE_CHECKING:
    from ._runtime import Runtime

log: Final = logging.getLogger("gatetrio.client")


async def run_supervisor(rt: Runtime, *, task_status: trio.TaskStatus[None]) -> None:
    """Connect (paced), and reconnect or hand over for as long as the client is open."""
    config = rt.config
    pacer = ReconnectPacer(
        Backoff.from_config(config),
        min_interval=config.min_reconnect_interval,
        stable_after=config.ping_interval + config.pong_timeout,
    )
    timeout = config.first_connect_timeout
    first_deadline = math.inf if timeout is None else trio.current_time() + timeout
    started = False
    attempts = 0  # since the last success
    last_failure: ConnectionLost | None = None
    at = trio.current_time()
    async with trio.open_nursery() as conns:
        conns.start_soon(run_timers, rt)
        while True:
            if not started and at >= first_deadline:
                await trio.sleep_until(first_deadline)
                raise _first_connect_timeout(rt, attempts, last_failure)
            await trio.sleep_until(at)
            attempts += 1
            pacer.started(trio.current_time())
            rt.emit(ClientEventKind.CONNECTING, attempt=attempts, url=config.url)
            log.debug("connecting to %s (attempt %d)", config.url, attempts)
            try:
                with trio.move_on_at(math.inf if started else first_deadline) as scope:
                    await conns.start(run_connection, rt)
                if scope.cancelled_caught:
                    raise _first_connect_timeout(rt, attempts, last_failure)
            except ConnectionLost as exc:
                last_failure = exc
                rt.connect_failures += 1
                if pacer.backoff.exhausted:
                    raise ReconnectLimitReached(
                        f"gave up after {pacer.backoff.attempt} reconnect attempts: {exc.reason}"
                    ) from exc
                now = trio.current_time()
                at = pacer.after_failure(now)
                log.warning(
                    "connect to %s failed: %s; retrying in %.1fs (attempt %d)",
                    config.url,
                    exc.reason,
                    at - now,
                    attempts,
                )
                rt.emit(
                    ClientEventKind.DISCONNECTED,
                    reason=exc.reason,
                    attempt=attempts,
                    url=config.url,
                )
                continue
            pacer.connected(trio.current_time())
            attempts = 0
            last_failure = None
            if not started:
                started = True
                task_status.started()
            at = await _wait_for_work(rt, pacer)


async def _wait_for_work(rt: Runtime, pacer: ReconnectPacer) -> float:
    """Wait until the current connection is lost or Gate asks for a new one; return when the
    next attempt may start.
    """
    signal = rt.signal
    while True:
        await signal.wait()
        now = trio.current_time()
        lost, signal.lost = signal.lost, None
        if lost is not None and rt.protocol.current_generation is None:
            signal.upgrade = False  # a new connection is due anyway
            rt.reconnects += 1
            if pacer.backoff.exhausted:
                raise ReconnectLimitReached(f"connection lost and no retries left: {lost}")
            at = pacer.after_loss(now)
            log.warning("reconnecting to %s in %.1fs", rt.config.url, at - now)
            return at
        if signal.upgrade:
            signal.upgrade = False
            return pacer.for_upgrade(now)
        # a loss of a socket that was no longer current: nothing to do


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
            endpoint = ws.endpoint
            conn = Connection(ws, connected.generation, nursery.cancel_scope, nursery, endpoint)
            rt.conns[conn.generation] = conn
            rt.connects += 1
            log.info("connected to %s (connection %d)", endpoint, conn.generation)
            rt.emit(ClientEventKind.CONNECTED, reason=endpoint, url=endpoint)
            nursery.start_soon(run_reader, rt, conn)
            await rt.send(conn, connected.frames)
            for output in connected.outputs:
                rt.handle(output)
            rt.notify()  # new deadlines (first ping, subscribe deadlines)
            rt.connected_event.set()
            rt.connected_event = trio.Event()
            if connected.frames:
                nursery.start_soon(_report_resubscribed, rt, len(connected.frames))
            started = True
            task_status.started()
    except BaseExceptionGroup as group:
        lost = only_of(group, ConnectionLost)
        if lost is None:
            raise collapse(group)  # noqa: B904 - the group stays attached as __context__
        failure = lost
    except ConnectionLost as exc:
        failure = exc
    finally:
        if conn is not None:
            with trio.CancelScope(shield=True):
                await _connection_ended(rt, conn, failure)
    if failure is not None and not started:
        raise failure
    if conn is not None and conn.failure is not None and not started:
        raise conn.failure


async def _connection_ended(rt: Runtime, conn: Connection, failure: ConnectionLost | None) -> None:
    failure = conn.failure or failure  # an abort says why better than the error it caused
    generation = conn.generation
    was_current = rt.protocol.current_generation == generation
    for output in rt.protocol.on_disconnected(trio.current_time(), generation=generation):
        rt.handle(output)
    del rt.conns[generation]
    if was_current and failure is not None and not rt.closed:
        # (no failure: our own cancellation ended it, a closing client or a KeyboardInterrupt)
        reason = failure.reason
        log.warning("connection %d to %s lost: %s", generation, conn.endpoint, reason)
        rt.emit(ClientEventKind.DISCONNECTED, reason=reason, url=conn.endpoint)
        for callback in list(rt.lost_callbacks):
            callback()
        rt.signal.set_lost(reason)
    elif not was_current:
        log.info("connection %d (handed over) closed", generation)
    await close_connection(conn, graceful=not isinstance(failure, HeartbeatTimeout))
    conn.gone.set()
    rt.notify()


async def _report_resubscribed(rt: Runtime, count: int) -> None:
    protocol = rt.protocol
    with trio.move_on_after(rt.config.subscribe_deadline + 1):
        while True:
            states = [protocol.subscription_status(i) for i in protocol.subscriptions()]
            if all(s is None or s.ready or s.failed for s in states):
                break
            await rt.changed.wait()
        log.info("resubscribed (%d subscribe frames)", count)
        rt.emit(ClientEventKind.RESUBSCRIBED, reason=f"{len(states)} subscriptions")


async def run_timers(rt: Runtime) -> None:
    """Run the protocol's deadlines: pings, pong and subscribe deadlines, silence, handover."""
    protocol = rt.protocol
    while True:
        deadline = protocol.get_timer()
        changed = rt.changed
        with trio.move_on_at(math.inf if deadline is None else deadline):
            await changed.wait()
        try:
            result = protocol.handle_timer(trio.current_time(), wall_time=rt.wall_clock())
        except HeartbeatTimeout as exc:
            conn = rt.current()
            if conn is None:  # pragma: no cover - the protocol raises only while connected
                raise
            log.warning("connection %d: %s; dropping it", conn.generation, exc.reason)
            rt.abort(conn, exc)
            await conn.gone.wait()
            continue
        if result.frames:
            conn = rt.current()
            if conn is not None:
                conn.nursery.start_soon(_send_quietly, rt, conn, result.frames)
        if result.silent:
            specs = protocol.subscriptions()
            for sub_id in result.silent:
                rt.silences += 1
                spec = specs.get(sub_id)
                channel = "" if spec is None else spec.channel
                status = protocol.subscription_status(sub_id)
                row = CHANNELS.get(channel)
                if status is not None and not status.had_data and row and row.snapshot_first:
                    reason = (
                        "no data since the subscribe ack: Gate acks an unknown contract or "
                        "level on this channel and then sends nothing"
                    )
                elif status is not None and not status.had_data:
                    reason = f"no data since the subscribe ack ({rt.config.silence_timeout:g}s)"
                else:
                    reason = f"no data for {rt.config.silence_timeout:g}s"
                log.warning("%s: %s", channel, reason)
                rt.emit(ClientEventKind.CHANNEL_SILENT, channel=channel, reason=reason)
        for output in result.outputs:
            rt.handle(output)


async def _send_quietly(rt: Runtime, conn: Connection, frames: list[str]) -> None:
    try:
        await rt.send(conn, frames)
    except ConnectionLost as exc:  # the reader sees the loss too; a stuck send aborted it
        log.debug("connection %d: send failed: %s", conn.generation, exc.reason)
