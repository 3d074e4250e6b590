"""One WebSocket and the trio things around it; its protocol state lives in the core.

A `Connection` is made and run by `run_connection` (`_supervisor.py`), one per socket. Its
nursery holds exactly two long tasks, both started by `run_connection` in its own body while
the nursery is surely open: the reader (`_reader.py`) and the connection's *duties*
(`Connection.run_duties`: the writer of what the timers post, and the polite close of a
handed-over socket). Nothing else ever starts a task there. Every other task reaches a
connection through its verbs, and none of them starts a task:

    send(frames)     await: write now, each frame within `send_deadline`, else abort
    post(frames)     sync: queue for the duties task (the timer task never waits on a socket)
    hand_over()      sync: ask the duties task to close politely (the protocol said so)
    abort(failure)   sync: cancel the connection's nursery now; its end reports `failure`
    close()          await: the polite close itself, bounded and shielded, then cancel

That is what makes the end of a connection safe at any moment (issue 17.3): a connection
whose nursery has closed still takes every verb, and they do nothing harmful (a post or a
hand-over on a closing connection is dropped; an abort of an ended one cancels nothing). The
old shape, `conn.nursery.start_soon(...)` from the timer task and from the handling of another
socket's frames, raised trio's "Nursery is closed to new arrivals" when that nursery had just
finished but the supervisor had not yet been scheduled to take the connection out.
"""

from __future__ import annotations

import collections
import logging
from typing import TYPE_CHECKING, Final, final

import trio

from gatetrio._core._config import CLOSE_GRACE
from gatetrio._core._errors import ConnectionLost, HeartbeatTimeout

from ._transport import map_transport_errors

if TYPE_CHECKING:
    from ._transport import WebSocketLike

log: Final = logging.getLogger("gatetrio.client")

# Frames posted and not yet written. The timer posts one ping at a time (the next only after
# its pong), so a queue this long means writes are stuck: the connection is aborted (the same
# verdict a stuck send gets), never grown without bound.
OUTBOX_LIMIT: Final = 16


@final
class Connection:
    """One live WebSocket. Created by `run_connection`, which also runs its tasks."""

    __slots__ = (
        "_closing",
        "_failure",
        "_gone",
        "_hand_over",
        "_outbox",
        "_scope",
        "_send_deadline",
        "_wake",
        "endpoint",
        "generation",
        "login_lock",
        "ws",
    )

    def __init__(
        self, ws: WebSocketLike, generation: int, *, scope: trio.CancelScope, send_deadline: float
    ) -> None:
        self.ws: Final = ws
        self.generation: Final = generation
        self.endpoint: Final = ws.endpoint
        self.login_lock: Final = trio.Lock()  # one futures.login per connection
        self._scope = scope  # of the connection's nursery
        self._send_deadline = send_deadline
        self._closing = False  # we began the close: the reader ends quietly on its end
        self._hand_over = False
        self._failure: ConnectionLost | None = None
        self._outbox: collections.deque[str] = collections.deque()
        self._wake = trio.Event()  # something posted, or a hand-over asked for
        self._gone = trio.Event()

    def __repr__(self) -> str:
        return (
            f"<Connection {self.generation} {self.endpoint}{' closing' if self._closing else ''}>"
        )

    @property
    def closing(self) -> bool:
        """We began closing it (a hand-over, a shutdown): its end is no loss."""
        return self._closing

    @property
    def failure(self) -> ConnectionLost | None:
        """Why it was aborted (a stuck send, a missed pong), once it was."""
        return self._failure

    # ----------------------------------------------------------------------------- verbs

    async def send(self, frames: list[str]) -> None:
        """Send `frames` now, each within `send_deadline`, else abort the connection.

        Raises:
            ConnectionLost: the socket is gone, or the send was stuck (`HeartbeatTimeout`: the
                server stopped reading; the socket is aborted and the supervisor reconnects).
        """
        deadline = self._send_deadline
        for frame in frames:
            with trio.move_on_after(deadline) as scope:
                with map_transport_errors("send"):
                    await self.ws.send_message(frame)
            if scope.cancelled_caught:
                failure = HeartbeatTimeout(
                    f"send stuck for {deadline:g}s: the server is not reading"
                )
                self.abort(failure)
                raise failure

    def post(self, frames: list[str]) -> None:
        """Queue `frames` for the duties task to send (a closing connection drops them)."""
        if self._closing or not frames:
            return
        if len(self._outbox) + len(frames) > OUTBOX_LIMIT:
            self.abort(HeartbeatTimeout("writes are stuck: the server is not reading"))
            return
        self._outbox.extend(frames)
        self._wake.set()

    def hand_over(self) -> bool:
        """Ask for a polite close (the protocol handed this socket over); True the first time."""
        if self._closing:
            return False
        self._closing = self._hand_over = True
        self._wake.set()
        return True

    def abort(self, failure: ConnectionLost) -> None:
        """End the connection now (a stuck send, a missed pong): its end reports `failure`."""
        if self._failure is None:
            self._failure = failure
        self._scope.cancel(reason=failure.reason)

    async def close(self, *, graceful: bool = True) -> None:
        """Close the socket politely within CLOSE_GRACE (shielded), else abort it; then end
        the connection's tasks. Run while its reader still runs, so the close handshake
        completes (after, the transport reads the reply itself, within the same bound).
        """
        self._closing = True
        with trio.move_on_after(CLOSE_GRACE if graceful else 0, shield=True) as scope:
            await self.ws.aclose()
        if scope.cancelled_caught:
            with trio.CancelScope(shield=True):
                await self.ws.abort()
        self._scope.cancel(reason="closed")

    # ------------------------------------------------------------------- the owner's side

    async def run_duties(self) -> None:
        """The connection's writer: send what was posted; close when handed over."""
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            if self._hand_over:
                await self.close()
                return
            while self._outbox:
                frames = list(self._outbox)
                self._outbox.clear()
                try:
                    await self.send(frames)
                except ConnectionLost as exc:  # the reader sees the loss too
                    log.debug("connection %d: send failed: %s", self.generation, exc.reason)

    def ended(self) -> None:
        """`run_connection` is done with it: wake whoever waits in `wait_gone`."""
        self._closing = True
        self._gone.set()

    async def wait_gone(self) -> None:
        """Return once the connection has ended and been reported."""
        await self._gone.wait()
