"""The client's own rate limiter (`_core/_ratelimit.py`), pure, against its invariant."""

from __future__ import annotations

import bisect

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from gatetrio._core._errors import UsageError
from gatetrio._core._ratelimit import RateLimiter


def most_in_any_window(slots: list[float], window: float) -> int:
    ordered = sorted(slots)
    return max(
        (bisect.bisect_left(ordered, at + window) - i for i, at in enumerate(ordered)), default=0
    )


def test_a_burst_goes_out_limit_at_a_time_one_window_apart() -> None:
    limiter = RateLimiter(limit=3, window=1.0)
    slots = [limiter.reserve(10.0) for _ in range(7)]
    assert slots == [10.0, 10.0, 10.0, 11.0, 11.0, 11.0, 12.0]


def test_a_released_slot_goes_to_the_next_caller() -> None:
    limiter = RateLimiter(limit=2, window=1.0)
    a, b, c = (limiter.reserve(0.0) for _ in range(3))
    assert (a, b, c) == (0.0, 0.0, 1.0)
    limiter.release(c)  # its caller gave up
    assert limiter.reserve(0.5) == 1.0
    limiter.release(123.0)  # unknown: ignored


def test_a_released_slot_never_lets_an_earlier_one_back_in() -> None:
    # one slot, already used at 0, then one reserved ahead and given back: the next caller at
    # 0.5 must still wait for 1.0, because the slot at 0 was really used
    limiter = RateLimiter(limit=1, window=1.0)
    assert limiter.reserve(0.0) == 0.0
    ahead = limiter.reserve(0.0)
    assert ahead == 1.0
    limiter.release(ahead)
    assert limiter.reserve(0.5) == 1.0


def test_a_pause_holds_every_slot_until_it_ends() -> None:
    limiter = RateLimiter(limit=100, window=1.0)
    assert limiter.pause_until(5.0)
    assert not limiter.pause_until(4.0)  # an earlier end changes nothing
    assert limiter.reserve(1.0) == 5.0
    assert limiter.next_slot(6.0) == 6.0
    assert limiter.pauses == 1


@pytest.mark.parametrize(("limit", "window"), [(0, 1.0), (True, 1.0), (1, 0), (1, float("nan"))])
def test_bad_limits_are_refused(limit: int, window: float) -> None:
    with pytest.raises(UsageError):
        RateLimiter(limit=limit, window=window)


class LimiterMachine(RuleBasedStateMachine):
    """Callers reserve, give up, or are paused, at random times; whatever happens, no window
    ever holds more than `limit` slots that were (or will be) used."""

    def __init__(self) -> None:
        super().__init__()
        self.limit = 3
        self.window = 1.0
        self.limiter = RateLimiter(limit=self.limit, window=self.window)
        self.now = 0.0
        self.reserved: list[float] = []  # slots still held, past or future
        self.paused_until = 0.0

    @rule(dt=st.sampled_from([0.0, 0.01, 0.3, 0.5, 1.0, 2.5]))
    def advance(self, dt: float) -> None:
        self.now += dt
        # slots a window old can share no window with a slot granted from now on (checked)
        self.reserved = [s for s in self.reserved if s > self.now - self.window]

    @rule(count=st.integers(1, 5))
    def reserve(self, count: int) -> None:
        for _ in range(count):
            slot = self.limiter.reserve(self.now)
            assert slot >= max([self.now, self.paused_until, *self.reserved])  # in arrival order
            self.reserved.append(slot)

    @precondition(lambda self: any(s > self.now for s in self.reserved))
    @rule(data=st.data())
    def give_up(self, data: st.DataObject) -> None:
        ahead = [s for s in self.reserved if s > self.now]
        slot = data.draw(st.sampled_from(ahead))
        self.limiter.release(slot)
        self.reserved.remove(slot)

    @rule(delay=st.sampled_from([0.1, 1.0, 3.0]))
    def pause(self, delay: float) -> None:
        self.limiter.pause_until(self.now + delay)
        self.paused_until = max(self.paused_until, self.now + delay)

    @invariant()
    def never_more_than_the_limit_in_any_window(self) -> None:
        assert most_in_any_window(self.reserved, self.window) <= self.limit

    @invariant()
    def the_next_slot_respects_the_pause(self) -> None:
        assert self.limiter.next_slot(self.now) >= self.paused_until


TestLimiterMachine = LimiterMachine.TestCase
TestLimiterMachine.settings = settings(stateful_step_count=40)


@given(st.lists(st.floats(0, 0.5), max_size=300), st.integers(1, 10))
def test_any_arrivals_keep_under_the_limit_and_wait_no_longer_than_needed(
    gaps: list[float], limit: int
) -> None:
    limiter = RateLimiter(limit=limit, window=1.0)
    now = 0.0
    slots: list[float] = []
    for gap in gaps:
        now += gap
        slot = limiter.reserve(now)
        # as soon as allowed: now, or one window after the slot `limit` places back
        earliest = max([now, *slots[-1:]])
        if len(slots) >= limit:
            earliest = max(earliest, slots[-limit] + 1.0)
        assert slot == earliest
        slots.append(slot)
    assert most_in_any_window(slots, 1.0) <= limit
