"""Capped exponential backoff with additive jitter. Pure: no trio, no clock reads.

The formula is stamina's (`stamina/_core.py` `_compute_backoff`), with the jitter added after the
cap so the jitter still spreads clients that have all reached the cap:

    delay(attempt) = min(maximum, initial * 2 ** (attempt - 1)) + uniform(0, jitter)

`attempt` counts from 1. Randomness comes only from the injected `rng`; ``jitter=0`` gives exact,
reproducible schedules for tests (stamina's testing mode).
"""

from __future__ import annotations

import math
import typing
from typing import TYPE_CHECKING, Final

import attrs

from ._errors import UsageError

if TYPE_CHECKING:
    import random

    from ._config import ClientConfig

# 2.0 ** 1024 overflows a float; by this exponent every finite `initial` is past any finite cap.
_MAX_EXPONENT: Final = 1000


def _check(value: float, what: str, *, positive: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise UsageError(f"{what} must be a finite number of seconds, got {value!r}")
    if value < 0 or (positive and value == 0):
        raise UsageError(f"{what} must be {'> 0' if positive else '>= 0'}, got {value!r}")


def backoff_base(attempt: int, *, initial: float, maximum: float) -> float:
    """The jitter-free delay before retry number `attempt` (1-based): non-decreasing, capped."""
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
        raise UsageError(f"attempt counts from 1, got {attempt!r}")
    return min(maximum, initial * 2.0 ** min(attempt - 1, _MAX_EXPONENT))


def compute_backoff(
    attempt: int, *, initial: float, maximum: float, jitter: float, rng: random.Random
) -> float:
    """The delay before retry number `attempt`: ``min(maximum, initial*2**(attempt-1))`` plus
    ``rng.uniform(0, jitter)``.

    The result is always within ``[0, maximum + jitter]``, never NaN. `rng` is consumed only when
    `jitter` > 0, so ``jitter=0`` schedules are exact and leave the generator untouched.

    Raises:
        UsageError: `attempt` < 1, `initial` <= 0, or a negative / non-finite `maximum` or
            `jitter`.

    Example::

        compute_backoff(3, initial=0.5, maximum=30.0, jitter=0.0, rng=random.Random(0))  # 2.0
    """
    _check(initial, "initial", positive=True)
    _check(maximum, "maximum", positive=False)
    _check(jitter, "jitter", positive=False)
    base = backoff_base(attempt, initial=initial, maximum=maximum)
    return base + rng.uniform(0.0, jitter) if jitter > 0 else base


@typing.final
class Backoff:
    """A retry schedule: call `next_delay()` before each retry, `reset()` after a success.

    With `max_attempts` set, `exhausted` turns True once that many delays were handed out; the
    caller then gives up (the client raises `ReconnectLimitReached`).

    Example::

        backoff = Backoff(initial=0.5, maximum=30.0, jitter=0.0, rng=random.Random(0))
        [backoff.next_delay() for _ in range(4)]  # [0.5, 1.0, 2.0, 4.0]
    """

    __slots__ = ("_attempt", "initial", "jitter", "max_attempts", "maximum", "rng")

    def __init__(
        self,
        *,
        initial: float,
        maximum: float,
        jitter: float,
        rng: random.Random,
        max_attempts: int | None = None,
    ) -> None:
        _check(initial, "initial", positive=True)
        _check(maximum, "maximum", positive=False)
        _check(jitter, "jitter", positive=False)
        if max_attempts is not None and (
            isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 0
        ):
            raise UsageError(f"max_attempts must be None or an int >= 0, got {max_attempts!r}")
        self.initial = initial
        self.maximum = maximum
        self.jitter = jitter
        self.rng = rng
        self.max_attempts = max_attempts
        self._attempt = 0

    @classmethod
    def from_config(cls, config: ClientConfig) -> Backoff:
        """The reconnect schedule a `ClientConfig` describes (`max_reconnects` -> max_attempts)."""
        return cls(
            initial=config.backoff_initial,
            maximum=config.backoff_max,
            jitter=config.backoff_jitter,
            rng=config.rng,
            max_attempts=config.max_reconnects,
        )

    @property
    def attempt(self) -> int:
        """How many delays `next_delay()` has handed out since the last `reset()`."""
        return self._attempt

    @property
    def exhausted(self) -> bool:
        """True once `max_attempts` delays were handed out (never, without `max_attempts`)."""
        return self.max_attempts is not None and self._attempt >= self.max_attempts

    def next_delay(self) -> float:
        """Count one more attempt and return the delay to wait before it.

        Raises:
            UsageError: the schedule is `exhausted`; check that first.
        """
        if self.exhausted:
            raise UsageError(
                f"backoff exhausted after {self._attempt} attempts; check .exhausted first"
            )
        self._attempt += 1
        return compute_backoff(
            self._attempt,
            initial=self.initial,
            maximum=self.maximum,
            jitter=self.jitter,
            rng=self.rng,
        )

    def reset(self) -> None:
        """Start over from attempt 1 (after a connection succeeded)."""
        self._attempt = 0

    def __repr__(self) -> str:
        return (
            f"Backoff(attempt={self._attempt}, initial={self.initial}, maximum={self.maximum}, "
            f"jitter={self.jitter}, max_attempts={self.max_attempts})"
        )


@typing.final
class ReconnectPacer:
    """When the next connection attempt may start, whatever the server does.

    Three rules on top of `Backoff`: no two attempts start closer than `min_interval`; the
    backoff starts over only after a connection stayed up `stable_after` seconds, so a
    connection that dies at once (refused, closed cleanly or not, right after the handshake)
    counts as a failed attempt; and an upgrade notice on a connection younger than
    `stable_after` is paced like such a loss too. Gate sends upgrade notices before a server
    restart, rarely; a server that sends one on every new connection would otherwise get a new
    connection every `min_interval` for ever. With the backoff it gets at most one about every
    `maximum` seconds once the delays have grown (the current socket keeps serving meanwhile,
    so a slower move costs nothing but the move).

    Example::

        pacer = ReconnectPacer(backoff, min_interval=1.0, stable_after=20.0)
        pacer.started(now)               # an attempt begins
        pacer.connected(now)             # ... and succeeded
        at = pacer.after_loss(now)       # it was lost: sleep until `at`, then try again
        if at is None: ...               # (None: `max_attempts` reached, give up)

    It counts what it sees (`statistics()`): failed attempts, lost connections and upgrade
    notices it paced with the backoff.
    """

    __slots__ = (
        "_connected_at",
        "_failures",
        "_last_start",
        "_losses",
        "_upgrades_paced",
        "backoff",
        "min_interval",
        "stable_after",
    )

    def __init__(self, backoff: Backoff, *, min_interval: float, stable_after: float) -> None:
        _check(min_interval, "min_interval", positive=False)
        _check(stable_after, "stable_after", positive=False)
        self.backoff = backoff
        self.min_interval = min_interval
        self.stable_after = stable_after
        self._last_start: float | None = None
        self._connected_at: float | None = None
        self._failures = 0
        self._losses = 0
        self._upgrades_paced = 0

    def started(self, now: float) -> None:
        """An attempt starts at `now`."""
        self._last_start = now

    def connected(self, now: float) -> None:
        """The attempt succeeded at `now`."""
        self._connected_at = now

    def _paced(self, at: float) -> float:
        last = self._last_start
        return at if last is None else max(at, last + self.min_interval)

    def after_failure(self, now: float) -> float | None:
        """An attempt failed at `now`: when to try again, or None once the backoff is
        exhausted (give up). Counted either way."""
        self._failures += 1
        return None if self.backoff.exhausted else self._retry(now)

    def after_loss(self, now: float) -> float | None:
        """The live connection was lost at `now`: when to reconnect, or None once the backoff
        is exhausted (checked before a stable connection resets it). Counted either way."""
        self._losses += 1
        if self.backoff.exhausted:
            return None
        stable = self._stable(now)
        self._connected_at = None
        if stable:
            self.backoff.reset()
        return self._retry(now)

    def _stable(self, now: float) -> bool:
        up_since = self._connected_at
        return up_since is not None and now - up_since >= self.stable_after

    def _retry(self, now: float) -> float:
        return self._paced(now + self.backoff.next_delay())

    def for_upgrade(self, now: float) -> float:
        """Gate asked for a new connection (upgrade notice) at `now`: when to make it.

        After a connection that stayed up `stable_after`, at once (the minimum interval
        applies): the backoff starts over. On a younger one, after the backoff's next delay,
        as if it had been lost (its attempt counts towards `max_attempts`); once those are
        exhausted, after the longest delay, and never giving up: the current connection
        still serves, and giving up is for when it is gone (`after_loss`).
        """
        if self._stable(now):
            self.backoff.reset()
            return self._paced(now)
        self._upgrades_paced += 1
        backoff = self.backoff
        if backoff.exhausted:
            delay = compute_backoff(
                _MAX_EXPONENT,  # (the cap)
                initial=backoff.initial,
                maximum=backoff.maximum,
                jitter=backoff.jitter,
                rng=backoff.rng,
            )
            return self._paced(now + delay)
        return self._retry(now)

    def statistics(self) -> PacerStatistics:
        """What the pacer has counted so far."""
        return PacerStatistics(
            connect_failures=self._failures,
            reconnects=self._losses,
            upgrades_paced=self._upgrades_paced,
        )


@typing.final
@attrs.frozen
class PacerStatistics:
    """Counts of a `ReconnectPacer` (named as `ClientStatistics` names them)."""

    connect_failures: int  # attempts that failed
    reconnects: int  # live connections lost (each followed by a reconnect, unless given up)
    upgrades_paced: int = 0  # upgrade notices on connections younger than `stable_after`
