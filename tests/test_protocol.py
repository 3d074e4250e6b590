"""Unit tests for the pure GateProtocol, driven with literal Gate frames."""

from __future__ import annotations

import json
import random
import typing
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatetrio import channels
from gatetrio._core._auth import sign_subscription
from gatetrio._core._errors import (
    AuthenticationError,
    HeartbeatTimeout,
    InvalidArgument,
    ProtocolError,
    RequestLost,
    SubscriptionRejected,
    UsageError,
)
from gatetrio._core._events import DataEvent, Order, Trade
from gatetrio._core._protocol import (
    ApiAcked,
    ApiCompleted,
    ApiFailed,
    CloseConnection,
    Delivery,
    GateProtocol,
    Malformed,
    Notice,
    Output,
    PongReceived,
    ProtocolViolation,
    SubscriptionFailed,
    SubscriptionReady,
    Unknown,
    Unmatched,
    UnsubscribeAcked,
    UnsubscribeFailed,
    Upgrade,
)
from gatetrio._core._protocol._routing import KEYS
from gatetrio._core._requests import ChannelSpec, PlaceOrder

from .helpers import DOCS_CREDS, DOCS_KEY, DOCS_SECRET

if TYPE_CHECKING:
    from pathlib import Path

T0 = 1000.0  # trio clock
WALL = 1_786_540_578.0  # unix seconds


def make(
    *,
    ping_interval: float = 5.0,
    pong_timeout: float = 3.0,
    silence_timeout: float | None = None,
    connect: bool = True,
) -> GateProtocol:
    proto = GateProtocol(
        ping_interval=ping_interval,
        pong_timeout=pong_timeout,
        silence_timeout=silence_timeout,
        credentials=DOCS_CREDS,
        entropy=random.Random(7).randbytes,
    )
    if connect:
        assert proto.on_connected(T0, wall_time=WALL).frames == []
    return proto


def parse(frame: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(frame)
    return data


def ack(
    req_id: int | None, channel: str, payload: list[str] | None, event: str = "subscribe"
) -> str:
    frame: dict[str, Any] = {"time": 1786540580, "time_ms": 1786540580651}
    if req_id is not None:
        frame["id"] = req_id
    frame.update(conn_id="7131b1698f971b30", channel=channel, event=event)
    if payload is not None:
        frame["payload"] = payload
    frame["result"] = {"status": "success"}
    return json.dumps(frame)


def error(req_id: int | None, channel: str, payload: list[str], code: int, message: str) -> str:
    frame: dict[str, Any] = {"time": 1747391482, "time_ms": 1747391482960}
    if req_id is not None:
        frame["id"] = req_id
    frame.update(
        channel=channel,
        event="subscribe",
        payload=payload,
        error={"code": code, "message": message},
        result={"status": "fail"},
    )
    return json.dumps(frame)


def trades_frame(*contracts: str) -> str:
    result = [
        {
            "id": 807645690 + i,
            "size": 2,
            "create_time": 1786540580,
            "create_time_ms": 1786540580715,
            "price": "63994.5",
            "contract": contract,
        }
        for i, contract in enumerate(contracts)
    ]
    return json.dumps(
        {
            "time": 1786540580,
            "time_ms": 1786540580715,
            "channel": "futures.trades",
            "event": "update",
            "result": result,
        }
    )


PONG = (
    '{"time":1789456354,"time_ms":1789456354999,"conn_id":"c59a69fd3702aa1d",'
    '"channel":"futures.pong","event":"","result":null}'
)


def deliveries(outputs: list[Output]) -> list[tuple[int, object]]:
    return [(o.sub_id, o.item) for o in outputs if isinstance(o, Delivery)]


def subscribe_ready(proto: GateProtocol, spec: ChannelSpec[object]) -> int:
    """Subscribe and ack every frame that goes out."""
    sub_id, frames = proto.subscribe(spec, wall_time=WALL)
    for frame in frames:
        sent = parse(frame)
        proto.receive_text(ack(sent["id"], sent["channel"], sent["payload"]), now=T0)
    assert proto.is_ready(sub_id)
    return sub_id


# ----------------------------------------------------------------------------- subscribe / ack


def test_subscribe_sends_one_frame_and_ack_with_id_makes_it_ready() -> None:
    proto = make()
    sub_id, frames = proto.subscribe(channels.trades("BTC_USDT", "ETH_USDT"), wall_time=WALL)
    assert len(frames) == 1
    sent = parse(frames[0])
    assert sent == {
        "time": int(WALL),
        "id": sent["id"],
        "channel": "futures.trades",
        "event": "subscribe",
        "payload": ["BTC_USDT", "ETH_USDT"],
    }
    assert isinstance(sent["id"], int)
    assert 0 < sent["id"] < 2**31
    assert not proto.is_ready(sub_id)
    out = proto.receive_text(
        ack(sent["id"], "futures.trades", ["BTC_USDT", "ETH_USDT"]), now=T0 + 0.1
    )
    assert out == [SubscriptionReady(sub_id)]
    assert proto.is_ready(sub_id)


def test_request_ids_are_distinct_small_ints() -> None:
    proto = make()
    ids = []
    for contract in ("BTC_USDT", "ETH_USDT", "SOL_USDT"):
        _, frames = proto.subscribe(channels.candlesticks(contract), wall_time=WALL)
        ids.append(parse(frames[0])["id"])
    assert len(set(ids)) == 3
    assert all(isinstance(i, int) and 0 < i < 2**31 for i in ids)


def test_ack_without_id_is_matched_by_channel_and_payload() -> None:
    proto = make()
    first, _ = proto.subscribe(channels.trades("BTC_USDT"), wall_time=WALL)
    second, _ = proto.subscribe(channels.trades("ETH_USDT"), wall_time=WALL)
    # the second ack arrives first and echoes no id: the payload decides
    assert proto.receive_text(ack(None, "futures.trades", ["ETH_USDT"]), now=T0) == [
        SubscriptionReady(second)
    ]
    assert not proto.is_ready(first)


def test_ack_without_id_or_payload_matches_the_oldest_pending_request() -> None:
    proto = make()
    first, _ = proto.subscribe(channels.tickers("BTC_USDT"), wall_time=WALL)
    second, _ = proto.subscribe(channels.tickers("ETH_USDT"), wall_time=WALL)
    ack_2022 = (
        '{"id":null,"time":1641365392,"channel":"futures.tickers","event":"subscribe",'
        '"error":null,"result":{"status":"success"}}'
    )
    assert proto.receive_text(ack_2022, now=T0) == [SubscriptionReady(first)]
    assert proto.receive_text(ack_2022, now=T0) == [SubscriptionReady(second)]
    out = proto.receive_text(ack_2022, now=T0)
    assert [type(o) for o in out] == [Unmatched]
    assert proto.statistics().unmatched_replies == 1


def test_ack_with_unknown_id_is_unmatched() -> None:
    proto = make()
    sub_id, _ = proto.subscribe(channels.trades("BTC_USDT"), wall_time=WALL)
    out = proto.receive_text(ack(999_999, "futures.trades", ["BTC_USDT"]), now=T0)
    assert [type(o) for o in out] == [Unmatched]
    assert not proto.is_ready(sub_id)


def test_subscription_needs_every_frame_acked() -> None:
    proto = make()
    spec: ChannelSpec[object] = ChannelSpec(
        channel="futures.trades",
        payloads=(("BTC_USDT",), ("ETH_USDT",)),
        keys=frozenset({"BTC_USDT", "ETH_USDT"}),
        batched=True,
    )
    sub_id, frames = proto.subscribe(spec, wall_time=WALL)
    first, second = (parse(f) for f in frames)
    assert (first["payload"], second["payload"]) == (["BTC_USDT"], ["ETH_USDT"])
    assert proto.receive_text(ack(first["id"], "futures.trades", ["BTC_USDT"]), now=T0) == []
    assert not proto.is_ready(sub_id)
    out = proto.receive_text(ack(second["id"], "futures.trades", ["ETH_USDT"]), now=T0)
    assert out == [SubscriptionReady(sub_id)]


def test_subscribe_while_disconnected_is_sent_on_connect() -> None:
    proto = make(connect=False)
    sub_id, frames = proto.subscribe(channels.trades("BTC_USDT"), wall_time=WALL)
    assert frames == []
    assert not proto.is_ready(sub_id)
    plan = proto.on_connected(T0, wall_time=WALL).frames
    assert [parse(f)["payload"] for f in plan] == [["BTC_USDT"]]


# ------------------------------------------------------------------------------------ failures


def test_batch_failure_fails_every_subscription_waiting_on_it() -> None:
    proto = make()
    both, frames = proto.subscribe(channels.trades("BTC_USDT", "NOPE_USDT"), wall_time=WALL)
    sent = parse(frames[0])
    # a second subscription needing a target of the pending batch sends nothing and waits
    waiter, frames2 = proto.subscribe(channels.trades("NOPE_USDT"), wall_time=WALL)
    assert frames2 == []
    bystander = subscribe_ready(proto, channels.trades("ETH_USDT"))

    out = proto.receive_text(
        error(sent["id"], "futures.trades", sent["payload"], 2, "unknown contract NOPE_USDT"),
        now=T0,
    )
    assert [(type(o), getattr(o, "sub_id", None)) for o in out] == [
        (SubscriptionFailed, both),
        (SubscriptionFailed, waiter),
    ]
    assert isinstance(out[0], SubscriptionFailed)
    err = out[0].error
    assert type(err) is SubscriptionRejected
    assert (err.code, err.message, err.channel) == (
        2,
        "unknown contract NOPE_USDT",
        "futures.trades",
    )
    assert proto.is_ready(bystander)
    # failed subscriptions get no data
    assert deliveries(proto.receive_text(trades_frame("BTC_USDT", "NOPE_USDT"), now=T0)) == []
    # the batch was rolled back: a later subscribe re-sends both targets
    _, frames3 = proto.subscribe(channels.trades("BTC_USDT", "NOPE_USDT"), wall_time=WALL)
    assert [parse(f)["payload"] for f in frames3] == [["BTC_USDT", "NOPE_USDT"]]


def test_failed_subscription_is_not_resubscribed_and_unsubscribe_releases_it() -> None:
    proto = make()
    spec: ChannelSpec[object] = ChannelSpec(
        channel="futures.trades",
        payloads=(("BTC_USDT",), ("NOPE_USDT",)),
        keys=frozenset({"BTC_USDT", "NOPE_USDT"}),
        batched=True,
    )
    sub_id, frames = proto.subscribe(spec, wall_time=WALL)
    good, bad = (parse(f) for f in frames)
    proto.receive_text(ack(good["id"], "futures.trades", ["BTC_USDT"]), now=T0)
    out = proto.receive_text(
        error(bad["id"], "futures.trades", ["NOPE_USDT"], 2, "unknown contract NOPE_USDT"),
        now=T0,
    )
    assert [type(o) for o in out] == [SubscriptionFailed]
    # BTC_USDT is still subscribed on the server for it: unsubscribe cleans that up
    assert [parse(f)["payload"] for f in proto.unsubscribe(sub_id, wall_time=WALL)] == [
        ["BTC_USDT"]
    ]

    other, _ = proto.subscribe(spec, wall_time=WALL)
    proto.receive_text(error(None, "futures.trades", ["NOPE_USDT"], 2, "unknown"), now=T0)
    proto.on_disconnected(T0)
    assert proto.on_connected(T0, wall_time=WALL).frames == []  # nothing live to resubscribe
    assert proto.subscriptions() == {other: spec}


def test_auth_failure_code_4_is_an_authentication_error() -> None:
    proto = make()
    sub_id, frames = proto.subscribe(channels.orders("20011"), wall_time=WALL)
    sent = parse(frames[0])
    reply = (
        '{"time":1727100173,"time_ms":1727100173023,"id":' + str(sent["id"]) + ","
        '"conn_id":"e92ba03dcef376d0",'
        '"channel":"futures.orders","event":"subscribe","payload":["20011","!all"],'
        '"error":{"code":4,"message":"{\\"label\\":\\"INVALID_KEY\\",'
        '\\"message\\":\\"Invalid key provided\\"}\\n"},"result":{"status":"fail"}}'
    )
    out = proto.receive_text(reply, now=T0)
    assert len(out) == 1
    assert isinstance(out[0], SubscriptionFailed)
    assert out[0].sub_id == sub_id
    assert type(out[0].error) is AuthenticationError
    assert out[0].error.code == 4
    assert out[0].error.channel == "futures.orders"
    assert "INVALID_KEY" in out[0].error.message


def test_malformed_request_reply_is_a_protocol_violation() -> None:
    proto = make()
    reply = (
        '{"time":1727318820,"time_ms":1727318820205,"conn_id":"c7799af51014ea53",'
        '"trace_id":"4d07b2abbe99cc9656b50d9dc980cb60","channel":"","event":"",'
        '"error":{"code":1,"message":"request message need json scheme"},'
        '"result":{"status":"fail"}}'
    )
    out = proto.receive_text(reply, now=T0)
    assert len(out) == 1
    assert isinstance(out[0], ProtocolViolation)
    assert out[0].error.code == 1
    assert proto.statistics().protocol_violations == 1


def test_error_for_nothing_pending_is_unmatched() -> None:
    proto = make()
    out = proto.receive_text(error(None, "futures.trades", ["X_USDT"], 2, "unknown"), now=T0)
    assert [type(o) for o in out] == [Unmatched]


# ---------------------------------------------------------------------------------- refcounting


def test_refcounting_shared_trades_target() -> None:
    proto = make()
    first = subscribe_ready(proto, channels.trades("BTC_USDT"))
    second, frames = proto.subscribe(channels.trades("BTC_USDT", "ETH_USDT"), wall_time=WALL)
    assert [parse(f)["payload"] for f in frames] == [["ETH_USDT"]]  # BTC_USDT is already live

    assert proto.unsubscribe(first, wall_time=WALL) == []  # second still needs BTC_USDT
    out = proto.receive_text(trades_frame("BTC_USDT"), now=T0)
    assert [sub for sub, _ in deliveries(out)] == [second]

    frames = proto.unsubscribe(second, wall_time=WALL)
    sent = parse(frames[0])
    assert (sent["event"], sent["payload"]) == ("unsubscribe", ["BTC_USDT", "ETH_USDT"])
    assert proto.receive_text(
        ack(sent["id"], "futures.trades", sent["payload"], event="unsubscribe"), now=T0
    ) == [UnsubscribeAcked("futures.trades", ("BTC_USDT", "ETH_USDT"))]
    # data still in flight after the unsubscribe is counted, not an error
    assert proto.receive_text(trades_frame("BTC_USDT"), now=T0) == []
    assert proto.statistics().unrouted == 1


def test_subscription_whose_targets_are_live_is_ready_at_once() -> None:
    proto = make()
    subscribe_ready(proto, channels.obu("BTC_USDT", level=50))
    sub_id, frames = proto.subscribe(channels.obu("BTC_USDT", level=50), wall_time=WALL)
    assert frames == []  # a duplicate obu subscribe would get "Alert sub" from Gate
    assert proto.is_ready(sub_id)


def test_subscription_sharing_a_pending_target_waits_for_that_ack() -> None:
    proto = make()
    first, frames = proto.subscribe(channels.trades("BTC_USDT"), wall_time=WALL)
    second, frames2 = proto.subscribe(channels.trades("BTC_USDT"), wall_time=WALL)
    assert frames2 == []
    sent = parse(frames[0])
    out = proto.receive_text(ack(sent["id"], "futures.trades", ["BTC_USDT"]), now=T0)
    assert out == [SubscriptionReady(first), SubscriptionReady(second)]


def test_unsubscribe_before_ack_then_late_ack_readies_nothing() -> None:
    proto = make()
    sub_id, frames = proto.subscribe(channels.trades("BTC_USDT"), wall_time=WALL)
    unsub = proto.unsubscribe(sub_id, wall_time=WALL)
    assert parse(unsub[0])["event"] == "unsubscribe"
    sent = parse(frames[0])
    assert proto.receive_text(ack(sent["id"], "futures.trades", ["BTC_USDT"]), now=T0) == []
    # and a new subscription to the same target is sent again, not assumed live
    _, again = proto.subscribe(channels.trades("BTC_USDT"), wall_time=WALL)
    assert len(again) == 1


def test_failed_unsubscribe_is_reported() -> None:
    proto = make()
    sub_id = subscribe_ready(proto, channels.trades("BTC_USDT"))
    sent = parse(proto.unsubscribe(sub_id, wall_time=WALL)[0])
    reply = json.dumps(
        {
            "time": 1,
            "id": sent["id"],
            "channel": "futures.trades",
            "event": "unsubscribe",
            "payload": ["BTC_USDT"],
            "error": {"code": 2, "message": "not subscribed"},
            "result": {"status": "fail"},
        }
    )
    out = proto.receive_text(reply, now=T0)
    assert len(out) == 1
    assert isinstance(out[0], UnsubscribeFailed)
    assert (out[0].channel, out[0].payload) == ("futures.trades", ("BTC_USDT",))


def test_unsubscribe_unknown_id_is_a_no_op() -> None:
    proto = make()
    assert proto.unsubscribe(12345, wall_time=WALL) == []


def test_positional_channels_refcount_whole_payloads() -> None:
    proto = make()
    subscribe_ready(proto, channels.order_book_update("BTC_USDT", "100ms", "100"))
    _, frames = proto.subscribe(
        channels.order_book_update("BTC_USDT", "20ms", "20"), wall_time=WALL
    )
    assert [parse(f)["payload"] for f in frames] == [["BTC_USDT", "20ms", "20"]]
    _, frames = proto.subscribe(
        channels.order_book_update("BTC_USDT", "100ms", "100"), wall_time=WALL
    )
    assert frames == []


# ---------------------------------------------------------------------------------------- routing


def test_multi_contract_trades_frame_goes_to_the_right_subscriptions() -> None:
    proto = make()
    btc = subscribe_ready(proto, channels.trades("BTC_USDT"))
    both = subscribe_ready(proto, channels.trades("BTC_USDT", "ETH_USDT"))
    out = proto.receive_text(trades_frame("BTC_USDT", "ETH_USDT", "SOL_USDT"), now=T0)
    routed = [(sub, item.contract) for sub, item in deliveries(out) if isinstance(item, Trade)]
    assert routed == [(btc, "BTC_USDT"), (both, "BTC_USDT"), (both, "ETH_USDT")]
    assert all(isinstance(o, Delivery) and o.frame.channel == "futures.trades" for o in out)
    assert proto.statistics().unrouted == 1  # SOL_USDT
    assert proto.statistics().messages_by_channel == {"futures.trades": 1}


def test_candlesticks_route_by_name() -> None:
    proto = make()
    minute = subscribe_ready(proto, channels.candlesticks("BTC_USDT", "1m"))
    mark = subscribe_ready(proto, channels.candlesticks("BTC_USDT", "1m", price="mark"))
    frame = (
        '{"time":1786540599,"time_ms":1786540599739,"channel":"futures.candlesticks",'
        '"event":"update","result":[{"t":1786540560,"c":"63968.3","h":"64015.8",'
        '"l":"63968.2","o":"64007.3","a":"682624.39971","n":"1m_BTC_USDT","w":false,'
        '"v":106665},{"t":1786540560,"c":"63968.3","h":"64015.8","l":"63968.2",'
        '"o":"64007.3","n":"1m_mark_BTC_USDT","w":false}]}'
    )
    got = deliveries(proto.receive_text(frame, now=T0))
    assert [(sub, getattr(item, "n", None)) for sub, item in got] == [
        (minute, "1m_BTC_USDT"),
        (mark, "1m_mark_BTC_USDT"),
    ]


def test_obu_routes_by_stream_and_data_before_ack_is_delivered() -> None:
    proto = make()
    s400, frames = proto.subscribe(channels.obu("BTC_USDT", level=400), wall_time=WALL)
    s50 = subscribe_ready(proto, channels.obu("BTC_USDT", level=50))
    snapshot = (
        '{"channel":"futures.obu","result":{"t":1743673026995,"full":true,'
        '"s":"ob.BTC_USDT.400","u":79072179673,"b":[["83705.9","30166"]],'
        '"a":[["83706","4208"]]},"time_ms":1743673026999}'
    )
    # spec 6.6: the snapshot precedes the ack
    got = deliveries(proto.receive_text(snapshot, now=T0))
    assert [sub for sub, _ in got] == [s400]
    assert not proto.is_ready(s400)
    sent = parse(frames[0])
    out = proto.receive_text(ack(sent["id"], "futures.obu", ["ob.BTC_USDT.400"]), now=T0)
    assert out == [SubscriptionReady(s400)]
    delta = (
        '{"time":1789455580,"time_ms":1789455580280,"channel":"futures.obu","event":"update",'
        '"result":{"t":1789455580280,"s":"ob.BTC_USDT.50","U":125033675975,"u":125033676003,'
        '"b":[["77222.9","648"]],"a":[["77235","50"],["77235.2","0"]]}}'
    )
    assert [sub for sub, _ in deliveries(proto.receive_text(delta, now=T0))] == [s50]


def test_balances_are_channel_wide() -> None:
    proto = make()
    first = subscribe_ready(proto, channels.balances("20011"))
    frame = (
        '{"time":1727169518,"time_ms":1727169518435,"channel":"futures.balances",'
        '"event":"update","result":[{"text":"SOL_USDT:533324294866","time":1727169518,'
        '"time_ms":1727169518413,"type":"fee","user":"15564602","currency":"usdt",'
        '"balance":296.16455822737,"change":0.00738}]}'
    )
    assert [sub for sub, _ in deliveries(proto.receive_text(frame, now=T0))] == [first]


def test_all_wildcard_receives_every_contract() -> None:
    proto = make()
    everything = subscribe_ready(proto, channels.orders("20011"))
    btc = subscribe_ready(proto, channels.orders("20011", "BTC_USDT"))
    order = (
        '{{"contract":"{c}","create_time":1733968288,"fill_price":0,"finish_as":"_new",'
        '"id":58828270140012048,"left":1,"price":93000,"size":1,"status":"open",'
        '"text":"api","tif":"gtc","update_id":1,"user":"16792411"}}'
    )
    frame = (
        '{"time":1733968288,"time_ms":1733968288265,"channel":"futures.orders",'
        '"event":"update","result":['
        + order.format(c="BTC_USDT")
        + ","
        + order.format(c="ETH_USDT")
        + "]}"
    )
    got = [
        (sub, getattr(item, "contract", None))
        for sub, item in deliveries(proto.receive_text(frame, now=T0))
    ]
    assert got == [(everything, "BTC_USDT"), (btc, "BTC_USDT"), (everything, "ETH_USDT")]


def test_book_ticker_routes_by_s() -> None:
    proto = make()
    eth = subscribe_ready(proto, channels.book_ticker("ETH_USDT"))
    frame = (
        '{"channel":"futures.book_ticker","event":"update","result":{"t":1727407594819,'
        '"u":56611084599,"s":"ETH_USDT","b":"2622.7","B":255,"a":"2622.75","A":2422},'
        '"time":1727407594,"time_ms":1727407594837}'
    )
    assert [sub for sub, _ in deliveries(proto.receive_text(frame, now=T0))] == [eth]


def test_every_data_event_type_has_a_routing_key() -> None:
    assert set(KEYS) == set(typing.get_args(DataEvent))


# -------------------------------------------------------------------------------------- heartbeat


def test_ping_cadence_is_exact() -> None:
    proto = make(ping_interval=5.0, pong_timeout=3.0)
    assert proto.get_timer() == T0 + 5.0
    assert proto.handle_timer(T0 + 4.999, wall_time=WALL).frames == []  # early: harmless
    sent_at = []
    now = T0
    for _ in range(3):
        deadline = proto.get_timer()
        assert deadline is not None
        now = deadline
        frames = proto.handle_timer(now, wall_time=WALL + now - T0).frames
        assert len(frames) == 1
        ping = parse(frames[0])
        assert ping["channel"] == "futures.ping"
        assert ping["time"] == int(WALL + now - T0)
        sent_at.append(now)
        assert proto.get_timer() == now + 3.0  # the pong deadline
        assert proto.handle_timer(now + 1.0, wall_time=WALL).frames == []  # pong outstanding
        out = proto.receive_text(PONG, now=now + 0.25)
        assert out == [PongReceived(0.25)]
    assert sent_at == [T0 + 5.0, T0 + 10.0, T0 + 15.0]
    stats = proto.statistics()
    assert (stats.pings_sent, stats.pongs_received, stats.last_rtt) == (3, 3, 0.25)


def test_late_pong_makes_the_next_ping_due_at_once() -> None:
    proto = make(ping_interval=2.0, pong_timeout=5.0)
    assert len(proto.handle_timer(T0 + 2.0, wall_time=WALL).frames) == 1
    # a ping is due at T0 + 4, but one is still outstanding: no second ping
    assert proto.handle_timer(T0 + 4.0, wall_time=WALL).frames == []
    assert proto.get_timer() == T0 + 7.0
    assert proto.receive_text(PONG, now=T0 + 4.5) == [PongReceived(2.5)]
    assert proto.get_timer() == T0 + 4.0
    assert len(proto.handle_timer(T0 + 4.5, wall_time=WALL).frames) == 1


def test_pong_timeout_raises_exactly_at_the_deadline() -> None:
    proto = make(ping_interval=5.0, pong_timeout=3.0)
    proto.handle_timer(T0 + 5.0, wall_time=WALL)
    assert proto.get_timer() == T0 + 8.0
    assert proto.handle_timer(T0 + 7.999999, wall_time=WALL).frames == []
    with pytest.raises(HeartbeatTimeout):
        proto.handle_timer(T0 + 8.0, wall_time=WALL)
    with pytest.raises(HeartbeatTimeout):  # keeps raising until the shell reconnects
        proto.handle_timer(T0 + 9.0, wall_time=WALL)
    proto.on_disconnected(T0 + 9.0)
    assert proto.get_timer() is None
    assert proto.handle_timer(T0 + 20.0, wall_time=WALL).frames == []
    proto.on_connected(T0 + 21.0, wall_time=WALL)
    assert proto.get_timer() == T0 + 26.0


def test_unsolicited_pong_is_unmatched() -> None:
    proto = make()
    out = proto.receive_text(PONG, now=T0)
    assert [type(o) for o in out] == [Unmatched]


def test_silence_is_reported_once_per_silence() -> None:
    proto = make(ping_interval=100.0, pong_timeout=10.0, silence_timeout=30.0)
    sub_id, frames = proto.subscribe(channels.trades("BTC_USDT"), wall_time=WALL)
    assert proto.get_timer() == T0 + 100.0  # not ready yet: no silence clock
    sent = parse(frames[0])
    proto.receive_text(ack(sent["id"], "futures.trades", ["BTC_USDT"]), now=T0 + 1.0)
    assert proto.get_timer() == T0 + 31.0
    assert proto.handle_timer(T0 + 30.9, wall_time=WALL).silent == []
    assert proto.handle_timer(T0 + 31.0, wall_time=WALL).silent == [sub_id]
    assert proto.handle_timer(T0 + 50.0, wall_time=WALL).silent == []  # once per silence
    assert proto.get_timer() == T0 + 100.0
    proto.receive_text(trades_frame("BTC_USDT"), now=T0 + 60.0)  # data resumes
    assert proto.get_timer() == T0 + 90.0
    assert proto.handle_timer(T0 + 90.0, wall_time=WALL).silent == [sub_id]


def test_silence_of_an_immediately_ready_subscription_starts_at_subscribe() -> None:
    proto = make(ping_interval=100.0, pong_timeout=10.0, silence_timeout=30.0)
    first = subscribe_ready(proto, channels.trades("BTC_USDT"))
    second, _ = proto.subscribe(channels.trades("BTC_USDT"), wall_time=WALL, now=T0 + 20.0)
    assert proto.handle_timer(T0 + 30.0, wall_time=WALL).silent == [first]
    assert proto.handle_timer(T0 + 50.0, wall_time=WALL).silent == [second]


def test_constructor_rejects_bad_durations() -> None:
    with pytest.raises(UsageError):
        GateProtocol(ping_interval=0.0, pong_timeout=1.0)
    with pytest.raises(UsageError):
        GateProtocol(ping_interval=1.0, pong_timeout=1.0, silence_timeout=-1.0)


# ---------------------------------------------------------------------------------- malformed


@pytest.mark.parametrize(
    "text",
    ["", "{", "[]", "null", '{"channel":', b"\xff\xfe", '{"time":"x"}', "not json at all"],
)
def test_malformed_frames_are_counted_not_raised(text: str | bytes) -> None:
    proto = make()
    out = proto.receive_text(text, now=T0)
    assert len(out) == 1
    assert isinstance(out[0], Malformed)
    assert isinstance(out[0].error, ProtocolError)
    assert proto.statistics().malformed == 1
    assert proto.statistics().frames_received == 1


def test_unknown_channel_is_reported_and_counted() -> None:
    proto = make()
    out = proto.receive_text(
        '{"time":1,"channel":"futures.something_new","event":"update","result":[]}', now=T0
    )
    assert [type(o) for o in out] == [Unknown]
    assert proto.statistics().unknown_events == 1


def test_upgrade_and_system_notices() -> None:
    proto = make()
    upgrade = (
        '{"time":1780992412,"time_ms":1780992412642,"channel":"futures.system",'
        '"event":"update","result":{"type":"upgrade","msg":"The connection will soon be '
        'closed for a service upgrade. Please reconnect."}}'
    )
    out = proto.receive_text(upgrade, now=T0)
    assert len(out) == 1
    assert isinstance(out[0], Upgrade)
    assert "service upgrade" in out[0].notice.msg
    notice = (
        '{"time":1770601096,"time_ms":1770601096665,"channel":"futures.system",'
        '"event":"update","result":{"type":"outdated_sbe_schema_id","msg":"upgrade"}}'
    )
    out = proto.receive_text(notice, now=T0)
    assert len(out) == 1
    assert isinstance(out[0], Notice)
    assert out[0].event.type == "outdated_sbe_schema_id"


# ---------------------------------------------------------------------------------- trading API


def api_reply(req_id: str, *, ack_: bool = False, errs: bool = False) -> str:
    header = {
        "response_time": "1727227280918",
        "status": "400" if errs else "200",
        "channel": "futures.order_place",
        "event": "api",
        "client_id": "94.228.147.34-0xc17bf95180",
    }
    data: dict[str, Any]
    if errs:
        data = {"errs": {"label": "INVALID_PARAM_VALUE", "message": "bad"}}
    else:  # live 2024 (spec 8.5)
        data = {
            "result": {
                "text": "t-JQICBoPDPBsCAQAAAAAA",
                "price": "100",
                "biz_info": "-",
                "tif": "gtc",
                "amend_text": "-",
                "status": "open",
                "contract": "SOL_USDT",
                "stp_act": "-",
                "fill_price": "0",
                "id": 533610324468,
                "create_time": 1727227280.916,
                "size": 1,
                "update_time": 1727227280.916,
                "left": 1,
                "user": 15564602,
            }
        }
    frame: dict[str, Any] = {"header": header, "data": data, "request_id": req_id}
    if ack_:
        frame["ack"] = True
    return json.dumps(frame)


ORDER = PlaceOrder(contract="SOL_USDT", size=1, price="100")


def test_api_ack_then_result_correlation() -> None:
    proto = make()
    req_id, frame, _, _ = proto.trading.send(ORDER, wall_time=WALL)
    sent = parse(frame)
    assert (sent["channel"], sent["event"], sent["payload"]["req_id"]) == (
        "futures.order_place",
        "api",
        req_id,
    )
    out = proto.receive_text(api_reply(req_id, ack_=True), now=T0)
    assert len(out) == 1
    assert isinstance(out[0], ApiAcked)
    assert out[0].req_id == req_id
    assert proto.statistics().pending_api_requests == 1
    out = proto.receive_text(api_reply(req_id), now=T0)
    assert len(out) == 1
    assert isinstance(out[0], ApiCompleted)
    assert out[0].req_id == req_id
    assert isinstance(out[0].result, Order)
    assert out[0].result.create_time_ms == 1727227280916
    assert proto.statistics().pending_api_requests == 0
    # a duplicate reply answers nothing
    assert [type(o) for o in proto.receive_text(api_reply(req_id), now=T0)] == [Unmatched]


def test_api_error_completes_the_request() -> None:
    proto = make()
    req_id = proto.trading.send(ORDER, wall_time=WALL).req_id
    out = proto.receive_text(api_reply(req_id, errs=True), now=T0)
    assert len(out) == 1
    assert isinstance(out[0], ApiFailed)
    assert isinstance(out[0].error, InvalidArgument)
    assert out[0].error.label == "INVALID_PARAM_VALUE"


def test_unknown_api_reply_is_unmatched() -> None:
    proto = make()
    assert [type(o) for o in proto.receive_text(api_reply("nope"), now=T0)] == [Unmatched]
    assert [type(o) for o in proto.receive_text(api_reply("x", ack_=True), now=T0)] == [Unmatched]


def test_forget_api_makes_a_late_reply_unmatched() -> None:
    proto = make()
    req_id = proto.trading.send(ORDER, wall_time=WALL).req_id
    proto.trading.forget(req_id)
    proto.trading.forget("never-sent")
    assert [type(o) for o in proto.receive_text(api_reply(req_id), now=T0)] == [Unmatched]


def test_api_requests_are_lost_on_disconnect_and_never_replayed() -> None:
    proto = make()
    subscribe_ready(proto, channels.trades("BTC_USDT"))
    first = proto.trading.send(ORDER, wall_time=WALL).req_id
    second = proto.trading.send(ORDER, wall_time=WALL).req_id
    assert first != second
    lost = proto.on_disconnected(T0)
    assert [o.req_id for o in lost if isinstance(o, ApiFailed)] == [first, second]
    assert all(isinstance(o, ApiFailed) and isinstance(o.error, RequestLost) for o in lost)
    assert proto.on_disconnected(T0) == []  # idempotent
    plan = [parse(f) for f in proto.on_connected(T0 + 1.0, wall_time=WALL + 1.0).frames]
    assert [(f["channel"], f["event"], f["payload"]) for f in plan] == [
        ("futures.trades", "subscribe", ["BTC_USDT"])
    ]
    stats = proto.statistics()
    assert (stats.pending_api_requests, stats.api_requests_lost) == (0, 2)
    # a reply for a lost request (impossible on a new socket, but harmless) is unmatched
    assert [type(o) for o in proto.receive_text(api_reply(first), now=T0)] == [Unmatched]


def test_api_request_while_disconnected_is_a_usage_error() -> None:
    proto = make(connect=False)
    with pytest.raises(UsageError):
        proto.trading.send(ORDER, wall_time=WALL)


def test_a_reply_counts_only_on_the_socket_its_request_went_out_on() -> None:
    proto = make()
    old = proto.current_generation
    req_id = proto.trading.send(ORDER, wall_time=WALL).req_id
    new = proto.on_connected(T0 + 1.0, wall_time=WALL).generation  # upgrade handover
    wrong = proto.receive_text(api_reply(req_id), now=T0 + 1.0, generation=new)
    assert [type(o) for o in wrong] == [Unmatched]
    assert proto.statistics().replies_on_wrong_socket == 1
    right = proto.receive_text(api_reply(req_id), now=T0 + 1.0, generation=old)
    assert [type(o) for o in right] == [ApiCompleted, CloseConnection]
    assert right[1] == CloseConnection(old or 0, "handed over: every reply arrived")


# ---------------------------------------------------------------------------------- reconnect


def test_private_resubscribe_is_re_signed_with_the_new_wall_time() -> None:
    proto = make()
    sub_id, frames = proto.subscribe(channels.orders("20011", "BTC_USDT"), wall_time=WALL)
    first = parse(frames[0])
    assert first["auth"] == sign_subscription(
        "futures.orders", "subscribe", int(WALL), key=DOCS_KEY, secret=DOCS_SECRET
    )
    proto.on_disconnected(T0 + 50.0)
    assert not proto.is_ready(sub_id)
    later = WALL + 3600.0
    (frame,) = proto.on_connected(T0 + 60.0, wall_time=later).frames
    sent = parse(frame)
    assert sent["time"] == int(later)
    assert sent["payload"] == ["20011", "BTC_USDT"]
    assert sent["auth"] == sign_subscription(
        "futures.orders", "subscribe", int(later), key=DOCS_KEY, secret=DOCS_SECRET
    )
    assert sent["auth"] != first["auth"]
    out = proto.receive_text(ack(sent["id"], "futures.orders", sent["payload"]), now=T0 + 61.0)
    assert out == [SubscriptionReady(sub_id)]


def test_private_unsubscribe_signs_unsubscribe() -> None:
    proto = make()
    sub_id = subscribe_ready(proto, channels.positions("20011"))
    sent = parse(proto.unsubscribe(sub_id, wall_time=WALL + 5)[0])
    assert sent["event"] == "unsubscribe"
    assert sent["auth"] == sign_subscription(
        "futures.positions", "unsubscribe", int(WALL + 5), key=DOCS_KEY, secret=DOCS_SECRET
    )


def test_resubscribe_plan_covers_every_live_target_once() -> None:
    proto = make()
    a = subscribe_ready(proto, channels.trades("BTC_USDT", "ETH_USDT"))
    b = subscribe_ready(proto, channels.trades("ETH_USDT", "SOL_USDT"))
    c = subscribe_ready(proto, channels.candlesticks("BTC_USDT"))
    subscribe_ready(proto, channels.candlesticks("BTC_USDT"))
    gone = subscribe_ready(proto, channels.tickers("XRP_USDT"))
    proto.unsubscribe(gone, wall_time=WALL)
    proto.on_disconnected(T0)
    plan = [parse(f) for f in proto.on_connected(T0, wall_time=WALL).frames]
    assert [(f["channel"], f["event"], f["payload"]) for f in plan] == [
        ("futures.trades", "subscribe", ["BTC_USDT", "ETH_USDT"]),
        ("futures.trades", "subscribe", ["SOL_USDT"]),
        ("futures.candlesticks", "subscribe", ["1m", "BTC_USDT"]),
    ]
    assert len({f["id"] for f in plan}) == 3
    for f in plan:
        proto.receive_text(ack(f["id"], f["channel"], f["payload"]), now=T0)
    assert all(proto.is_ready(s) for s in (a, b, c))


def test_acks_from_before_a_reconnect_are_forgotten() -> None:
    proto = make()
    sub_id, frames = proto.subscribe(channels.trades("BTC_USDT"), wall_time=WALL)
    old = parse(frames[0])
    proto.on_disconnected(T0)
    (frame,) = proto.on_connected(T0, wall_time=WALL).frames
    new = parse(frame)
    assert new["id"] != old["id"]  # ids are never reused
    out = proto.receive_text(ack(old["id"], "futures.trades", ["BTC_USDT"]), now=T0)
    assert [type(o) for o in out] == [Unmatched]
    assert not proto.is_ready(sub_id)


def test_subscribe_private_without_credentials_is_a_usage_error() -> None:
    proto = GateProtocol(ping_interval=5.0, pong_timeout=5.0)
    with pytest.raises(UsageError, match="credentials"):
        proto.subscribe(channels.orders("20011"), wall_time=WALL)
    assert proto.subscriptions() == {}


def test_bad_wall_time_leaves_no_trace() -> None:
    proto = make()
    with pytest.raises(UsageError):
        proto.subscribe(channels.trades("BTC_USDT"), wall_time=float("nan"))
    assert proto.subscriptions() == {}
    _, frames = proto.subscribe(channels.trades("BTC_USDT"), wall_time=WALL)
    assert len(frames) == 1


def test_bad_spec_is_a_usage_error() -> None:
    proto = make()
    with pytest.raises(UsageError):
        proto.subscribe(
            ChannelSpec(channel="futures.trades", payloads=(), keys=frozenset()), wall_time=WALL
        )


def test_statistics_snapshot() -> None:
    proto = make()
    subscribe_ready(proto, channels.trades("BTC_USDT"))
    proto.subscribe(channels.trades("ETH_USDT"), wall_time=WALL)
    proto.receive_text("{", now=T0)
    stats = proto.statistics()
    assert stats.connected
    assert (stats.subscriptions, stats.ready_subscriptions) == (2, 1)
    assert (stats.frames_received, stats.malformed) == (2, 1)


# ---------------------------------------------------------------------------- real capture


def test_replaying_the_2023_capture_readies_every_subscription(shared_data: Path) -> None:
    """Acks in this capture echo neither id nor payload: only the FIFO fallback can match."""
    proto = make()
    text = (shared_data / "capture-2023-usdt.jsonl").read_text(encoding="utf-8")
    lines = [json.loads(line) for line in text.splitlines()]
    sub_ids = []
    for line in lines:
        if line["dir"] != "out":
            continue
        sent = parse(line["frame"])
        payload = tuple(sent["payload"])
        batched = sent["channel"] in {"futures.trades", "futures.book_ticker"}
        if sent["channel"] == "futures.candlesticks":
            keys = frozenset({"_".join(payload)})
        elif batched:
            keys = frozenset(payload)
        else:
            keys = frozenset({payload[0]})
        spec: ChannelSpec[object] = ChannelSpec(
            channel=sent["channel"], payloads=(payload,), keys=keys, batched=batched
        )
        sub_ids.append(proto.subscribe(spec, wall_time=WALL)[0])
    routed = 0
    for line in lines:
        if line["dir"] == "in":
            out = proto.receive_text(line["frame"], now=T0)
            assert not any(isinstance(o, Malformed | Unmatched) for o in out)
            routed += len(deliveries(out))
    assert all(proto.is_ready(s) for s in sub_ids)
    assert routed > 400
    assert proto.statistics().unrouted == 0


# ---------------------------------------------------------------------------------- totality

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda xs: st.lists(xs, max_size=4) | st.dictionaries(st.text(max_size=8), xs, max_size=4),
    max_leaves=12,
)

TEMPLATES = [
    json.loads(trades_frame("BTC_USDT", "ETH_USDT")),
    json.loads(ack(1, "futures.trades", ["BTC_USDT"])),
    json.loads(error(2, "futures.obu", ["ob.BTC_USDT.400"], 2, "Alert sub ob.BTC_USDT.400")),
    json.loads(PONG),
    json.loads(api_reply("1", ack_=True)),
    json.loads(api_reply("1")),
    json.loads(api_reply("2", errs=True)),
    {
        "channel": "futures.obu",
        "result": {"t": 1, "full": True, "s": "ob.BTC_USDT.400", "u": 5, "b": [["1", "2"]]},
    },
    {
        "time": 1,
        "channel": "futures.balances",
        "event": "update",
        "result": [{"balance": 1, "change": 0, "type": "fee"}],
    },
    {"time": 1, "channel": "futures.system", "event": "update", "result": {"type": "upgrade"}},
]


@st.composite
def mutated_frames(draw: st.DrawFn) -> str:
    """A real-looking frame with one key dropped, retyped, or its id/request_id changed."""
    frame: dict[str, Any] = json.loads(json.dumps(draw(st.sampled_from(TEMPLATES))))
    target = frame
    if "result" in frame and isinstance(frame["result"], dict) and draw(st.booleans()):
        target = frame["result"]
    key = draw(st.sampled_from(sorted(target)))
    action = draw(st.sampled_from(["drop", "retype", "id"]))
    if action == "drop":
        del target[key]
    elif action == "retype":
        target[key] = draw(json_values)
    else:
        frame["id"] = draw(st.integers(-2, 5) | st.none())
        frame["request_id"] = draw(st.sampled_from(["1", "2", "3", ""]))
    return json.dumps(frame)


inbound = st.one_of(
    st.text(max_size=40),
    st.binary(max_size=40),
    json_values.map(json.dumps),
    st.sampled_from(TEMPLATES).map(json.dumps),
    mutated_frames(),
)


@given(st.lists(inbound, max_size=15), st.booleans())
def test_receive_text_never_raises(texts: list[str | bytes], connected: bool) -> None:
    proto = make(silence_timeout=10.0, connect=connected)
    proto.subscribe(channels.trades("BTC_USDT"), wall_time=WALL)
    proto.subscribe(channels.obu("BTC_USDT"), wall_time=WALL)
    proto.subscribe(channels.balances("20011"), wall_time=WALL)
    if connected:
        proto.trading.send(ORDER, wall_time=WALL)
        proto.handle_timer(T0 + 5.0, wall_time=WALL)  # a ping is outstanding
    malformed = 0
    for i, text in enumerate(texts):
        out = proto.receive_text(text, now=T0 + i)
        assert isinstance(out, list)
        malformed += sum(isinstance(o, Malformed) for o in out)
    stats = proto.statistics()
    assert stats.frames_received == len(texts)
    assert stats.malformed == malformed


def test_first_data_timeout_applies_to_snapshot_first_channels_only() -> None:
    proto = GateProtocol(
        ping_interval=1000.0,
        pong_timeout=1000.0,
        silence_timeout=30.0,
        first_data_timeout=5.0,
        credentials=DOCS_CREDS,
    )
    proto.on_connected(T0, wall_time=WALL)
    obu_id, (obu_frame,) = proto.subscribe(channels.obu("BTC_USDT", level=50), wall_time=WALL)
    trades_id, (trades_frame,) = proto.subscribe(channels.trades("BTC_USDT"), wall_time=WALL)
    for frame in (obu_frame, trades_frame):
        sent = json.loads(frame)
        proto.receive_text(ack(sent["id"], sent["channel"], sent["payload"]), now=T0)
    assert proto.get_timer() == T0 + 5.0  # the obu stream owes its snapshot
    assert proto.handle_timer(T0 + 5.0, wall_time=WALL).silent == [obu_id]
    status = proto.subscription_status(obu_id)
    assert status is not None
    assert (status.silent, status.had_data) == (True, False)
    assert proto.get_timer() == T0 + 30.0  # trades: the ordinary silence_timeout
    assert proto.handle_timer(T0 + 30.0, wall_time=WALL).silent == [trades_id]
