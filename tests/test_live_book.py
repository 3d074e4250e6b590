"""Live order books against the fake exchange: after gaps, reconnects and upgrades, the client's
book equals the fake's own book at the same update id, for every contract."""

from __future__ import annotations

import contextlib
import random
from collections.abc import AsyncIterator, Mapping

import pytest
import trio
import trio.testing

import gatetrio
import gatetrio.events
from gatetrio import ClientEventKind, LiveOrderBook
from gatetrio._core._book import choose_method
from gatetrio._shell import _live_book as gatetrio_live
from gatetrio.testing import FakeGateServer

from .helpers import EventLog, open_against, record_events

USDT = ("BTC_USDT", "ETH_USDT", "SOL_USDT", "HEI_USDT")

pytestmark = pytest.mark.fake(seed=11, credentials=None)


BTC_SETTLE = "wss://fx-ws.gateio.ws/v4/ws/btc"


def assert_matches_fake(gate: FakeGateServer, live: LiveOrderBook) -> None:
    """The client's book equals the fake's book at the client's update id, at the stream depth."""
    assert live.ready
    update_id = live.book.update_id
    assert update_id is not None
    depth = int(live.level)
    state = gate.book_at(live.contract, update_id, depth=depth)
    assert state.bids
    assert state.asks
    assert live.book.bids(depth) == list(state.bids)
    assert live.book.asks(depth) == list(state.asks)
    assert not live.book.is_crossed()


async def settle_books(books: list[LiveOrderBook]) -> None:
    """Let every book apply a few more updates, then stop at a moment when all are ready."""
    for live in books:
        await live.wait_ready()
        await live.wait_update()


def fetcher(gate: FakeGateServer) -> gatetrio_live.SnapshotFetcher:
    async def fetch(contract: str, limit: int) -> Mapping[str, object]:
        await trio.sleep(0.05)  # a REST round trip, during which deltas keep arriving
        return gate.rest_order_book(contract, limit)

    return fetch


async def test_obu_books_match_the_fake_through_gaps_and_reconnects(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with (
        open_against(gate, rng=random.Random(1)) as client,
        record_events(client) as log,
        client.order_book("BTC_USDT", depth=50) as btc,
        client.order_book("ETH_USDT", depth=400) as eth,
        client.order_book("SOL_USDT", depth=10) as sol,
        client.order_book("HEI_USDT", depth=10) as hei,
    ):
        books = [btc, eth, sol, hei]
        assert [b.method for b in books] == ["obu"] * 4
        assert [b.level for b in books] == ["50", "400", "50", "50"]
        await settle_books(books)
        for live in books:
            assert_matches_fake(gate, live)

        gate.inject_gap("ETH_USDT")
        await log.wait(ClientEventKind.BOOK_RESYNC, channel="ETH_USDT")
        await settle_books(books)
        for live in books:
            assert_matches_fake(gate, live)
        # the gap resynced ETH only; the others kept streaming
        assert [b.statistics().resyncs for b in books] == [0, 1, 0, 0]
        assert eth.statistics().gaps == 1

        gate.drop()
        await log.wait(ClientEventKind.CONNECTED)
        await settle_books(books)
        for live in books:
            assert_matches_fake(gate, live)

        gate.send_upgrade(grace=3.0)
        await log.wait(ClientEventKind.UPGRADE)
        await trio.sleep(5)
        await settle_books(books)
        for live in books:
            assert_matches_fake(gate, live)
    assert [e.channel for e in log.of(ClientEventKind.BOOK_RESYNC)] == ["ETH_USDT"]


async def test_rest_synced_books_match_the_fake_through_gaps_and_reconnects(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    fetch = fetcher(gate)
    async with (
        open_against(gate, rng=random.Random(1)) as client,
        record_events(client) as log,
        client.order_book(
            "BTC_USDT", depth=100, method="order_book_update", snapshot_fetcher=fetch
        ) as btc,
        client.order_book(
            "ETH_USDT", depth=20, method="order_book_update", snapshot_fetcher=fetch
        ) as eth,
    ):
        books = [btc, eth]
        assert [b.level for b in books] == ["100", "20"]
        await settle_books(books)
        for live in books:
            assert_matches_fake(gate, live)

        gate.inject_gap("BTC_USDT", size=3)
        await log.wait(ClientEventKind.BOOK_RESYNC, channel="BTC_USDT")
        assert btc.statistics().resyncs == 1
        await settle_books(books)
        for live in books:
            assert_matches_fake(gate, live)
        assert eth.statistics().resyncs == 0
        assert btc.statistics().snapshots_fetched >= 2

        gate.drop()
        await log.wait(ClientEventKind.CONNECTED)
        await settle_books(books)
        for live in books:
            assert_matches_fake(gate, live)


async def test_btc_settle_uses_obu_and_needs_no_rest(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    # futures.obu works on the btc and usd1 endpoints live (spec 15): auto picks it there.
    async def no_rest(contract: str, limit: int) -> Mapping[str, object]:
        raise AssertionError("obu needs no REST snapshot")

    async with (
        open_against(gate, url=BTC_SETTLE, rng=random.Random(1)) as client,
        client.order_book("BTC_USD", depth=50, snapshot_fetcher=no_rest) as live,
    ):
        assert live.method == "obu"
        await settle_books([live])
        assert_matches_fake(gate, live)


async def test_btc_settle_order_book_update_and_rest_on_request(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with (
        open_against(gate, url=BTC_SETTLE, rng=random.Random(1)) as client,
        client.order_book(
            "BTC_USD", depth=50, method="order_book_update", snapshot_fetcher=fetcher(gate)
        ) as live,
    ):
        assert live.method == "order_book_update"
        await settle_books([live])
        assert_matches_fake(gate, live)


@pytest.mark.parametrize(
    ("url", "method"),
    [
        ("wss://fx-ws.gateio.ws/v4/ws/usdt", "obu"),
        ("wss://fx-ws.gateio.ws/v4/ws/btc", "obu"),
        ("wss://fx-ws.gateio.ws/v4/ws/usd1/", "obu"),
        ("wss://fx-ws.gateio.ws/v4/ws/delivery/usdt", "order_book_update"),
        ("wss://fx-ws.gateio.ws/v4/ws/delivery/btc", "order_book_update"),
        ("wss://fx-ws.gateio.ws/v4/ws", "order_book_update"),
    ],
)
def test_auto_method_per_endpoint(url: str, method: str) -> None:
    assert choose_method(url, "auto") == method


async def test_snapshot_failures_are_retried_and_counted(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    failures = 2

    async def flaky(contract: str, limit: int) -> Mapping[str, object]:
        nonlocal failures
        await trio.sleep(0.05)
        if failures:
            failures -= 1
            raise gatetrio.ConnectionLost("REST down")
        return gate.rest_order_book(contract, limit)

    async with (
        open_against(gate, rng=random.Random(1)) as client,
        client.order_book(
            "SOL_USDT", depth=20, method="order_book_update", snapshot_fetcher=flaky
        ) as live,
    ):
        await settle_books([live])
        assert_matches_fake(gate, live)
        assert live.statistics().snapshot_errors == 2


@contextlib.asynccontextmanager
async def settled_btc_book(gate: FakeGateServer) -> AsyncIterator[tuple[EventLog, LiveOrderBook]]:
    """A client's BTC_USDT obu book (level 50), in sync, and the client's event log."""
    async with (
        open_against(gate, rng=random.Random(1)) as client,
        record_events(client) as log,
        client.order_book("BTC_USDT", depth=50) as live,
    ):
        await settle_books([live])
        yield log, live


async def push_until_resynced(
    gate: FakeGateServer, log: EventLog, live: LiveOrderBook, bad: gatetrio.ObuDelta
) -> None:
    """Push `bad` on the book's stream; return once the book resynced and is exact again."""
    gate.push(gatetrio.events.ObuUpdate(result=bad))
    await log.wait(ClientEventKind.BOOK_RESYNC, channel=live.contract)
    await settle_books([live])
    assert_matches_fake(gate, live)


async def test_crossed_book_triggers_a_resync(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with settled_btc_book(gate) as (log, live):
        best_ask = live.book.best_ask()
        update_id = live.book.update_id
        assert best_ask is not None
        assert update_id is not None
        crossing = gatetrio.ObuDelta(
            t=live.book.t,
            s="ob.BTC_USDT.50",
            U=update_id + 1,
            u=update_id + 1,
            b=(gatetrio.ObuLevel(p=str(best_ask[0] + 100), s="5"),),
        )
        await push_until_resynced(gate, log, live, crossing)
        assert live.statistics().crossed == 1
        assert live.statistics().resyncs >= 1


async def test_two_books_of_one_contract_share_the_stream(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with (
        open_against(gate, rng=random.Random(1)) as client,
        client.order_book("BTC_USDT", depth=20) as first,
        client.order_book("BTC_USDT", depth=20) as second,
    ):
        await settle_books([first, second])
        assert_matches_fake(gate, first)
        assert_matches_fake(gate, second)
    subscribes = [
        msg
        for _conn, msg in gate.received
        if isinstance(msg, dict)
        and msg.get("channel") == "futures.obu"
        and msg.get("event") == "subscribe"
    ]
    assert len(subscribes) == 1  # refcounted: no duplicate "Alert sub"


async def test_iterating_a_live_book_yields_increasing_update_ids(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with (
        open_against(gate, rng=random.Random(1)) as client,
        client.order_book("ETH_USDT", depth=10) as live,
    ):
        seen = []
        async for update_id in live:
            seen.append(update_id)
            if len(seen) == 5:
                break
    assert seen == sorted(seen)
    assert len(set(seen)) == 5


async def test_malformed_obu_snapshot_resubscribes_instead_of_failing(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with settled_btc_book(gate) as (log, live):
        update_id = live.book.update_id
        assert update_id is not None
        broken = gatetrio.ObuDelta(
            t=live.book.t,
            s="ob.BTC_USDT.50",
            u=update_id + 1,
            full=True,
            b=(gatetrio.ObuLevel(p="not-a-price", s="1"),),
        )
        await push_until_resynced(gate, log, live, broken)
        assert live.statistics().malformed == 1
        assert live.statistics().resyncs == 1


@pytest.mark.parametrize(
    "bad",
    [
        {"update": 10**400},
        {"id": 10**400},
        {"bids": [{"p": "1", "s": 10**400}]},
        {"asks": [[{"p": "1", "s": 1}]]},
        {"bids": [{"p": "NaN", "s": 1}]},
    ],
    ids=repr,
)
async def test_a_malformed_rest_body_is_a_counted_retried_snapshot_error(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock, bad: dict[str, object]
) -> None:
    bodies = 0

    async def broken_once(contract: str, limit: int) -> Mapping[str, object]:
        nonlocal bodies
        await trio.sleep(0.05)
        bodies += 1
        body = dict(gate.rest_order_book(contract, limit))
        return {**body, **bad} if bodies == 1 else body

    async with (
        open_against(gate, rng=random.Random(1)) as client,
        record_events(client) as log,
        client.order_book(
            "SOL_USDT", depth=20, method="order_book_update", snapshot_fetcher=broken_once
        ) as live,
    ):
        await settle_books([live])
        assert_matches_fake(gate, live)
        stats = live.statistics()
        assert (stats.snapshot_errors, stats.snapshots_fetched, stats.resyncs) == (1, 1, 0)
    failed = log.of(ClientEventKind.BOOK_RESYNC)
    assert [e.reason.startswith("snapshot failed: ") for e in failed] == [True]


async def test_a_book_listens_for_lost_connections_only_while_open(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with (
        open_against(gate, rng=random.Random(1)) as client,
        client.events() as events,
    ):
        async with client.order_book("BTC_USDT", depth=50) as live:
            await settle_books([live])
            assert client._rt.links.lost_watchers == 1
            gate.drop()
            async for event in events:
                if event.kind is ClientEventKind.DISCONNECTED:
                    break
            # told as the connection dropped, before anything was resubscribed
            assert not live.ready
            assert live.book.update_id is None
            await settle_books([live])
            assert_matches_fake(gate, live)
            stats = live.statistics()
            assert (stats.resyncs, stats.gaps, stats.snapshots_fetched) == (0, 0, 2)
        assert client._rt.links.lost_watchers == 0
