"""The decoder against spec section 15 (errata from live traffic): shapes and fields that the
older sections missed. Each frame is the live or documented form; fast and reference agree."""

from __future__ import annotations

from decimal import Decimal

from gatetrio._core._decode import _decode_typed, decode_message
from gatetrio._core._encode import encode_event
from gatetrio._core._events import (
    AutoOrdersUpdate,
    BookLevel,
    BookSnapshot,
    ContractStatsUpdate,
    OrderBookSnapshot,
    OrdersUpdate,
    TickersUpdate,
)
from gatetrio._core._reference_decode import decode_message_reference
from gatetrio._core._requests import PlaceOrder


def both(frame: str) -> object:
    event = decode_message(frame)
    assert event == decode_message_reference(frame)
    return event


def test_order_book_all_without_t_or_id() -> None:
    # 2020 recording and delivery: neither `t` nor `id` in the snapshot.
    frame = (
        '{"time":1606292218,"channel":"futures.order_book","event":"all","result":'
        '{"contract":"BTC_USD","asks":[{"p":"19127.1","s":1}],"bids":[{"p":"19127","s":9}]}}'
    )
    event = both(frame)
    assert event == OrderBookSnapshot(
        result=BookSnapshot(
            contract="BTC_USD",
            asks=(BookLevel("19127.1", 1),),
            bids=(BookLevel("19127", 9),),
        ),
        time=1606292218,
        event="all",
    )
    assert isinstance(event, OrderBookSnapshot)
    assert event.result.t == 0
    assert event.result.id is None
    with_t = frame.replace('"contract"', '"t":1606292218123,"contract"')
    snap = both(with_t)
    assert isinstance(snap, OrderBookSnapshot)
    assert (snap.result.t, snap.result.id) == (1606292218123, None)
    assert decode_message(encode_event(snap)) == snap


def test_contract_stats_single_object() -> None:
    obj = (
        '{"time":1541659086,"time_ms":1541659086123,"channel":"futures.contract_stats",'
        '"event":"update","result":{"time":1603865400,"contract":"BTC_USDT","lsr_taker":100,'
        '"lsr_account":0.5,"long_liq_size":0,"short_liq_size":0,"open_interest":124724,'
        '"short_liq_usd":0,"mark_price":"8865","top_lsr_size":1.02,"short_liq_amount":0,'
        '"long_liq_amount":0,"open_interest_usd":1511,"top_lsr_account":1.5,"long_liq_usd":0}}'
    )
    event = both(obj)
    assert isinstance(event, ContractStatsUpdate)
    assert len(event.result) == 1
    assert event.result[0].lsr_account == Decimal("0.5")
    array = obj.replace('"result":{', '"result":[{').replace("}}", "}]}")
    assert decode_message(array) == event
    assert _decode_typed(array) == event  # the array form stays on the fast path


def test_delivery_ticker_keeps_settle_and_basis() -> None:
    frame = (
        '{"time":1629183600,"channel":"futures.tickers","event":"update","result":[{'
        '"contract":"BTC_USDT_20210917","last":"45000","change_percentage":"1.2",'
        '"total_size":"100","volume_24h":"1000","mark_price":"45010","index_price":"45020",'
        '"settle_price":"0","basis_value":"-10.5","basis_rate":"-0.00023","low_24h":"44000",'
        '"high_24h":"46000"}]}'
    )
    event = both(frame)
    assert isinstance(event, TickersUpdate)
    ticker = event.result[0]
    assert ticker.settle_price == Decimal(0)
    assert ticker.basis_value == Decimal("-10.5")
    assert ticker.basis_rate == Decimal("-0.00023")
    assert ticker.funding_rate is None
    assert _decode_typed(frame) == event
    assert decode_message(encode_event(event)) == event


ORDER_2021 = (
    '{"channel":"futures.orders","event":"update","time":1541505434,"result":[{'
    '"contract":"BTC_USDT","create_time":1628736847,"fill_price":"40000.4","finish_as":"filled",'
    '"iceberg":"0","id":4872460,"is_voucher":true,"left":"0","mkfr":-0.00025,'
    '"price":"40000.4","refr":0.1,"refu":12345,"size":"1.5","status":"finished","text":"api",'
    '"tif":"gtc","tkfr":0.0005,"bbo":"-"}]}'
)


def test_order_keeps_refr_refu_is_voucher_bbo() -> None:
    event = both(ORDER_2021)
    assert isinstance(event, OrdersUpdate)
    order = event.result[0]
    assert (order.refr, order.refu, order.is_voucher, order.bbo) == (
        Decimal("0.1"),
        12345,
        True,
        "-",
    )
    assert _decode_typed(ORDER_2021) == event


AUTOORDER_DOC = (
    '{"time":1596798126,"channel":"futures.autoorders","event":"update","result":[{'
    '"user":123456,"trigger":{"price":"10000","rule":2},"initial":{"contract":"BTC_USDT",'
    '"size":10,"price":"10000"},"id":9256,"status":"open","parent_id":77,'
    '"stop_profit_price":"11000","stop_loss_price":"9000","batch_id":"b-1",'
    '"pos_margin_mode":"cross","position_mode":"single","leverage":"10",'
    '"mmr_trigger":{"rate":""}}]}'
)


def test_autoorder_keeps_the_live_fields() -> None:
    event = both(AUTOORDER_DOC)
    assert isinstance(event, AutoOrdersUpdate)
    auto = event.result[0]
    assert auto.parent_id == 77
    assert (auto.stop_profit_price, auto.stop_loss_price) == ("11000", "9000")
    assert (auto.batch_id, auto.pos_margin_mode, auto.position_mode) == (
        "b-1",
        "cross",
        "single",
    )
    assert auto.leverage == Decimal(10)
    assert auto.mmr_trigger == {"rate": ""}


def test_place_order_iceberg_is_a_string_on_the_wire() -> None:
    order = PlaceOrder(contract="BTC_USDT", size=10, price="100", iceberg=3)
    assert order.req_param()["iceberg"] == "3"
    order = PlaceOrder(contract="BTC_USDT", size=Decimal(10), price="100", iceberg=Decimal("2.5"))
    assert order.req_param()["iceberg"] == "2.5"
