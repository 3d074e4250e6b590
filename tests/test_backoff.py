from __future__ import annotations

import itertools
import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatetrio._core._backoff import (
    Backoff,
    PacerStatistics,
    ReconnectPacer,
    backoff_base,
    compute_backoff,
)
from gatetrio._core._config import ClientConfig
from gatetrio._core._errors import UsageError

durations = st.floats(min_value=1e-6, max_value=1e6, allow_nan=False, allow_infinity=False)
non_negative = st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False)
attempts = st.integers(min_value=1, max_value=5000)


def test_exact_schedule_without_jitter() -> None:
    rng = random.Random(0)
    delays = [
        compute_backoff(n, initial=0.5, maximum=5.0, jitter=0.0, rng=rng) for n in range(1, 8)
    ]
    assert delays == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]


def test_zero_jitter_leaves_rng_untouched() -> None:
    rng = random.Random(7)
    state = rng.getstate()
    compute_backoff(3, initial=1.0, maximum=10.0, jitter=0.0, rng=rng)
    assert rng.getstate() == state


def test_seeded_jitter_is_reproducible_and_added_after_the_cap() -> None:
    def schedule() -> list[float]:
        rng = random.Random(42)
        return [compute_backoff(n, initial=1.0, maximum=4.0, jitter=1.0, rng=rng) for n in (1, 5)]

    expected_rng = random.Random(42)
    expected = [1.0 + expected_rng.uniform(0.0, 1.0), 4.0 + expected_rng.uniform(0.0, 1.0)]
    assert schedule() == schedule() == expected
    assert expected[1] > 4.0  # jitter still spreads clients sitting at the cap


def test_huge_attempt_is_capped_not_overflowing() -> None:
    rng = random.Random(0)
    assert compute_backoff(10**9, initial=1.0, maximum=30.0, jitter=0.0, rng=rng) == 30.0
    assert compute_backoff(2000, initial=1e300, maximum=30.0, jitter=0.0, rng=rng) == 30.0


@pytest.mark.parametrize(
    ("attempt", "initial", "maximum", "jitter"),
    [
        (0, 1.0, 1.0, 0.0),
        (-1, 1.0, 1.0, 0.0),
        (1, 0.0, 1.0, 0.0),
        (1, -1.0, 1.0, 0.0),
        (1, math.nan, 1.0, 0.0),
        (1, 1.0, math.inf, 0.0),
        (1, 1.0, -1.0, 0.0),
        (1, 1.0, 1.0, -0.5),
        (1, 1.0, 1.0, math.nan),
    ],
)
def test_bad_arguments_raise_usage_error(
    attempt: int, initial: float, maximum: float, jitter: float
) -> None:
    with pytest.raises(UsageError):
        compute_backoff(
            attempt, initial=initial, maximum=maximum, jitter=jitter, rng=random.Random(0)
        )


@given(attempts, durations, non_negative, non_negative, st.integers(0, 2**32))
def test_delay_is_within_bounds(
    attempt: int, initial: float, maximum: float, jitter: float, seed: int
) -> None:
    delay = compute_backoff(
        attempt, initial=initial, maximum=maximum, jitter=jitter, rng=random.Random(seed)
    )
    assert not math.isnan(delay)
    assert 0.0 <= delay <= maximum + jitter


@given(attempts, durations, non_negative)
def test_base_is_monotone_non_decreasing(attempt: int, initial: float, maximum: float) -> None:
    first = backoff_base(attempt, initial=initial, maximum=maximum)
    second = backoff_base(attempt + 1, initial=initial, maximum=maximum)
    assert 0.0 <= first <= second <= maximum


def test_backoff_counts_resets_and_exhausts() -> None:
    backoff = Backoff(initial=0.5, maximum=3.0, jitter=0.0, rng=random.Random(0), max_attempts=3)
    fresh = backoff.exhausted
    assert [backoff.next_delay() for _ in range(3)] == [0.5, 1.0, 2.0]
    assert backoff.attempt == 3
    assert (fresh, backoff.exhausted) == (False, True)
    with pytest.raises(UsageError, match="exhausted"):
        backoff.next_delay()
    backoff.reset()
    assert backoff.attempt == 0
    assert not backoff.exhausted
    assert backoff.next_delay() == 0.5


def test_backoff_without_limit_never_exhausts() -> None:
    backoff = Backoff(initial=1.0, maximum=2.0, jitter=0.0, rng=random.Random(0))
    delays = [backoff.next_delay() for _ in range(100)]
    assert delays[:3] == [1.0, 2.0, 2.0]
    assert not backoff.exhausted


def test_zero_max_attempts_is_exhausted_at_once() -> None:
    backoff = Backoff(initial=1.0, maximum=2.0, jitter=0.0, rng=random.Random(0), max_attempts=0)
    assert backoff.exhausted


def test_backoff_from_config() -> None:
    rng = random.Random(3)
    config = ClientConfig(
        backoff_initial=0.25, backoff_max=1.0, backoff_jitter=0.0, max_reconnects=2, rng=rng
    )
    backoff = Backoff.from_config(config)
    assert backoff.rng is rng
    assert [backoff.next_delay(), backoff.next_delay()] == [0.25, 0.5]
    assert backoff.exhausted


@given(st.integers(0, 2**32), st.lists(st.booleans(), max_size=30))
def test_backoff_matches_compute_backoff(seed: int, resets: list[bool]) -> None:
    backoff = Backoff(initial=0.5, maximum=8.0, jitter=0.5, rng=random.Random(seed))
    reference = random.Random(seed)
    attempt = 0
    for reset in resets:
        if reset:
            backoff.reset()
            attempt = 0
            continue
        attempt += 1
        expected = compute_backoff(attempt, initial=0.5, maximum=8.0, jitter=0.5, rng=reference)
        assert backoff.next_delay() == expected
        assert backoff.attempt == attempt


def test_backoff_rejects_bad_max_attempts() -> None:
    with pytest.raises(UsageError):
        Backoff(initial=1.0, maximum=2.0, jitter=0.0, rng=random.Random(0), max_attempts=-1)


# ------------------------------------------------------------------------------ the pacer


def _pacer(*, jitter: float = 0.0, max_attempts: int | None = None) -> ReconnectPacer:
    backoff = Backoff(
        initial=0.5, maximum=8.0, jitter=jitter, rng=random.Random(0), max_attempts=max_attempts
    )
    return ReconnectPacer(backoff, min_interval=1.0, stable_after=20.0)


def test_attempts_never_start_closer_than_the_minimum_interval() -> None:
    pacer = _pacer()
    pacer.started(100.0)
    assert pacer.after_failure(100.1) == 101.0  # backoff 0.5 s, but the interval is 1 s
    pacer.started(101.0)
    assert pacer.after_failure(101.2) == 102.2  # backoff 1.0 s now exceeds the interval


def test_an_upgrade_after_a_stable_connection_costs_no_backoff_but_keeps_the_interval() -> None:
    pacer = _pacer()
    pacer.started(10.0)
    pacer.connected(10.0)
    pacer.backoff.next_delay()  # (a failure before: a stable connection starts over)
    assert pacer.for_upgrade(30.0) == 30.0
    assert pacer.backoff.attempt == 0
    pacer.started(30.0)
    pacer.connected(30.0)
    pacer.started(50.0)  # (an attempt that has not come back yet)
    assert pacer.for_upgrade(50.5) == 51.0
    assert pacer.statistics().upgrades_paced == 0


def test_upgrades_on_young_connections_back_off_like_losses() -> None:
    # a server that asks to move at once on every connection: the delays grow to the cap
    pacer = _pacer()
    delays = []
    now = 0.0
    for _ in range(7):
        pacer.started(now)
        pacer.connected(now)
        now += 0.1
        at = pacer.for_upgrade(now)
        delays.append(round(at - now, 6))
        now = at
    assert delays == [0.9, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert pacer.statistics() == PacerStatistics(connect_failures=0, reconnects=0, upgrades_paced=7)


def test_an_upgrade_never_gives_up_but_a_loss_after_it_does() -> None:
    pacer = _pacer(max_attempts=2)
    now = 0.0
    for expected in (0.9, 1.0, 8.0, 8.0):  # exhausted after two: the cap, and no None
        pacer.started(now)
        pacer.connected(now)
        now += 0.1
        at = pacer.for_upgrade(now)
        assert round(at - now, 6) == expected
        now = at
    assert pacer.after_loss(now + 0.1) is None  # the budget went to a server that kept moving


def test_a_connection_that_dies_at_once_keeps_backing_off() -> None:
    pacer = _pacer()
    delays = []
    now = 0.0
    for _ in range(5):  # accept, then close at once: each loss counts as a failure
        pacer.started(now)
        pacer.connected(now)
        now += 0.1
        at = pacer.after_loss(now)
        assert at is not None
        delays.append(round(at - now, 6))
        now = at
    assert delays == [0.9, 1.0, 2.0, 4.0, 8.0]
    assert pacer.statistics() == PacerStatistics(connect_failures=0, reconnects=5)


def test_a_stable_connection_resets_the_backoff() -> None:
    pacer = _pacer()
    pacer.started(0.0)
    assert pacer.after_failure(0.0) == 1.0
    pacer.started(1.0)
    assert pacer.after_failure(1.0) == 2.0
    pacer.started(2.0)
    pacer.connected(2.0)
    assert pacer.after_loss(30.0) == 30.5  # up 28 s >= 20 s: starts over at 0.5 s
    assert pacer.backoff.attempt == 1


@given(
    events=st.lists(
        st.tuples(st.sampled_from(["fail", "loss", "upgrade"]), st.floats(0, 50)), max_size=40
    )
)
def test_no_server_behaviour_beats_the_minimum_interval(
    events: list[tuple[str, float]],
) -> None:
    pacer = _pacer(jitter=0.5)
    now = 0.0
    starts: list[float] = []
    for kind, gap in events:
        starts.append(now)
        pacer.started(now)
        if kind != "fail":
            pacer.connected(now)
        now += gap
        if kind == "fail":
            at = pacer.after_failure(now)
        elif kind == "loss":
            at = pacer.after_loss(now)
        else:
            at = pacer.for_upgrade(now)
        assert at is not None  # (no max_attempts: never gives up)
        assert at >= now
        now = at
    assert all(b >= a + 1.0 for a, b in itertools.pairwise(starts))


def test_the_pacer_counts_every_failure_and_loss_and_gives_up_when_exhausted() -> None:
    pacer = _pacer(max_attempts=2)
    pacer.started(0.0)
    assert pacer.after_failure(0.0) == 1.0
    pacer.started(1.0)
    pacer.connected(1.0)
    assert pacer.after_loss(1.5) == 2.5  # up 0.5 s: not stable, the backoff goes on (1 s)
    pacer.started(2.5)
    assert pacer.after_failure(2.5) is None  # exhausted: give up, yet counted
    assert pacer.after_loss(3.0) is None
    assert pacer.statistics() == PacerStatistics(connect_failures=2, reconnects=2)


def test_an_exhausted_pacer_gives_up_on_a_loss_even_after_a_stable_connection() -> None:
    pacer = _pacer(max_attempts=1)
    pacer.started(0.0)
    assert pacer.after_failure(0.0) == 1.0
    pacer.started(1.0)
    pacer.connected(1.0)
    assert pacer.after_loss(100.0) is None  # (the limit is checked before a stable reset)
