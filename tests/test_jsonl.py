from __future__ import annotations

import enum
import json
from decimal import Decimal
from typing import Any, Final

import attrs
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatetrio._cli._jsonl import encode_line, encode_lines
from gatetrio._core._events import (
    BookDelta,
    BookLevel,
    ObuDelta,
    ObuLevel,
    SystemNotice,
    Ticker,
    TickersUpdate,
    TickerText,
    Trade,
)
from gatetrio._shell._client import ClientEvent, ClientEventKind

from . import strategies

D = Decimal


def _parse(line: bytes) -> Any:
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1  # one event per line, whatever the text inside holds
    return json.loads(line)


def expected_json(value: object, *, top: bool = False) -> Any:
    """The documented JSON form of a value, built independently of `_jsonl`."""
    cls = type(value)
    if isinstance(value, Ticker):
        fields = [(n, getattr(value._text, n)) for n in TickerText.__struct_fields__]
    elif attrs.has(cls):
        fields = [(f.name, getattr(value, f.name)) for f in attrs.fields(cls)]
    elif isinstance(value, ObuLevel):
        return [value.p, value.s]
    elif isinstance(value, BookLevel):
        return {"p": value.p, "s": value.s}
    elif isinstance(value, msgspec.Struct):
        fields = [(n, getattr(value, n)) for n in value.__struct_fields__]
    elif isinstance(value, Decimal):
        return str(value)
    elif isinstance(value, enum.Enum):
        return expected_json(value.value)
    elif isinstance(value, (tuple, list)):
        return [expected_json(v) for v in value]
    elif isinstance(value, dict):
        return {k: expected_json(v) for k, v in value.items()}
    else:
        return value
    record: dict[str, Any] = {"type": cls.__name__} if top else {}
    for name, field_value in fields:
        record["type_" if top and name == "type" else name] = expected_json(field_value)
    return record


def test_trade_line_is_exact() -> None:
    trade = Trade(807645691, "BTC_USDT", D("63994.5"), D("-108.5"), 1786540580, 1786540580824)
    assert encode_line(trade) == (
        b'{"type":"Trade","id":807645691,"contract":"BTC_USDT","price":"63994.5",'
        b'"size":"-108.5","create_time":1786540580,"create_time_ms":1786540580824,'
        b'"is_internal":false}\n'
    )


def test_decimals_keep_their_exact_text() -> None:
    # no float anywhere: trailing zeros and exponent forms survive
    trade = Trade(1, "BTC_USDT", D("64000.10"), 3)
    assert _parse(encode_line(trade))["price"] == "64000.10"
    assert _parse(encode_line(Trade(1, "A_B", D("2.895e-05"), 1)))["price"] == str(D("2.895e-05"))


def test_integer_sizes_stay_numbers() -> None:
    assert _parse(encode_line(Trade(1, "BTC_USDT", D(1), -4681)))["size"] == -4681


def test_ticker_writes_wire_text_and_null_for_absent_fields() -> None:
    ticker = Ticker("BTC_USDT", "63964.7", mark_price=D("63964.8"), funding_interval=28800)
    line = _parse(encode_line(ticker))
    assert list(line)[:3] == ["type", "contract", "last"]
    assert line["type"] == "Ticker"
    assert line["last"] == "63964.7"
    assert line["mark_price"] == "63964.8"
    assert line["index_price"] is None
    assert line["funding_interval"] == 28800


def test_book_levels_keep_the_wire_shape() -> None:
    delta = BookDelta(1, "BTC_USDT", 5, 6, b=(BookLevel("64013", 33565),), a=(BookLevel("1", "0"),))
    line = _parse(encode_line(delta))
    assert line["b"] == [{"p": "64013", "s": 33565}]
    assert line["a"] == [{"p": "1", "s": "0"}]
    obu = ObuDelta(1, "ob.BTC_USDT.50", 7, 6, b=(ObuLevel("83702.2", "62"),))
    assert _parse(encode_line(obu))["b"] == [["83702.2", "62"]]


def test_nested_records_have_no_type_key() -> None:
    frame = TickersUpdate((Ticker("BTC_USDT", "1.5"),), time=1, time_ms=1000)
    line = _parse(encode_line(frame))
    assert line["type"] == "TickersUpdate"
    assert "type" not in line["result"][0]
    assert line["result"][0]["last"] == "1.5"


def test_a_field_named_type_moves_aside_at_the_top_level() -> None:
    line = _parse(encode_line(SystemNotice("sbe_schema", msg="m")))
    assert line["type"] == "SystemNotice"
    assert line["type_"] == "sbe_schema"


def test_client_event_kind_is_its_value() -> None:
    event = ClientEvent(ClientEventKind.DISCONNECTED, 12.5, reason="connection closed")
    assert _parse(encode_line(event)) == {
        "type": "ClientEvent",
        "kind": "disconnected",
        "at": 12.5,
        "reason": "connection closed",
        "channel": "",
        "attempt": 0,
        "url": "",
    }


def test_plain_values_pass_through() -> None:
    assert encode_line({"a": D("1.5")}) == b'{"a":"1.5"}\n'


def test_unwritable_value_raises_type_error() -> None:
    with pytest.raises(TypeError):
        encode_line(Trade(1, "A_B", D(1), 1, is_internal=object()))  # type: ignore[arg-type]


def test_encode_lines_is_one_line_per_record() -> None:
    trades = [Trade(i, "BTC_USDT", D("1.5"), i) for i in range(1, 4)]
    data = encode_lines(trades)
    assert data == b"".join(encode_line(t) for t in trades)
    assert [json.loads(line)["id"] for line in data.splitlines()] == [1, 2, 3]
    assert encode_lines([]) == b""


# One property over ~40 classes: each class gets a tenth of the profile's examples (100 of the
# ci profile's 1000), so the property as a whole still sees thousands. At 1000 a class, a frame
# class of many nested records took a minute under load and this file ten (CI's budget is 15).
PER_CLASS: Final = settings(max_examples=max(10, settings().max_examples // 10))


@pytest.mark.parametrize("cls", list(strategies.EVENT_STRATEGIES), ids=lambda cls: cls.__name__)
@PER_CLASS
@given(data=st.data())
def test_every_event_matches_the_documented_form(cls: type, data: st.DataObject) -> None:
    event = data.draw(strategies.EVENT_STRATEGIES[cls])
    line = _parse(encode_line(event))
    assert line == expected_json(event, top=True)
    # the type first, then the fields in declaration order
    assert list(line) == list(expected_json(event, top=True))


@given(
    strategies.trades
    | strategies.tickers
    | strategies.book_deltas
    | strategies.obu_deltas
    | strategies.book_tickers
)
def test_every_item_matches_the_documented_form(item: object) -> None:
    assert _parse(encode_line(item)) == expected_json(item, top=True)
