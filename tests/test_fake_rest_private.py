"""The fake's private REST (issue 19.6), through the client's own signed REST helper: orders
placed over the WebSocket trading API are the orders REST lists, by id or by `t-` text, with
their fills in my_trades and the position and account they moved; refusals as live gives them."""

from __future__ import annotations

import contextlib
import random
from decimal import Decimal

import pytest
import trio
import trio.testing

import gatetrio
from gatetrio import AuthenticationError, RequestRejected
from gatetrio.testing import FakeGateServer

from .helpers import client_config

CREDS = gatetrio.Credentials(key="k" * 32, secret="s" * 64, user_id="20011")


@pytest.fixture
async def gate(nursery: trio.Nursery) -> FakeGateServer:
    server = FakeGateServer(seed=9, credentials=CREDS)
    await nursery.start(server.run)
    return server


def client(
    gate: FakeGateServer, *, size_decimal: bool = True
) -> contextlib.AbstractAsyncContextManager[gatetrio.Client]:
    return gatetrio.open_client(
        connector=gate.connector,
        rest_transport=gate.rest_transport,
        config=client_config(rng=random.Random(0), size_decimal=size_decimal),
        wall_clock=gate.wall_time,
        credentials=CREDS,
    )


async def place(c: gatetrio.Client, **order: object) -> dict[str, object]:
    result = await c.request(gatetrio.PlaceOrder(**order))  # type: ignore[arg-type]
    assert isinstance(result, gatetrio.Order)
    return dict(result.raw)  # the order as the fake's trading API sent it


async def test_orders_by_status_contract_id_and_text(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with client(gate) as c:
        rest = c.rest
        resting = await place(
            c, contract="ETH_USDT", size=Decimal("-0.5"), price="99999", text="t-rest-1"
        )
        other = await place(c, contract="BTC_USDT", size=1, price="1", text="t-rest-2")
        orders = rest.route.market_path("orders")
        listed = await rest.get(orders, query={"status": "open"}, signed=True)
        assert isinstance(listed, list)
        assert [o["id"] for o in listed] == [other["id"], resting["id"]]  # newest first
        eth = await rest.get(orders, query={"status": "open", "contract": "ETH_USDT"}, signed=True)
        assert isinstance(eth, list)
        assert [(o["id"], o["size"], o["left"], o["text"]) for o in eth] == [
            (resting["id"], "-0.5", "-0.5", "t-rest-1")
        ]
        # one order by its id and by its text: the same order
        by_id = await rest.get(rest.route.market_path("orders", str(resting["id"])), signed=True)
        by_text = await rest.get(rest.route.market_path("orders", "t-rest-1"), signed=True)
        assert by_id == by_text
        assert isinstance(by_id, dict)
        assert by_id["status"] == "open"
        # paging headers and limits as Gate's docs give them
        first = gate.serve_http("GET", "/api/v4/futures/usdt/orders?status=open&limit=1", {}, b"")
        assert first.status == 400  # unsigned: this server checks signatures
        page = await rest.get(
            orders, query={"status": "open", "limit": 1, "offset": 1}, signed=True
        )
        assert isinstance(page, list)
        assert [o["id"] for o in page] == [resting["id"]]
        # cancelled over the socket, it is finished on REST
        await c.request(gatetrio.CancelOrder(order_id=str(resting["id"])))
        assert (
            await rest.get(orders, query={"status": "open", "contract": "ETH_USDT"}, signed=True)
            == []
        )
        done = await rest.get(orders, query={"status": "finished"}, signed=True)
        assert isinstance(done, list)
        assert [(o["id"], o["finish_as"]) for o in done] == [(resting["id"], "cancelled")]


async def test_unknown_orders_and_bad_queries_are_refused_as_live(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with client(gate) as c:
        rest = c.rest
        for ref in ("12345", "t-never-placed"):
            with pytest.raises(RequestRejected) as caught:
                await rest.get(rest.route.market_path("orders", ref), signed=True)
            assert (caught.value.label, caught.value.status) == ("ORDER_NOT_FOUND", "404")
        with pytest.raises(RequestRejected) as caught:
            await rest.get(rest.route.market_path("orders"), query={"status": "maybe"}, signed=True)
        assert caught.value.label == "INVALID_PARAM_VALUE"
        with pytest.raises(RequestRejected) as caught:
            await rest.get(
                rest.route.market_path("my_trades"), query={"contract": "NOPE_USDT"}, signed=True
            )
        assert caught.value.label == "CONTRACT_NOT_FOUND"
        assert c.statistics().rest.retries == 0  # refusals are final


async def test_fills_positions_and_account_follow_the_engine(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with client(gate) as c:
        rest = c.rest
        start_s = gate.wall_time()
        bought = await place(c, contract="SOL_USDT", size=Decimal("1.5"), price="0", tif="ioc")
        assert bought["status"] == "finished"
        trades = await rest.get(
            rest.route.market_path("my_trades"),
            query={"contract": "SOL_USDT", "order": str(bought["id"])},
            signed=True,
        )
        assert isinstance(trades, list)
        assert trades
        assert all(t["order_id"] == str(bought["id"]) for t in trades)
        assert sum(Decimal(str(t["size"])) for t in trades) == Decimal("1.5")
        ranged = await rest.get(
            rest.route.market_path("my_trades_timerange"),
            query={"contract": "SOL_USDT", "from": int(start_s) - 1, "to": int(start_s) + 60},
            signed=True,
        )
        assert isinstance(ranged, list)
        assert [t["trade_id"] for t in ranged] == [str(t["id"]) for t in trades]
        empty = await rest.get(
            rest.route.market_path("my_trades_timerange"),
            query={"contract": "SOL_USDT", "to": int(start_s) - 10},
            signed=True,
        )
        assert empty == []
        positions = await rest.get(rest.route.market_path("positions"), signed=True)
        assert isinstance(positions, list)
        (sol,) = [p for p in positions if p["contract"] == "SOL_USDT"]
        assert sol["size"] == "1.5"
        account = await rest.get(rest.route.market_path("accounts"), signed=True)
        assert isinstance(account, dict)
        assert Decimal(str(account["total"])) < 10000  # the taker fee came off


async def test_without_the_decimal_header_sizes_are_truncated_ints_as_live(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    async with client(gate, size_decimal=False) as c:
        await place(c, contract="ETH_USDT", size=Decimal("-1.5"), price="99999", text="t-int")
        orders = await c.rest.get(
            c.rest.route.market_path("orders"), query={"status": "open"}, signed=True
        )
        assert isinstance(orders, list)
        assert [o["size"] for o in orders] == [-1]
        assert "x-gate-size-decimal" not in gate.rest_received[-1].headers
        await place(c, contract="SOL_USDT", size=Decimal("1.5"), price="0", tif="ioc")
        positions = await c.rest.get(c.rest.route.market_path("positions"), signed=True)
        assert isinstance(positions, list)
        assert [p["size"] for p in positions if p["contract"] == "SOL_USDT"] == [1]


async def test_every_private_route_is_signed_and_rate_limited(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    paths = [
        "/api/v4/futures/usdt/orders?status=open",
        "/api/v4/futures/usdt/orders/1",
        "/api/v4/futures/usdt/my_trades",
        "/api/v4/futures/usdt/my_trades_timerange",
        "/api/v4/futures/usdt/positions",
        "/api/v4/futures/usdt/accounts",
        "/api/v4/account/detail",
    ]
    for target in paths:
        reply = gate.serve_http("GET", target, {}, b"")
        assert reply.status == 400, target
        assert b"MISSING_REQUIRED_HEADER" in reply.body
    async with client(gate) as c:
        with pytest.raises(AuthenticationError):
            await c.rest.get("/account/detail")
        detail = await c.rest.get("/account/detail", signed=True)
        assert isinstance(detail, dict)
        assert detail["user_id"] == 20011
        headers = dict(gate.serve_http("GET", "/api/v4/spot/currencies", {}, b"").headers)
        assert "X-Gate-RateLimit-Limit" not in headers  # public: no account to count against
