"""Cancelling each public operation mid-flight leaves the client consistent or cleanly closed."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Mapping, Sequence

import pytest
import trio
import trio.lowlevel
import trio.testing

import gatetrio
from gatetrio import channels
from gatetrio._shell._client import Client
from gatetrio._shell._transport import Connector, WebSocketLike
from gatetrio.testing import FakeGateServer

from .helpers import CREDS, client_config, open_against

pytestmark = pytest.mark.fake(seed=5)


def config(**overrides: object) -> gatetrio.ClientConfig:
    return client_config(**{"rng": random.Random(2), **overrides})


def open_for(
    gate: FakeGateServer, *, connector: Connector | None = None, **overrides: object
) -> contextlib.AbstractAsyncContextManager[Client]:
    options = {"rng": random.Random(2), **overrides}
    return open_against(gate, credentials=CREDS, connector=connector, **options)


async def test_cancelled_subscribe_leaves_nothing_registered(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with open_for(gate) as client:
        gate.stall()  # the ack never comes
        with trio.move_on_after(1.0) as scope:
            async with client.subscribe(channels.trades("BTC_USDT")):
                pytest.fail("subscribed without an ack")
        assert scope.cancelled_caught
        assert client.statistics().open_subscriptions == 0
        assert client._protocol.subscriptions() == {}
        gate.resume()
        async with client.subscribe(channels.trades("BTC_USDT")) as trades:
            await trades.receive()


async def test_cancelled_request_leaves_no_pending_correlation(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with open_for(gate) as client:
        await client.request(gatetrio.ListOrders(status="open"))  # logs in
        gate.stall()
        with trio.move_on_after(1.0) as scope:
            await client.request(gatetrio.GetOrder(order_id="1"))
        assert scope.cancelled_caught
        assert client._protocol.statistics().pending_api_requests == 0
        assert len(client._rt.waiters) == 0


async def test_request_lost_with_the_connection_is_never_replayed(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with open_for(gate) as client:
        await client.request(gatetrio.ListOrders(status="open"))
        gate.stall()  # the order reaches the fake, the reply never comes back
        with pytest.raises(gatetrio.RequestLost) as info:  # the missed pong drops the socket
            await client.request(
                gatetrio.PlaceOrder(contract="BTC_USDT", size=1, price="1000", tif="gtc")
            )
        assert info.value.sent
        assert not info.value.acked  # the stall swallowed the ack too
        await client.wait_connected()
        await trio.sleep(10)
    places = [
        msg
        for _conn, msg in gate.received
        if isinstance(msg, dict) and msg.get("channel") == "futures.order_place"
    ]
    assert len(places) == 1


async def test_cancelled_order_book_sync_cleans_up(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async def never(contract: str, limit: int) -> Mapping[str, object]:
        await trio.sleep_forever()
        raise AssertionError  # pragma: no cover

    async with open_for(gate) as client:
        with trio.move_on_after(2.0):
            async with client.order_book(
                "BTC_USDT", method="order_book_update", snapshot_fetcher=never
            ) as live:
                await live.wait_ready()
        assert client.statistics().open_subscriptions == 0
        assert client._rt.links.lost_watchers == 0


def all_tasks() -> set[trio.lowlevel.Task]:
    """Every task of this trio run, found by walking the task tree from the root."""
    tasks: set[trio.lowlevel.Task] = set()
    todo = [trio.lowlevel.current_root_task()]
    while todo:
        task = todo.pop()
        if task is not None:
            tasks.add(task)
            todo.extend(child for n in task.child_nurseries for child in n.child_tasks)
    return tasks


async def test_cancel_during_connect_leaves_no_task_behind(
    autojump_clock: trio.testing.MockClock,
) -> None:
    during: set[trio.lowlevel.Task] = set()

    async def hanging(
        nursery: trio.Nursery, url: str, headers: Sequence[tuple[str, str]]
    ) -> WebSocketLike:
        during.update(all_tasks())
        await trio.sleep_forever()
        raise AssertionError  # pragma: no cover

    before = all_tasks()
    with trio.move_on_after(3.0) as scope:
        async with gatetrio.open_client(connector=hanging, config=config()):
            pytest.fail("connected to a hanging connector")
    assert scope.cancelled_caught
    assert trio.current_time() == 3.0
    assert during > before  # the client ran tasks of its own while connecting...
    assert all_tasks() == before  # ...and none of them outlived open_client


async def test_connect_deadline_counts_as_a_failed_attempt(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def hanging(
        nursery: trio.Nursery, url: str, headers: Sequence[tuple[str, str]]
    ) -> WebSocketLike:
        await trio.sleep_forever()
        raise AssertionError  # pragma: no cover

    with pytest.raises(gatetrio.ReconnectLimitReached, match="no handshake"):
        async with gatetrio.open_client(
            connector=hanging, config=config(connect_deadline=2.0, max_reconnects=1)
        ):
            pass
    # two attempts of 2 s each, with a 0.5 s backoff between them
    assert trio.current_time() == 4.5


async def test_outer_cancel_closes_the_socket_within_the_grace(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    with trio.move_on_after(5.0):
        async with open_for(gate) as client, client.subscribe(channels.trades("BTC_USDT")) as t:
            async for _trade in t:
                pass
    cancelled_at = trio.current_time()
    await trio.lowlevel.checkpoint()
    assert cancelled_at <= 5.0 + 2.0  # CLOSE_GRACE
    await trio.sleep(1)
    assert gate.connections == []


async def test_exit_closes_politely_and_quickly(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with open_for(gate) as client, client.subscribe(channels.trades("BTC_USDT")):
        await trio.sleep(1.0)
        start = trio.current_time()
    assert trio.current_time() == start  # the close handshake completes without waiting
    await trio.sleep(0.1)
    assert gate.connections == []


async def test_a_buggy_connector_is_contained_as_connection_lost(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def buggy(
        nursery: trio.Nursery, url: str, headers: Sequence[tuple[str, str]]
    ) -> WebSocketLike:
        raise RuntimeError("connector bug")

    with pytest.raises(gatetrio.ReconnectLimitReached) as info:
        async with gatetrio.open_client(connector=buggy, config=config(max_reconnects=0)):
            pass
    assert "connector bug" in str(info.value)
    assert isinstance(info.value, gatetrio.GateTrioError)


async def test_client_is_unusable_after_exit(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with open_for(gate) as client:
        pass
    with pytest.raises(gatetrio.UsageError, match="closed"):
        async with client.subscribe(channels.trades("BTC_USDT")):
            pass
