"""The way private pushes go from the trading engine to their subscribers, with two faults.

Live Gate can lose private pushes without closing the socket, and deliver them late; a client
that trusts its pushes then holds a wrong account. `PrivatePushes` sits between the engine and
the subscription table so that the fake can do the same on demand:

- `drop(seconds)`: every private push made in the next `seconds` (or until `resume()`) is lost,
  counted in `dropped`; the socket stays open and public channels keep flowing;
- `delay(delay, seconds)`: every private push made in the next `seconds` (or until
  `resume()`) goes out `delay` seconds late, still in order; pushes made after the window
  queue behind the late ones, as a backed-up pipeline would. A push goes to the connections
  subscribed when it is finally sent: one whose socket closed meanwhile never gets it.
"""

from __future__ import annotations

import collections
import math
import typing
from typing import TYPE_CHECKING

import trio

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from gatetrio._core._events import Event

    Deliver = Callable[[str, str, Event | Callable[[bool], Event]], None]


@typing.final
class PrivatePushes:
    """Private pushes on their way out: at once, dropped for a while, or held back."""

    def __init__(
        self,
        deliver: Deliver,
        *,
        now: Callable[[], float],
        spawn: Callable[[Callable[[], Awaitable[None]]], None],
    ) -> None:
        self._deliver = deliver
        self._now = now
        self._spawn = spawn
        self._drop_until = -math.inf
        self._delay = 0.0
        self._delay_until = -math.inf
        self._queue: collections.deque[tuple[float, str, str, Event | Callable[[bool], Event]]] = (
            collections.deque()
        )
        self._wake = trio.Event()
        self._emptied = trio.Event()  # set (and replaced) whenever the held pushes are out
        self._running = False
        self.dropped = 0
        """Private pushes lost to `drop` (count)."""
        self.delayed = 0
        """Private pushes sent late by `delay` (count)."""

    @property
    def held(self) -> int:
        """Private pushes waiting to go out now."""
        return len(self._queue)

    async def wait_sent(self) -> None:
        """Return once no push is held back (at once if none is)."""
        while self._queue:
            await self._emptied.wait()
        await trio.lowlevel.checkpoint()

    def drop(self, seconds: float | None = None) -> None:
        """Lose every private push for `seconds` (None: until `resume`)."""
        self._drop_until = math.inf if seconds is None else self._now() + seconds

    def delay(self, delay: float, seconds: float | None = None) -> None:
        """Send every private push `delay` seconds late, for `seconds` (None: until `resume`)."""
        if not delay > 0:
            raise ValueError(f"delay must be > 0 seconds, got {delay!r}")
        self._delay = delay
        self._delay_until = math.inf if seconds is None else self._now() + seconds

    def resume(self) -> None:
        """End both faults; pushes held back still go out at their time."""
        self._drop_until = self._delay_until = -math.inf

    def push(self, channel: str, contract: str, event: Event | Callable[[bool], Event]) -> None:
        now = self._now()
        if now < self._drop_until:
            self.dropped += 1
            return
        due = now + self._delay if now < self._delay_until else now
        if due > now:
            self.delayed += 1
        if self._queue or due > now:  # behind the late ones: order is kept
            due = max(due, self._queue[-1][0]) if self._queue else due
            self._queue.append((due, channel, contract, event))
            self._wake.set()
            if not self._running:
                self._running = True
                self._spawn(self._run)
            return
        self._deliver(channel, contract, event)

    async def _run(self) -> None:
        """Send each held push at its time (one task, so they go out in order)."""
        start = trio.current_time() - self._now()  # the fake's seconds on trio's clock
        queue = self._queue
        while True:
            while not queue:
                self._wake = trio.Event()
                await self._wake.wait()
            due, channel, contract, event = queue[0]
            await trio.sleep_until(start + due)
            queue.popleft()
            self._deliver(channel, contract, event)
            if not queue:
                self._emptied.set()
                self._emptied = trio.Event()
