"""Hypothesis strategies for every event `decode_message` can return (and the frames behind them).

Import what you need:

- `events`: any event of any kind; `data_events`, `reply_events` split them.
- one strategy per frame kind, named after the event class in snake case and plural:
  `trades_updates`, `order_book_updates`, `obu_updates`, `tickers_updates`,
  `book_ticker_updates`, `orders_updates`, ..., `subscribe_acks`, `error_replies`, `pongs`,
  `api_acks`, `api_results`, `api_errors`, `unknown_events`; `EVENT_STRATEGIES` maps each event
  class to its strategy.
- item records: `trades`, `tickers`, `book_levels`, `obu_levels`, `book_deltas`, `obu_deltas`, ...
- `plain_json`: free-form JSON values as the decoder returns them (non-integers are Decimal).
- `typed_path_events`: hot data events whose text needs no JSON escapes, so `decode_message`
  must take its msgspec path for them (tests/test_decode.py asserts it).

Field values come from the annotations in `_events` (one strategy per annotation, the same
table the decoder uses), so a new field is covered without touching this file. Frame events get
their `channel` from their class (it is the class's msgspec tag, not a constructor argument).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from hypothesis import strategies as st

from gatetrio._core import _events
from gatetrio._core._events import (
    DATA_EVENT_TYPES,
    ApiAck,
    ApiError,
    ApiHeader,
    ApiResult,
    BookLevel,
    ErrorReply,
    ObuDelta,
    ObuLevel,
    Pong,
    SubscribeAck,
    SystemNotice,
    Ticker,
    TickersUpdate,
    UnknownEvent,
    UpgradeRequested,
    record_fields,
)

if TYPE_CHECKING:
    import msgspec

SearchStrategy = st.SearchStrategy

# --------------------------------------------------------------------------------- scalars

# Any text: quotes, backslashes, controls and non-ASCII exercise JSON escaping.
any_text = st.text(max_size=12)
# Text that JSON writes without escapes and that cannot spell the key "error".
plain_text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"), exclude_characters='"\\'),
    max_size=12,
).filter(lambda s: "error" not in s)

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
ints = st.one_of(
    st.integers(-(2**31), 2**31),
    st.integers(2**53, INT64_MAX),  # order ids beyond float precision (spec 7.1)
    st.integers(INT64_MIN, INT64_MAX),  # Gate's ints are int64; beyond is hostile_ints
)
times = st.integers(0, 2**41)
finite_decimals = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False),
    st.decimals(min_value=-(10**9), max_value=10**9, places=6),
    st.sampled_from([Decimal("2.895e-05"), Decimal("63209.0"), Decimal("-0"), Decimal("1E+3")]),
)
# Wire text of a number as Gate writes it (BookLevel.p / Ticker fields keep it unconverted).
decimal_texts = st.one_of(finite_decimals.map(str), st.sampled_from(["63964.7", "2.895e-05"]))
sizes = st.one_of(ints, finite_decimals)


# What a hostile server may put where a value belongs (spec 15 errata: none of it is Gate's).
hostile_ints = st.one_of(
    st.sampled_from([INT64_MAX + 1, INT64_MIN - 1, 2**64, 10**400 - 1, -(10**400)]),
    st.integers(min_value=INT64_MAX + 1),
    st.integers(max_value=INT64_MIN - 1),
)
hostile_json_texts = st.sampled_from(
    ["1e400", "-1e400", "1E+999999999", "NaN", "-Infinity", "Infinity", "null", "9" * 401,
     '"NaN"', '"Infinity"', '"-inf"', '"sNaN"', '"1e400"', '"' + "9" * 5000 + '"',
     "[" * 10_000 + "]" * 10_000, "[[[[1]]]]", "{}", "[]", "true", "-0", "0.0", '""',
     '"' + "x" * 100_000 + '"', "1" + "0" * 5000]
)  # fmt: skip
"""JSON text of a hostile value: out-of-range numbers, NaN spelled every way, deep nesting,
huge strings, wrong types."""
hostile_values: SearchStrategy[object] = st.one_of(
    hostile_ints,
    st.sampled_from([None, True, False, "", "NaN", "Infinity", "-Infinity", "1e400", [], {}]),
    st.decimals(allow_nan=False, allow_infinity=False).map(lambda d: d.scaleb(400)),
    st.text(max_size=4),
)
"""A hostile value as a Python object (encode it with decimal_format="number")."""


def plain_json_values(text: SearchStrategy[str] = any_text) -> SearchStrategy[Any]:
    """Free-form JSON as the decoders return it: dict/list/str/int/Decimal/bool/None."""
    leaves = st.one_of(st.none(), st.booleans(), ints, finite_decimals, text)
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
        max_leaves=8,
    )


plain_json = plain_json_values()


def _levels(cls: type[BookLevel], text: SearchStrategy[str]) -> SearchStrategy[Any]:
    price = st.one_of(decimal_texts, text)
    level = st.builds(cls, p=price, s=st.one_of(ints, decimal_texts, text))
    return st.lists(level, max_size=6).map(tuple)


def _scalars(text: SearchStrategy[str]) -> dict[str, SearchStrategy[Any]]:
    optional_decimals = st.none() | finite_decimals
    return {
        "int": ints,
        "str": text,
        "bool": st.booleans(),
        "Decimal": finite_decimals,
        "Decimal | None": optional_decimals,
        "Size": sizes,
        "Size | None": st.none() | sizes,
        "str | int": text | ints,
        "int | str": ints | text,
        "int | None": st.none() | ints,
        "object": plain_json_values(text),
        "tuple[str, ...] | None": st.none() | st.lists(text, max_size=3).map(tuple),
        "tuple[BookLevel, ...]": _levels(BookLevel, text),
        "tuple[ObuLevel, ...]": _levels(ObuLevel, text),
    }


# ----------------------------------------------------------------------------- by annotation


class _Kit:
    """The strategies for every record, built over one text strategy."""

    def __init__(self, text: SearchStrategy[str]) -> None:
        self.text = text
        self.scalars = _scalars(text)
        self.cache: dict[str, SearchStrategy[Any]] = {}

    def for_annotation(self, annotation: str) -> SearchStrategy[Any]:
        if annotation in self.scalars:
            return self.scalars[annotation]
        if annotation in self.cache:
            return self.cache[annotation]
        inner = annotation.removesuffix(" | None")
        if inner.startswith("tuple[") and inner.endswith(", ...]"):
            item = self.record(getattr(_events, inner[6:-6]))
            built: SearchStrategy[Any] = st.lists(item, max_size=3).map(tuple)
        else:
            built = self.record(getattr(_events, inner))
        if inner != annotation:
            built = st.none() | built
        self.cache[annotation] = built
        return built

    def record(self, cls: type) -> SearchStrategy[Any]:
        if cls is Ticker:
            return self.ticker()
        if cls is ObuDelta:
            return self.obu_delta()
        fields = {f.name: self.for_annotation(f.annotation) for f in record_fields(cls)}
        return st.builds(cls, **fields)

    def ticker(self) -> SearchStrategy[Ticker]:
        # Tickers take Decimals or wire text for their decimal fields; both must survive, and
        # so must malformed text, which only fails when the field is read.
        number = st.one_of(finite_decimals, decimal_texts, st.just(""), self.text)
        optional = st.none() | number
        decimal_names = [
            "change_percentage", "total_size", "volume_24h", "volume_24h_base",
            "volume_24h_quote", "volume_24h_settle", "mark_price", "index_price",
            "funding_rate", "funding_rate_indicative", "low_24h", "high_24h", "change_price",
        ]  # fmt: skip
        return st.builds(
            Ticker,
            contract=self.text,
            last=st.one_of(finite_decimals, decimal_texts),
            **dict.fromkeys(decimal_names, optional),
            quanto_base_rate=st.sampled_from(["", "2.895e-05"]) | self.text,
            price_type=st.sampled_from(["last", "mark", "index"]) | self.text,
            change_from=self.text,
            funding_interval=ints,
            funding_offset=ints,
            funding_next_apply=ints,
            t=ints,
            event_type=st.sampled_from(["", "snapshot"]) | self.text,
        )

    def obu_delta(self) -> SearchStrategy[ObuDelta]:
        stream = st.builds("ob.{}.{}".format, self.text, st.sampled_from(["400", "50"])) | self.text
        fields = {f.name: self.for_annotation(f.annotation) for f in record_fields(ObuDelta)}
        return st.builds(ObuDelta, **(fields | {"s": stream}))

    def data_event(self, cls: type) -> SearchStrategy[Any]:
        fields = {f.name: f for f in record_fields(cls)}
        default_event = str(fields["event"].default)
        return st.builds(
            cls,
            result=self.for_annotation(fields["result"].annotation),
            time=times,
            time_ms=times,
            event=st.sampled_from(sorted({default_event, "update", "all", ""})),
        )


_any = _Kit(any_text)
_plain = _Kit(plain_text)


# ----------------------------------------------------------------------------- data events

DATA_EVENT_CLASSES: tuple[type[msgspec.Struct], ...] = tuple(
    cls for group in DATA_EVENT_TYPES.values() for cls in group
)
_DATA = {cls: _any.data_event(cls) for cls in DATA_EVENT_CLASSES}

tickers_updates = _DATA[TickersUpdate]
trades_updates = _DATA[_events.TradesUpdate]
book_ticker_updates = _DATA[_events.BookTickerUpdate]
order_book_updates = _DATA[_events.OrderBookUpdate]
obu_updates = _DATA[_events.ObuUpdate]
order_book_snapshots = _DATA[_events.OrderBookSnapshot]
legacy_order_book_updates = _DATA[_events.LegacyOrderBookUpdate]
candlesticks_updates = _DATA[_events.CandlesticksUpdate]
public_liquidations_updates = _DATA[_events.PublicLiquidationsUpdate]
contract_stats_updates = _DATA[_events.ContractStatsUpdate]
contract_info_updates = _DATA[_events.ContractInfoUpdate]
adl_warning_updates = _DATA[_events.AdlWarningUpdate]
orders_updates = _DATA[_events.OrdersUpdate]
user_trades_updates = _DATA[_events.UserTradesUpdate]
liquidations_updates = _DATA[_events.LiquidationsUpdate]
auto_deleverages_updates = _DATA[_events.AutoDeleveragesUpdate]
position_closes_updates = _DATA[_events.PositionClosesUpdate]
balances_updates = _DATA[_events.BalancesUpdate]
reduce_risk_limits_updates = _DATA[_events.ReduceRiskLimitsUpdate]
positions_updates = _DATA[_events.PositionsUpdate]
position_adl_ranks_updates = _DATA[_events.PositionAdlRanksUpdate]
auto_orders_updates = _DATA[_events.AutoOrdersUpdate]

# item records
trades = _any.record(_events.Trade)
tickers = _any.record(Ticker)
book_tickers = _any.record(_events.BookTicker)
book_deltas = _any.record(_events.BookDelta)
obu_deltas = _any.record(ObuDelta)
book_levels = _levels(BookLevel, any_text)
obu_levels = _levels(ObuLevel, any_text)
orders = _any.record(_events.Order)

# ---------------------------------------------------------------------------------- replies

_KNOWN_CHANNELS = frozenset(DATA_EVENT_TYPES) | {"futures.pong", "futures.system"}
_REPLY_EVENTS = ("subscribe", "unsubscribe")

subscribe_acks = st.builds(
    SubscribeAck,
    channel=any_text | st.sampled_from(sorted(DATA_EVENT_TYPES)),
    event=st.sampled_from(_REPLY_EVENTS),
    id=st.none() | ints,
    payload=st.none() | st.lists(any_text, max_size=3).map(tuple),
    conn_id=any_text,
    trace_id=any_text,
    time=times,
    time_ms=times,
)
error_replies = st.builds(
    ErrorReply,
    channel=any_text | st.sampled_from(["", "futures.obu", "futures.orders"]),
    event=any_text | st.sampled_from(["", *_REPLY_EVENTS, "update"]),
    code=ints,
    message=any_text | st.just('{"label":"INVALID_KEY","message":"Invalid key provided"}\n'),
    id=st.none() | ints,
    payload=st.none() | st.lists(any_text, max_size=3).map(tuple),
    conn_id=any_text,
    trace_id=any_text,
    time=times,
    time_ms=times,
)
pongs = st.builds(Pong, time=times, time_ms=times, conn_id=any_text)
upgrades_requested = st.builds(UpgradeRequested, msg=any_text, time=times, time_ms=times)
system_notices = st.builds(
    SystemNotice,
    type=(any_text | st.sampled_from(["invalid_sbe_schema_id", "outdated_sbe_schema_id"])).filter(
        lambda kind: kind != "upgrade"
    ),
    msg=any_text,
    data=plain_json,
    time=times,
    time_ms=times,
)
api_headers = st.builds(
    ApiHeader,
    **{f.name: _any.for_annotation(f.annotation) for f in record_fields(ApiHeader)},
)
api_acks = st.builds(ApiAck, request_id=any_text, header=api_headers, result=plain_json)
api_results = st.builds(ApiResult, request_id=any_text, header=api_headers, result=plain_json)
api_errors = st.builds(
    ApiError,
    request_id=any_text,
    header=api_headers,
    label=any_text | st.sampled_from(["TOO_MANY_REQUESTS", "INVALID_KEY"]),
    message=any_text,
)
unknown_events = st.builds(
    UnknownEvent,
    channel=(any_text | st.sampled_from(["spot.trades", "futures.login"])).filter(
        lambda channel: channel not in _KNOWN_CHANNELS
    ),
    event=any_text.filter(lambda event: event not in _REPLY_EVENTS),
    time=times,
    time_ms=times,
    result=plain_json,
)

EVENT_STRATEGIES: dict[type, SearchStrategy[Any]] = {
    **_DATA,
    SubscribeAck: subscribe_acks,
    ErrorReply: error_replies,
    Pong: pongs,
    UpgradeRequested: upgrades_requested,
    SystemNotice: system_notices,
    ApiAck: api_acks,
    ApiResult: api_results,
    ApiError: api_errors,
    UnknownEvent: unknown_events,
}
data_events = st.one_of(list(_DATA.values()))
reply_events = st.one_of(
    [strategy for cls, strategy in EVENT_STRATEGIES.items() if cls not in _DATA]
)
events = st.one_of(list(EVENT_STRATEGIES.values()))

# Hot kinds with escape-free text: decode_message must decode these on its msgspec path.
TYPED_PATH_CLASSES: tuple[type, ...] = (
    TickersUpdate,
    _events.TradesUpdate,
    _events.BookTickerUpdate,
    _events.OrderBookUpdate,
    _events.ObuUpdate,
    _events.CandlesticksUpdate,
    _events.PublicLiquidationsUpdate,
    _events.OrdersUpdate,
    _events.UserTradesUpdate,
    _events.PositionsUpdate,
    _events.BalancesUpdate,
    _events.LiquidationsUpdate,
    _events.ContractStatsUpdate,
    _events.ContractInfoUpdate,
)


def _typed_path(cls: type) -> SearchStrategy[Any]:
    strategy = _plain.data_event(cls)
    if cls is _events.BookTickerUpdate:  # an empty side is "" on the wire: the reference's job
        strategy = strategy.filter(lambda ev: None not in (ev.result.b, ev.result.a))
    return strategy


typed_path_events = st.one_of([_typed_path(cls) for cls in TYPED_PATH_CLASSES])


# --------------------------------------------------------------------- hostile server scripts
# What a hostile server does and when (tests/scripted.py): scripts for successive connections,
# each a handshake, maybe the subscribe answered, then moves drawn from everything a server can
# put on the wire, with sleeps drawn around the client's deadlines (tests/hostile_run.py's
# config: ping every 5 s, pong within 3, connect and subscribe within 5, reconnects 0.5-2 s).


VIRTUAL_SLEEPS = (
    0.0,
    0.001,
    0.3,
    0.5,
    2.9,
    3.0,
    3.1,
    5.0,
    8.0,
)  # around hostile_config's deadlines
LOOPBACK_SLEEPS = (0.0, 0.001, 0.01, 0.05, 0.1, 0.3)  # real seconds: short


def _hostile_moves(sleep_times: tuple[float, ...]) -> SearchStrategy[Any]:
    from . import scripted as s

    frames = s.frame
    raw = st.sampled_from(
        [
            frames(s.TEXT, b"{}", rsv=4),
            frames(0x3, b"x"),
            frames(s.PING, b"p", fin=False),
            frames(s.PING, b"p" * 126),
            frames(s.CONTINUATION, b"x"),
            frames(s.TEXT, b"a", fin=False),  # a message left open (or a new one inside it)
            frames(s.CONTINUATION, b"b"),
            frames(s.TEXT, b"{}", mask=b"abcd"),
            frames(s.TEXT, b"hi", length_form=2),
            frames(s.TEXT, length=1 << 63, length_form=8),
            frames(s.BINARY, length=1 << 40, length_form=8),
            s.text(b"\xff\xfe"),
            frames(s.CLOSE),
            frames(s.CLOSE, s.close_payload(1000, b"bye")),
            frames(s.CLOSE, s.close_payload(1006)),
            frames(s.CLOSE, s.close_payload(4000, b"\xff")),
            frames(s.CLOSE, b"\x03"),
            frames(s.PING, b"ping"),
            frames(s.PONG, b"pong"),
            frames(s.BINARY, b"\x00\x01"),
            s.text(b""),
            s.text(b"\xef\xbb\xbf{}"),  # a BOM
            s.pong_text(),
            s.upgrade_text(),
            s.upgrade_text() * 20,
            s.text(b'{"channel":"futures.trades","event":"subscribe","id":1,"result":{}}'),
            s.text(b'{"channel":"futures.trades","event":"subscribe","error":{"code":"x"}}'),
            s.text(b'{"header":{"status":"200","channel":"futures.login"},"request_id":"9"}'),
            s.text(b'{"channel":"futures.new","event":"update","result":1}'),
        ]
    )
    json_text = hostile_json_texts.map(lambda t: s.text(t.encode()))
    trades = st.integers(1, 10**6).map(s.trade_text)
    cut_trade = st.builds(
        lambda size, ping: s.fragments(
            s.TEXT, s.trade_json(7), size, between=s.frame(s.PING, b"!") if ping else b""
        ),
        st.sampled_from([1, 2, 9, 50]),
        st.booleans(),
    )
    sends = st.one_of(raw, json_text, trades, cut_trade).map(s.Send)
    sleeps = st.sampled_from(sleep_times).map(s.Sleep)
    trickles = st.builds(s.Trickle, trades, st.sampled_from(sleep_times[1:3]), st.integers(1, 40))
    repeats = st.builds(
        s.Repeat, st.one_of(raw, trades), st.integers(1, 50), st.sampled_from([0.0, 0.1])
    )
    return st.one_of(
        sends, sends, sends, sleeps, sleeps, trickles, repeats, st.just(s.Eof()), st.just(s.Hold())
    )


def _hostile_upgrades() -> SearchStrategy[Any]:
    from . import scripted as s

    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\n\r\n"
    answers = st.sampled_from(
        [
            lambda key: s.upgrade_response(key, before=interim),
            lambda key: s.upgrade_response(key, accept=b"wrong"),
            lambda key: s.upgrade_response(key, upgrade=None),
            lambda key: s.upgrade_response(key, extra=[(b"Sec-WebSocket-Extensions", b"x")]),
            lambda key: s.upgrade_response(key, status=b"HTTP/1.0 101 Switching Protocols"),
            lambda key: s.upgrade_response(key) + s.trade_text(7),
            lambda _key: b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n",
            lambda _key: b"SSH-2.0-x\r\n",
            lambda _key: b"",
        ]
    )
    return st.one_of(
        st.just(s.Upgrade()),
        st.just(s.Upgrade()),
        st.builds(s.Upgrade, answers, st.sampled_from([None, None, 0.001])),
    )


@st.composite
def hostile_script(
    draw: st.DrawFn, *, max_moves: int = 8, sleeps: tuple[float, ...] = VIRTUAL_SLEEPS
) -> Any:
    """One connection's script: a handshake, maybe the subscribe answered, then moves."""
    from . import scripted as s

    steps: list[Any] = [draw(_hostile_upgrades())]
    answer = draw(st.sampled_from(["ack", "ack", "error", "none"]))
    if answer != "none":
        steps.append(
            s.Await("futures.trades", "subscribe", limit=draw(st.sampled_from([1.0, 10.0])))
        )
        error = {"code": draw(st.sampled_from([2, "2", "x", None])), "message": "refused"}
        steps.append(s.Reply(s.ack_for if answer == "ack" else lambda r: s.error_for(r, error)))
    steps.extend(draw(st.lists(_hostile_moves(sleeps), max_size=max_moves)))
    return s.Script(
        tuple(steps),
        pong=draw(st.booleans()),
        ack=draw(st.booleans()),
        close_reply=draw(st.booleans()),
    )


hostile_scripts = st.lists(hostile_script(), min_size=1, max_size=3)
"""Scripts for a client's first connections (tests/test_hostile_property.py)."""
loopback_hostile_scripts = st.lists(hostile_script(sleeps=LOOPBACK_SLEEPS), min_size=1, max_size=3)
"""The same with real-time sleeps short enough for loopback runs."""
