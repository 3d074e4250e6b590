"""The fake's "live" profile (the default) against spec 15, with "docs" where they differ.

Over the fake's trio-websocket connector under autojump_clock: times are exact.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
import trio
import trio.testing
import trio_websocket

import gatetrio
from gatetrio._core._auth import sign_subscription
from gatetrio._core._decode import decode_message
from gatetrio._core._encode import encode_request
from gatetrio._core._events import ErrorReply, SubscribeAck
from gatetrio._core._requests import PlaceOrder
from gatetrio.testing import FakeGateServer
from gatetrio.testing._profile import DOCS, LIVE, live_numbers, resolve_profile

from .helpers import CREDS, deadline

if TYPE_CHECKING:
    from trio_websocket import WebSocketConnection

USDT = "wss://fx-ws.gateio.ws/v4/ws/usdt"


BOTH_PROFILES = pytest.mark.parametrize(
    "gate", [{"profile": "live"}, {"profile": "docs"}], indirect=True, ids=["live", "docs"]
)


async def send(ws: WebSocketConnection, **frame: Any) -> None:
    await ws.send_message(json.dumps(frame))


async def frame_of(ws: WebSocketConnection, channel: str, limit: float = 30) -> dict[str, Any]:
    """The next frame of `channel` as raw JSON (types as sent), skipping others."""
    with deadline(f"a {channel} push", limit):
        while True:
            obj: dict[str, Any] = json.loads(await ws.get_message())
            if obj.get("channel") == channel and obj.get("event") != "subscribe":
                return obj
    raise AssertionError  # unreachable: `deadline` fails the test  # pragma: no cover


async def private_subscribe(ws: WebSocketConnection, fake: FakeGateServer) -> None:
    now = int(fake.wall_time())
    for channel in ("futures.orders", "futures.usertrades", "futures.positions"):
        auth = sign_subscription(channel, "subscribe", now, key=CREDS.key, secret=CREDS.secret)
        await send(
            ws, time=now, channel=channel, event="subscribe", payload=["20011", "!all"], auth=auth
        )
    auth = sign_subscription(
        "futures.balances", "subscribe", now, key=CREDS.key, secret=CREDS.secret
    )
    await send(
        ws, time=now, channel="futures.balances", event="subscribe", payload=["20011"], auth=auth
    )


async def take(ws: WebSocketConnection, fake: FakeGateServer, req_id: int) -> None:
    best_ask = fake.book("BTC_USDT", 1).asks[0]
    order = PlaceOrder(contract="BTC_USDT", size=1, price=str(best_ask[0]), text="t-take")
    frame = encode_request(order, wall_time=fake.wall_time(), req_id=req_id, credentials=CREDS)
    await ws.send_message(frame)


@BOTH_PROFILES
async def test_private_pushes_carry_numbers_live_and_strings_in_docs(
    gate: FakeGateServer, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    profile = gate.profile.name
    ws = await gate.trio_websocket_connector(nursery, USDT, [])
    await private_subscribe(ws, gate)
    await take(ws, gate, 1)
    want = (int, float) if profile == "live" else (str,)
    orders = (await frame_of(ws, "futures.orders"))["result"][0]
    for name in ("price", "fill_price", "mkfr", "tkfr"):
        assert isinstance(orders[name], want), (name, orders[name])
    trade = (await frame_of(ws, "futures.usertrades"))["result"][0]
    assert isinstance(trade["fee"], want)
    assert isinstance(trade["price"], str)  # usertrades price stays a string live
    position = (await frame_of(ws, "futures.positions"))["result"][0]
    for name in ("entry_price", "margin", "leverage", "leverage_max", "risk_limit"):
        assert isinstance(position[name], want), (name, position[name])
    assert len(str(position["entry_price"]).replace(".", "")) < 20  # no 28-digit averages
    balance = (await frame_of(ws, "futures.balances"))["result"][0]
    assert isinstance(balance["balance"], want)
    assert isinstance(balance["change"], want)


def test_live_numbers_keeps_values_exactly() -> None:
    frame = (
        '{"channel":"futures.balances","event":"update","result":[{"balance":"296.16455822737",'
        '"change":"-0.00738","type":"fee","text":"x"}]}'
    )
    assert live_numbers(frame) == (
        '{"channel":"futures.balances","event":"update","result":[{"balance":296.16455822737,'
        '"change":-0.00738,"type":"fee","text":"x"}]}'
    )
    other = '{"channel":"futures.trades","result":[{"price":"1"}]}'
    assert live_numbers(other) is other


async def test_contract_stats_ratios_are_numbers_and_liquidations_add_up(
    gate: FakeGateServer, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ws = await gate.trio_websocket_connector(nursery, USDT, [])
    await send(ws, time=1, channel="futures.contract_stats", event="subscribe",
               payload=["BTC_USDT", "1m"])  # fmt: skip
    for _ in range(5):
        stats = (await frame_of(ws, "futures.contract_stats"))["result"][0]
        for name in ("lsr_taker", "lsr_account", "open_interest_usd", "long_liq_usd"):
            assert isinstance(stats[name], int | float), (name, stats[name])
        # a liquidated size has a value: both zero or both non-zero
        assert (Decimal(stats["long_liq_size"]) == 0) == (Decimal(str(stats["long_liq_usd"])) == 0)


async def test_candle_a_is_quote_turnover(
    gate: FakeGateServer, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ws = await gate.trio_websocket_connector(nursery, USDT, [])
    await send(ws, time=1, channel="futures.candlesticks", event="subscribe",
               payload=["1m", "BTC_USDT"])  # fmt: skip
    multiplier = Decimal("0.0001")  # BTC_USDT's quanto multiplier in the default market
    seen = 0
    while seen < 3:
        for candle in (await frame_of(ws, "futures.candlesticks"))["result"]:
            v, a = Decimal(candle["v"]), Decimal(candle["a"])
            if v:
                seen += 1
                low, high = Decimal(candle["l"]), Decimal(candle["h"])
                assert v * multiplier * low <= a <= v * multiplier * high


async def test_idle_socket_dropped_after_30s_without_close_frame(
    gate: FakeGateServer, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ws = await gate.trio_websocket_connector(nursery, USDT, [])
    start_time = trio.current_time()
    with pytest.raises(trio_websocket.ConnectionClosed) as info:
        await ws.get_message()
    assert trio.current_time() - start_time == 30.5
    assert info.value.reason is not None
    assert info.value.reason.code == 1006  # no close frame


async def test_subscribed_socket_stays_open_and_gets_no_server_pings(
    gate: FakeGateServer, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ws = await gate.trio_websocket_connector(nursery, USDT, [])
    await send(ws, time=1, channel="futures.tickers", event="subscribe", payload=["BTC_USDT"])
    with trio.move_on_after(200):
        while True:
            await ws.get_message()
    [conn] = gate.connections
    assert not conn.closed
    assert gate.profile.protocol_ping_interval is None


@pytest.mark.parametrize("stream", ["ob.NOPE_USDT.50", "ob.BTC_USDT.20", "ob.BTC_USD.50"])
async def test_obu_for_a_stream_that_does_not_exist_is_acked_then_silent(
    gate: FakeGateServer, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock, stream: str
) -> None:
    ws = await gate.trio_websocket_connector(nursery, USDT, [])
    await send(ws, time=1, channel="futures.obu", event="subscribe", payload=[stream])
    ack = decode_message(await ws.get_message())
    assert isinstance(ack, SubscribeAck)
    with trio.move_on_after(20) as scope:
        await ws.get_message()
    assert scope.cancelled_caught  # nothing at all


@pytest.mark.fake(profile="docs")
async def test_docs_profile_refuses_a_wrong_obu_stream(
    gate: FakeGateServer, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ws = await gate.trio_websocket_connector(nursery, USDT, [])
    await send(ws, time=1, channel="futures.obu", event="subscribe", payload=["ob.NOPE_USDT.50"])
    reply = decode_message(await ws.get_message())
    assert isinstance(reply, ErrorReply)
    assert reply.message == "unknown contract NOPE_USDT"


@pytest.mark.parametrize(
    ("channel", "payload", "message"),
    [
        (
            "futures.order_book_update",
            ["NOPE_USDT", "100ms", "20"],
            "unknown currency pair NOPE_USDT",
        ),
        ("futures.tickers", ["NOPE_USDT"], "unknown currency pair: NOPE_USDT"),
        ("futures.nope", ["BTC_USDT"], "Unknown channel futures.nope"),
        (
            "futures.order_book_update",
            ["BTC_USDT", "100ms", "30"],
            "provided level not supported: 30",
        ),
    ],
)
async def test_live_error_texts(  # noqa: PLR0917 - fixtures + parameters
    gate: FakeGateServer,
    nursery: trio.Nursery,
    autojump_clock: trio.testing.MockClock,
    channel: str,
    payload: list[str],
    message: str,
) -> None:
    ws = await gate.trio_websocket_connector(nursery, USDT, [])
    await send(ws, time=1, channel=channel, event="subscribe", payload=payload)
    reply = decode_message(await ws.get_message())
    assert isinstance(reply, ErrorReply)
    assert reply.message == message


async def test_malformed_json_leaves_the_socket_open(
    gate: FakeGateServer, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ws = await gate.trio_websocket_connector(nursery, USDT, [])
    await ws.send_message("{not json")
    reply = decode_message(await ws.get_message())
    assert isinstance(reply, ErrorReply)
    assert reply.code == 1
    await send(ws, time=1, channel="futures.ping")
    assert json.loads(await ws.get_message())["channel"] == "futures.pong"


def login_frame(req_param: str | None, timestamp: int, *, sign_text: str) -> str:
    signature = hmac.new(
        CREDS.secret.encode(),
        f"api\nfutures.login\n{sign_text}\n{timestamp}".encode(),
        hashlib.sha512,
    ).hexdigest()
    param = "" if req_param is None else f',"req_param":{req_param}'
    return (
        f'{{"time":{timestamp},"channel":"futures.login","event":"api","payload":{{'
        f'"api_key":"{CREDS.key}","signature":"{signature}","timestamp":"{timestamp}",'
        f'"req_id":"1","req_header":{{"X-Gate-Channel-Id":""}}{param}}}}}'
    )


@pytest.mark.parametrize(
    ("req_param", "sign_text", "live_ok", "docs_ok"),
    [
        (None, "", True, True),  # the docs
        ("{}", "{}", True, False),  # gate-ws, ccxt
        ("null", "null", True, False),  # the Go SDK
        ("{}", "", False, True),  # sent {} but signed "": only the docs' reading takes it
    ],
)
@BOTH_PROFILES
async def test_login_verifies_over_the_req_param_sent(  # noqa: PLR0917
    gate: FakeGateServer,
    nursery: trio.Nursery,
    autojump_clock: trio.testing.MockClock,
    req_param: str | None,
    sign_text: str,
    live_ok: bool,
    docs_ok: bool,
) -> None:
    profile = gate.profile.name
    ws = await gate.trio_websocket_connector(nursery, USDT, [])
    await ws.send_message(login_frame(req_param, int(gate.wall_time()), sign_text=sign_text))
    reply = json.loads(await ws.get_message())
    ok = live_ok if profile == "live" else docs_ok
    assert (reply["header"]["status"] == "200") == ok, reply


@pytest.mark.fake(credentials=None)
async def test_order_text_must_start_with_t_dash(
    gate: FakeGateServer, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    # no login needed
    ws = await gate.trio_websocket_connector(nursery, USDT, [])
    order = PlaceOrder(contract="BTC_USDT", size=1, price="100", text="t-ok")
    frame = json.loads(encode_request(order, wall_time=gate.wall_time(), req_id=1))
    frame["payload"]["req_param"]["text"] = "my-order"
    await ws.send_message(json.dumps(frame))
    reply = json.loads(await ws.get_message())
    if reply.get("ack"):  # order_place echoes the request first
        reply = json.loads(await ws.get_message())
    assert reply["header"]["status"] == "400"
    assert "t-" in reply["data"]["errs"]["message"]


def test_profiles_resolve_by_name_or_value() -> None:
    assert resolve_profile("live") is LIVE
    assert resolve_profile(DOCS) is DOCS
    with pytest.raises(ValueError, match="profile must be one of"):
        resolve_profile("prod")


async def test_client_request_header_reaches_the_fake(
    gate: FakeGateServer, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    # Client.request(req_header=...) goes out on the wire: the fake honours x-gate-exptime.
    async with gatetrio.open_client(
        connector=gate.connector, wall_clock=gate.wall_time, credentials=CREDS
    ) as client:
        order = PlaceOrder(contract="BTC_USDT", size=1, price="100", text="t-exp")
        past = str(int(gate.wall_time() * 1000) - 1)
        with pytest.raises(gatetrio.RequestRejected) as info:
            await client.request(order, req_header={"x-gate-exptime": past})
        assert info.value.label == "REQUEST_EXPIRED"
        future = str(int(gate.wall_time() * 1000) + 60_000)
        result = await client.request(
            order, req_header={"x-gate-exptime": future, "X-Gate-Channel-Id": "mine"}
        )
        assert isinstance(result, gatetrio.Order)
        assert (result.status, result.text) == ("open", "t-exp")
    sent = [r.frame for r in gate.received if r.channel == "futures.order_place"]
    assert [f["payload"]["req_header"] for f in sent if isinstance(f, dict)] == [
        {"x-gate-exptime": past},
        {"x-gate-exptime": future, "X-Gate-Channel-Id": "mine"},
    ]


async def test_rest_contracts_and_tickers_agree_with_the_socket(
    gate: FakeGateServer, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    status, body = gate.handle_http("GET", "/api/v4/futures/usdt/contracts", {})
    assert status == 200
    contracts = json.loads(body)
    btc = next(c for c in contracts if c["name"] == "BTC_USDT")
    # Gate's full Contract model: about 50 fields (cryptofeed reads in_delisting)
    assert len(btc) >= 45
    assert btc["in_delisting"] is False
    for name in ("order_size_max", "funding_rate", "funding_interval", "funding_next_apply"):
        assert name in btc
    status, body = gate.handle_http("GET", "/api/v4/futures/usdt/tickers?contract=BTC_USDT", {})
    [ticker] = json.loads(body)
    bid, ask = gate.market_for("BTC_USDT").best_bid_ask("BTC_USDT")
    assert (Decimal(ticker["highest_bid"]), Decimal(ticker["lowest_ask"])) == (bid, ask)
    assert ticker["funding_rate"] == btc["funding_rate"]
    status, body = gate.handle_http("GET", "/api/v4/delivery/usdt/contracts", {})
    assert all(c["expire_time"] > 0 for c in json.loads(body))
