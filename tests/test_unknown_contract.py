"""An unknown contract is a typed error, fast (issue 17.10): live Gate acks an obu stream of any
name and then sends nothing, so `order_book` asks first (REST, else the socket)."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Sequence

import pytest
import trio
import trio.testing

import gatetrio
from gatetrio import UnknownContract
from gatetrio.testing import FakeGateServer

from .helpers import client_config


@pytest.fixture
async def gate(nursery: trio.Nursery) -> FakeGateServer:
    server = FakeGateServer(seed=4, rest_latency=0.05)
    await nursery.start(server.run)
    return server


def subscribed(gate: FakeGateServer) -> list[tuple[str, object]]:
    return [
        (str(r.channel), r.frame.get("payload"))
        for r in gate.received
        if isinstance(r.frame, dict) and r.frame.get("event") == "subscribe"
    ]


class UnreachableRest:
    """A REST transport whose host never answers."""

    def __init__(self) -> None:
        self.calls = 0

    def open(
        self, method: str, url: str, headers: Sequence[tuple[str, str]], body: bytes
    ) -> contextlib.AbstractAsyncContextManager[object]:
        self.calls += 1
        return self

    async def __aenter__(self) -> object:
        await trio.sleep_forever()

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    async def aclose(self) -> None:
        await trio.lowlevel.checkpoint()


def client(
    gate: FakeGateServer, *, rest: object = "fake", url: str | None = None
) -> contextlib.AbstractAsyncContextManager[gatetrio.Client]:
    transport = gate.rest_transport if rest == "fake" else rest
    return gatetrio.open_client(
        url=url,
        connector=gate.connector,
        rest_transport=transport,  # type: ignore[arg-type]
        config=client_config(rng=random.Random(0)),
        wall_clock=gate.wall_time,
    )


@pytest.mark.parametrize("method", ["auto", "obu", "order_book_update"])
async def test_rest_says_unknown_before_anything_is_subscribed(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock, method: str
) -> None:
    async with client(gate) as c:
        start = trio.current_time()
        with pytest.raises(UnknownContract) as caught:
            async with c.order_book("NOPE_USDT", method=method):  # type: ignore[arg-type]
                pytest.fail("the book must not open")
        assert trio.current_time() - start == pytest.approx(0.05)  # one REST round trip
        assert caught.value.contract == "NOPE_USDT"
        assert caught.value.code == "CONTRACT_NOT_FOUND"
        assert "NOPE_USDT" in str(caught.value)
        assert isinstance(caught.value, gatetrio.SubscriptionRejected)
        assert subscribed(gate) == []
        targets = [r.target for r in gate.rest_received]
        assert targets == ["/api/v4/futures/usdt/contracts/NOPE_USDT"]


async def test_a_contract_of_another_market_is_unknown_here(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with client(gate) as c:
        with pytest.raises(UnknownContract, match="futures usdt"):
            async with c.order_book("BTC_USD"):
                pass
    async with client(gate, url="ws://fake/v4/ws/delivery/usdt") as c:
        with pytest.raises(UnknownContract, match="delivery usdt"):
            async with c.order_book("BTC_USDT"):
                pass
        assert gate.rest_received[-1].target == "/api/v4/delivery/usdt/contracts/BTC_USDT"


async def test_without_rest_the_socket_answers_at_once(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with gatetrio.open_client(
        connector=gate.connector, config=client_config(), wall_clock=gate.wall_time
    ) as c:
        start = trio.current_time()
        with pytest.raises(UnknownContract) as caught:
            async with c.order_book("NOPE_USDT"):
                pass
        assert trio.current_time() == start  # no REST, no wait: the socket refuses at once
        assert "unknown currency pair" in str(caught.value)
        # the probe: a tickers subscription, never the obu stream Gate would ack silently
        assert subscribed(gate) == [("futures.tickers", ["NOPE_USDT"])]


async def test_when_rest_never_answers_the_socket_is_asked_after_five_seconds(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    unreachable = UnreachableRest()
    async with client(gate, rest=unreachable) as c:
        start = trio.current_time()
        with pytest.raises(UnknownContract):
            async with c.order_book("NOPE_USDT"):
                pass
        assert trio.current_time() - start == 5.0
        assert unreachable.calls == 1
        assert c.statistics().rest.timeouts == 1


async def test_a_listed_contract_is_asked_about_once(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with client(gate) as c:
        for _ in range(3):
            async with c.order_book("ETH_USDT", depth=20) as live:
                await live.wait_ready()
        checks = [r.target for r in gate.rest_received if "/contracts/" in r.target]
        assert checks == ["/api/v4/futures/usdt/contracts/ETH_USDT"]
        # unknown names are asked about every time: a typo fixed on the exchange side counts
        for _ in range(2):
            with pytest.raises(UnknownContract):
                async with c.order_book("ETH_USDX"):
                    pass
        assert len([r for r in gate.rest_received if "ETH_USDX" in r.target]) == 2


async def test_a_pool_refuses_an_unknown_contract_too(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with gatetrio.open_pool(
        connector=gate.connector,
        rest_transport=gate.rest_transport,
        config=client_config(),
        wall_clock=gate.wall_time,
    ) as pool:
        with pytest.raises(UnknownContract):
            async with pool.order_book("NOPE_USDT"):
                pass
