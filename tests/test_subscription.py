from __future__ import annotations

import pytest
import trio
import trio.testing

from gatetrio._core._errors import SubscriptionOverflow, SubscriptionRejected
from gatetrio._core._requests import ChannelSpec
from gatetrio._shell._subscription import OverflowPolicy, Subscription

SPEC: ChannelSpec[int] = ChannelSpec(
    channel="futures.trades", payloads=(("BTC_USDT",),), keys=frozenset({"BTC_USDT"})
)


def make(buffer: int, overflow: OverflowPolicy) -> Subscription[int]:
    return Subscription(SPEC, buffer=buffer, overflow=overflow)


def drain(sub: Subscription[int]) -> list[int]:
    out = []
    while True:
        try:
            out.append(sub.receive_nowait())
        except trio.WouldBlock:
            return out


def test_drop_oldest_keeps_the_newest_and_counts() -> None:
    sub = make(3, OverflowPolicy.DROP_OLDEST)
    for i in range(10):
        sub._push(i)
    assert drain(sub) == [7, 8, 9]
    stats = sub.statistics()
    assert (stats.messages_received, stats.messages_dropped, stats.peak_buffer_used) == (10, 7, 3)


def test_drop_newest_keeps_the_backlog() -> None:
    sub = make(3, OverflowPolicy.DROP_NEWEST)
    for i in range(10):
        sub._push(i)
    assert drain(sub) == [0, 1, 2]
    assert sub.statistics().messages_dropped == 7


def test_conflate_keeps_only_the_latest() -> None:
    sub = make(8, OverflowPolicy.CONFLATE)
    for i in range(5):
        sub._push(i)
    assert drain(sub) == [4]
    assert sub.statistics().messages_dropped == 4
    assert sub.statistics().peak_buffer_used == 1


def test_fail_raises_overflow_with_the_channel() -> None:
    sub = make(2, OverflowPolicy.FAIL)
    sub._push(1)
    sub._push(2)
    with pytest.raises(SubscriptionOverflow) as info:
        sub._push(3)
    assert info.value.channel == "futures.trades"
    assert info.value.buffer == 2
    assert drain(sub) == [1, 2]


async def test_receive_waits_for_a_push() -> None:
    sub = make(4, OverflowPolicy.DROP_OLDEST)
    got: list[int] = []

    async def consumer() -> None:
        got.append(await sub.receive())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(consumer)
        await trio.testing.wait_all_tasks_blocked()
        assert got == []
        sub._push(42)
    assert got == [42]


async def test_end_then_iteration_stops_after_buffered_items() -> None:
    sub = make(4, OverflowPolicy.DROP_OLDEST)
    sub._push(1)
    sub._push(2)
    sub._end()
    assert [item async for item in sub] == [1, 2]


async def test_failure_is_raised_after_buffered_items() -> None:
    sub = make(4, OverflowPolicy.DROP_OLDEST)
    sub._push(1)
    sub._end(SubscriptionRejected("unknown contract X", code=2, channel="futures.trades"))
    assert await sub.receive() == 1
    with pytest.raises(SubscriptionRejected):
        await sub.receive()


async def test_receive_is_a_checkpoint_and_cancellation_is_atomic() -> None:
    sub = make(4, OverflowPolicy.DROP_OLDEST)
    sub._push(1)
    with trio.testing.assert_checkpoints():
        assert await sub.receive() == 1
    with trio.move_on_after(0.01):
        await sub.receive()
    sub._push(2)
    assert drain(sub) == [2]


async def test_aclose_is_idempotent_and_closes_the_consumer_side() -> None:
    sub = make(4, OverflowPolicy.DROP_OLDEST)
    await sub.aclose()
    await sub.aclose()
    with pytest.raises(trio.ClosedResourceError):
        sub.receive_nowait()
