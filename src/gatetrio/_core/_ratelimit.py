"""The client's own rate limiter for trading requests: pure, time is an argument.

Gate allows 100 place and amend requests a second per account on the WebSocket trading API
(a batch is one request) and refuses more with status 429 `TOO_MANY_REQUESTS` and the time its
window resets (spec 8.3, 8.13, 9); cancels have a limit of their own (200 a second). A client
that finds the limit by hitting it loses a request and then a second, so gatetrio keeps under
it itself.

`RateLimiter` hands out send times ("slots"). A slot is granted at once while fewer than
`limit` slots fall in the last `window` seconds, else at the earliest time one leaves that
window. Slots are reserved when granted, so waiters queue in arrival order and never all wake
at once; one given up (its caller was cancelled or its deadline came first) is handed back.
The invariant, which tests hold it to: any `window`-long span contains at most `limit` slots,
so `limit + 1` consecutive slots always span at least `window`.

Gate counts arrivals, not sends. The default window is a little longer than Gate's second
(`ClientConfig.rate_limit_window`), so network jitter cannot squeeze two sends a window apart
into one of Gate's seconds.

A 429 means something else spends the same budget (a second process, another client on the
account): `pause_until` holds every new slot back until Gate's reset time.
"""

from __future__ import annotations

import collections
import math
from typing import Final

from ._errors import UsageError

MAX_PAUSE: Final = 60.0
"""Longest pause a 429 can impose (seconds): a reset time further away is a broken header."""


class RateLimiter:
    """At most `limit` slots in any `window` seconds; see the module docstring."""

    __slots__ = ("_granted", "_paused_until", "limit", "pauses", "window")

    def __init__(self, *, limit: int, window: float) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise UsageError(f"a rate limit must be a positive int of requests, got {limit!r}")
        if not (isinstance(window, int | float) and math.isfinite(window) and window > 0):
            raise UsageError(f"a rate-limit window must be > 0 seconds, got {window!r}")
        self.limit = limit
        self.window = float(window)
        # Every slot granted that still matters, in time order: slots are granted in order
        # (a new one is never before the last), and those older than a window are dropped.
        self._granted: collections.deque[float] = collections.deque()
        self._paused_until = -math.inf
        self.pauses = 0

    def next_slot(self, now: float) -> float:
        """The time the next slot would be granted, without granting it."""
        granted = self._granted
        while granted and granted[0] <= now - self.window:
            granted.popleft()  # no window from `now` on can hold it
        slot = max(now, self._paused_until)
        if granted:
            slot = max(slot, granted[-1])
            if len(granted) >= self.limit:
                slot = max(slot, granted[-self.limit] + self.window)
        return slot

    def reserve(self, now: float) -> float:
        """Grant the next slot (>= `now`) and return its time; send at that time, not before."""
        slot = self.next_slot(now)
        self._granted.append(slot)
        return slot

    def release(self, slot: float) -> None:
        """Hand back a reserved slot that will not be used. Unknown slots are ignored.

        The slots left keep the invariant: in time order, each is at least `window` after the
        one `limit` places before it, and dropping any slot keeps that true for the others.
        """
        try:
            self._granted.remove(slot)
        except ValueError:
            return

    def pause_until(self, until: float) -> bool:
        """Grant no slot before `until` (a 429's reset). Returns True if that is a new pause."""
        if until <= self._paused_until:
            return False
        self._paused_until = until
        self.pauses += 1
        return True

    def paused_until(self) -> float:
        return self._paused_until
