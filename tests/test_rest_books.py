"""Live books built on the client's own REST helper (issue 17.1): the REST base book carries the
sizes the socket carries, fractional ones included, on every book method and market, and the
REST calls send the headers the socket's data assumes."""

from __future__ import annotations

import random
from collections.abc import Sequence
from decimal import Decimal

import pytest
import trio
import trio.testing

import gatetrio
from gatetrio import ClientEventKind, LiveOrderBook
from gatetrio.testing import ContractSpec, FakeGateServer

from .helpers import client_config, record_events

# fractional-size contracts (`enable_decimal`, size step 0.1 and 0.01) on every market
FRACTIONAL: dict[str, Sequence[ContractSpec]] = {
    "usdt": [
        ContractSpec(
            name="SOL_USDT",
            price=Decimal("147.6"),
            tick=Decimal("0.1"),
            size_step=Decimal("0.1"),
            quanto_multiplier=Decimal(1),
            mean_size=300,
        )
    ],
    "btc": [
        ContractSpec(
            name="BTC_USD",
            price=Decimal("63990.0"),
            tick=Decimal("0.1"),
            size_step=Decimal("0.01"),
            quanto_multiplier=Decimal(0),
            mean_size=900,
        )
    ],
    "usd1": [
        ContractSpec(
            name="ETH_USD1",
            price=Decimal("3150.50"),
            tick=Decimal("0.01"),
            size_step=Decimal("0.1"),
            quanto_multiplier=Decimal("0.01"),
            mean_size=500,
        )
    ],
    "delivery/usdt": [
        ContractSpec(
            name="ETH_USDT_20261225",
            price=Decimal("3171.00"),
            tick=Decimal("0.01"),
            size_step=Decimal("0.1"),
            quanto_multiplier=Decimal("0.01"),
            mean_size=500,
        )
    ],
    "delivery/btc": [
        ContractSpec(
            name="BTC_USD_20261225",
            price=Decimal("64410.0"),
            tick=Decimal("0.1"),
            size_step=Decimal("0.01"),
            quanto_multiplier=Decimal(0),
            mean_size=900,
        )
    ],
}

CASES = [
    # (ws path, contract, method): every way a live book is built
    ("/v4/ws/usdt", "SOL_USDT", "order_book_update"),
    ("/v4/ws/usdt", "SOL_USDT", "obu"),
    ("/v4/ws/btc", "BTC_USD", "order_book_update"),
    ("/v4/ws/btc", "BTC_USD", "obu"),
    ("/v4/ws/usd1", "ETH_USD1", "order_book_update"),
    ("/v4/ws/delivery/usdt", "ETH_USDT_20261225", "auto"),  # delivery: order_book_update + REST
    ("/v4/ws/delivery/btc", "BTC_USD_20261225", "auto"),
    ("/v4/ws", "BTC_USD", "auto"),  # the legacy path, served as BTC: order_book_update + REST
]


pytestmark = pytest.mark.fake(seed=17, markets=FRACTIONAL, rest_latency=0.05, credentials=None)


def fractional(levels: list[tuple[Decimal, int | Decimal]]) -> bool:
    return any(isinstance(size, Decimal) and size != size.to_integral_value() for _, size in levels)


@pytest.mark.parametrize(("path", "contract", "method"), CASES)
async def test_fractional_sizes_survive_the_rest_base_book(
    gate: FakeGateServer,
    autojump_clock: trio.testing.MockClock,
    path: str,
    contract: str,
    method: str,
) -> None:
    async with gatetrio.open_client(
        url=f"ws://fake{path}",
        connector=gate.connector,
        rest_transport=gate.rest_transport,
        config=client_config(rng=random.Random(2)),
        wall_clock=gate.wall_time,
    ) as client:
        async with client.order_book(contract, depth=50, method=method) as live:  # type: ignore[arg-type]
            await live.wait_ready()
            # compared at once: levels the stream has not touched yet still hold the REST sizes
            check(gate, live)
            for _ in range(20):
                await live.wait_update()
            check(gate, live)
        uses_rest = live.method == "order_book_update"
        received = [r for r in gate.rest_received if "/order_book" in r.target]
        assert bool(received) == uses_rest
        for request in received:
            assert request.headers["x-gate-size-decimal"] == "1"
            assert "with_id=true" in request.target
            assert f"limit={live.level}" in request.target


def check(gate: FakeGateServer, live: LiveOrderBook, *, fractional_sizes: bool = True) -> None:
    update_id = live.book.update_id
    assert update_id is not None
    depth = int(live.level)
    state = gate.book_at(live.contract, update_id, depth=depth)
    bids, asks = live.book.bids(depth), live.book.asks(depth)
    assert bids == list(state.bids)
    assert asks == list(state.asks)
    if fractional_sizes:
        assert fractional(bids + asks), "the fake's book should hold fractional sizes"


async def test_without_the_header_the_fake_truncates_as_gate_does(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    # what the bug looked like: the same snapshot without X-Gate-Size-Decimal
    await trio.sleep(1)
    truncated = gate.rest_order_book("SOL_USDT", 50, size_decimal=False)
    exact = gate.rest_order_book("SOL_USDT", 50, size_decimal=True)
    assert truncated["id"] == exact["id"]
    assert truncated != exact
    bids = truncated["bids"]
    assert isinstance(bids, list)
    assert all(isinstance(level["s"], int) for level in bids)


@pytest.mark.fake(seed=5, rest_latency=8.0, credentials=None)
async def test_snapshots_too_old_are_counted_reported_and_paced(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    # a REST answer slower than the deltas the book may buffer meanwhile (256 at 20 ms):
    # every snapshot is older than the stream; none is used, each is reported, and the
    # fetches slow down (backoff to 5 s) rather than hammering REST forever
    async with (
        gatetrio.open_client(
            connector=gate.connector,
            rest_transport=gate.rest_transport,
            config=client_config(rng=random.Random(2), rest_deadline=30.0),
            wall_clock=gate.wall_time,
        ) as client,
        record_events(client) as log,
        client.order_book("BTC_USDT", depth=20, method="order_book_update") as live,
    ):
        await trio.sleep(60)
        stats = live.statistics()
        assert not live.ready
        assert stats.snapshots_too_old >= 4
        assert stats.snapshots_fetched == stats.snapshots_too_old
        assert "older than the deltas" in stats.waiting
        fetched = [r for r in gate.rest_received if "order_book" in r.target]
        assert len(fetched) <= 8  # 8 s each plus a growing pause, not one after another
        gate.rest_latency = 0.05  # REST recovers: the book syncs on the next fetch
        await live.wait_ready()
        check(gate, live, fractional_sizes=False)
        assert live.statistics().waiting == ""
    stale = log.of(ClientEventKind.BOOK_RESYNC)
    assert len(stale) >= 4
    assert all("older than the deltas" in e.reason and "again in" in e.reason for e in stale)


async def test_rest_refusals_in_the_book_path_are_retried_not_fatal(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    refusals = 2

    async def refusing(contract: str, limit: int) -> object:
        nonlocal refusals
        await trio.sleep(0.05)
        if refusals:
            refusals -= 1
            raise gatetrio.RateLimited(
                "Request Rate limit Exceeded (311)",
                label="TOO_MANY_REQUESTS",
                status="429",
                req_id="",
            )
        return gate.rest_order_book(contract, limit)

    async with (
        gatetrio.open_client(
            url="ws://fake/v4/ws/usdt",
            connector=gate.connector,
            rest_transport=gate.rest_transport,
            config=client_config(rng=random.Random(2)),
            wall_clock=gate.wall_time,
        ) as client,
        client.order_book(
            "SOL_USDT", depth=20, method="order_book_update", snapshot_fetcher=refusing
        ) as live,
    ):
        await live.wait_ready()
        check(gate, live)
        assert live.statistics().snapshot_errors == 2
