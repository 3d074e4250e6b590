"""decode_message: the spec's literal frames, then properties against the reference decoder.

The reference decoder (`_reference_decode.py`) defines what a frame means; the fast path must
agree with it on every input, and must actually be the one decoding ordinary hot frames.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gatetrio._core import _decode
from gatetrio._core._decode import _decode_typed, decode_message
from gatetrio._core._encode import encode_event
from gatetrio._core._errors import ProtocolError
from gatetrio._core._events import (
    ApiAck,
    ApiError,
    ApiHeader,
    ApiResult,
    BookDelta,
    BookLevel,
    BookSnapshot,
    BookTicker,
    BookTickerUpdate,
    Candlestick,
    CandlesticksUpdate,
    ErrorReply,
    Event,
    LegacyBookEntry,
    LegacyOrderBookUpdate,
    ObuDelta,
    ObuUpdate,
    OrderBookSnapshot,
    OrderBookUpdate,
    OrdersUpdate,
    Pong,
    PublicLiquidation,
    PublicLiquidationsUpdate,
    SubscribeAck,
    SystemNotice,
    Ticker,
    TickersUpdate,
    Trade,
    TradesUpdate,
    UnknownEvent,
    UpgradeRequested,
    record_classes,
    record_fields,
)
from gatetrio._core._reference_decode import MAX_DEPTH, decode_message_reference

from . import strategies
from .helpers import DOCS_OBU_FULL, capped_examples

D = Decimal


def outcome(decode: Any, frame: str | bytes) -> Event | type[ProtocolError]:
    """The event, or ProtocolError itself; any other exception fails the test."""
    try:
        event: Event = decode(frame)
    except ProtocolError:
        return ProtocolError
    return event


def decoded(frame: str | bytes) -> Any:
    """The event all decoders agree `frame` means (it must not be a ProtocolError)."""
    event = assert_agree(frame)
    assert event is not ProtocolError
    return event


def assert_agree(frame: str | bytes) -> Event | type[ProtocolError]:
    """decode_message, its typed path and the reference say the same about `frame`."""
    expected = outcome(decode_message_reference, frame)
    assert outcome(decode_message, frame) == expected
    typed = _decode_typed(frame)
    if typed is not None:
        assert typed == expected
    return expected


# ------------------------------------------------------------- literal frames from the spec

TRADES_LIVE = (
    '{"time":1786540580,"time_ms":1786540580824,"channel":"futures.trades","event":"update",'
    '"result":[{"id":807645691,"size":4681,"create_time":1786540580,'
    '"create_time_ms":1786540580824,"price":"63994.5","contract":"BTC_USDT"}]}'
)
TICKERS_LIVE = (
    '{"time":1786540617,"time_ms":1786540617598,"channel":"futures.tickers","event":"update",'
    '"result":[{"contract":"BTC_USDT","last":"63964.7","change_percentage":"-0.5151",'
    '"total_size":"658216984","volume_24h":"393690687","volume_24h_base":"39369.0687",'
    '"volume_24h_quote":"2518230674","volume_24h_settle":"2518230674","mark_price":"63964.8",'
    '"funding_rate":"0.000052","funding_rate_indicative":"0.000052","funding_interval":28800,'
    '"funding_offset":0,"funding_next_apply":1786550400,"index_price":"63989.2",'
    '"quanto_base_rate":"","low_24h":"63209.0","high_24h":"64443.9","price_type":"last",'
    '"change_from":"24h","change_price":"-331.2","t":1786540617093}]}'
)
HEADER_ACK = (
    '{"response_time":"1727163050403","status":"200","channel":"futures.order_place",'
    '"event":"api","client_id":"94.228.147.34-0xc11f193540","conn_id":"362dc864d9e0358a",'
    '"trace_id":"b337ba50adcf08ee497cd14801eada95"}'
)


def test_trades_live() -> None:
    trade = Trade(
        id=807645691,
        contract="BTC_USDT",
        price=D("63994.5"),
        size=4681,
        create_time=1786540580,
        create_time_ms=1786540580824,
    )
    expected = TradesUpdate(result=(trade,), time=1786540580, time_ms=1786540580824)
    assert decode_message(TRADES_LIVE) == expected
    assert _decode_typed(TRADES_LIVE) == expected
    assert _decode_typed(TRADES_LIVE.encode()) == expected


def test_trades_with_size_decimal_header() -> None:
    frame = (
        '{"channel":"futures.trades","event":"update","time":1541503698,"time_ms":1541503698123,'
        '"result":[{"size":"-108.5","id":27753479,"create_time":1545136464,'
        '"create_time_ms":1545136464123,"price":"96.4","contract":"BTC_USDT","is_internal":true}]}'
    )
    (trade,) = decoded(frame).result
    assert trade.size == D("-108.5")
    assert type(trade.size) is Decimal
    assert trade.is_internal


def test_tickers_live_keeps_text_and_converts_on_access() -> None:
    event = assert_agree(TICKERS_LIVE)
    assert _decode_typed(TICKERS_LIVE) is not None
    assert isinstance(event, TickersUpdate)
    (ticker,) = event.result
    assert ticker.last == D("63964.7")
    assert ticker.low_24h == D("63209.0")
    assert ticker.quanto_base_rate == ""
    assert ticker.funding_next_apply == 1786550400
    assert ticker.funding_rate_indicative == D("0.000052")
    assert ticker == Ticker(
        "BTC_USDT", "63964.7", "-0.5151", "658216984", "393690687", "39369.0687",
        "2518230674", "2518230674", "63964.8", "63989.2", "0.000052", "0.000052", "63209.0",
        "64443.9", "-331.2", "", "last", "24h", 28800, 0, 1786550400, 1786540617093,
    )  # fmt: skip


def test_ticker_2022_exponent_and_missing_fields() -> None:
    frame = (
        '{"time":1641365392,"channel":"futures.tickers","event":"update","result":[{'
        '"contract":"BTC_USDT","last":"46000.1","quanto_base_rate":"2.895e-05"}]}'
    )
    (ticker,) = decoded(frame).result
    assert ticker.quanto_base_rate == "2.895e-05"
    assert ticker.t == 0
    assert ticker.high_24h is None


def test_ticker_malformed_decimal_fails_on_access_only() -> None:
    frame = TICKERS_LIVE.replace('"last":"63964.7"', '"last":"NaN"').replace(
        '"mark_price":"63964.8"', '"mark_price":"abc"'
    )
    (ticker,) = decoded(frame).result
    with pytest.raises(ProtocolError):
        _ = ticker.last
    with pytest.raises(ProtocolError):
        _ = ticker.mark_price
    assert ticker.index_price == D("63989.2")


def test_book_ticker_live_and_empty_side() -> None:
    frame = (
        '{"channel":"futures.book_ticker","event":"update","result":{"t":1727407594819,'
        '"u":56611084599,"s":"ETH_USDT","b":"2622.7","B":255,"a":"2622.75","A":2422},'
        '"time":1727407594,"time_ms":1727407594837}'
    )
    assert decode_message(frame) == BookTickerUpdate(
        result=BookTicker(
            t=1727407594819, u=56611084599, s="ETH_USDT",
            b=D("2622.7"), B=255, a=D("2622.75"), A=2422,
        ),
        time=1727407594,
        time_ms=1727407594837,
    )  # fmt: skip
    empty = frame.replace('"b":"2622.7","B":255', '"b":"","B":0')
    assert decoded(empty).result.b is None
    decimal = frame.replace('"B":255', '"B":"37000.5"')
    assert decoded(decimal).result.B == D("37000.5")  # noqa: SIM300


def test_order_book_update_live() -> None:
    frame = (
        '{"time":1786540562,"time_ms":1786540562815,"channel":"futures.order_book_update",'
        '"event":"update","result":{"t":1786540562811,"U":121506953481,"u":121506953514,'
        '"s":"BTC_USDT","a":[{"p":"64013.1","s":33783},{"p":"64018","s":0}],'
        '"b":[{"p":"64013","s":33565}],"l":"100"}}'
    )
    expected = OrderBookUpdate(
        result=BookDelta(
            t=1786540562811,
            s="BTC_USDT",
            U=121506953481,
            u=121506953514,
            b=(BookLevel("64013", 33565),),
            a=(BookLevel("64013.1", 33783), BookLevel("64018", 0)),
            l="100",
        ),
        time=1786540562,
        time_ms=1786540562815,
    )
    assert decode_message(frame) == expected
    assert _decode_typed(frame) == expected


def test_order_book_update_documented_with_header_and_full() -> None:
    frame = (
        '{"time":1615366381,"time_ms":1615366381123,"channel":"futures.order_book_update",'
        '"event":"update","result":{"t":1615366381417,"s":"BTC_USDT","U":2517661101,'
        '"u":2517661113,"b":[{"p":"54672.1","s":"0"},{"p":"54664.5","s":"58794.5"}],'
        '"a":[{"p":"54743.6","s":"0"},{"p":"54742","s":"95.2"}],"l":"100","full":true}}'
    )
    delta = decoded(frame).result
    assert delta.full
    assert delta.b[1] == BookLevel("54664.5", "58794.5")
    assert delta.b[1].size == D("58794.5")
    assert delta.b[0].price == D("54672.1")


def test_book_level_conversion_errors_are_protocol_errors() -> None:
    with pytest.raises(ProtocolError):
        _ = BookLevel("sNaN", 1).price
    with pytest.raises(ProtocolError):
        _ = BookLevel("1", "x").size
    assert BookLevel("1", 7).size == 7


OBU_FULL_DOC = (
    '{"channel":"futures.obu","result":{"t":1743673026995,"full":true,"s":"ob.BTC_USDT.400",'
    '"u":79072179673,"b":[["83705.9","30166"]],"a":[["83706","4208"]]},"time_ms":1743673026999}'
)


def test_obu_documented_full_without_time_or_event() -> None:
    expected = ObuUpdate(
        result=DOCS_OBU_FULL,
        time_ms=1743673026999,
    )
    assert decode_message(OBU_FULL_DOC) == expected
    assert _decode_typed(OBU_FULL_DOC) == expected
    assert expected.result.contract == "BTC_USDT"
    assert expected.result.level == "400"


def test_obu_live_delta_and_id_only() -> None:
    frame = (
        '{"time":1789455580,"time_ms":1789455580280,"channel":"futures.obu","event":"update",'
        '"result":{"t":1789455580280,"s":"ob.BTC_USDT.50","U":125033675975,"u":125033676003,'
        '"b":[["77222.9","648"]],"a":[["77235","50"],["77235.2","0"]]}}'
    )
    delta = decoded(frame).result
    assert delta.U == 125033675975
    assert delta.a[1].size == 0
    id_only = (
        '{"time":1789455580,"channel":"futures.obu","event":"update",'
        '"result":{"t":1789455580300,"s":"ob.BTC_USDT.50","U":125033676004,"u":125033676011}}'
    )
    assert decoded(id_only).result == ObuDelta(
        t=1789455580300, s="ob.BTC_USDT.50", U=125033676004, u=125033676011
    )


def test_order_book_snapshot_and_legacy_update() -> None:
    snapshot = (
        '{"channel":"futures.order_book","event":"all","result":{"asks":[{"p":"94364.1",'
        '"s":41549},{"p":"94364.2","s":2201}],"bids":[{"p":"94364","s":10000},{"p":"94362.3",'
        '"s":2}],"contract":"BTC_USDT","id":81045888518,"l":"5","t":1745721460828},'
        '"time":1745721460,"time_ms":1745721460831}'
    )
    assert decode_message(snapshot) == OrderBookSnapshot(
        result=BookSnapshot(
            t=1745721460828,
            contract="BTC_USDT",
            id=81045888518,
            asks=(BookLevel("94364.1", 41549), BookLevel("94364.2", 2201)),
            bids=(BookLevel("94364", 10000), BookLevel("94362.3", 2)),
            l="5",
        ),
        time=1745721460,
        time_ms=1745721460831,
    )
    legacy = (
        '{"channel":"futures.order_book","event":"update","time":1,"result":'
        '[{"p":"100.5","s":-3,"c":"BTC_USDT","id":7}]}'
    )
    assert decode_message(legacy) == LegacyOrderBookUpdate(
        result=(LegacyBookEntry(p="100.5", s=-3, c="BTC_USDT", id=7),), time=1
    )


def test_candlesticks_live_and_2023_without_a_w() -> None:
    frame = (
        '{"time":1786540599,"time_ms":1786540599739,"channel":"futures.candlesticks",'
        '"event":"update","result":[{"t":1786540560,"c":"63968.3","h":"64015.8",'
        '"l":"63968.2","o":"64007.3","a":"682624.39971","n":"1m_BTC_USDT","w":false,"v":106665}]}'
    )
    (candle,) = decoded(frame).result
    assert candle == Candlestick(
        t=1786540560, o=D("64007.3"), h=D("64015.8"), l=D("63968.2"), c=D("63968.3"),
        n="1m_BTC_USDT", v=106665, a=D("682624.39971"), w=False,
    )  # fmt: skip
    assert (candle.interval, candle.contract) == ("1m", "BTC_USDT")
    old = '{"time":1,"channel":"futures.candlesticks","event":"update","result":[{"t":1,"c":"1","h":"1","l":"1","o":"1","n":"1m_X"}]}'  # noqa: E501
    assert assert_agree(old) == CandlesticksUpdate(
        result=(Candlestick(t=1, o=D(1), h=D(1), l=D(1), c=D(1), n="1m_X"),), time=1
    )


def test_public_liquidates_object_and_array() -> None:
    live = (
        '{"time":1786327033,"time_ms":1786327033532,"channel":"futures.public_liquidates",'
        '"event":"update","result":{"contract":"HEI_USDT","price":"0.13827",'
        '"time":1786327033531,"size":-23}}'
    )
    liq = PublicLiquidation(contract="HEI_USDT", price=D("0.13827"), size=-23, time=1786327033531)
    assert assert_agree(live) == PublicLiquidationsUpdate(
        result=(liq,), time=1786327033, time_ms=1786327033532
    )
    documented = (
        '{"channel":"futures.public_liquidates","event":"update","time":1541505434,'
        '"time_ms":1541505434123,"result":[{"price":"215.1","size":"-124.5","time":1541486601123,'
        '"contract":"BTC_USDT"},{"price":"215.2","size":"-10.5","time":1541486601,'
        '"contract":"BTC_USDT"}]}'
    )
    first, second = decoded(documented).result
    assert first.size == D("-124.5")
    assert first.time_ms == second.time_ms + 123  # seconds in old docs, ms today


def test_orders_live_numbers_and_big_id() -> None:
    frame = (
        '{"time":1733968288,"time_ms":1733968288265,"channel":"futures.orders","event":"update",'
        '"result":[{"tkfr":0.0005,"text":"api","user":"16792411","stp_act":"-",'
        '"id":58828270140012048,"refr":0,"is_reduce_only":false,"mkfr":0.0002,'
        '"stop_loss_price":"","is_liq":false,"fill_price":0,"finish_as":"_new","size":1,'
        '"contract":"BTC_USDT","stop_profit_price":"","create_time_ms":1733968288255,'
        '"status":"open","price":93000,"biz_info":"ch:daniugege","is_close":false,"left":1,'
        '"tif":"gtc","finish_time_ms":1733968288255,"stp_id":"0","update_id":1,"iceberg":0,'
        '"refu":0,"finish_time":1733968288,"amend_text":"-","create_time":1733968288}]}'
    )
    event = assert_agree(frame)
    assert isinstance(event, OrdersUpdate)
    assert _decode_typed(frame) is not None
    (order,) = event.result
    assert order.id == 58828270140012048
    assert order.price == D(93000)
    assert order.tkfr == D("0.0005")
    assert order.finish_as == "_new"


PRIVATE_FRAMES = [
    # usertrades, liquidates, auto_deleverages, position_closes, balances, reduce_risk_limits,
    # positions, position_adl_rank, autoorders, contract_stats, contract_info, adl_warning
    '{"channel":"futures.usertrades","event":"update","result":[{"id":"60117765","order_id":"533324294866","contract":"SOL_USDT","create_time":1727169518,"create_time_ms":1727169518413,"size":-1,"role":"maker","price":"147.6","text":"t-KAICtn9Y5BkCAQAAAAAA","fee":-0.00738,"point_fee":0,"amend_text":"-","biz_info":"-","close_size":"-1"}],"time":1727169518,"time_ms":1727169518414}',
    '{"channel":"futures.liquidates","event":"update","time":1541505434,"time_ms":1541505434123,"result":[{"entry_price":209,"fill_price":215.1,"left":"0","leverage":0.0,"liq_price":213,"margin":0.007816722941,"mark_price":213,"order_id":4093362,"order_price":215.1,"order_size":"-124","size":"-124.5","time":1541486601,"time_ms":1541486601123,"contract":"BTC_USDT","user":"1040xxxx"}]}',
    '{"channel":"futures.auto_deleverages","event":"update","time":1,"result":[{"entry_price":209,"fill_price":215.1,"position_size":"10","trade_size":"10","time":1541486601,"time_ms":1541486601123,"contract":"BTC_USDT","user":"1040","pos_margin_mode":"cross","leverage":"10"}]}',
    '{"channel":"futures.position_closes","event":"update","time":1,"result":[{"contract":"BTC_USDT","pnl":-0.000624354791,"side":"long","text":"web","time":1547198562,"time_ms":1547198562123,"user":"211xxxx"}]}',
    '{"time":1727169518,"time_ms":1727169518435,"channel":"futures.balances","event":"update","result":[{"text":"SOL_USDT:533324294866","time":1727169518,"time_ms":1727169518413,"type":"fee","user":"15564602","currency":"usdt","balance":296.16455822737,"change":0.00738}]}',
    '{"channel":"futures.reduce_risk_limits","event":"update","time":1,"result":[{"cancel_orders":0,"contract":"BTC_USDT","leverage_max":10,"liq_price":136.53,"maintenance_rate":0.09,"risk_limit":450,"time":1551858330,"time_ms":1551858330123,"user":"20011"}]}',
    '{"time":1727169518,"time_ms":1727169518423,"channel":"futures.positions","event":"update","result":[{"liq_price":0,"mode":"single","realised_pnl":-0.287384,"contract":"SOL_USDT","history_point":0,"leverage_max":50,"time":1727169518,"time_ms":1727169518413,"leverage":0,"margin":296.16455822737,"realised_point":0,"maintenance_rate":0.01,"size":1,"entry_price":147.88,"history_pnl":0,"last_close_pnl":0,"update_id":3,"cross_leverage_limit":10,"risk_limit":500000,"user":"15564602"}]}',
    '{"channel":"futures.position_adl_rank","event":"update","time":1,"result":[{"contract":"BTC_USDT","mode":"single","rank_division":1,"time_ms":1588212926119,"user_id":2124426495}]}',
    '{"time":1596798126,"time_ms":1596798126123,"channel":"futures.autoorders","event":"update","result":[{"user":123456,"trigger":{"strategy_type":0,"price_type":0,"price":"10000","rule":2,"expiration":86400},"initial":{"contract":"BTC_USDT","size":"10","price":"10000","tif":"gtc","text":"web","iceberg":"0","is_close":false,"is_reduce_only":false,"auto_size":""},"id":9256,"trade_id":0,"status":"open","reason":"","create_time":1596798126,"name":"price_autoorders","is_stop_order":false,"stop_trigger":{"rule":0,"trigger_price":"","order_price":""},"order_type":"close-long-order","id_string":"9256","me_order_id":"213867453823","finish_time":0,"finish_as":"","parent_id":0,"stop_profit_price":"","stop_loss_price":"","batch_id":"","pos_margin_mode":"cross","position_mode":"single","leverage":"10","mmr_trigger":{"rate":""}}]}',
    '{"time":1541659086,"time_ms":1541659086123,"channel":"futures.contract_stats","event":"update","result":[{"time":1603865400,"contract":"BTC_USDT","lsr_taker":100,"lsr_account":0.5,"long_liq_size":"0","short_liq_size":"0","open_interest":"124724","short_liq_usd":0,"mark_price":"8865","top_lsr_size":1.02,"short_liq_amount":0,"long_liq_amount":0,"open_interest_usd":1511,"top_lsr_account":1.5,"long_liq_usd":0}]}',
    '{"channel":"futures.contract_info","event":"all","time":1541505434,"time_ms":1541505434123,"result":{"contract":"BTC_USDT","quanto_multiplier":"0.0001","order_price_round":"0.1","mark_price_round":"0.01","risk_limit_tiers":[{"tier":1,"risk_limit":"1000000","initial_rate":"0.01","maintenance_rate":"0.005","leverage_max":"100","contract":"BTC_USDT","deduction":"0"}]}}',
    '{"time":1781234567,"time_ms":1781234567123,"channel":"futures.adl_warning","event":"all","result":{"contract":"BTC_USDT","settle":"usdt","state":"warning","update_time":1781234567000}}',
    '{"channel":"futures.orders","event":"update","result":[{"amend_text":"-","biz_info":"-","contract":"SOL_USDT","create_time":1727084914,"create_time_ms":1727084914383,"fill_price":0,"finish_as":"cancelled","finish_time":1727094610,"finish_time_ms":1727094610074,"iceberg":0,"id":532928247170,"is_close":false,"is_liq":false,"is_reduce_only":false,"left":-1,"mkfr":-0.00005,"price":160,"refr":0,"refu":0,"size":-1,"status":"finished","stop_loss_price":"","stop_profit_price":"","stp_act":"-","stp_id":"0","text":"web","tif":"gtc","tkfr":0.00015,"update_id":2,"update_time":1727094610074,"user":"15564602"}],"time":1727094610,"time_ms":1727094610077}',
    '{"channel":"futures.orders","event":"update","time":1541505434,"time_ms":1541505434123,"result":[{"contract":"BTC_USDT","create_time":1628736847,"create_time_ms":1628736847325,"fill_price":"40000.4","finish_as":"filled","finish_time":1628736848,"finish_time_ms":1628736848321,"iceberg":"0","id":4872460,"id_string":"4872460","is_close":false,"is_liq":false,"is_reduce_only":false,"is_voucher":false,"left":"0","mkfr":-0.00025,"price":"40000.4","refr":0,"refu":0,"size":"1.5","status":"finished","text":"api","tif":"gtc","tkfr":0.0005,"user":"110xxxxx","update_id":1,"update_time":1541505434123,"biz_info":"-","stp_act":"-","stp_id":"0","amend_text":"-","role":"taker","fee":0.0009290592,"point_fee":0,"bbo":"-","pos_margin_mode":"cross","leverage":"10","stop_loss_price":"","stop_profit_price":"","market_order_slip_ratio":"0.03"}]}',
]  # fmt: skip


@pytest.mark.parametrize("frame", PRIVATE_FRAMES)
def test_documented_channel_frames_decode_typed(frame: str) -> None:
    event = assert_agree(frame)
    assert event is not ProtocolError
    assert not isinstance(event, UnknownEvent)
    assert event.channel == json.loads(frame)["channel"]  # type: ignore[union-attr]


def test_number_or_string_fields_parse_exactly() -> None:
    balance = decoded(PRIVATE_FRAMES[4]).result[0]
    assert balance.balance == D("296.16455822737")  # exact, never through float
    liquidation = decoded(PRIVATE_FRAMES[1]).result[0]
    assert liquidation.leverage == D("0.0")
    assert liquidation.size == D("-124.5")
    assert liquidation.order_size == D("-124")


# ------------------------------------------------------------------------------ replies


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (
            ('{"time":1786540580,"time_ms":1786540580651,"id":1,"conn_id":"7131b1698f971b30",'
            '"trace_id":"10272d21f20811233bcce89196cbfcf2","channel":"futures.trades",'
            '"event":"subscribe","payload":["BTC_USDT"],"result":{"status":"success"}}'),
            SubscribeAck(
                channel="futures.trades", event="subscribe", id=1, payload=("BTC_USDT",),
                conn_id="7131b1698f971b30", trace_id="10272d21f20811233bcce89196cbfcf2",
                time=1786540580, time_ms=1786540580651,
            ),
        ),
        (
            ('{"time":1545405058,"time_ms":1545405058123,"channel":"futures.trades",'
            '"event":"subscribe","result":{"status":"success"}}'),
            SubscribeAck(channel="futures.trades", event="subscribe", time=1545405058,
                         time_ms=1545405058123),
        ),
        (  # 2022: id and error null
            ('{"id":null,"time":1641365392,"channel":"futures.tickers","event":"subscribe",'
            '"error":null,"result":{"status":"success"}}'),
            SubscribeAck(channel="futures.tickers", event="subscribe", time=1641365392),
        ),
        (  # 2023: time_ms 0 on acks
            ('{"time":1684930165,"time_ms":0,"channel":"futures.candlesticks","event":"subscribe",'
            '"result":{"status":"success"}}'),
            SubscribeAck(channel="futures.candlesticks", event="subscribe", time=1684930165),
        ),
        (
            ('{"time":1747391482,"time_ms":1747391482960,"id":1,"conn_id":"d9db9373dc5e081e",'
            '"trace_id":"ee001938590e183db957bd5ba71651c0","channel":"futures.obu",'
            '"event":"subscribe","payload":["ob.BTC_USDT.400"],"error":{"code":2,'
            '"message":"Alert sub ob.BTC_USDT.400"},"result":{"status":"fail"}}'),
            ErrorReply(
                channel="futures.obu", event="subscribe", code=2,
                message="Alert sub ob.BTC_USDT.400", id=1, payload=("ob.BTC_USDT.400",),
                conn_id="d9db9373dc5e081e", trace_id="ee001938590e183db957bd5ba71651c0",
                time=1747391482, time_ms=1747391482960,
            ),
        ),
        (  # older failure forms: "failed", and null result
            ('{"time":1,"channel":"futures.orders","event":"subscribe","error":{"code":2,'
            '"message":"auth faild , auth data : &{{87260}}"},"result":{"status":"failed"}}'),
            ErrorReply(channel="futures.orders", event="subscribe", code=2,
                       message="auth faild , auth data : &{{87260}}", time=1),
        ),
        (
            ('{"time":1,"channel":"futures.trades","event":"subscribe","error":{"code":2,'
            '"message":"unknown contract BTC_USDT_20220318"},"result":null}'),
            ErrorReply(channel="futures.trades", event="subscribe", code=2,
                       message="unknown contract BTC_USDT_20220318", time=1),
        ),
        (  # a failed status without an error object is still a failure
            '{"time":1,"channel":"futures.trades","event":"unsubscribe","result":{"status":"fail"}}',
            ErrorReply(channel="futures.trades", event="unsubscribe", code=0,
                       message="result status 'fail'", time=1),
        ),
        (  # malformed request: empty channel and event
            ('{"time":1727318820,"time_ms":1727318820205,"conn_id":"c7799af51014ea53",'
            '"trace_id":"4d07b2abbe99cc9656b50d9dc980cb60","channel":"","event":"",'
            '"error":{"code":1,"message":"request message need json scheme"},'
            '"result":{"status":"fail"}}'),
            ErrorReply(
                channel="", event="", code=1, message="request message need json scheme",
                conn_id="c7799af51014ea53", trace_id="4d07b2abbe99cc9656b50d9dc980cb60",
                time=1727318820, time_ms=1727318820205,
            ),
        ),
        (
            ('{"time": 1545404023, "time_ms": 1545404023123, "channel": "futures.pong", '
            '"event": "", "result": null}'),
            Pong(time=1545404023, time_ms=1545404023123),
        ),
        (
            ('{"time":1789456354,"time_ms":1789456354999,"conn_id":"c59a69fd3702aa1d",'
            '"channel":"futures.pong","event":"","result":null}'),
            Pong(time=1789456354, time_ms=1789456354999, conn_id="c59a69fd3702aa1d"),
        ),
        (
            ('{"time":1780992412,"time_ms":1780992412642,"channel":"futures.system",'
            '"event":"update","result":{"type":"upgrade","msg":"The connection will soon be '
            'closed for a service upgrade. Please reconnect."}}'),
            UpgradeRequested(
                msg="The connection will soon be closed for a service upgrade. Please reconnect.",
                time=1780992412, time_ms=1780992412642,
            ),
        ),
        (  # the bare DTO of the pre-2026-07 docs
            '{"type":"upgrade","msg":"bye"}',
            UpgradeRequested(msg="bye"),
        ),
        (
            ('{"time":1770600979,"time_ms":1770600979609,"channel":"futures.system",'
            '"event":"update","result":{"type":"invalid_sbe_schema_id","msg":"Your '
            "sbe_schema_id '011' does not exist\"}}"),
            SystemNotice(type="invalid_sbe_schema_id",
                         msg="Your sbe_schema_id '011' does not exist",
                         time=1770600979, time_ms=1770600979609),
        ),
        (  # unknown channels are events, never errors
            '{"time":1,"channel":"spot.obu","event":"update","result":{"t":1}}',
            UnknownEvent(channel="spot.obu", event="update", time=1, result={"t": 1}),
        ),
    ],
)  # fmt: skip
def test_reply_frames(frame: str, expected: Event) -> None:
    assert assert_agree(frame) == expected


def test_error_message_json_in_a_string() -> None:
    frame = (
        '{"time":1,"channel":"futures.orders","event":"subscribe","error":{"code":4,'
        '"message":"{\\"label\\":\\"INVALID_KEY\\",\\"message\\":\\"Invalid key provided\\"}\\n"},'
        '"result":{"status":"fail"}}'
    )
    event = assert_agree(frame)
    assert isinstance(event, ErrorReply)
    assert event.message == '{"label":"INVALID_KEY","message":"Invalid key provided"}\n'
    assert event.label == "INVALID_KEY"


def test_error_on_a_data_push_is_an_error_reply() -> None:
    frame = TRADES_LIVE.replace('"event":"update"', '"event":"update","error":{"code":3}')
    assert _decode_typed(frame) is None
    assert assert_agree(frame) == ErrorReply(
        channel="futures.trades", event="update", code=3, message="",
        time=1786540580, time_ms=1786540580824,
    )  # fmt: skip
    escaped_key = TRADES_LIVE.replace('"event":"update"', '"event":"update","\\u0065rror":{}')
    assert isinstance(assert_agree(escaped_key), TradesUpdate)  # empty error: ignored


def test_typed_path_leaves_unexpected_envelopes_to_the_reference() -> None:
    # an ack on a data channel whose result happens to fit the data type
    ack = '{"time":1,"channel":"futures.trades","event":"subscribe","result":[]}'
    assert _decode_typed(ack) is None
    assert assert_agree(ack) == SubscribeAck(channel="futures.trades", event="subscribe", time=1)
    # an envelope key the typed path does not know: same event, from the reference
    extra = TRADES_LIVE.replace('"event":"update"', '"event":"update","conn_id":"c1","id":null')
    assert _decode_typed(extra) is None
    assert assert_agree(extra) == decode_message(TRADES_LIVE)
    # unknown keys inside items are ignored by both paths
    inner = TRADES_LIVE.replace('"contract":"BTC_USDT"', '"contract":"BTC_USDT","x":[1]')
    assert _decode_typed(inner) == decode_message(TRADES_LIVE)


def test_push_event_and_channel_are_plain_read_only_strings() -> None:
    event = decode_message(TRADES_LIVE)
    assert isinstance(event, TradesUpdate)
    assert (event.channel, event.event) == ("futures.trades", "update")
    assert TradesUpdate(result=(), event="all").event == "all"
    with pytest.raises(AttributeError):
        event.channel = "x"  # type: ignore[misc]


# ------------------------------------------------------------------------- trading API

ORDER_PLACE_ACK = (
    '{"header":' + HEADER_ACK + ',"data":{"result":{"req_id":"6","api_key":"","timestamp":"",'
    '"signature":"","trace_id":"b337ba50adcf08ee497cd14801eada95","text":"","req_header":'
    '{"trace_id":"b337ba50adcf08ee497cd14801eada95"},"req_param":{"text":"t-mgICtyDtvRkCAQAAAAAA",'
    '"contract":"SOL_USDT","size":1,"iceberg":0,"price":"100.00","close":false,'
    '"reduce_only":false,"tif":"GTC"}}},"request_id":"6","ack":true}'
)


def test_api_ack() -> None:
    event = assert_agree(ORDER_PLACE_ACK)
    assert isinstance(event, ApiAck)
    assert event.request_id == "6"
    assert event.header == ApiHeader(
        status="200",
        channel="futures.order_place",
        response_time="1727163050403",
        client_id="94.228.147.34-0xc11f193540",
        conn_id="362dc864d9e0358a",
        trace_id="b337ba50adcf08ee497cd14801eada95",
    )
    assert event.result["req_param"]["price"] == "100.00"  # type: ignore[index]


def test_api_result_with_float_times_kept_exact() -> None:
    frame = (
        '{"header":{"response_time":"1727227280918","status":"200","channel":'
        '"futures.order_place","event":"api","client_id":"94.228.147.34-0xc17bf95180"},'
        '"data":{"result":{"text":"t-JQICBoPDPBsCAQAAAAAA","price":"100","status":"open",'
        '"contract":"SOL_USDT","fill_price":"0","id":533610324468,"create_time":1727227280.916,'
        '"size":1,"update_time":1727227280.916,"left":1,"user":15564602}},'
        '"request_id":"JQICBoPDPBsCAQAAAAAA"}'
    )
    event = assert_agree(frame)
    assert isinstance(event, ApiResult)
    assert event.result["create_time"] == D("1727227280.916")  # type: ignore[index]
    assert event.result["id"] == 533610324468  # type: ignore[index]


@pytest.mark.parametrize(
    ("spelling", "frame"),
    [
        (
            "x_gate_",
            (
                '{"request_id":"xxxx","header":{"response_time":"1677816784084","status":"429",'
                '"channel":"futures.order_place","event":"api","client_id":"::1-0x14002ba2300",'
                '"x_gate_ratelimit_limit":100,"x_gate_ratelimit_reset_timestamp":1677816785084},'
                '"data":{"errs":{"label":"TOO_MANY_REQUESTS","message":"Request Rate limit Exceeded'
                ' (311)"}}}'
            ),
        ),
        (
            "x_gat_",
            (
                '{"request_id":"xxxx","header":{"response_time":"1677816784084","status":"429",'
                '"channel":"futures.order_place","event":"api","client_id":"::1-0x14002ba2300",'
                '"x_gate_ratelimit_requests_remain":0,"x_gate_ratelimit_limit":100,'
                '"x_gat_ratelimit_reset_timestamp":1677816785084},'
                '"data":{"errs":{"label":"TOO_MANY_REQUESTS","message":"Request Rate limit Exceeded'
                ' (311)"}}}'
            ),
        ),
    ],
)
def test_api_error_both_ratelimit_spellings(spelling: str, frame: str) -> None:
    event = assert_agree(frame)
    assert isinstance(event, ApiError)
    assert (event.label, event.header.status) == ("TOO_MANY_REQUESTS", "429")
    assert event.header.x_gate_ratelimit_limit == 100
    assert event.header.ratelimit_reset_ms == 1677816785084
    assert getattr(event.header, f"{spelling}ratelimit_reset_timestamp") == 1677816785084


def test_api_login_failure_and_success() -> None:
    failure = (
        '{"header":{"response_time":"1757642539954","status":"400","channel":"futures.login",'
        '"event":"api","client_id":"178.198.131.37-0xc0be07c008","conn_id":"ba1505e5e03d3f8d",'
        '"conn_trace_id":"543e485b7d4f91cfd125e5ab250b3595","trace_id":'
        '"5468e0f73b66069ed7d5fcb7a9a25aee","x_in_time":1757642539952584,"x_out_time":'
        '1757642539954323},"data":{"errs":{"label":"AUTHENTICATION_FAILED","message":'
        '"Client ip not in account ip white list"}},"request_id":"1"}'
    )
    event = assert_agree(failure)
    assert isinstance(event, ApiError)
    assert event.header.x_in_time == 1757642539952584
    success = (
        '{"header":{"response_time":"1727100172731","status":"200","channel":"futures.login",'
        '"event":"api","client_id":"94.228.147.34-0xc03381edc0"},"data":{"result":{"uid":'
        '"15564602","api_key":"98251e573f850df7d52e022c85cd2570"}},"request_id":"1"}'
    )
    event = assert_agree(success)
    assert isinstance(event, ApiResult)
    assert event.result == {"uid": "15564602", "api_key": "98251e573f850df7d52e022c85cd2570"}


# -------------------------------------------------------------------- malformed frames


@pytest.mark.parametrize(
    "frame",
    [
        "",
        "[]",
        "null",
        '"futures.trades"',
        "{}",
        '{"time":1}',  # neither channel nor header
        '{"channel":5,"result":[]}',
        '{"channel":"futures.trades"}',  # a data channel without result
        '{"channel":"futures.trades","event":"update","result":null}',
        '{"channel":"futures.trades","result":{"id":1}}',  # wrong shape
        '{"channel":"futures.trades","result":[{"id":"1","contract":"X","price":"1","size":1}]}',
        '{"channel":"futures.trades","result":[{"id":1,"contract":"X","price":"NaN","size":1}]}',
        '{"channel":"futures.trades","result":[{"id":1,"contract":"X","price":"1","size":true}]}',
        '{"channel":"futures.trades","time":1.5,"result":[]}',
        '{"channel":"futures.trades","result":[],"x":NaN}',
        '{"channel":"futures.book_ticker","result":{"t":1,"u":1,"s":"X","b":"1e","B":1,"a":"","A":0}}',
        '{"channel":"futures.obu","result":{"t":1,"s":"ob.X.50","u":1,"b":[["1"]]}}',
        '{"channel":"futures.system","event":"update","result":{"msg":"no type"}}',
        '{"channel":"futures.trades","event":null,"result":[]}',
        '{"header":{"status":"200"},"request_id":"1"}',  # header without channel
        '{"header":{"status":"200","channel":"futures.login"}}',  # no request_id
        '{"header":{"status":"200","channel":"x"},"request_id":"1","data":[]}',
        '{"channel":"futures.trades","result":[]} trailing',
        "\ufeff{}",
        '{"channel":"futures.pong","time":"1"}',
        "{" * 100000,
        "[" * 100000 + "]" * 100000,
        '{"channel":"x","result":' + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "}",
        b'{"channel":"futures.trades","result":[\xff]}',
        b"\xef\xbb\xbf{}",
    ],
)
def test_malformed_frames_are_protocol_errors(frame: str | bytes) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_message(frame)
    assert info.value.raw is None or len(info.value.raw) <= 200
    assert outcome(decode_message_reference, frame) is ProtocolError


def test_non_text_input_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        decode_message(None)  # type: ignore[arg-type]


def test_extra_fields_and_whitespace_are_fine() -> None:
    frame = json.dumps(
        json.loads(TRADES_LIVE) | {"conn_id": "x", "new_field": [1, {"a": None}]}, indent=2
    )
    assert assert_agree(frame) == decode_message(TRADES_LIVE)


def test_nesting_up_to_the_limit_is_accepted() -> None:
    deep = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    frame = '{"channel":"spot.x","result":' + deep + "}"
    assert isinstance(assert_agree(frame), UnknownEvent)
    strings = '{"channel":"spot.x","result":"' + "[{" * 500 + '"}'
    assert isinstance(assert_agree(strings), UnknownEvent)  # brackets in strings do not nest


# ------------------------------------------------------------------------ properties


@given(strategies.typed_path_events)
@settings(max_examples=capped_examples(400))
def test_hot_frames_take_the_typed_path(event: Event) -> None:
    frame = encode_event(event)
    assert _decode_typed(frame) == event
    assert _decode_typed(frame.encode()) == event
    assert decode_message(frame) == event


@given(strategies.events)
def test_fast_and_reference_agree_on_valid_frames(event: Event) -> None:
    assert assert_agree(encode_event(event)) == event


WEIRD_VALUES = [
    None, True, False, 0, -1, 2**64, 2**70, D("1.5"), D("1E+400"), "", "x", "NaN", "-Infinity",
    " 1", "1_0", "2.895e-05", [], {}, [1], {"code": 1}, "futures.trades", "subscribe",
]  # fmt: skip
REPLY_NAMES = ["channel", "event", "error", "result", "header", "data", "type", "ack"]


def _paths(value: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) in a parsed JSON value."""
    found: list[tuple[Any, Any]] = []
    if isinstance(value, dict):
        for key, child in value.items():
            found.append((value, key))
            found.extend(_paths(child))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.append((value, index))
            found.extend(_paths(child))
    return found


def _restring(value: Any) -> Any:
    """A number as a string and a numeric string as a number (spec 13.9's favourite mix-up)."""
    if type(value) is int or type(value) is Decimal:
        return str(value)
    if type(value) is str:
        try:
            number = D(value)
        except ArithmeticError:
            return value + "0"
        if not number.is_finite():  # "NaN", "-Infinity": JSON has no such number
            return value + "0"
        return int(number) if number == number.to_integral_value() else number
    return value


_JSON_NUMBERS = msgspec.json.Encoder(decimal_format="number")


@st.composite
def near_miss_frames(draw: st.DrawFn) -> str:
    """A valid frame with one thing wrong: a key dropped or added, a value retyped."""
    frame = encode_event(draw(strategies.events | strategies.typed_path_events))
    obj = json.loads(frame, parse_float=Decimal)
    paths = _paths(obj)
    kind = draw(st.sampled_from(["drop", "retype", "restring", "extra", "text", "bytes"]))
    if kind == "bytes":  # a character dropped, doubled or replaced anywhere in the text
        at = draw(st.integers(0, len(frame) - 1))
        edit: str = draw(st.sampled_from(["", frame[at] * 2, *'{}[]",:0 ."\\']))
        return frame[:at] + edit + frame[at + 1 :]
    if kind == "text":  # splice a top-level key in, first or last
        key = draw(st.sampled_from(REPLY_NAMES))
        value = draw(st.sampled_from(WEIRD_VALUES))
        extra = _JSON_NUMBERS.encode({key: value}).decode()[1:-1]
        where = draw(st.sampled_from([1, len(frame) - 1]))
        return frame[:where] + (extra + "," if where == 1 else "," + extra) + frame[where:]
    if not paths or kind == "extra":
        target = draw(st.sampled_from([obj] + [c for c, _ in paths if isinstance(c, dict)]))
        key = draw(st.sampled_from(REPLY_NAMES) | strategies.plain_text)
        target[key] = draw(st.sampled_from(WEIRD_VALUES) | strategies.plain_json)
    else:
        container, key = draw(st.sampled_from(paths))
        if kind == "drop":
            del container[key]
        elif kind == "retype":
            container[key] = draw(st.sampled_from(WEIRD_VALUES))
        else:
            container[key] = _restring(container[key])
    return _JSON_NUMBERS.encode(obj).decode()


@given(near_miss_frames())
@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=capped_examples(400))
@example('{"channel":"futures.trades","result":[],"channel":"futures.tickers"}')
@example('{"channel":"futures.tickers","result":[],"channel":"futures.trades"}')
@example('{"channel":"futures.trades","result":[{"id":1,"contract":"X","price":" 1_0 ","size":1}]}')
@example(
    '{"channel":"futures.trades","result":[{"id":1,"contract":"X","price":"sNaN","size":"1"}]}'
)
@example('{"x":{"channel":"futures.trades"},"result":[]}')
@example('{"channel":"futures.trades","result":[],"header":{"status":"1","channel":"x"}}')
@example('{"channel":"futures.obu","result":{"t":1,"s":"a","u":1,"b":[[1.5,2,3]],"a":[[1,2.5]]}}')
@example(
    '{"channel":"futures.trades","result":[{"id":1,"contract":"X","price":1'
    + "0" * 5000
    + ',"size":1}]}'
)
def test_fast_and_reference_agree_on_near_misses(frame: str) -> None:
    assert_agree(frame)
    assert_agree(frame.encode())


@given(st.one_of(st.text(), st.binary()))
@example("\ud800")
@example('{"channel":"futures.trades","result":[],"x":"\ud800"}')
@example('{"channel":"futures.trades","result":[],"x":"\\ud800"}')
def test_arbitrary_input_only_protocol_error(frame: str | bytes) -> None:
    assert_agree(frame)


@given(strategies.plain_json.map(lambda v: _JSON_NUMBERS.encode(v).decode()))
def test_arbitrary_json_only_protocol_error(frame: str) -> None:
    assert_agree(frame)


def _nest_weird(inner: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    # a named function: hypothesis cannot see that a multi-line lambda uses its argument
    return st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from("pstuUbaAB"), inner, max_size=3
    )


@given(
    channel=st.sampled_from(sorted(_decode.ROUTED_CHANNELS)),
    body=st.recursive(st.sampled_from(WEIRD_VALUES[:-4]), _nest_weird, max_leaves=10),
)
def test_known_channel_with_arbitrary_result(channel: str, body: object) -> None:
    frame = _JSON_NUMBERS.encode({"channel": channel, "result": body}).decode()
    assert_agree(frame)


@given(st.integers(0, 3 * MAX_DEPTH), st.sampled_from(["[", '{"a":']))
def test_deep_nesting_only_protocol_error(depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    body = opener * depth + "1" + closer * depth
    for frame in (
        body,
        '{"channel":"spot.x","result":' + body + "}",
        '{"channel":"futures.trades","result":' + body + "}",
    ):
        expected = assert_agree(frame)
        if frame.startswith('{"channel":"spot.x"') and depth < MAX_DEPTH:
            assert isinstance(expected, UnknownEvent)


def test_fast_routes_never_hold_free_form_json() -> None:
    # Free-form `object` fields would need the reference's depth limit and Decimal floats.
    assert not _decode.ROUTED_CHANNELS & {"futures.autoorders", "futures.order_book"}
    assert len(_decode.ROUTED_CHANNELS) == len(strategies.DATA_EVENT_CLASSES) - 3
    records = record_classes()
    seen: set[str] = set()
    todo = [
        cls.__name__
        for cls in strategies.DATA_EVENT_CLASSES
        if str(cls.__struct_config__.tag) in _decode.ROUTED_CHANNELS
    ]
    while todo:
        name = todo.pop()
        if name in seen or name not in records:
            continue
        seen.add(name)
        for field in record_fields(records[name]):
            assert "object" not in field.annotation, (name, field)
            inner = field.annotation.removesuffix(" | None")
            todo.append(inner[6:-6] if inner.startswith("tuple[") else inner)
    assert "Trade" in seen
    assert "RiskLimitTier" in seen


def test_decimal_fields_take_exponents_numbers_and_text_exactly() -> None:
    frame = TRADES_LIVE.replace('"price":"63994.5"', '"price":"2.895e-05"')
    (trade,) = decoded(frame).result
    assert trade.price == D("0.00002895")
    assert _decode_typed(frame) is not None
    number = TRADES_LIVE.replace('"price":"63994.5"', '"price":0.1')
    (trade,) = decoded(number).result
    assert trade.price == D("0.1")  # from the JSON text, not through a float
    assert str(trade.price) == "0.1"
