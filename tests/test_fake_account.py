"""The fake's account tells the truth: every private channel is pushed from its engine, in
Gate's shapes, and its REST agrees afterwards (liquidations, auto-deleverages, risk-limit
reductions, ADL ranks, dual mode, deposits); a subscription for another account's UID is
refused; private pushes can be dropped or delayed on a live socket.

The peer is a plain trio-websocket connection (`trio_websocket_connector`) speaking Gate's
JSON, under `autojump_clock`: the times asserted are exact.
"""

from __future__ import annotations

import json
import typing
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pytest
import trio
import trio.testing

from gatetrio._core._auth import sign_rest, sign_subscription
from gatetrio._core._decode import decode_message
from gatetrio._core._encode import encode_request
from gatetrio._core._events import (
    AdlWarningUpdate,
    AutoDeleveragesUpdate,
    AutoOrdersUpdate,
    BalancesUpdate,
    DataEvent,
    ErrorReply,
    Event,
    LiquidationsUpdate,
    OrdersUpdate,
    PositionAdlRanksUpdate,
    PositionClosesUpdate,
    PositionsUpdate,
    ReduceRiskLimitsUpdate,
    SubscribeAck,
)
from gatetrio._core._requests import PlaceOrder
from gatetrio.testing import FakeGateServer

from .helpers import CREDS, deadline

if TYPE_CHECKING:
    from trio_websocket import WebSocketConnection

USDT: Final = "wss://fx-ws.gateio.ws/v4/ws/usdt"
DECIMAL: Final = [("X-Gate-Size-Decimal", "1")]
UID: Final = CREDS.user_id
USER_CHANNELS: Final = (
    "futures.orders",
    "futures.usertrades",
    "futures.liquidates",
    "futures.auto_deleverages",
    "futures.position_closes",
    "futures.reduce_risk_limits",
    "futures.positions",
)


async def subscribe(
    ws: WebSocketConnection, gate: FakeGateServer, channel: str, payload: list[str]
) -> Event:
    now = int(gate.wall_time())
    auth = sign_subscription(channel, "subscribe", now, key=CREDS.key, secret=CREDS.secret)
    frame = {"time": now, "channel": channel, "event": "subscribe", "payload": payload}
    await ws.send_message(json.dumps({**frame, "auth": auth}))
    return decode_message(await ws.get_message())


async def private_socket(
    gate: FakeGateServer, nursery: trio.Nursery, headers: list[tuple[str, str]] = DECIMAL
) -> WebSocketConnection:
    """A socket subscribed to every private channel (decimal sizes unless `headers` say)."""
    ws = await gate.trio_websocket_connector(nursery, USDT, headers)
    for channel in USER_CHANNELS:
        assert isinstance(await subscribe(ws, gate, channel, [UID, "!all"]), SubscribeAck)
    assert isinstance(await subscribe(ws, gate, "futures.balances", [UID]), SubscribeAck)
    for channel in ("futures.position_adl_rank", "futures.autoorders"):
        assert isinstance(await subscribe(ws, gate, channel, ["!all"]), SubscribeAck)
    return ws


async def frames(ws: WebSocketConnection, n: int) -> list[DataEvent]:
    """The next `n` pushes."""
    out: list[DataEvent] = []
    with deadline(f"{n} private pushes"):
        while len(out) < n:
            event = decode_message(await ws.get_message())
            assert not isinstance(event, ErrorReply), event
            out.append(event)  # type: ignore[arg-type]  # only pushes come on this socket
    return out


async def place(ws: WebSocketConnection, gate: FakeGateServer, order: PlaceOrder, req: int) -> None:
    frame = encode_request(order, wall_time=gate.wall_time(), req_id=req, credentials=CREDS)
    await ws.send_message(frame)


async def trading_socket(gate: FakeGateServer, nursery: trio.Nursery) -> WebSocketConnection:
    """A second socket for orders, so the private one carries pushes alone."""
    return await gate.trio_websocket_connector(nursery, USDT, DECIMAL)


async def go_long(
    gate: FakeGateServer, trader: WebSocketConnection, ws: WebSocketConnection, size: int = 10
) -> list[DataEvent]:
    """Buy `size` BTC_USDT at the best ask; its pushes: orders _new and filled, usertrades,
    positions, balances (fee), and position_adl_rank if it opened the position."""
    opens = gate.account.position_size("BTC_USDT") == 0
    ask = gate.book("BTC_USDT", 1).asks[0]
    order = PlaceOrder(contract="BTC_USDT", size=size, price=str(ask[0]), tif="ioc")
    await place(trader, gate, order, 1)
    return await frames(ws, 6 if opens else 5)


def kinds(events: list[DataEvent]) -> list[str]:
    return [event.channel for event in events]


# ----------------------------------------------------------------------- user ids


@pytest.mark.parametrize("channel", [*USER_CHANNELS[:-1], "futures.balances"])
async def test_a_subscription_for_another_uid_is_refused(
    gate: FakeGateServer,
    nursery: trio.Nursery,
    autojump_clock: trio.testing.MockClock,
    channel: str,
) -> None:
    ws = await gate.trio_websocket_connector(nursery, USDT, DECIMAL)
    other = ["99"] if channel == "futures.balances" else ["99", "!all"]
    refused = await subscribe(ws, gate, channel, other)
    assert isinstance(refused, ErrorReply)
    assert (refused.code, refused.message) == (2, f"auth faild , auth data : &{{{{{UID}}}}}")
    own = [UID] if channel == "futures.balances" else [UID, "!all"]
    assert isinstance(await subscribe(ws, gate, channel, own), SubscribeAck)


async def test_positions_take_any_uid_as_the_placeholder_gate_documents(
    gate: FakeGateServer, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    # spec 7: "futures.positions: user_id is deprecated, placeholder only"
    ws = await gate.trio_websocket_connector(nursery, USDT, DECIMAL)
    assert isinstance(await subscribe(ws, gate, "futures.positions", ["99", "!all"]), SubscribeAck)
    trader = await trading_socket(gate, nursery)
    ask = gate.book("BTC_USDT", 1).asks[0]
    await place(
        trader, gate, PlaceOrder(contract="BTC_USDT", size=3, price=str(ask[0]), tif="ioc"), 1
    )
    (push,) = await frames(ws, 1)
    assert isinstance(push, PositionsUpdate)
    assert push.result[0].user == UID


# ----------------------------------------------------------------------- push faults


async def test_dropped_private_pushes_leave_the_socket_open(
    gate: FakeGateServer, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ws = await private_socket(gate, nursery)
    trader = await trading_socket(gate, nursery)
    gate.account.drop_pushes(5.0)
    await go_long_silently(gate, trader)
    assert gate.account.pushes_dropped == 6
    await trio.sleep(5.0)
    assert not gate.connections[0].closed
    opening = await go_long(gate, trader, ws, size=2)  # after the window: pushed again
    assert kinds(opening)[:2] == ["futures.orders", "futures.orders"]
    assert gate.account.pushes_dropped == 6


async def go_long_silently(gate: FakeGateServer, trader: WebSocketConnection) -> None:
    ask = gate.book("BTC_USDT", 1).asks[0]
    await place(
        trader, gate, PlaceOrder(contract="BTC_USDT", size=4, price=str(ask[0]), tif="ioc"), 9
    )
    await gate.wait_until(lambda: gate.account.position_size("BTC_USDT") != 0)


async def test_delayed_private_pushes_arrive_late_and_in_order(
    gate: FakeGateServer, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ws = await private_socket(gate, nursery)
    trader = await trading_socket(gate, nursery)
    gate.account.delay_pushes(2.0, seconds=1.0)
    start = trio.current_time()
    opening = await go_long(gate, trader, ws)
    assert trio.current_time() - start == pytest.approx(2.0, abs=0.01)
    assert kinds(opening) == [
        "futures.orders",
        "futures.orders",
        "futures.usertrades",
        "futures.positions",
        "futures.balances",
        "futures.position_adl_rank",
    ]
    assert gate.account.pushes_delayed == 6
    assert gate.account.pushes_held == 0


# ----------------------------------------------------------------------- liquidations


async def rest(gate: FakeGateServer, path: str) -> Any:
    """A signed ``GET /api/v4/futures/usdt/<path>``'s JSON, sizes as decimals."""
    await trio.lowlevel.checkpoint()
    route, _, query = f"/api/v4/futures/usdt/{path}".partition("?")
    stamp = str(int(gate.wall_time()))
    headers = sign_rest(
        "GET", route, query, b"", timestamp=stamp, key=CREDS.key, secret=CREDS.secret
    )
    target = f"{route}?{query}" if query else route
    status, body = gate.handle_http("GET", target, {**headers, "X-Gate-Size-Decimal": "1"})
    assert status == 200, body
    return json.loads(body)


async def test_a_market_move_through_the_liquidation_price_liquidates(
    gate: FakeGateServer, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ws = await private_socket(gate, nursery)
    trader = await trading_socket(gate, nursery)
    await go_long(gate, trader, ws)
    liq = gate.account.liquidation_price("BTC_USDT")
    (position,) = [p for p in await rest(gate, "positions") if p["contract"] == "BTC_USDT"]
    assert Decimal(position["liq_price"]) == liq > 0
    entry = Decimal(position["entry_price"])
    balance = gate.account.balance
    ask = gate.book("BTC_USDT", 1).asks[0][0]
    resting = PlaceOrder(contract="BTC_USDT", size=-1, price=str(ask + 1000), text="t-rest")
    await place(trader, gate, resting, 2)
    (new,) = await frames(ws, 1)
    assert isinstance(new, OrdersUpdate)

    gate.account.move_market("BTC_USDT", liq - 100)

    pushes = await frames(ws, 9)
    assert kinds(pushes) == [
        "futures.orders",  # the resting order, cancelled by the liquidation
        "futures.position_adl_rank",  # 6: in liquidation
        "futures.orders",  # the liquidation order, filled
        "futures.usertrades",
        "futures.positions",
        "futures.balances",  # its fee
        "futures.balances",  # the loss
        "futures.position_closes",
        "futures.liquidates",
    ]
    cancelled, rank, order = pushes[0], pushes[1], pushes[2]
    assert isinstance(cancelled, OrdersUpdate)
    assert cancelled.result[0].finish_as == "liquidated"
    assert isinstance(rank, PositionAdlRanksUpdate)
    assert rank.result[0].rank_division == 6
    assert isinstance(order, OrdersUpdate)
    liq_order = order.result[0]
    assert (liq_order.is_liq, liq_order.text, liq_order.status, liq_order.finish_as) == (
        True,
        "liquidation",
        "finished",
        "filled",
    )
    assert liq_order.size == Decimal(-10)
    closes = [p for p in pushes if isinstance(p, PositionClosesUpdate)]
    liquidations = [p for p in pushes if isinstance(p, LiquidationsUpdate)]
    assert closes[0].result[0].side == "long"
    assert closes[0].result[0].pnl is not None
    assert closes[0].result[0].pnl < 0
    record = liquidations[0].result[0]
    assert (record.size, record.order_size, record.liq_price, record.order_id) == (
        Decimal(10),
        Decimal(-10),
        liq,
        liq_order.id,
    )
    assert record.entry_price == entry
    assert gate.account.liquidations == 1
    # REST agrees: flat, the loss and the fee off the balance, no open order
    (position,) = [p for p in await rest(gate, "positions") if p["contract"] == "BTC_USDT"]
    assert Decimal(position["size"]) == 0
    loss = (liq - entry) * 10 * Decimal("0.0001")
    fee = next(p for p in pushes if isinstance(p, BalancesUpdate)).result[0].change
    assert gate.account.balance == balance + loss + fee
    account = await rest(gate, "accounts")
    assert Decimal(account["total"]) == gate.account.balance
    assert await rest(gate, "orders?status=open") == []


async def test_a_short_is_liquidated_by_a_move_up_and_liquidate_works_on_demand(
    gate: FakeGateServer, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ws = await private_socket(gate, nursery)
    trader = await trading_socket(gate, nursery)
    bid = gate.book("ETH_USDT", 1).bids[0][0]
    order = PlaceOrder(contract="ETH_USDT", size=Decimal("-2.5"), price=str(bid), tif="ioc")
    await place(trader, gate, order, 1)
    await frames(ws, 6)
    liq = gate.account.liquidation_price("ETH_USDT")
    assert liq > bid
    gate.account.move_market("ETH_USDT", liq + 1)
    pushes = await frames(ws, 8)  # no resting order to cancel this time
    closes = [p for p in pushes if isinstance(p, PositionClosesUpdate)]
    assert closes[0].result[0].side == "short"
    liquidation = next(p for p in pushes if isinstance(p, LiquidationsUpdate)).result[0]
    assert (liquidation.size, liquidation.order_size) == (Decimal("-2.5"), Decimal("2.5"))
    assert gate.account.position_size("ETH_USDT") == 0
    # and on demand, whatever the market
    await go_long(gate, trader, ws, size=3)
    order_id = gate.account.liquidate("BTC_USDT")
    pushes = await frames(ws, 8)
    assert [p.result[0].id for p in pushes if isinstance(p, OrdersUpdate)] == [order_id]
    assert gate.account.liquidations == 2


async def test_auto_deleverage_partly_then_wholly(
    gate: FakeGateServer, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ws = await private_socket(gate, nursery)
    trader = await trading_socket(gate, nursery)
    await go_long(gate, trader, ws)
    mark = Decimal((await rest(gate, "positions"))[0]["mark_price"])
    gate.account.auto_deleverage("BTC_USDT", 4)
    pushes = await frames(ws, 6)
    assert kinds(pushes) == [
        "futures.orders",
        "futures.usertrades",
        "futures.positions",
        "futures.balances",  # the fee
        "futures.balances",  # the profit or loss of the part closed at the mark price
        "futures.auto_deleverages",
    ]
    order = pushes[0]
    assert isinstance(order, OrdersUpdate)
    assert (order.result[0].text, order.result[0].size) == ("auto_deleveraging", Decimal(-4))
    assert order.result[0].price == mark
    assert gate.account.position_size("BTC_USDT") == 6
    gate.account.auto_deleverage("BTC_USDT")
    pushes = await frames(ws, 7)  # with a pnl change, and the position closed
    adl = next(p for p in pushes if isinstance(p, AutoDeleveragesUpdate)).result[0]
    assert (adl.position_size, adl.trade_size) == (Decimal(0), Decimal(-6))
    assert [p.result[0].side for p in pushes if isinstance(p, PositionClosesUpdate)] == ["long"]
    assert Decimal((await rest(gate, "positions"))[0]["size"]) == 0


async def test_a_risk_limit_reduction_cancels_orders_and_pushes_the_new_limit(
    gate: FakeGateServer, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ws = await private_socket(gate, nursery)
    trader = await trading_socket(gate, nursery)
    await go_long(gate, trader, ws)
    bid = gate.book("BTC_USDT", 1).bids[0][0]
    await place(trader, gate, PlaceOrder(contract="BTC_USDT", size=1, price=str(bid - 100)), 2)
    await frames(ws, 1)
    assert gate.account.reduce_risk_limit("BTC_USDT", 500_000) == 1
    cancel, reduce, position = await frames(ws, 3)
    assert isinstance(cancel, OrdersUpdate)
    assert cancel.result[0].finish_as == "cancelled"
    assert isinstance(reduce, ReduceRiskLimitsUpdate)
    item = reduce.result[0]
    assert (item.cancel_orders, item.risk_limit, item.leverage_max) == (
        1,
        Decimal(500_000),
        Decimal(50),
    )
    assert isinstance(position, PositionsUpdate)
    assert (position.result[0].risk_limit, position.result[0].leverage_max) == (
        Decimal(500_000),
        Decimal(50),
    )
    (rest_position,) = await rest(gate, "positions")
    assert (rest_position["risk_limit"], rest_position["update_id"]) == (
        "500000",
        position.result[0].update_id,
    )


async def test_adl_ranks_are_pushed_on_opening_and_on_demand(
    gate: FakeGateServer, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ws = await private_socket(gate, nursery)
    trader = await trading_socket(gate, nursery)
    opening = await go_long(gate, trader, ws)
    rank = opening[-1]
    assert isinstance(rank, PositionAdlRanksUpdate)
    assert (rank.result[0].rank_division, rank.result[0].user_id) == (5, int(UID))
    gate.account.set_adl_rank("BTC_USDT", 2)
    (rank,) = await frames(ws, 1)
    assert isinstance(rank, PositionAdlRanksUpdate)
    assert (rank.result[0].contract, rank.result[0].rank_division, rank.result[0].mode) == (
        "BTC_USDT",
        2,
        "single",
    )
    assert (await rest(gate, "positions"))[0]["adl_ranking"] == 2
    with pytest.raises(ValueError, match=r"1\.\.6"):
        gate.account.set_adl_rank("BTC_USDT", 7)


async def test_dual_mode_keeps_a_long_and_a_short_apart(
    gate: FakeGateServer, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ws = await private_socket(gate, nursery)
    trader = await trading_socket(gate, nursery)
    gate.account.set_dual_mode(True)
    assert (await rest(gate, "accounts"))["in_dual_mode"] is True
    book = gate.book("BTC_USDT", 1)
    await place(
        trader,
        gate,
        PlaceOrder(contract="BTC_USDT", size=3, price=str(book.asks[0][0]), tif="ioc"),
        1,
    )
    await frames(ws, 6)
    bid = gate.book("BTC_USDT", 1).bids[0][0]
    await place(
        trader, gate, PlaceOrder(contract="BTC_USDT", size=-2, price=str(bid), tif="ioc"), 2
    )
    pushes = await frames(ws, 6)
    position = next(p for p in pushes if isinstance(p, PositionsUpdate)).result[0]
    assert (position.mode, position.size) == ("dual_short", Decimal(-2))
    assert gate.account.position_size("BTC_USDT", "long") == 3
    assert gate.account.position_size("BTC_USDT", "short") == -2
    modes = {p["mode"]: Decimal(p["size"]) for p in await rest(gate, "positions")}
    assert modes == {"dual_long": 3, "dual_short": -2}
    close = PlaceOrder(
        contract="BTC_USDT", size=0, price="0", tif="ioc", auto_size="close_long", reduce_only=True
    )
    await place(trader, gate, close, 3)
    pushes = await frames(ws, 7)
    closes = [p for p in pushes if isinstance(p, PositionClosesUpdate)]
    assert [c.result[0].side for c in closes] == ["long"]
    assert gate.account.position_size("BTC_USDT", "long") == 0
    assert gate.account.position_size("BTC_USDT", "short") == -2
    with pytest.raises(ValueError, match="close every position"):
        gate.account.set_dual_mode(False)
    with pytest.raises(ValueError, match="dual mode"):
        gate.account.position_size("BTC_USDT")


async def test_a_deposit_is_a_dnw_balance_change(
    gate: FakeGateServer, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ws = await private_socket(gate, nursery)
    before = gate.account.balance
    gate.account.deposit("250.5")
    (push,) = await frames(ws, 1)
    assert isinstance(push, BalancesUpdate)
    change = push.result[0]
    assert (change.type, change.change, change.balance, change.currency) == (
        "dnw",
        Decimal("250.5"),
        before + Decimal("250.5"),
        "usdt",
    )
    assert Decimal((await rest(gate, "accounts"))["total"]) == before + Decimal("250.5")


async def test_rest_answers_say_when_the_server_took_them(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    await trio.sleep(1.5)
    reply = gate.serve_http("GET", "/api/v4/futures/usdt/contracts/BTC_USDT", {})
    stamps = dict(reply.headers)
    assert stamps["X-In-Time"] == stamps["X-Out-Time"] == str(round(gate.wall_time() * 1_000_000))


# ------------------------------------------------------------------ shapes against captures


def capture_items(shared_data: Path) -> dict[str, dict[str, object]]:
    """The first item of each private channel in the captured fixtures (documented shapes)."""
    found: dict[str, dict[str, object]] = {}
    for line in (shared_data / "gocryptotrader-wsFutures.jsonl").read_text().splitlines():
        frame = json.loads(json.loads(line)["frame"])
        channel, result = frame.get("channel"), frame.get("result")
        if isinstance(result, list) and result and isinstance(result[0], dict):
            found.setdefault(channel, result[0])
    return found


async def test_every_private_push_decodes_typed_and_has_the_captured_fields(
    gate: FakeGateServer,
    nursery: trio.Nursery,
    autojump_clock: trio.testing.MockClock,
    shared_data: Path,
) -> None:
    ws = await private_socket(gate, nursery, [])  # integer sizes, as in the captures
    trader = await trading_socket(gate, nursery)
    raw: dict[str, dict[str, object]] = {}

    async def take(n: int) -> None:
        for _ in range(n):
            text = await ws.get_message()
            event = decode_message(text)
            assert isinstance(event, typing.get_args(DataEvent))
            raw.setdefault(event.channel, json.loads(text)["result"][0])

    await go_long(gate, trader, ws)  # consumed: take them again below with their raw text
    bid = gate.book("BTC_USDT", 1).bids[0][0]
    await place(trader, gate, PlaceOrder(contract="BTC_USDT", size=1, price=str(bid - 50)), 2)
    await take(1)
    gate.account.reduce_risk_limit("BTC_USDT", 500_000)
    await take(3)
    gate.account.auto_deleverage("BTC_USDT", 2)
    await take(6)
    gate.account.move_market("BTC_USDT", gate.account.liquidation_price("BTC_USDT") - 10)
    await take(8)
    far = {"contract": "BTC_USDT", "size": 1, "price": "0", "tif": "ioc"}
    trigger = {"strategy_type": 0, "price_type": 0, "price": "1", "rule": 2, "expiration": 0}
    assert signed(gate, "POST", "price_orders", {"initial": far, "trigger": trigger})[0] == 200
    await take(1)
    captured = capture_items(shared_data)
    pushed = set(raw)
    wanted = set(USER_CHANNELS) | {
        "futures.balances",
        "futures.position_adl_rank",
        "futures.autoorders",
    }
    assert pushed >= wanted, wanted - pushed
    for channel, item in captured.items():
        if channel not in pushed:
            continue  # public ones
        missing = set(item) - set(raw[channel])
        assert not missing, (channel, missing)
        for name, value in item.items():
            # live pushes carry JSON numbers where the documented ones do (spec 15)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                assert isinstance(raw[channel][name], (int, float)), (channel, name)


async def test_adl_warnings_follow_the_documented_rhythm(
    gate: FakeGateServer, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    # spec 6.11: nothing while normal; once a second while at risk; once on return to normal;
    # a subscriber arriving while at risk gets an `all` snapshot before its ack
    ws = await gate.trio_websocket_connector(nursery, USDT, DECIMAL)
    assert isinstance(await subscribe(ws, gate, "futures.adl_warning", ["!all"]), SubscribeAck)
    gate.account.set_adl_warning("BTC_USDT", "warning")
    first = decode_message(await ws.get_message())
    start = trio.current_time()
    second = decode_message(await ws.get_message())
    assert trio.current_time() - start == pytest.approx(1.0)
    for push in (first, second):
        assert isinstance(push, AdlWarningUpdate)
        assert (push.event, push.result.contract, push.result.state, push.result.settle) == (
            "update",
            "BTC_USDT",
            "warning",
            "usdt",
        )
    late = await gate.trio_websocket_connector(nursery, USDT, DECIMAL)
    snapshot = await subscribe(late, gate, "futures.adl_warning", ["BTC_USDT"])
    assert isinstance(snapshot, AdlWarningUpdate)
    assert (snapshot.event, snapshot.result.state) == ("all", "warning")
    assert isinstance(decode_message(await late.get_message()), SubscribeAck)
    gate.account.set_adl_warning("BTC_USDT", "normal")
    back = decode_message(await ws.get_message())
    while isinstance(back, AdlWarningUpdate) and back.result.state == "warning":
        back = decode_message(await ws.get_message())
    assert isinstance(back, AdlWarningUpdate)
    assert back.result.state == "normal"
    with trio.move_on_after(3.0) as quiet:
        await ws.get_message()
    assert quiet.cancelled_caught  # nothing more while normal
    with pytest.raises(ValueError, match="adl_risk"):
        gate.account.set_adl_warning("BTC_USDT", "panic")


# ------------------------------------------------------------------ price-triggered orders


def signed(gate: FakeGateServer, method: str, path: str, body: object = None) -> Any:
    """A signed REST call to the fake (decimal sizes); its status and JSON answer."""
    route, _, query = f"/api/v4/futures/usdt/{path}".partition("?")
    payload = b"" if body is None else json.dumps(body).encode()
    stamp = str(int(gate.wall_time()))
    headers = sign_rest(
        method, route, query, payload, timestamp=stamp, key=CREDS.key, secret=CREDS.secret
    )
    target = f"{route}?{query}" if query else route
    status, answer = gate.handle_http(
        method, target, {**headers, "X-Gate-Size-Decimal": "1"}, payload
    )
    return status, json.loads(answer)


async def test_price_triggered_orders_fire_expire_and_cancel_with_their_pushes(
    gate: FakeGateServer, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ws = await gate.trio_websocket_connector(nursery, USDT, DECIMAL)
    for channel in ("futures.autoorders", "futures.orders"):
        assert isinstance(await subscribe(ws, gate, channel, [UID, "!all"]), SubscribeAck)
    mark = gate.account.liquidation_price("BTC_USDT") or gate.book("BTC_USDT", 1).bids[0][0]
    below = mark - 500
    body: dict[str, Any] = {
        "initial": {
            "contract": "BTC_USDT",
            "size": 2,
            "price": "0",
            "tif": "ioc",
            "text": "t-stop",
        },
        "trigger": {
            "strategy_type": 0,
            "price_type": 1,
            "price": str(below),
            "rule": 2,
            "expiration": 0,
        },
        "order_type": "plan-close-short-position",
    }
    status, created = signed(gate, "POST", "price_orders", body)
    assert status == 200
    (push,) = await frames(ws, 1)
    assert isinstance(push, AutoOrdersUpdate)
    auto = push.result[0]
    assert (auto.id, auto.status, auto.name, auto.user) == (
        created["id"],
        "open",
        "price_autoorders",
        int(UID),
    )
    status, listed = signed(gate, "GET", "price_orders?status=open")
    assert [o["id"] for o in listed] == [created["id"]]
    gate.account.move_market("BTC_USDT", below - 10)  # the mark price crosses the trigger
    pushes = await frames(ws, 3)  # the market order's two order pushes, then the auto order's
    fired = pushes[-1]
    assert isinstance(fired, AutoOrdersUpdate)
    placed = pushes[0]
    assert isinstance(placed, OrdersUpdate)
    assert (fired.result[0].status, fired.result[0].finish_as) == ("finished", "succeeded")
    assert fired.result[0].trade_id == placed.result[0].id
    assert placed.result[0].text == "t-stop"
    assert gate.account.position_size("BTC_USDT") == 2
    # one that expires, one cancelled
    far = {**body, "trigger": {**body["trigger"], "price": "1", "expiration": 5}}
    _, expiring = signed(gate, "POST", "price_orders", far)
    _, cancelled = signed(
        gate, "POST", "price_orders", {**far, "trigger": {**far["trigger"], "expiration": 0}}
    )
    await frames(ws, 2)
    status, answer = signed(gate, "DELETE", f"price_orders/{cancelled['id']}")
    assert (status, answer["finish_as"]) == (200, "cancelled")
    (gone,) = await frames(ws, 1)
    assert isinstance(gone, AutoOrdersUpdate)
    assert gone.result[0].finish_as == "cancelled"
    (late,) = await frames(ws, 1)  # 5 s later
    assert isinstance(late, AutoOrdersUpdate)
    assert (late.result[0].id, late.result[0].finish_as) == (expiring["id"], "expired")
    status, refused = signed(gate, "POST", "price_orders", {"initial": {}, "trigger": {}})
    assert (status, refused["label"]) == (400, "CONTRACT_NOT_FOUND")
    status, finished = signed(gate, "GET", "price_orders?status=finished")
    assert {o["finish_as"] for o in finished} == {"succeeded", "expired", "cancelled"}
