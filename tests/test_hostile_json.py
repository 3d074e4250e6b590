"""Hostile JSON shapes and clock skew through the whole client, on a connection that stays up.

Connection 1 acks the trades subscribe, sends the hostile frames, then the MARK_ID trade. The
WebSocket is fine, so nothing may end it: every frame the decoder refuses is counted in
`statistics().malformed_frames` and reported as a MALFORMED_FRAME event (exactly as many as
`decode_message` refuses, computed here), the log says so at most MALFORMED_LOG_FIRST times and
then once per MALFORMED_LOG_EVERY, and the trade after them arrives. Frames that decode (odd but
valid: duplicate keys, skewed clocks) are delivered or counted as unrouted/unknown, never fatal.
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from typing import Final

import pytest
import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gatetrio import ClientEventKind, ProtocolError, Trade
from gatetrio._core._decode import decode_message
from gatetrio._core._encode import encode_event
from gatetrio._shell._runtime import MALFORMED_LOG_EVERY, MALFORMED_LOG_FIRST
from gatetrio.events import TradesUpdate

from . import strategies
from .hostile_run import Outcome, drive
from .scripted import (
    BINARY,
    Await,
    Reply,
    Script,
    Send,
    Upgrade,
    ack_for,
    frame,
    text,
    trade_json,
    trade_text,
)
from .test_decode_hostile import substitute_hostile

TRADE: Final = (
    '{"time":1786540580,"time_ms":1786540580123,"channel":"futures.trades","event":"update",'
    '"result":[{"size":1,"id":7,"create_time":1786540580,"create_time_ms":1786540580123,'
    '"price":"63994.5","contract":"BTC_USDT"}]}'
)


def _with(path: tuple[object, ...], value: object) -> str:
    """TRADE with the value at `path` (keys and indexes from the top) replaced by `value`."""
    obj = json.loads(TRADE)
    node = obj
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return json.dumps(obj)


def _raw(path: tuple[object, ...], raw: str) -> str:
    """TRADE with the value at `path` replaced by raw JSON text (numbers json cannot write)."""
    hole = "\u0000hole\u0000"
    return _with(path, hole).replace(json.dumps(hole), raw, 1)


TRADE_PATHS: Final = [
    ("time",),
    ("time_ms",),
    ("channel",),
    ("event",),
    ("result",),
    ("result", 0),
    *(("result", 0, key) for key in json.loads(TRADE)["result"][0]),
]
WRONG: Final = [None, True, "x", "", -1, 1.5, [], {}, [1], {"a": 1}, 2**63, -(2**63) - 1, "NaN"]

SHAPES: Final[dict[str, str | bytes]] = {
    "deep nesting": '{"channel":"futures.trades","result":' + "[" * 100_000 + "]" * 100_000 + "}",
    "deep objects": '{"a":' * 50_000 + "1" + "}" * 50_000,
    "5000-digit int": _raw(("time_ms",), "1" + "0" * 5000),
    "10^400 size": _raw(("result", 0, "size"), "1" + "0" * 400),
    "1e400 price": _raw(("result", 0, "price"), "1e400"),
    "1E+999999999 time": _raw(("time",), "1E+999999999"),
    "NaN literal": _raw(("result", 0, "price"), "NaN"),
    "Infinity literal": _raw(("result", 0, "size"), "Infinity"),
    "-Infinity literal": _raw(("time",), "-Infinity"),
    "NaN text price": _with(("result", 0, "price"), "NaN"),
    "sNaN text price": _with(("result", 0, "price"), "sNaN"),
    "-0 size": _raw(("result", 0, "size"), "-0"),
    "duplicate channel": TRADE.replace(
        '"channel":"futures.trades"', '"channel":"futures.trades","channel":"futures.tickers"'
    ),
    "duplicate result": TRADE[:-1] + ',"result":{"x":1}}',
    "duplicate keys in an item": TRADE.replace('"id":7', '"id":7,"id":"seven"'),
    "BOM": "\ufeff" + TRADE,
    "BOM in bytes": b"\xef\xbb\xbf" + TRADE.encode(),
    "empty": "",
    "whitespace": " \n\t ",
    "top-level array": "[" + TRADE + "]",
    "top-level string": json.dumps(TRADE),
    "null": "null",
    "trailing garbage": TRADE + "}",
    "two objects": TRADE + TRADE,
    "truncated": TRADE[:-3],
    "1 MiB string": _with(("result", 0, "contract"), "x" * (1 << 20)),
    "lone surrogate": _raw(("result", 0, "contract"), '"\\ud800"'),
    "lone low surrogate": _raw(("event",), '"up\\udfffdate"'),
    "control characters": TRADE.replace("BTC_USDT", "BTC\u0000\u001b_USDT"),
    "binary frame of garbage": b"\x00\xff\xfe",
    **{
        f"{'.'.join(map(str, path))} = {value!r:.20}": _with(path, value)
        for path in TRADE_PATHS
        for value in WRONG
    },
}


def _refused(frame: str | bytes) -> bool:
    try:
        decode_message(frame)
    except ProtocolError:
        return True
    return False


def _script(frames: list[str | bytes]) -> Script:
    data = b"".join(frame(BINARY, f) if isinstance(f, bytes) else text(f) for f in frames)
    return Script(
        (
            Upgrade(),
            Await("futures.trades", "subscribe"),
            Reply(ack_for),
            Send(data),
            Send(trade_text()),
        )
    )


def _check_counted(outcome: Outcome, frames: list[str | bytes]) -> None:
    assert outcome.error is None, outcome.error
    assert outcome.marked
    stats = outcome.stats
    assert stats is not None
    refused = sum(map(_refused, frames))
    assert stats.malformed_frames == refused
    assert len(outcome.kinds(ClientEventKind.MALFORMED_FRAME)) == refused
    assert stats.reconnects == 0
    assert len(outcome.connections) == 1


@pytest.mark.parametrize("name", list(SHAPES))
async def test_json_shape(name: str, autojump_clock: trio.testing.MockClock) -> None:
    frames = [SHAPES[name]]
    outcome = await drive([_script(frames)], measure=name in {"deep nesting", "1 MiB string"})
    _check_counted(outcome, frames)
    assert outcome.ended_at == 0
    assert outcome.peak < 16 << 20  # (a 1 MiB string, a 200 kB nesting: a few copies at most)


def test_the_named_shapes_are_mostly_refused() -> None:
    # the control: the table is hostile (a test of odd-but-valid frames only would prove little)
    refused = [name for name, f in SHAPES.items() if _refused(f)]
    assert len(refused) > len(SHAPES) * 3 // 4
    assert _refused(SHAPES["lone surrogate"])  # text no one can print or encode


async def test_a_flood_of_malformed_frames_is_counted_and_the_log_rate_limited(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="gatetrio")
    frames: list[str | bytes] = [SHAPES["NaN literal"]] * 2500
    outcome = await drive([_script(frames)])
    _check_counted(outcome, frames)
    lines = [r for r in caplog.records if "malformed frame" in r.getMessage()]
    assert len(lines) == MALFORMED_LOG_FIRST + 2500 // MALFORMED_LOG_EVERY


@st.composite
def hostile_batches(draw: st.DrawFn) -> list[str | bytes]:
    """Frames of any kind, each with one value replaced by a hostile one."""
    events = st.lists(strategies.events | strategies.typed_path_events, min_size=1, max_size=12)
    out: list[str | bytes] = []
    for event in draw(events):
        mutated = substitute_hostile(draw, encode_event(event))
        out.append(mutated.encode() if draw(st.booleans()) else mutated)
    return out


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(frames=hostile_batches())
def test_any_hostile_value_in_any_frame_is_counted(frames: list[str | bytes]) -> None:
    async def run() -> None:
        _check_counted(await drive([_script(frames)]), frames)

    trio.run(run, clock=trio.testing.MockClock(autojump_threshold=0))


# --------------------------------------------------------------------------------- clock skew

SKEWED: Final = {
    "time_ms far in the future": {"time_ms": 2**62},
    "time_ms far in the past": {"time_ms": 1},
    "time_ms negative": {"time_ms": -1786540580123},
    "time_ms zero": {"time_ms": 0},
    "time_ms in seconds": {"time_ms": 1786540580},
    "time in milliseconds": {"time": 1786540580123},
    "time_ms in microseconds": {"time_ms": 1786540580123000},
    "time_ms 2**53 + 1": {"time_ms": 2**53 + 1},
    "create_time in the year 9999": {"create_time": 253402300800},
    "create_time negative": {"create_time": -1},
}


@pytest.mark.parametrize("name", list(SKEWED))
async def test_a_skewed_clock_is_data_not_an_error(
    name: str, autojump_clock: trio.testing.MockClock
) -> None:
    obj = json.loads(trade_json())
    for key, value in SKEWED[name].items():
        if key.startswith("create"):
            obj["result"][0][key] = value
        else:
            obj[key] = value
    skewed = text(json.dumps(obj))
    script = Script((Upgrade(), Await("futures.trades", "subscribe"), Reply(ack_for), Send(skewed)))
    outcome = await drive([script])
    assert outcome.error is None
    assert outcome.marked  # the skewed frame is the mark: delivered as sent
    stats = outcome.stats
    assert stats is not None
    assert stats.malformed_frames == 0
    latency = stats.last_latency_ms
    # a latency sample comes only from a plausible stamp, and is then a finite number
    assert latency is None or abs(latency) < 2**53  # (NaN fails this too)


def test_trade_fixture_decodes() -> None:
    event = decode_message(TRADE)
    assert isinstance(event, TradesUpdate)
    assert event.result == (
        Trade(
            id=7,
            contract="BTC_USDT",
            price=Decimal("63994.5"),
            size=1,
            create_time=1786540580,
            create_time_ms=1786540580123,
        ),
    )
