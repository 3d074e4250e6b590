"""The client runtime over the in-memory fake exchange, under autojump_clock (exact times)."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import TypeVar

import pytest
import trio
import trio.testing

import gatetrio
from gatetrio import channels
from gatetrio._shell._client import Client, ClientEventKind
from gatetrio._shell._transport import Connector
from gatetrio.testing import FakeGateServer

from .helpers import CREDS, client_config, fresh_items, open_against, record_events

T = TypeVar("T")

pytestmark = pytest.mark.fake(seed=7)


def client_for(
    gate: FakeGateServer, *, connector: Connector | None = None, **overrides: object
) -> contextlib.AbstractAsyncContextManager[Client]:
    return open_against(gate, credentials=CREDS, connector=connector, **overrides)


def frames_of(
    gate: FakeGateServer, channel: str, event: str | None = None
) -> list[dict[str, object]]:
    out = []
    for _conn, msg in gate.received:
        if (
            isinstance(msg, dict)
            and msg.get("channel") == channel
            and (event is None or msg.get("event") == event)
        ):
            out.append(msg)
    return out


async def take(sub: AsyncIterator[T], n: int) -> list[T]:
    items: list[T] = []
    async for item in sub:
        items.append(item)
        if len(items) == n:
            break
    return items


async def test_trades_stream_typed_items_for_each_contract(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with (
        client_for(gate) as client,
        client.subscribe(channels.trades("BTC_USDT", "ETH_USDT")) as trades,
    ):
        items = await take(trades, 20)
        stats = trades.statistics()
        cstats = client.statistics()
    assert all(isinstance(t, gatetrio.Trade) for t in items)
    assert {t.contract for t in items} == {"BTC_USDT", "ETH_USDT"}
    assert all(isinstance(t.price, Decimal) for t in items)
    assert stats.messages_received >= 20
    assert stats.ready
    assert cstats.messages_by_channel["futures.trades"] >= 1
    assert cstats.connects == 1
    assert cstats.last_latency_ms is not None
    assert abs(cstats.last_latency_ms) < 1000  # the fake's wall clock: push -> reader


async def test_statistics_url_is_where_the_client_is_connected(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    # the in-memory fake, dialed under Gate's default URL: not a Gate host in what it shows
    async with client_for(gate) as client:
        assert "gateio" in client.config.url
        assert client.statistics().url == "memory://fake-gate/v4/ws/usdt"


async def test_size_decimal_header_is_sent_and_sizes_are_decimal(
    gate: FakeGateServer, connector: Connector
) -> None:
    async with (
        client_for(gate, connector=connector) as client,
        client.subscribe(channels.trades("ETH_USDT")) as trades,
    ):
        items = await take(trades, 5)
        (conn,) = gate.connections
        assert conn.size_decimal
    assert all(isinstance(t.size, Decimal) for t in items)


async def test_without_size_decimal_sizes_are_ints(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with (
        client_for(gate, size_decimal=False) as client,
        client.subscribe(channels.trades("BTC_USDT")) as trades,
    ):
        items = await take(trades, 5)
    assert all(type(t.size) is int for t in items)


async def test_pings_every_interval_and_records_rtt(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with client_for(gate) as client:
        start = trio.current_time()
        await trio.sleep(15.5)
        stats = client.statistics()
    pings = frames_of(gate, "futures.ping")
    # due at start + 5, 10, 15 virtual seconds
    assert len(pings) == 3
    assert trio.current_time() - start == 15.5
    assert stats.last_pong_rtt is not None
    assert stats.last_pong_rtt >= 0


async def test_stall_is_detected_by_pong_timeout_and_the_client_reconnects(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with (
        client_for(gate) as client,
        record_events(client) as log,
        client.subscribe(channels.trades("BTC_USDT")) as trades,
    ):
        t0 = trio.current_time()
        await trio.sleep(1.0)
        gate.stall()
        # ping due at t0 + 5 (sent at connect + 5), pong deadline 3 s later
        await log.wait(ClientEventKind.DISCONNECTED)
        disconnected = log.of(ClientEventKind.DISCONNECTED)
        assert disconnected
        assert (
            "pong" in disconnected[0].reason.lower()
            or "heartbeat" in disconnected[0].reason.lower()
        )
        assert disconnected[0].at == t0 + 5.0 + 3.0  # autojump lands exactly on the deadline
        await log.wait(ClientEventKind.RESUBSCRIBED, within=30)
        received = trades.statistics().messages_received
        await trio.sleep(5)
        assert trades.statistics().messages_received > received  # streaming again
    kinds = log.kinds()
    assert kinds.index(ClientEventKind.DISCONNECTED) < kinds.index(ClientEventKind.CONNECTED)


async def test_drop_reconnects_and_resubscribes_from_state(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with client_for(gate) as client, record_events(client) as log:
        async with (
            client.subscribe(channels.trades("BTC_USDT")) as trades,
            client.subscribe(channels.tickers("ETH_USDT")) as tickers,
        ):
            await take(trades, 2)
            gate.drop()
            await log.wait(ClientEventKind.CONNECTED)
            await fresh_items(trades)
            await fresh_items(tickers)
            stats = client.statistics()
        subscribes = frames_of(gate, "futures.trades", "subscribe")
    assert stats.reconnects == 1
    assert stats.connects == 2
    # exactly one trades subscribe per connection, each re-built (fresh time and id)
    assert len(subscribes) == 2
    assert subscribes[0]["id"] != subscribes[1]["id"]


async def test_refused_handshakes_follow_the_backoff_schedule(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    # a minimum interval below the first delay, so the schedule shows the backoff alone
    paced = client_for(gate, min_reconnect_interval=0.25)
    async with paced as client, record_events(client) as log:
        gate.refuse(3)
        t0 = trio.current_time()
        gate.drop()
        await log.wait(ClientEventKind.CONNECTED)
    connecting = [e.at - t0 for e in log.of(ClientEventKind.CONNECTING)]
    # after the drop: immediate backoff of 0.5 s, then refusals back off 1, 2, 4 s (jitter 0)
    gaps = [b - a for a, b in itertools.pairwise(connecting)]  # exact: autojump, dyadic delays
    assert gaps == [1.0, 2.0, 4.0]
    assert connecting[0] == 0.5


async def test_reconnect_limit_ends_in_a_typed_error(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    with pytest.raises(gatetrio.ReconnectLimitReached):
        async with client_for(gate, max_reconnects=2) as client:
            gate.refuse(10)
            gate.drop()
            await trio.sleep(60)
            del client


async def test_first_connect_failure_within_limit_raises_from_open_client(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    gate.refuse(10)
    with pytest.raises(gatetrio.ReconnectLimitReached) as info:
        async with client_for(gate, max_reconnects=1):
            pytest.fail("should not connect")
    assert "503" in str(info.value)


async def test_unknown_contract_fails_the_subscribe_with_the_exchange_code(
    gate: FakeGateServer, connector: Connector
) -> None:
    async with client_for(gate, connector=connector) as client:
        with pytest.raises(gatetrio.SubscriptionRejected) as info:
            async with client.subscribe(channels.trades("BTC_USDT", "NOPE_USDT")):
                pytest.fail("subscribed to an unknown contract")
        assert info.value.code == 2
        assert "NOPE_USDT" in info.value.message
        # the client is still usable and nothing is left registered
        assert client.statistics().open_subscriptions == 0
        async with client.subscribe(channels.trades("BTC_USDT")) as trades:
            await take(trades, 1)


async def test_malformed_frame_is_counted_and_reported_not_fatal(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with client_for(gate) as client:
        async with (
            record_events(client) as log,
            client.subscribe(channels.trades("BTC_USDT")) as trades,
        ):
            await take(trades, 1)
            gate.send_malformed()
            await log.wait(ClientEventKind.MALFORMED_FRAME)
            await fresh_items(trades)
        stats = client.statistics()
    assert stats.malformed_frames == 1
    assert stats.reconnects == 0
    assert log.kinds().count(ClientEventKind.MALFORMED_FRAME) == 1


async def test_upgrade_notice_makes_the_new_connection_before_breaking_the_old(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with (
        client_for(gate) as client,
        record_events(client) as log,
        client.order_book("BTC_USDT", depth=10) as live,
        client.subscribe(channels.trades("BTC_USDT")) as trades,
    ):
        await live.wait_ready()
        gate.send_upgrade(grace=5.0)
        await trio.sleep(10.0)
        stats = client.statistics()
        assert stats.upgrades == 1
        assert stats.connects == 2
        await take(trades, 2)
        await live.wait_update()
        assert live.ready
        # the old connection was closed by us after the handover, before the server's grace
        assert len(gate.connections) == 1
    kinds = log.kinds()
    assert ClientEventKind.UPGRADE in kinds
    # no data window: the client never reported a disconnect while handing over
    assert ClientEventKind.DISCONNECTED not in kinds
    assert stats.reconnects == 0


async def test_slow_consumer_cut_ends_with_subscriptions_streaming_again(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with (
        client_for(gate) as client,
        record_events(client) as log,
        client.subscribe(channels.trades("BTC_USDT")) as trades,
    ):
        await take(trades, 1)
        cut = gate.cut_slow_consumers(min_backlog=0)
        assert cut
        await log.wait(ClientEventKind.CONNECTED)
        await fresh_items(trades)
        assert client.statistics().reconnects == 1
        assert gate.slow_consumers_cut == 1


@pytest.mark.fake(seed=3, credentials=None)
async def test_data_silence_is_reported_without_tearing_down(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with (
        open_against(gate, silence_timeout=4.0) as client,
        record_events(client) as log,
        client.subscribe(channels.trades("BTC_USDT")) as trades,
    ):
        await take(trades, 1)
        gate.stall()
        await trio.sleep(4.5)
        stats = trades.statistics()
    assert stats.silent
    assert stats.silences == 1
    assert [e.channel for e in log.of(ClientEventKind.CHANNEL_SILENT)] == ["futures.trades"]


async def test_overflow_fail_policy_surfaces_from_open_client(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    with pytest.raises(gatetrio.SubscriptionOverflow) as info:
        async with (
            client_for(gate) as client,
            client.subscribe(
                channels.trades("BTC_USDT", "ETH_USDT"),
                buffer=2,
                overflow=gatetrio.OverflowPolicy.FAIL,
            ),
        ):
            await trio.sleep(30)  # never consume
    assert info.value.channel == "futures.trades"


async def test_drop_oldest_counts_drops_in_client_statistics(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with (
        client_for(gate) as client,
        client.subscribe(channels.trades("BTC_USDT", "ETH_USDT"), buffer=2) as trades,
    ):
        await trio.sleep(30)
        sub_stats = trades.statistics()
        stats = client.statistics()
    assert sub_stats.messages_dropped > 0
    assert sub_stats.peak_buffer_used == 2
    assert sub_stats.buffer_used == 2
    assert stats.messages_dropped == sub_stats.messages_dropped


async def test_user_exception_surfaces_unwrapped(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with client_for(gate) as client, client.subscribe(channels.trades("BTC_USDT")):
            raise Boom


async def test_private_subscription_is_signed_and_streams(
    gate: FakeGateServer, connector: Connector
) -> None:
    async with (
        client_for(gate, connector=connector) as client,
        client.subscribe(channels.orders("20011")) as orders,
    ):
        reply = await client.request(
            gatetrio.PlaceOrder(contract="BTC_USDT", size=1, price="1000", tif="gtc")
        )
        assert isinstance(reply, gatetrio.Order)
        assert reply.text.startswith("t-")  # the client gave it a client order id
        (order,) = await take(orders, 1)
        assert isinstance(order, gatetrio.Order)
        assert order.contract == "BTC_USDT"
        assert (order.id, order.text) == (reply.id, reply.text)
    (sub,) = frames_of(gate, "futures.orders", "subscribe")
    assert isinstance(sub["auth"], dict)
    assert sub["auth"]["KEY"] == CREDS.key
    logins = frames_of(gate, "futures.login")
    assert len(logins) == 1


async def test_bad_credentials_fail_private_subscribe_with_authentication_error(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    wrong = gatetrio.Credentials(key=CREDS.key, secret="wrong", user_id=CREDS.user_id)
    async with gatetrio.open_client(
        connector=gate.connector,
        config=client_config(),
        wall_clock=gate.wall_time,
        credentials=wrong,
    ) as client:
        with pytest.raises(gatetrio.AuthenticationError) as info:
            async with client.subscribe(channels.orders("20011")):
                pytest.fail("subscribed with a bad signature")
        assert info.value.code == 4
        with pytest.raises(gatetrio.AuthenticationError):
            await client.request(gatetrio.GetOrder(order_id="1"))


async def test_rejected_order_raises_request_rejected_with_label(
    gate: FakeGateServer, connector: Connector
) -> None:
    async with client_for(gate, connector=connector) as client:
        with pytest.raises(gatetrio.RequestRejected) as info:
            await client.request(gatetrio.CancelOrder(order_id="999999999"))
    assert info.value.label == "ORDER_NOT_FOUND"


async def test_bad_arguments_raise_usage_error_at_once(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with client_for(gate) as client:
        with pytest.raises(gatetrio.UsageError, match="ChannelSpec"):
            async with client.subscribe("futures.trades"):  # type: ignore[arg-type]
                pass
        with pytest.raises(gatetrio.UsageError, match="buffer"):
            async with client.subscribe(channels.trades("BTC_USDT"), buffer=0):
                pass
        with pytest.raises(gatetrio.UsageError, match="depth"):
            async with client.order_book("BTC_USDT", depth=0):
                pass
        with pytest.raises(gatetrio.UsageError):
            channels.trades()
    with pytest.raises(gatetrio.UsageError, match="settle"):
        async with gatetrio.open_client(settle="eur"):
            pass


async def test_public_async_methods_are_checkpoints(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with client_for(gate) as client:
        with trio.testing.assert_checkpoints():
            await client.wait_connected()
        async with client.subscribe(channels.trades("BTC_USDT")) as trades:
            await take(trades, 1)
            with trio.testing.assert_checkpoints():
                await trades.receive()


async def test_concurrent_first_requests_share_one_login(
    gate: FakeGateServer, connector: Connector
) -> None:
    async with client_for(gate, connector=connector) as client, trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(client.request, gatetrio.ListOrders(status="open"))
    assert len(frames_of(gate, "futures.login")) == 1
    assert len(frames_of(gate, "futures.order_list")) == 3
