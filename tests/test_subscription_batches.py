"""Subscription.receive_batch / batches(): the batch consumer (issue 14, G2/G3).

Same buffer, same overflow policies, same drop counts as the per-item consumer; a consumer that
falls behind shows it in `statistics().backlog_seconds` before it loses anything.
"""

from __future__ import annotations

import collections

import pytest
import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

from gatetrio._core._errors import SubscriptionRejected, UsageError
from gatetrio._shell._subscription import OverflowPolicy

from .test_subscription import make


def test_batch_takes_everything_buffered_up_to_max_in_order() -> None:
    sub, feed = make(16, OverflowPolicy.DROP_OLDEST)
    for i in range(10):
        feed.push(i)
    assert sub.receive_batch_nowait(4) == [0, 1, 2, 3]
    assert sub.receive_batch_nowait() == [4, 5, 6, 7, 8, 9]
    with pytest.raises(trio.WouldBlock):
        sub.receive_batch_nowait()


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "3"])
async def test_bad_max_is_a_usage_error_at_once(bad: object) -> None:
    sub, feed = make(4, OverflowPolicy.DROP_OLDEST)
    with pytest.raises(UsageError, match="max must be a positive int"):
        await sub.receive_batch(bad)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="max must be a positive int"):
        sub.receive_batch_nowait(bad)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="max must be a positive int"):
        sub.batches(bad)  # type: ignore[arg-type]
    del feed


async def test_batches_end_with_the_subscription_and_raise_its_failure() -> None:
    sub, feed = make(8, OverflowPolicy.DROP_OLDEST)
    for i in range(5):
        feed.push(i)
    feed.end()
    assert [batch async for batch in sub.batches(2)] == [[0, 1], [2, 3], [4]]

    sub, feed = make(8, OverflowPolicy.DROP_OLDEST)
    feed.push(1)
    rejected = SubscriptionRejected("unknown contract X", code=2, channel="futures.trades")
    feed.end(rejected)
    batches = sub.batches()
    assert await anext(batches) == [1]
    with pytest.raises(SubscriptionRejected):
        await anext(batches)


async def test_batch_wakes_on_the_first_push(autojump_clock: trio.testing.MockClock) -> None:
    sub, feed = make(8, OverflowPolicy.DROP_OLDEST)
    got: list[list[int]] = []

    async def consume() -> None:
        got.append(await sub.receive_batch())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(consume)
        await trio.sleep(1)
        feed.push(1)
        feed.push(2)  # same scheduler pass: both in the one batch
    assert got == [[1, 2]]


async def test_cancelled_batch_leaves_the_buffer_unchanged(
    autojump_clock: trio.testing.MockClock,
) -> None:
    sub, feed = make(8, OverflowPolicy.DROP_OLDEST)
    with trio.move_on_after(1):
        await sub.receive_batch()
    feed.push(7)
    with trio.CancelScope() as scope:
        scope.cancel()
        await sub.receive_batch()  # cancelled at its first checkpoint, nothing taken
    assert sub.receive_batch_nowait() == [7]


async def test_aclose_counts_what_it_throws_away() -> None:
    sub, feed = make(8, OverflowPolicy.DROP_OLDEST)
    for i in range(3):
        feed.push(i)
    await sub.aclose()
    feed.push(3)
    stats = sub.statistics()
    assert (stats.messages_received, stats.messages_dropped, stats.buffer_used) == (4, 4, 0)


async def test_backlog_age_shows_a_consumer_falling_behind(
    autojump_clock: trio.testing.MockClock,
) -> None:
    sub, feed = make(8, OverflowPolicy.DROP_OLDEST)
    assert sub.statistics().backlog_seconds == 0.0
    feed.push(1, trio.current_time())
    await trio.sleep(2.5)
    feed.push(2, trio.current_time())  # does not restart the clock: the backlog is older
    await trio.sleep(0.5)
    assert sub.statistics().backlog_seconds == 3.0
    assert sub.receive_batch_nowait() == [1, 2]
    assert sub.statistics().backlog_seconds == 0.0
    feed.push(3)  # no time given: read from trio's clock
    await trio.sleep(1)
    assert sub.statistics().backlog_seconds == 1.0


# a push (its value is the sequence number) or a batch take of at most n items
OPS = st.lists(st.one_of(st.just(0), st.integers(1, 12)), max_size=200)


@given(
    ops=OPS,
    buffer=st.integers(1, 10),
    policy=st.sampled_from(
        [OverflowPolicy.DROP_OLDEST, OverflowPolicy.DROP_NEWEST, OverflowPolicy.CONFLATE]
    ),
)
def test_batches_agree_with_a_model_and_count_every_drop(
    ops: list[int], buffer: int, policy: OverflowPolicy
) -> None:
    sub, feed = make(buffer, policy)
    model: collections.deque[int] = collections.deque()
    pushed = delivered = model_dropped = 0
    for op in ops:
        if op == 0:
            feed.push(pushed)
            if policy is OverflowPolicy.CONFLATE:
                model_dropped += len(model)
                model.clear()
                model.append(pushed)
            elif len(model) < buffer:
                model.append(pushed)
            elif policy is OverflowPolicy.DROP_OLDEST:
                model.popleft()
                model.append(pushed)
                model_dropped += 1
            else:
                model_dropped += 1
            pushed += 1
        else:
            expected = [model.popleft() for _ in range(min(op, len(model)))]
            if expected:
                assert sub.receive_batch_nowait(op) == expected
            else:
                with pytest.raises(trio.WouldBlock):
                    sub.receive_batch_nowait(op)
            delivered += len(expected)
    stats = sub.statistics()
    assert stats.messages_dropped == model_dropped
    assert stats.buffer_used == len(model)
    assert pushed == delivered + stats.messages_dropped + stats.buffer_used


async def test_async_for_yields_at_least_every_few_items() -> None:
    from gatetrio._shell._subscription import YIELD_EVERY

    sub, feed = make(100, OverflowPolicy.DROP_OLDEST)
    for i in range(60):
        feed.push(i)
    feed.end()
    ticks = 0
    seen: list[tuple[int, int]] = []

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await trio.lowlevel.checkpoint()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(ticker)
        await trio.lowlevel.checkpoint()
        seen.extend([(item, ticks) async for item in sub])
        nursery.cancel_scope.cancel()
    assert [item for item, _ in seen] == list(range(60))
    marks = [tick for _, tick in seen]
    # a yield at least every YIELD_EVERY + 1 items; the ticker runs before or after the consumer
    # in the batch that follows a yield (trio's order), so it shows within two such spans
    span = 2 * (YIELD_EVERY + 1)
    for start in range(len(marks) - span):
        assert marks[start + span] > marks[start]
    assert len(set(marks)) < len(marks)  # and not a yield per item


async def test_async_for_cancellation_is_atomic() -> None:
    sub, feed = make(8, OverflowPolicy.DROP_OLDEST)
    feed.push(1)
    feed.push(2)
    iterator = aiter(sub)
    assert await anext(iterator) == 1
    with trio.CancelScope() as scope:
        scope.cancel()
        await anext(iterator)
    assert scope.cancelled_caught
    assert sub.receive_batch_nowait() == [2]
