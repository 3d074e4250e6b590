from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given

from gatetrio._core._decode import decode_message
from gatetrio._core._encode import encode_event
from gatetrio._core._errors import UsageError
from gatetrio._core._events import (
    ApiAck,
    ApiError,
    ApiHeader,
    ApiResult,
    BookDelta,
    BookLevel,
    ErrorReply,
    Event,
    ObuDelta,
    ObuUpdate,
    OrderBookUpdate,
    Pong,
    PublicLiquidation,
    PublicLiquidationsUpdate,
    SubscribeAck,
    Ticker,
    TickersUpdate,
    Trade,
    TradesUpdate,
    UpgradeRequested,
)
from gatetrio._core._reference_decode import decode_message_reference

from . import strategies
from .helpers import DOCS_OBU_FULL

D = Decimal


def wire(ev: Event, **options: bool) -> dict[str, object]:
    parsed: dict[str, object] = json.loads(encode_event(ev, **options))
    return parsed


# ------------------------------------------------------------------------------- round trip


@given(strategies.events)
def test_round_trip_every_kind(ev: Event) -> None:
    frame = encode_event(ev)
    assert decode_message(frame) == ev
    assert decode_message_reference(frame) == ev
    assert decode_message(frame.encode()) == ev


@given(strategies.public_liquidations_updates)
def test_round_trip_liquidation_object_form(ev: PublicLiquidationsUpdate) -> None:
    if len(ev.result) != 1:
        with pytest.raises(UsageError):
            encode_event(ev, liquidation_object=True)
        return
    frame = encode_event(ev, liquidation_object=True)
    assert isinstance(json.loads(frame)["result"], dict)
    assert decode_message(frame) == ev


# ------------------------------------------------------------------------------ wire shapes


def test_trade_wire_shape_int_and_decimal_sizes() -> None:
    trade = Trade(id=58828270140012048, contract="BTC_USDT", price=D("63994.5"), size=4681)
    decimal = Trade(id=1, contract="BTC_USDT", price=D("96.4"), size=D("-108.5"), is_internal=True)
    ev = TradesUpdate(result=(trade, decimal), time=1786540580, time_ms=1786540580824)
    assert wire(ev) == {
        "time": 1786540580,
        "time_ms": 1786540580824,
        "channel": "futures.trades",
        "event": "update",
        "result": [
            # is_internal is only sent when true (spec 6.2); the id stays exact beyond 2**53
            {"id": 58828270140012048, "contract": "BTC_USDT", "price": "63994.5", "size": 4681,
             "create_time": 0, "create_time_ms": 0},
            {"id": 1, "contract": "BTC_USDT", "price": "96.4", "size": "-108.5",
             "create_time": 0, "create_time_ms": 0, "is_internal": True},
        ],
    }  # fmt: skip
    assert '"id":58828270140012048' in encode_event(ev)


def test_obu_levels_are_arrays_and_snapshot_has_no_U_or_time() -> None:
    full = ObuUpdate(
        result=DOCS_OBU_FULL,
        time_ms=1743673026999,
    )
    assert wire(full) == {
        "time_ms": 1743673026999,
        "channel": "futures.obu",
        "event": "update",
        "result": {"t": 1743673026995, "s": "ob.BTC_USDT.400", "u": 79072179673,
                   "b": [["83705.9", "30166"]], "a": [["83706", "4208"]], "full": True},
    }  # fmt: skip
    id_only = ObuUpdate(result=ObuDelta(t=1, s="ob.BTC_USDT.50", U=5, u=9))
    assert wire(id_only)["result"] == {"t": 1, "s": "ob.BTC_USDT.50", "u": 9, "U": 5}


def test_order_book_update_keeps_empty_sides() -> None:
    ev = OrderBookUpdate(
        result=BookDelta(t=1, s="BTC_USDT", U=2, u=3, a=(BookLevel("64013.1", 33783),), l="100")
    )
    assert wire(ev)["result"] == {
        "t": 1, "s": "BTC_USDT", "U": 2, "u": 3, "b": [],
        "a": [{"p": "64013.1", "s": 33783}], "l": "100",
    }  # fmt: skip


def test_ticker_wire_shape_keeps_text_and_omits_absent() -> None:
    ticker = Ticker(
        contract="BTC_USDT",
        last=D("63964.7"),
        funding_rate="2.895e-05",
        low_24h=D("63209.0"),
        quanto_base_rate="",
        funding_interval=28800,
    )
    result = wire(TickersUpdate(result=(ticker,)))["result"]
    assert result == [
        {"contract": "BTC_USDT", "last": "63964.7", "funding_rate": "2.895e-05",
         "low_24h": "63209.0", "quanto_base_rate": "", "price_type": "", "change_from": "",
         "funding_interval": 28800, "funding_offset": 0, "funding_next_apply": 0, "t": 0},
    ]  # fmt: skip


def test_public_liquidations_array_by_default() -> None:
    liq = PublicLiquidation(contract="HEI_USDT", price=D("0.13827"), size=-23, time=1786327033531)
    ev = PublicLiquidationsUpdate(result=(liq,), time=1786327033, time_ms=1786327033532)
    item = {"contract": "HEI_USDT", "price": "0.13827", "size": -23, "time": 1786327033531}
    assert wire(ev)["result"] == [item]
    assert wire(ev, liquidation_object=True)["result"] == item


def test_reply_shapes() -> None:
    ack = SubscribeAck(channel="futures.trades", event="subscribe", id=1, payload=("BTC_USDT",))
    assert wire(ack) == {
        "time": 0, "time_ms": 0, "id": 1, "channel": "futures.trades", "event": "subscribe",
        "payload": ["BTC_USDT"], "result": {"status": "success"},
    }  # fmt: skip
    error = ErrorReply(channel="futures.obu", event="subscribe", code=2, message="Alert sub x")
    assert wire(error)["error"] == {"code": 2, "message": "Alert sub x"}
    assert wire(error)["result"] == {"status": "fail"}
    assert wire(Pong(time=5, time_ms=5001, conn_id="c5")) == {
        "time": 5, "time_ms": 5001, "conn_id": "c5", "channel": "futures.pong", "event": "",
        "result": None,
    }  # fmt: skip
    assert wire(UpgradeRequested(msg="bye"))["result"] == {"type": "upgrade", "msg": "bye"}


def test_trading_api_shapes() -> None:
    header = ApiHeader(
        status="200",
        channel="futures.order_place",
        response_time="1727163050403",
        x_gat_ratelimit_reset_timestamp=1681195121639,
    )
    header_wire = {
        "status": "200", "channel": "futures.order_place", "response_time": "1727163050403",
        "event": "api", "x_gat_ratelimit_reset_timestamp": 1681195121639,
    }  # fmt: skip
    assert wire(ApiAck(request_id="6", header=header, result={"req_id": "6"})) == {
        "header": header_wire, "data": {"result": {"req_id": "6"}}, "request_id": "6", "ack": True,
    }  # fmt: skip
    result = ApiResult(request_id="6", header=header, result={"fill_price": D("151.62")})
    assert "ack" not in wire(result)  # absent, not false, on results (spec 8.3)
    assert '"fill_price":151.62' in encode_event(result)  # free-form JSON keeps numbers
    error = ApiError(request_id="1", header=header, label="INVALID_KEY", message="Invalid key")
    assert wire(error)["data"] == {"errs": {"label": "INVALID_KEY", "message": "Invalid key"}}


def test_not_an_event() -> None:
    with pytest.raises(UsageError):
        encode_event("futures.trades")  # type: ignore[arg-type]
