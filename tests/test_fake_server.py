"""The fake exchange over its in-memory connector: channels, replies, faults, trading API.

The client side here is trio-websocket (`FakeGateServer.trio_websocket_connector`), an
independent peer for the fake; `FakeGateServer.connector` (gatetrio's own transport) is covered
by test_websocket.py and every client test. Everything runs on memory streams under
`autojump_clock`, so the virtual times asserted here are exact.
"""

from __future__ import annotations

import contextlib
import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
import trio
import trio.testing
import trio_websocket
import wsproto
from wsproto.events import AcceptConnection, CloseConnection, Ping, Request

from gatetrio._core._auth import sign_subscription
from gatetrio._core._book import OrderBook
from gatetrio._core._config import Credentials
from gatetrio._core._decode import decode_message
from gatetrio._core._encode import encode_request
from gatetrio._core._errors import BookGap, ProtocolError
from gatetrio._core._events import (
    ApiAck,
    ApiError,
    ApiResult,
    BalancesUpdate,
    BookTickerUpdate,
    CandlesticksUpdate,
    ContractInfoUpdate,
    ContractStatsUpdate,
    ErrorReply,
    Event,
    ObuUpdate,
    OrderBookSnapshot,
    OrderBookUpdate,
    OrdersUpdate,
    Pong,
    PositionsUpdate,
    PublicLiquidationsUpdate,
    SubscribeAck,
    TickersUpdate,
    TradesUpdate,
    UpgradeRequested,
    UserTradesUpdate,
)
from gatetrio._core._requests import (
    AmendOrder,
    CancelOrder,
    CancelOrders,
    GetOrder,
    Login,
    PlaceOrder,
)
from gatetrio.testing import ConnectionOptions, FakeGateServer, memory_socket_pair

from .helpers import CREDS, deadline

if TYPE_CHECKING:
    from trio_websocket import WebSocketConnection

E = TypeVar("E")
USDT = "wss://fx-ws.gateio.ws/v4/ws/usdt"
DECIMAL = [("X-Gate-Size-Decimal", "1")]


async def send(ws: WebSocketConnection, **frame: Any) -> None:
    await ws.send_message(json.dumps(frame))


async def subscribe(
    ws: WebSocketConnection, channel: str, payload: list[str], **extra: Any
) -> None:
    await send(ws, time=1786540560, channel=channel, event="subscribe", payload=payload, **extra)


async def receive(ws: WebSocketConnection) -> Event:
    return decode_message(await ws.get_message())


async def next_event(ws: WebSocketConnection, kind: type[E], within: float = 10.0) -> E:
    """The next event of `kind`, skipping others; fails naming it after `within` seconds."""
    with deadline(f"a {kind.__name__} from the fake", within):
        while True:
            event = await receive(ws)
            if isinstance(event, kind):
                return event
    raise AssertionError  # unreachable: `deadline` fails the test  # pragma: no cover


# ------------------------------------------------------------------------------- channels


CHANNELS: list[tuple[str, list[str], type[Event], float]] = [
    ("futures.trades", ["BTC_USDT"], TradesUpdate, 2),
    ("futures.book_ticker", ["BTC_USDT"], BookTickerUpdate, 1),
    ("futures.tickers", ["BTC_USDT"], TickersUpdate, 1),
    ("futures.order_book_update", ["BTC_USDT", "100ms", "20"], OrderBookUpdate, 1),
    ("futures.order_book_update", ["ETH_USDT", "20ms", "20"], OrderBookUpdate, 1),
    ("futures.obu", ["ob.BTC_USDT.400"], ObuUpdate, 1),
    ("futures.order_book", ["BTC_USDT", "20", "0"], OrderBookSnapshot, 1),
    ("futures.candlesticks", ["1m", "BTC_USDT"], CandlesticksUpdate, 3),
    ("futures.candlesticks", ["10s", "index_BTC_USDT"], CandlesticksUpdate, 3),
    ("futures.contract_stats", ["BTC_USDT", "1m"], ContractStatsUpdate, 6),
    ("futures.contract_info", ["!all"], ContractInfoUpdate, 1),
    ("futures.public_liquidates", ["!all"], PublicLiquidationsUpdate, 300),
]


@pytest.mark.parametrize(("channel", "payload", "kind", "within"), CHANNELS)
async def test_channel_acks_then_streams_its_events(  # noqa: PLR0917 - fixtures + parameters
    gate: FakeGateServer,
    nursery: trio.Nursery,
    autojump_clock: trio.testing.MockClock,
    channel: str,
    payload: list[str],
    kind: type[Event],
    within: float,
) -> None:
    ws = await gate.trio_websocket_connector(nursery, USDT, DECIMAL)
    await subscribe(ws, channel, payload, id=7)
    ack = await receive(ws)
    assert isinstance(ack, SubscribeAck)
    [conn] = gate.connections
    assert (ack.id, ack.channel, ack.event, ack.payload) == (
        7,
        channel,
        "subscribe",
        tuple(payload),
    )
    assert ack.conn_id == conn.conn_id
    assert len(ack.conn_id) == 16
    assert len(ack.trace_id) == 32
    assert ack.time_ms == round(gate.wall_time() * 1000)
    event = await next_event(ws, kind, within)
    match event:
        case TradesUpdate() | TickersUpdate():
            assert all(item.contract == "BTC_USDT" for item in event.result)
        case BookTickerUpdate():
            assert event.result.s == "BTC_USDT"
            assert event.result.b is not None
            assert event.result.a is not None
            assert event.result.b < event.result.a
        case OrderBookUpdate():
            assert (event.result.s, event.result.l) == (payload[0], "20")
            assert event.result.u >= event.result.U
        case ObuUpdate():
            assert event.result.full
            assert event.result.s == "ob.BTC_USDT.400"
            assert len(event.result.b) == 400
        case OrderBookSnapshot():
            assert len(event.result.bids) == 20
            assert event.result.l == "20"
            assert event.result.id == gate.update_id("BTC_USDT")
        case CandlesticksUpdate():
            assert event.result[-1].n == f"{payload[0]}_{payload[1]}"
        case ContractInfoUpdate():
            assert event.event == "all"
            assert event.result.contract == "BTC_USDT"
        case ContractStatsUpdate():
            assert event.result[0].contract == "BTC_USDT"
        case PublicLiquidationsUpdate():
            assert event.result[0].size != 0
    if kind is TickersUpdate:
        assert isinstance(event, TickersUpdate)
        assert event.result[0].event_type == "snapshot"  # the first push after subscribing


async def test_ping_gets_pong_with_conn_id(
    gate: FakeGateServer, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ws = await gate.trio_websocket_connector(nursery, USDT, [])
    await trio.sleep(3)
    await send(ws, time=123, channel="futures.ping")
    raw = await ws.get_message()
    pong = decode_message(raw)
    assert isinstance(pong, Pong)
    assert pong.conn_id == gate.connections[0].conn_id
    assert pong.time_ms == gate.wall_time() * 1000 == 1786540563000
    frame = json.loads(raw)
    assert (frame["channel"], frame["event"], frame["result"]) == ("futures.pong", "", None)
    assert [r.channel for r in gate.received] == ["futures.ping"]


async def test_malformed_json_gets_code_1_with_empty_channel(
    gate: FakeGateServer, nursery: trio.Nursery
) -> None:
    ws = await gate.trio_websocket_connector(nursery, USDT, [])
    await ws.send_message('{"channel": "futures.trades", "event": ')
    raw = await ws.get_message()
    reply = decode_message(raw)
    assert isinstance(reply, ErrorReply)
    assert (reply.channel, reply.event, reply.code) == ("", "", 1)
    assert reply.message == "request message need json scheme"
    assert json.loads(raw)["result"] == {"status": "fail"}
    assert gate.received[0].frame == '{"channel": "futures.trades", "event": '


async def test_unknown_contract_fails_the_whole_batch(
    gate: FakeGateServer, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ws = await gate.trio_websocket_connector(nursery, USDT, [])
    await subscribe(ws, "futures.trades", ["BTC_USDT", "NOPE_USDT"], id=3)
    reply = await receive(ws)
    assert isinstance(reply, ErrorReply)
    assert (reply.code, reply.message, reply.id) == (2, "unknown currency pair: NOPE_USDT", 3)
    assert reply.payload == ("BTC_USDT", "NOPE_USDT")
    await trio.sleep(2)
    await send(ws, channel="futures.ping")
    assert isinstance(await receive(ws), Pong)  # no BTC_USDT trade came before it
    assert gate.connections[0].topics == set()


async def test_duplicate_obu_stream_is_an_alert(
    gate: FakeGateServer, nursery: trio.Nursery
) -> None:
    ws = await gate.trio_websocket_connector(nursery, USDT, [])
    await subscribe(ws, "futures.obu", ["ob.BTC_USDT.50"])
    assert isinstance(await receive(ws), SubscribeAck)
    assert isinstance(await receive(ws), ObuUpdate)
    await subscribe(ws, "futures.obu", ["ob.ETH_USDT.50", "ob.BTC_USDT.50"], id=9)
    reply = await next_event(ws, ErrorReply)
    assert (reply.code, reply.message, reply.id) == (2, "Alert sub ob.BTC_USDT.50", 9)
    assert ("futures.obu", "ETH_USDT", "50") not in gate.connections[0].topics


@pytest.mark.fake(obu_snapshot_before_ack=True, credentials=None)
async def test_obu_snapshot_can_precede_the_ack(
    gate: FakeGateServer, nursery: trio.Nursery
) -> None:
    ws = await gate.trio_websocket_connector(nursery, USDT, [])
    await subscribe(ws, "futures.obu", ["ob.BTC_USDT.50"])
    first = await receive(ws)
    assert isinstance(first, ObuUpdate)
    assert first.result.full
    assert isinstance(await receive(ws), SubscribeAck)


async def test_private_subscriptions_check_the_signature(
    gate: FakeGateServer, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ws = await gate.trio_websocket_connector(nursery, USDT, [])
    now = int(gate.wall_time())
    good = sign_subscription("futures.orders", "subscribe", now, key=CREDS.key, secret=CREDS.secret)
    cases = [
        (good, now, None),
        ({**good, "SIGN": "0" * 128}, now, "INVALID_SIGNATURE"),
        ({**good, "KEY": "other"}, now, "INVALID_KEY"),
        (None, now, "INVALID_KEY"),
        (
            sign_subscription(
                "futures.orders", "subscribe", now - 61, key=CREDS.key, secret=CREDS.secret
            ),
            now - 61,
            "REQUEST_EXPIRED",
        ),
    ]
    for auth, when, label in cases:
        frame: dict[str, Any] = {"time": when, "channel": "futures.orders", "event": "subscribe"}
        frame["payload"] = ["20011", "BTC_USDT"]
        if auth is not None:
            frame["auth"] = auth
        await ws.send_message(json.dumps(frame))
        reply = await receive(ws)
        if label is None:
            assert isinstance(reply, SubscribeAck)
        else:
            assert isinstance(reply, ErrorReply)
            assert reply.code == 4
            assert reply.label == label
            assert reply.message.endswith("}\n")  # JSON in a string, newline included (2.4)
    assert gate.connections[0].private == {("futures.orders", "BTC_USDT")}


@pytest.mark.fake(credentials=None)
async def test_private_subscriptions_are_open_without_credentials(
    gate: FakeGateServer, nursery: trio.Nursery
) -> None:
    ws = await gate.trio_websocket_connector(nursery, USDT, [])
    await subscribe(ws, "futures.balances", ["20011"])
    assert isinstance(await receive(ws), SubscribeAck)


async def test_sizes_are_strings_only_with_the_header(
    gate: FakeGateServer, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    plain = await gate.trio_websocket_connector(nursery, USDT, [])
    decimal = await gate.trio_websocket_connector(nursery, USDT, DECIMAL)
    for ws in (plain, decimal):
        await subscribe(ws, "futures.order_book_update", ["ETH_USDT", "100ms", "20"])
        await ws.get_message()
    texts = []
    for ws in (plain, decimal):
        text = await ws.get_message()
        while '"b":[]' in text:
            text = await ws.get_message()
        texts.append(json.loads(text)["result"])
    assert texts[0]["u"] == texts[1]["u"]
    assert all(isinstance(level["s"], int) for level in texts[0]["b"])
    assert all(isinstance(level["s"], str) for level in texts[1]["b"])
    for a, b in zip(texts[0]["b"], texts[1]["b"], strict=True):
        assert a["s"] == int(Decimal(b["s"]))  # truncated toward zero (spec 1.1)


# ------------------------------------------------------------------------------ sequencing


async def test_client_book_equals_the_fakes_book_at_each_id(
    gate: FakeGateServer, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ws = await gate.trio_websocket_connector(nursery, USDT, DECIMAL)
    await subscribe(ws, "futures.obu", ["ob.BTC_USDT.50", "ob.SOL_USDT.400"])
    books = {"BTC_USDT": OrderBook("BTC_USDT"), "SOL_USDT": OrderBook("SOL_USDT")}
    checked = 0
    with trio.move_on_after(3):
        while True:
            event = await receive(ws)
            if not isinstance(event, ObuUpdate):
                continue
            r = event.result
            book = books[r.contract]
            book.apply(r)  # raises BookGap on any discontinuity
            state = gate.book_at(r.contract, r.u, depth=int(r.level))
            assert book.bids() == list(state.bids)
            assert book.asks() == list(state.asks)
            checked += 1
    assert checked > 100


async def test_inject_gap_breaks_every_book_stream_of_the_contract(
    gate: FakeGateServer, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ws = await gate.trio_websocket_connector(nursery, USDT, DECIMAL)
    await subscribe(ws, "futures.obu", ["ob.BTC_USDT.50"])
    await next_event(ws, SubscribeAck)
    book = OrderBook("BTC_USDT")
    book.apply((await next_event(ws, ObuUpdate)).result)
    for _ in range(5):
        book.apply((await next_event(ws, ObuUpdate)).result)
    skipped = gate.inject_gap("BTC_USDT", 5)
    assert skipped[1] - skipped[0] == 4
    nxt = (await next_event(ws, ObuUpdate)).result
    assert skipped[1] + 1 == nxt.U
    with pytest.raises(BookGap):
        book.apply(nxt)
    # resubscribing gives a full snapshot that already contains the skipped changes
    await send(ws, channel="futures.obu", event="unsubscribe", payload=["ob.BTC_USDT.50"])
    await subscribe(ws, "futures.obu", ["ob.BTC_USDT.50"])
    while not (snap := (await next_event(ws, ObuUpdate)).result).full:
        pass
    assert snap.u >= skipped[1]
    book.apply(snap)
    assert book.bids() == list(gate.book_at("BTC_USDT", snap.u, depth=50).bids)


# ------------------------------------------------------------------------------ determinism


def _session(seed: int) -> list[str]:
    frames: list[str] = []

    async def main() -> None:
        fake = FakeGateServer(seed=seed, credentials=CREDS)
        async with trio.open_nursery() as nursery:
            await nursery.start(fake.run)
            ws = await fake.trio_websocket_connector(nursery, USDT, DECIMAL)
            await subscribe(ws, "futures.trades", ["BTC_USDT", "ETH_USDT"], id=1)
            await subscribe(ws, "futures.obu", ["ob.BTC_USDT.50"], id=2)
            await subscribe(ws, "futures.tickers", ["SOL_USDT"], id=3)
            await subscribe(ws, "futures.order_book_update", ["HEI_USDT", "100ms", "20"], id=4)
            order = PlaceOrder(contract="BTC_USDT", size=5, price="0", tif="ioc")
            await ws.send_message(
                encode_request(order, wall_time=fake.wall_time(), req_id=5, credentials=CREDS)
            )
            with trio.move_on_after(2.5):
                while True:
                    frame = await ws.get_message()
                    assert isinstance(frame, str)
                    frames.append(frame)
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return frames


def test_same_seed_gives_the_same_frames() -> None:
    first = _session(1)
    assert len(first) > 100
    assert first == _session(1)
    assert first != _session(2)


# ----------------------------------------------------------------------------------- faults


async def test_drop_closes_without_a_close_frame(
    gate: FakeGateServer, nursery: trio.Nursery
) -> None:
    ws = await gate.trio_websocket_connector(nursery, USDT, [])
    other = await gate.trio_websocket_connector(nursery, USDT, [])
    first, second = gate.connections
    gate.drop(first)
    with pytest.raises(trio_websocket.ConnectionClosed) as info:
        await ws.get_message()
    assert info.value.reason is not None
    assert info.value.reason.code == 1006
    await trio.testing.wait_all_tasks_blocked()
    assert gate.connections == [second]
    assert first.closed
    assert first.close_reason == "dropped"
    await send(other, channel="futures.ping")
    assert isinstance(await receive(other), Pong)


async def test_stall_goes_silent_but_keeps_the_socket(
    gate: FakeGateServer, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ws = await gate.trio_websocket_connector(nursery, USDT, [])
    await subscribe(ws, "futures.trades", ["BTC_USDT"])
    await next_event(ws, TradesUpdate)
    gate.stall()
    start = trio.current_time()
    with trio.move_on_after(90):
        while True:  # frames sent before the stall may still arrive, at `start`
            await send(ws, channel="futures.ping")
            await ws.get_message()
            assert trio.current_time() == start
    assert ws.closed is None  # 90 s: no idle close, no ping-timeout close
    assert gate.received[-1].channel == "futures.ping"
    gate.resume()
    await send(ws, channel="futures.ping")
    assert isinstance(await next_event(ws, Pong), Pong)


async def test_upgrade_notice_then_close_after_grace(
    gate: FakeGateServer, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ws = await gate.trio_websocket_connector(nursery, USDT, [])
    await trio.sleep(1)
    start = trio.current_time()
    gate.send_upgrade(grace=5.0)
    notice = await receive(ws)
    assert isinstance(notice, UpgradeRequested)
    assert "service upgrade" in notice.msg
    with pytest.raises(trio_websocket.ConnectionClosed) as info:
        await ws.get_message()
    assert trio.current_time() - start == 5.0
    assert info.value.reason is not None
    assert info.value.reason.code == 1001


async def test_refuse_rejects_the_next_handshakes(
    gate: FakeGateServer, nursery: trio.Nursery
) -> None:
    gate.refuse(2)
    for _ in range(2):
        with pytest.raises(trio_websocket.ConnectionRejected) as info:
            await gate.trio_websocket_connector(nursery, USDT, [])
        assert info.value.status_code == 503
    ws = await gate.trio_websocket_connector(nursery, USDT, [])
    assert ws.closed is None
    assert gate.handshakes_refused == 2
    with pytest.raises(trio_websocket.ConnectionRejected) as info:
        await gate.trio_websocket_connector(nursery, "wss://fx-ws.gateio.ws/v4/ws/nope", [])
    assert info.value.status_code == 404


async def test_send_malformed(gate: FakeGateServer, nursery: trio.Nursery) -> None:
    ws = await gate.trio_websocket_connector(nursery, USDT, [])
    gate.send_malformed()
    with pytest.raises(ProtocolError):
        decode_message(await ws.get_message())
    gate.send_malformed(text='{"channel":"futures.trades","event":"update"}')
    with pytest.raises(ProtocolError):  # valid JSON, wrong shape: no result
        decode_message(await ws.get_message())


@pytest.mark.fake(
    connection=ConnectionOptions(send_queue_size=50, transport_buffer=16384), credentials=None
)
async def test_slow_consumer_is_cut(
    gate: FakeGateServer, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ws = await gate.trio_websocket_connector(nursery, USDT, [])
    await subscribe(ws, "futures.obu", ["ob.BTC_USDT.400", "ob.ETH_USDT.400"])
    await trio.sleep(30)  # never read: the client's queue, the socket, then the fake's back up
    assert gate.slow_consumers_cut == 1
    assert gate.connections == []

    async def read_all() -> None:
        while True:
            await ws.get_message()

    with pytest.raises(trio_websocket.ConnectionClosed):  # after what was in flight
        await read_all()


@pytest.mark.fake(connection=ConnectionOptions(transport_buffer=4096), credentials=None)
async def test_cut_slow_consumers_on_demand(
    gate: FakeGateServer, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    reader = await gate.trio_websocket_connector(nursery, USDT, [])
    idle = await gate.trio_websocket_connector(nursery, USDT, [])
    for ws in (reader, idle):
        await subscribe(ws, "futures.obu", ["ob.BTC_USDT.400"])

    async def drain() -> None:
        with contextlib.suppress(trio_websocket.ConnectionClosed):
            while True:
                await reader.get_message()

    nursery.start_soon(drain)
    await trio.sleep(10)
    slow, fast = gate.connections[1], gate.connections[0]
    assert slow.send_backlog > 0
    assert fast.send_backlog == 0
    assert gate.cut_slow_consumers() == [slow.conn_id]
    await trio.sleep(2)
    assert gate.connections == [fast]
    assert gate.slow_consumers_cut == 1


@pytest.mark.fake(profile="docs", credentials=None)
async def test_docs_profile_closes_idle_connection_after_60s(
    gate: FakeGateServer, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ws = await gate.trio_websocket_connector(nursery, USDT, [])
    start = trio.current_time()
    await trio.sleep(40)
    await send(ws, channel="futures.ping")  # traffic: the 60 s start again
    await receive(ws)
    with pytest.raises(trio_websocket.ConnectionClosed) as info:
        await ws.get_message()
    assert trio.current_time() - start == 100.0  # protocol pings did not count as traffic
    assert info.value.reason is not None
    assert (info.value.reason.code, info.value.reason.reason) == (1000, "idle timeout")


@pytest.mark.fake(profile="docs", credentials=None)  # live sends no protocol pings (spec 15)
async def test_client_that_never_pongs_is_closed(
    gate: FakeGateServer, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    # A hand-driven WebSocket client that answers nothing, not even protocol pings.
    client, theirs = memory_socket_pair()
    nursery.start_soon(gate.serve_stream, theirs)
    proto = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
    await client.send_all(proto.send(Request(host="fake", target="/v4/ws/usdt")))
    start = trio.current_time()
    seen: list[tuple[float, str]] = []
    while data := await client.receive_some():
        proto.receive_data(bytes(data))
        for event in proto.events():
            seen.append((trio.current_time() - start, type(event).__name__))
            if isinstance(event, CloseConnection):
                assert event.code == 1011
    seen.append((trio.current_time() - start, "EOF"))
    assert seen == [
        (0.0, AcceptConnection.__name__),
        (15.0, Ping.__name__),  # protocol ping
        (25.0, CloseConnection.__name__),  # no pong within 10 s
        (26.0, "EOF"),  # the close handshake never completes: dropped after 1 s
    ]


# -------------------------------------------------------------------------------- REST


async def test_rest_order_book(
    gate: FakeGateServer, autojump_clock: trio.testing.MockClock
) -> None:
    await trio.sleep(1)
    status, body = gate.handle_http(
        "GET", "/api/v4/futures/usdt/order_book?contract=ETH_USDT&limit=5&with_id=true", {}
    )
    snapshot = json.loads(body)
    assert status == 200
    assert snapshot == gate.rest_order_book("ETH_USDT", 5, size_decimal=False)
    assert snapshot["id"] == gate.update_id("ETH_USDT")
    assert [(Decimal(x["p"]), Decimal(x["s"])) for x in snapshot["bids"]] == [
        (p, Decimal(int(s))) for p, s in gate.book("ETH_USDT", 5).bids
    ]
    headers = {"x-gate-size-decimal": "1"}
    status, body = gate.handle_http(
        "GET", "/api/v4/futures/usdt/order_book?contract=ETH_USDT&limit=5", headers
    )
    assert "id" not in json.loads(body)
    assert isinstance(json.loads(body)["asks"][0]["s"], str)
    for target, want in [
        ("/api/v4/futures/usdt/order_book?contract=NOPE_USDT", 400),
        ("/api/v4/futures/usdt/order_book?contract=BTC_USDT&limit=x", 400),
        ("/api/v4/futures/eur/order_book?contract=BTC_USDT", 404),
        ("/api/v4/spot/order_book", 404),
        ("/api/v4/delivery/usdt/order_book?contract=BTC_USDT_20261225", 200),
        ("/api/v4/futures/btc/contracts/BTC_USD", 200),
        # what other clients read before they open a socket (spec 15)
        ("/api/v4/futures/usdt/tickers", 200),
        ("/api/v4/futures/usdt/tickers?contract=NOPE_USDT", 400),
        # private: this server has credentials, so unsigned calls are refused as live does
        ("/api/v4/futures/usdt/positions", 400),
        ("/api/v4/futures/usdt/accounts", 400),
        ("/api/v4/account/detail", 400),
        ("/api/v4/spot/currencies", 200),
        ("/api/v4/spot/currency_pairs", 200),
        ("/api/v4/options/underlyings", 200),
    ]:
        assert gate.handle_http("GET", target, {})[0] == want, target
    assert gate.handle_http("POST", "/api/v4/futures/usdt/order_book", {})[0] == 405


# ----------------------------------------------------------------------------- trading


async def api(
    ws: WebSocketConnection, gate: FakeGateServer, request: Any, req_id: int, **kw: Any
) -> None:
    frame = encode_request(request, wall_time=gate.wall_time(), req_id=req_id, **kw)
    await ws.send_message(frame)


async def test_login_checks_signature_and_time(
    gate: FakeGateServer, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ws = await gate.trio_websocket_connector(nursery, USDT, [])
    bad = Credentials(key=CREDS.key, secret="x" * 64)
    await api(ws, gate, Login(), 1, credentials=bad)
    reply = await receive(ws)
    assert isinstance(reply, ApiError)
    assert (reply.request_id, reply.header.status, reply.label) == ("1", "401", "INVALID_SIGNATURE")
    stale = encode_request(Login(), wall_time=gate.wall_time() - 61, req_id=2, credentials=CREDS)
    await ws.send_message(stale)
    reply = await receive(ws)
    assert isinstance(reply, ApiError)
    assert reply.label == "REQUEST_EXPIRED"
    await api(ws, gate, GetOrder(order_id="1"), 3)  # unsigned, not logged in
    reply = await receive(ws)
    assert isinstance(reply, ApiError)
    # live's answer (spec 15)
    assert (reply.header.status, reply.label, reply.message) == (
        "400",
        "AUTHENTICATION_FAILED",
        "Not login",
    )
    await api(ws, gate, Login(), 4, credentials=CREDS)
    reply = await receive(ws)
    assert isinstance(reply, ApiResult)
    assert reply.result == {"uid": "20011", "api_key": CREDS.key}
    assert gate.connections[0].logged_in
    await api(ws, gate, GetOrder(order_id="1"), 5)  # unsigned is fine once logged in
    reply = await receive(ws)
    assert isinstance(reply, ApiError)
    assert reply.label == "ORDER_NOT_FOUND"


async def test_order_place_ack_result_and_pushes(
    gate: FakeGateServer, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ws = await gate.trio_websocket_connector(nursery, USDT, DECIMAL)
    now = int(gate.wall_time())
    for channel in ("futures.orders", "futures.usertrades", "futures.positions"):
        auth = sign_subscription(channel, "subscribe", now, key=CREDS.key, secret=CREDS.secret)
        await subscribe(ws, channel, ["20011", "!all"], auth=auth)
        await next_event(ws, SubscribeAck)
    auth = sign_subscription(
        "futures.balances", "subscribe", now, key=CREDS.key, secret=CREDS.secret
    )
    await send(
        ws, time=now, channel="futures.balances", event="subscribe", payload=["20011"], auth=auth
    )
    await next_event(ws, SubscribeAck)
    best_ask = gate.book("BTC_USDT", 1).asks[0]
    size = int(best_ask[1]) // 2 or 1
    order = PlaceOrder(contract="BTC_USDT", size=size, price=str(best_ask[0]), text="t-take")
    await api(ws, gate, order, 7, credentials=CREDS)
    events = [await receive(ws) for _ in range(7)]
    kinds = [type(e) for e in events]
    assert kinds == [
        ApiAck,
        ApiResult,
        OrdersUpdate,  # _new
        OrdersUpdate,  # filled
        UserTradesUpdate,
        PositionsUpdate,
        BalancesUpdate,
    ]
    ack, result = events[0], events[1]
    assert isinstance(ack, ApiAck)
    assert isinstance(result, ApiResult)
    assert ack.request_id == result.request_id == "7"
    assert isinstance(result.result, dict)
    assert result.result["status"] == "finished"
    assert result.result["finish_as"] == "filled"
    assert result.result["fill_price"] == str(best_ask[0])
    assert result.header.x_gate_ratelimit_limit == 100
    new, filled = events[2], events[3]
    assert isinstance(new, OrdersUpdate)
    assert isinstance(filled, OrdersUpdate)
    assert [new.result[0].finish_as, filled.result[0].finish_as] == ["_new", "filled"]
    assert [new.result[0].update_id, filled.result[0].update_id] == [1, 2]
    assert filled.result[0].id == result.result["id"] > 2**53
    balance = events[6]
    assert isinstance(balance, BalancesUpdate)
    assert balance.result[0].type == "fee"
    assert balance.result[0].text == f"BTC_USDT:{result.result['id']}"
    # the order took liquidity from the fake's book
    assert gate.book("BTC_USDT", 1).asks[0] == (best_ask[0], best_ask[1] - size)

    # a resting order, its status, its cancel, and a second cancel
    bid = gate.book("BTC_USDT", 1).bids[0][0]
    await api(
        ws,
        gate,
        PlaceOrder(contract="BTC_USDT", size=-2, price=str(bid + 500), text="t-rest"),
        8,
        credentials=CREDS,
    )
    resting = await next_event(ws, ApiResult)
    assert isinstance(resting.result, dict)
    assert resting.result["status"] == "open"
    assert resting.result["left"] == "-2"
    await api(ws, gate, GetOrder(order_id="t-rest"), 9, credentials=CREDS)
    status = await next_event(ws, ApiResult)
    assert isinstance(status.result, dict)
    assert status.result["id"] == resting.result["id"]
    await api(ws, gate, CancelOrder(order_id=resting.result["id"]), 10, credentials=CREDS)
    cancelled = await next_event(ws, ApiResult)
    assert isinstance(cancelled.result, dict)
    assert cancelled.result["finish_as"] == "cancelled"
    await api(ws, gate, CancelOrder(order_id=resting.result["id"]), 11, credentials=CREDS)
    again = await next_event(ws, ApiError)
    assert (again.header.status, again.label) == ("404", "ORDER_NOT_FOUND")


async def test_resting_order_fills_when_the_market_trades_through(
    gate: FakeGateServer, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ws = await gate.trio_websocket_connector(nursery, USDT, [])
    await api(ws, gate, Login(), 1, credentials=CREDS)
    await next_event(ws, ApiResult)
    ask = gate.book("BTC_USDT", 1).asks[0][0]
    await api(ws, gate, PlaceOrder(contract="BTC_USDT", size=-1, price=str(ask)), 2)
    placed = await next_event(ws, ApiResult)
    assert isinstance(placed.result, dict)
    order_id = placed.result["id"]
    # lift the offers up to that price with our own market buy: the resting sell is crossed
    units = sum(int(s) for p, s in gate.book("BTC_USDT").asks if p <= ask)
    await api(ws, gate, PlaceOrder(contract="BTC_USDT", size=units, price="0", tif="ioc"), 3)
    await next_event(ws, ApiResult)
    await trio.sleep(0.1)  # resting orders are matched every 100 ms
    await api(ws, gate, GetOrder(order_id=order_id), 4)
    status = await next_event(ws, ApiResult)
    assert isinstance(status.result, dict)
    assert (status.result["status"], status.result["finish_as"]) == ("finished", "filled")


async def test_trading_rate_limit(
    gate: FakeGateServer, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ws = await gate.trio_websocket_connector(nursery, USDT, [])
    await api(ws, gate, Login(), 0, credentials=CREDS)
    await next_event(ws, ApiResult)
    # place and amend share 100 a second (spec 9): the 101st within the second is refused
    for i in range(1, 102):
        await api(ws, gate, AmendOrder(order_id="1", price="1"), i)
    replies: list[ApiResult | ApiError] = []
    while len(replies) < 101:
        reply = await receive(ws)
        if isinstance(reply, ApiResult | ApiError):
            replies.append(reply)
    assert [r.label for r in replies[:100] if isinstance(r, ApiError)] == ["ORDER_NOT_FOUND"] * 100
    assert replies[0].header.x_gate_ratelimit_requests_remain == 99
    assert replies[99].header.x_gate_ratelimit_requests_remain is None  # omitted at 0 (8.3)
    last = replies[100]
    assert isinstance(last, ApiError)
    assert (last.header.status, last.label) == ("429", "TOO_MANY_REQUESTS")
    assert last.message == "Request Rate limit Exceeded (311)"
    assert last.header.x_gate_ratelimit_limit == 100
    # the docs' 429 example spells the reset header x_gate_ (spec 8.13)
    assert last.header.x_gat_ratelimit_reset_timestamp is None
    assert last.header.ratelimit_reset_ms == (int(gate.wall_time()) + 1) * 1000
    assert gate.trading.rate_limited == 1
    assert gate.trading.max_rate("orders") == 101
    # cancels have their own 200 a second, untouched by the orders above
    for i in range(200, 400):
        await api(ws, gate, CancelOrders(order_ids=["1"]), i)
    cancels = [await next_event(ws, ApiResult) for _ in range(200)]
    assert all(c.header.x_gate_ratelimit_limit == 200 for c in cancels)
    await trio.sleep(1)
    await api(ws, gate, AmendOrder(order_id="1", price="1"), 500)
    after = await next_event(ws, ApiError)
    assert after.label == "ORDER_NOT_FOUND"  # a new second, a new window


async def test_delivery_has_no_trading_api(gate: FakeGateServer, nursery: trio.Nursery) -> None:
    ws = await gate.trio_websocket_connector(
        nursery, "wss://fx-ws.gateio.ws/v4/ws/delivery/usdt", []
    )
    await api(ws, gate, Login(), 1, credentials=CREDS)
    reply = await receive(ws)
    assert isinstance(reply, ErrorReply)
    assert (reply.channel, reply.code) == ("futures.login", 2)


async def test_push_sends_events_and_raw_frames(
    gate: FakeGateServer, nursery: trio.Nursery
) -> None:
    ws = await gate.trio_websocket_connector(nursery, USDT, [])
    gate.push(UpgradeRequested(msg="soon", time=1, time_ms=1000))
    assert await receive(ws) == UpgradeRequested(msg="soon", time=1, time_ms=1000)
    gate.push(
        '{"channel":"futures.custom","event":"update","result":1}',
        conn=gate.connections[0].conn_id,
    )
    assert json.loads(await ws.get_message())["channel"] == "futures.custom"


@pytest.mark.fake(rest_latency=0.25, credentials=None)
async def test_fetch_order_book_is_a_delayed_rest_snapshot(
    gate: FakeGateServer, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    await trio.sleep(1)
    taken_id = gate.update_id("BTC_USDT")
    start = trio.current_time()
    body = await gate.fetch_order_book("BTC_USDT", 20)
    assert trio.current_time() - start == 0.25
    assert body["id"] == taken_id < gate.update_id("BTC_USDT")  # the book moved on meanwhile
    bids = body["bids"]
    assert isinstance(bids, list)
    assert [(Decimal(x["p"]), Decimal(x["s"])) for x in bids] == list(
        gate.book_at("BTC_USDT", taken_id, depth=20).bids
    )


async def test_unsubscribe_stops_the_stream(
    gate: FakeGateServer, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    ws = await gate.trio_websocket_connector(nursery, USDT, [])
    await subscribe(ws, "futures.contract_stats", ["BTC_USDT", "1m"])
    await subscribe(ws, "futures.contract_stats", ["ETH_USDT", "5m"])
    await subscribe(ws, "futures.trades", ["BTC_USDT"])
    await next_event(ws, TradesUpdate)
    await send(ws, channel="futures.contract_stats", event="unsubscribe", payload=["unsub_all"])
    await send(ws, channel="futures.trades", event="unsubscribe", payload=["BTC_USDT"], id=5)
    acks = [await next_event(ws, SubscribeAck) for _ in range(2)]
    assert [(a.channel, a.event, a.id) for a in acks] == [
        ("futures.contract_stats", "unsubscribe", None),
        ("futures.trades", "unsubscribe", 5),
    ]
    assert gate.connections[0].topics == set()
    await trio.sleep(10)
    await send(ws, channel="futures.ping")
    assert isinstance(await receive(ws), Pong)  # nothing streamed in between
    assert [(r.channel, r.event) for r in gate.received[-3:]] == [
        ("futures.contract_stats", "unsubscribe"),
        ("futures.trades", "unsubscribe"),
        ("futures.ping", None),
    ]
    conn_id, frame = gate.received[-1]
    assert conn_id == gate.connections[0].conn_id
    assert frame == {"channel": "futures.ping"}
