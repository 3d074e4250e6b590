"""decode_message against a hostile server: any value in any field, fast path and reference agree.

Whatever a server sends, the outcome is an event or a `ProtocolError` (never OverflowError,
RecursionError, decimal.InvalidOperation...), and what is decoded is sane for what it is: typed
ints fit in int64 (Gate's own type; a 401-digit `time_ms` would overflow float arithmetic
later) and Decimals are finite.
"""

from __future__ import annotations

import json
from decimal import Decimal

import msgspec
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gatetrio._core._decode import _decode_typed, decode_message
from gatetrio._core._encode import encode_event
from gatetrio._core._errors import ProtocolError
from gatetrio._core._events import Event, Ticker, TradesUpdate, record_fields
from gatetrio._core._reference_decode import INT64_MAX, INT64_MIN, decode_message_reference

from . import strategies
from .helpers import capped_examples
from .test_decode import TRADES_LIVE, _paths, assert_agree

_JSON_NUMBERS = msgspec.json.Encoder(decimal_format="number")
_HOLE = "\u0000hostile\u0000"  # a string no valid frame holds; replaced by raw JSON text


def assert_sane(value: object, where: str = "event") -> None:
    """Every typed int of a decoded event fits in int64 and every Decimal is finite.

    Tuples and Structs are typed; dicts and lists are free-form JSON (unknown channels, API
    results), which is only JSON and not checked here.
    """
    if isinstance(value, Ticker):
        value = msgspec.structs.asdict(value._text)  # the wire record
        for name, item in value.items():
            assert_sane(item, f"{where}.{name}")
    elif isinstance(value, msgspec.Struct):
        for field in record_fields(type(value)):
            if field.annotation != "object":  # free-form JSON (autoorder sub-objects)
                assert_sane(getattr(value, field.name), f"{where}.{field.name}")
    elif isinstance(value, tuple):
        for index, item in enumerate(value):
            assert_sane(item, f"{where}[{index}]")
    elif type(value) is int:
        assert INT64_MIN <= value <= INT64_MAX, where
    elif type(value) is Decimal:
        assert value.is_finite(), where


def assert_hardened(frame: str | bytes) -> Event | type[ProtocolError]:
    outcome = assert_agree(frame)
    if outcome is not ProtocolError:
        assert_sane(outcome)
    return outcome


@st.composite
def hostile_frames(draw: st.DrawFn) -> str:
    """A valid frame with one value (anywhere, at any depth) replaced by a hostile one."""
    return substitute_hostile(
        draw, encode_event(draw(strategies.events | strategies.typed_path_events))
    )


def substitute_hostile(draw: st.DrawFn, frame: str) -> str:
    """`frame` with one value (anywhere, at any depth) replaced by a hostile one."""
    obj = json.loads(frame, parse_float=Decimal)
    paths = _paths(obj)
    if not paths:
        return frame
    container, key = draw(st.sampled_from(paths))
    if draw(st.booleans()):
        container[key] = draw(strategies.hostile_values)
        return _JSON_NUMBERS.encode(obj).decode()
    container[key] = _HOLE
    hole = _JSON_NUMBERS.encode(obj).decode()
    return hole.replace(json.dumps(_HOLE), draw(strategies.hostile_json_texts), 1)


@given(hostile_frames())
@settings(
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    max_examples=capped_examples(400),
)
def test_hostile_values_only_protocol_error_and_agree(frame: str) -> None:
    assert_hardened(frame)
    assert_hardened(frame.encode())


TRADE_FIELDS = ["time", "time_ms", "id", "size", "create_time", "create_time_ms"]


@pytest.mark.parametrize("field", TRADE_FIELDS)
@pytest.mark.parametrize(
    "value", [str(2**63), str(-(2**63) - 1), "9" * 401, "-" + "9" * 401, "1" + "0" * 5000]
)
def test_ints_beyond_int64_are_protocol_errors(field: str, value: str) -> None:
    obj = json.loads(TRADES_LIVE)
    target = obj if field in {"time", "time_ms"} else obj["result"][0]
    target[field] = _HOLE
    frame = json.dumps(obj).replace(json.dumps(_HOLE), value)
    outcome = assert_hardened(frame)
    if field == "size" and len(value) > 4300:
        # Too long for int(): read as a Decimal number (both paths), which a Size may be
        assert isinstance(outcome, TradesUpdate)
        assert outcome.result[0].size == Decimal(value)
    else:
        assert outcome is ProtocolError


@pytest.mark.parametrize("field", TRADE_FIELDS)
def test_int64_bounds_themselves_decode(field: str) -> None:
    for value in (INT64_MAX, INT64_MIN):
        obj = json.loads(TRADES_LIVE)
        target = obj if field in {"time", "time_ms"} else obj["result"][0]
        target[field] = value
        frame = json.dumps(obj)
        event = assert_agree(frame)
        assert isinstance(event, TradesUpdate)
        assert _decode_typed(frame) == event  # the fast path keeps them


def test_the_401_digit_time_ms_trades_frame() -> None:
    frame = TRADES_LIVE.replace('"time_ms":1786540580824', '"time_ms":' + "9" * 401)
    with pytest.raises(ProtocolError, match="time_ms"):
        decode_message(frame)
    with pytest.raises(ProtocolError, match="time_ms"):
        decode_message_reference(frame)


@pytest.mark.parametrize(
    "text", ["NaN", "Infinity", "-Infinity", '"NaN"', '"Infinity"', '"sNaN"', "null", "[]"]
)
def test_non_finite_or_wrong_type_prices_are_protocol_errors(text: str) -> None:
    frame = TRADES_LIVE.replace('"price":"63994.5"', '"price":' + text)
    assert assert_agree(frame) is ProtocolError


@pytest.mark.parametrize("text", ["1e400", "-1e400", '"1e400"', '"-1E+400"'])
def test_huge_but_finite_decimals_stay_exact(text: str) -> None:
    frame = TRADES_LIVE.replace('"price":"63994.5"', '"price":' + text)
    event = assert_hardened(frame)
    assert isinstance(event, TradesUpdate)
    assert abs(event.result[0].price) == Decimal("1E+400")


@pytest.mark.parametrize(
    "frame",
    [
        "[" * 10_000 + "]" * 10_000,
        '{"channel":"futures.trades","result":' + "[" * 10_000 + "]" * 10_000 + "}",
        '{"channel":"spot.x","result":' + '{"a":' * 10_000 + "1" + "}" * 10_000 + "}",
        b'{"channel":"futures.obu","result":' + b"[" * 10_000 + b"]" * 10_000 + b"}",
    ],
)
def test_ten_thousand_deep_nesting_is_a_protocol_error(frame: str | bytes) -> None:
    assert assert_agree(frame) is ProtocolError


@example(2**63)
@example(-(2**63) - 1)
@given(strategies.hostile_ints)
def test_hostile_level_sizes_and_ticker_ints(value: int) -> None:
    obu = (
        '{"channel":"futures.obu","time_ms":1,"result":{"t":1,"s":"ob.BTC_USDT.400","U":1,'
        f'"u":2,"b":[["1.5",{value}]],"a":[]}}}}'
    )
    assert assert_agree(obu) is ProtocolError
    ticker = (
        '{"channel":"futures.tickers","time":1,"time_ms":1,"event":"update",'
        f'"result":[{{"contract":"BTC_USDT","last":"1","t":{value}}}]}}'
    )
    assert assert_agree(ticker) is ProtocolError
