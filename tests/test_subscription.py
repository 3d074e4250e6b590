from __future__ import annotations

import pytest
import trio
import trio.testing

from gatetrio._core._errors import SubscriptionOverflow, SubscriptionRejected
from gatetrio._core._requests import ChannelSpec
from gatetrio._shell._subscription import (
    OverflowPolicy,
    Subscription,
    SubscriptionFeed,
    open_subscription,
)

SPEC: ChannelSpec[int] = ChannelSpec(
    channel="futures.trades", payloads=(("BTC_USDT",),), keys=frozenset({"BTC_USDT"})
)


def make(buffer: int, overflow: OverflowPolicy) -> tuple[Subscription[int], SubscriptionFeed[int]]:
    return open_subscription(SPEC, buffer=buffer, overflow=overflow)


def drain(sub: Subscription[int]) -> list[int]:
    out = []
    while True:
        try:
            out.append(sub.receive_nowait())
        except trio.WouldBlock:
            return out


def test_drop_oldest_keeps_the_newest_and_counts() -> None:
    sub, feed = make(3, OverflowPolicy.DROP_OLDEST)
    for i in range(10):
        feed.push(i)
    assert drain(sub) == [7, 8, 9]
    stats = sub.statistics()
    assert (stats.messages_received, stats.messages_dropped, stats.peak_buffer_used) == (10, 7, 3)


def test_drop_newest_keeps_the_backlog() -> None:
    sub, feed = make(3, OverflowPolicy.DROP_NEWEST)
    for i in range(10):
        feed.push(i)
    assert drain(sub) == [0, 1, 2]
    assert sub.statistics().messages_dropped == 7


def test_conflate_keeps_only_the_latest() -> None:
    sub, feed = make(8, OverflowPolicy.CONFLATE)
    for i in range(5):
        feed.push(i)
    assert drain(sub) == [4]
    assert sub.statistics().messages_dropped == 4
    assert sub.statistics().peak_buffer_used == 1


def test_fail_raises_overflow_with_the_channel() -> None:
    sub, feed = make(2, OverflowPolicy.FAIL)
    feed.push(1)
    feed.push(2)
    with pytest.raises(SubscriptionOverflow) as info:
        feed.push(3)
    assert info.value.channel == "futures.trades"
    assert info.value.buffer == 2
    assert drain(sub) == [1, 2]


async def test_receive_waits_for_a_push() -> None:
    sub, feed = make(4, OverflowPolicy.DROP_OLDEST)
    got: list[int] = []

    async def consumer() -> None:
        got.append(await sub.receive())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(consumer)
        await trio.testing.wait_all_tasks_blocked()
        assert got == []
        feed.push(42)
    assert got == [42]


async def test_end_then_iteration_stops_after_buffered_items() -> None:
    sub, feed = make(4, OverflowPolicy.DROP_OLDEST)
    feed.push(1)
    feed.push(2)
    feed.end()
    assert [item async for item in sub] == [1, 2]


async def test_failure_is_raised_after_buffered_items() -> None:
    sub, feed = make(4, OverflowPolicy.DROP_OLDEST)
    feed.push(1)
    feed.end(SubscriptionRejected("unknown contract X", code=2, channel="futures.trades"))
    assert await sub.receive() == 1
    with pytest.raises(SubscriptionRejected):
        await sub.receive()


async def test_receive_is_a_checkpoint_and_cancellation_is_atomic() -> None:
    sub, feed = make(4, OverflowPolicy.DROP_OLDEST)
    feed.push(1)
    with trio.testing.assert_checkpoints():
        assert await sub.receive() == 1
    with trio.move_on_after(0.01):
        await sub.receive()
    feed.push(2)
    assert drain(sub) == [2]


async def test_aclose_is_idempotent_and_closes_the_consumer_side() -> None:
    sub, _ = make(4, OverflowPolicy.DROP_OLDEST)
    await sub.aclose()
    await sub.aclose()
    with pytest.raises(trio.ClosedResourceError):
        sub.receive_nowait()


def test_a_closed_consumer_buffers_nothing_and_counts_the_drops() -> None:
    sub, feed = make(2, OverflowPolicy.FAIL)
    trio.run(sub.aclose)
    assert not feed.accepting
    for i in range(5):  # FAIL would raise at the third item if these were buffered
        assert feed.push(i) is False
    stats = sub.statistics()
    assert (stats.messages_received, stats.messages_dropped, stats.buffer_used) == (5, 5, 0)


def test_readiness_comes_from_the_protocol_not_a_copy() -> None:
    from gatetrio._core._protocol import SubscriptionStatus

    status = SubscriptionStatus(
        ready=True, failed=False, silent=False, silences=2, last_latency_ms=3.5
    )
    sub, _ = open_subscription(
        SPEC, buffer=2, overflow=OverflowPolicy.DROP_OLDEST, status=lambda: status
    )
    stats = sub.statistics()
    assert (stats.ready, stats.silences, stats.last_latency_ms) == (True, 2, 3.5)
    status = SubscriptionStatus(
        ready=False, failed=False, silent=True, silences=3, last_latency_ms=None
    )
    stats = sub.statistics()
    assert (stats.ready, stats.silent, stats.silences) == (False, True, 3)


# ------------------------------------------------------------------- parked consumers (issue 22)
# A push wakes a consumer only when one is parked; these pin what parking must still guarantee.


async def test_a_consumer_cancelled_while_parked_is_never_woken() -> None:
    # a push after the cancellation must not reschedule the gone task (trio would raise) and
    # the item waits for the next consumer
    sub, feed = make(4, OverflowPolicy.DROP_OLDEST)
    with trio.CancelScope() as scope:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sub.receive)
            nursery.start_soon(sub.receive_batch)
            await trio.testing.wait_all_tasks_blocked()
            scope.cancel()
    assert feed.push(7) is False
    assert await sub.receive() == 7


@pytest.mark.parametrize("policy", list(OverflowPolicy))
async def test_parked_consumers_are_woken_oldest_first_one_per_item(
    policy: OverflowPolicy,
) -> None:
    sub, feed = make(4, policy)
    got: list[tuple[str, int]] = []

    async def consumer(name: str) -> None:
        got.append((name, await sub.receive()))

    async with trio.open_nursery() as nursery:
        for name in ("first", "second", "third"):
            nursery.start_soon(consumer, name)
            await trio.testing.wait_all_tasks_blocked()  # parks in this order
        for item in (1, 2, 3):  # (two woken together may run in either order: trio's choice)
            feed.push(item)
            await trio.testing.wait_all_tasks_blocked()
    assert got == [("first", 1), ("second", 2), ("third", 3)]


async def test_a_woken_consumer_that_finds_the_item_taken_parks_again() -> None:
    sub, feed = make(4, OverflowPolicy.DROP_OLDEST)
    got: list[int] = []

    async def consumer() -> None:
        got.append(await sub.receive())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(consumer)
        await trio.testing.wait_all_tasks_blocked()
        feed.push(1)  # wakes the consumer ...
        assert sub.receive_nowait() == 1  # ... but someone else takes the item first
        await trio.testing.wait_all_tasks_blocked()
        assert got == []  # parked again, not handed an empty buffer
        feed.push(2)
    assert got == [2]


@pytest.mark.parametrize("how", ["end", "fail", "aclose"])
async def test_end_and_aclose_wake_every_parked_consumer(how: str) -> None:
    sub, feed = make(4, OverflowPolicy.DROP_OLDEST)
    outcomes: list[str] = []

    async def consumer(batch: bool) -> None:
        try:
            if batch:
                await sub.receive_batch()
            else:
                await sub.receive()
        except Exception as exc:  # the outcome is what is checked
            outcomes.append(type(exc).__name__)

    async with trio.open_nursery() as nursery:
        for batch in (False, True, False):
            nursery.start_soon(consumer, batch)
        await trio.testing.wait_all_tasks_blocked()
        if how == "end":
            feed.end()
        elif how == "fail":
            feed.end(SubscriptionRejected("gone", code=2, channel="futures.trades"))
        else:
            await sub.aclose()
    expected = {
        "end": "EndOfChannel",
        "fail": "SubscriptionRejected",
        "aclose": "ClosedResourceError",
    }[how]
    assert outcomes == [expected] * 3
