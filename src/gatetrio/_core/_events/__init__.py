"""Inbound events: one frozen record per kind of frame Gate sends.

Frame-level events keep Gate's envelope names (`time`, `time_ms`, `channel`, `event`, `result`) so
the decoder can build them in one pass; `result` holds typed item records. Item records keep Gate's
field names verbatim (`U`, `u`, `b`, `B`, ...) for the same reason and so that the spec's field
tables apply unchanged.

Records are frozen `msgspec.Struct`s, not attrs classes: msgspec builds a Struct about 1.6x
faster than an attrs instance (slotted or not, frozen or not), and without that the decoder
misses its 2x-json.loads target on every kind (benchmarks/README.md, "Decode"). They behave as
attrs records do: keyword or positional construction, immutable, value equality, hashable,
`match` support; use `msgspec.structs.replace(record, field=...)` where attrs has `evolve`.
`gc=False` wherever a record cannot hold free-form JSON (and so cannot take part in a cycle).

Types (spec section 10):
- prices and decimal strings are `decimal.Decimal` (exponent forms such as "2.895e-05" included),
  always finite; a field Gate may send as `""` or omit is `Decimal | None`;
- sizes are `int` without the `X-Gate-Size-Decimal` header and `Decimal` with it (`Size`);
- ids are Python ints (exact beyond 2**53); usertrade ids are strings, as Gate sends them;
- times are the documented unit of each field: `*_ms`/`t` milliseconds, `time`/`create_time`
  seconds, candlestick `t` seconds.

Two kinds keep Gate's text and convert on access, for throughput (benchmarks/README.md):
order-book levels (`BookLevel.price`/`.size`; ~40 Decimals per book frame would halve decode
speed, and the order book converts each level once when it applies it) and tickers (`Ticker`;
~14 decimals a ticker). A malformed value there raises `ProtocolError` when it is read.

No validators here: the decoder is the only producer from untrusted input and validates once.

This package: the public item records, the frame records and the unions (here), the private
channels' records (`_private.py`), the `Ticker` facade (`_ticker.py`), replies and notices
(`_replies.py`), field reflection (`_schema.py`). Which
channel routes how is `_core/_catalog.py`; `DataEvent` and `Item` are declared here statically
(typing cannot compute a union) and a test holds them equal to the catalogue.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, TypeAlias, get_args

import msgspec

from ._private import AutoDeleverage as AutoDeleverage
from ._private import AutoOrder as AutoOrder
from ._private import Balance as Balance
from ._private import Liquidation as Liquidation
from ._private import Order as Order
from ._private import Position as Position
from ._private import PositionAdlRank as PositionAdlRank
from ._private import PositionClose as PositionClose
from ._private import ReduceRiskLimit as ReduceRiskLimit
from ._private import UserTrade as UserTrade
from ._private import with_raw as with_raw
from ._replies import ApiAck as ApiAck
from ._replies import ApiError as ApiError
from ._replies import ApiHeader as ApiHeader
from ._replies import ApiResult as ApiResult
from ._replies import ErrorReply as ErrorReply
from ._replies import Pong as Pong
from ._replies import SubscribeAck as SubscribeAck
from ._replies import SystemNotice as SystemNotice
from ._replies import UnknownEvent as UnknownEvent
from ._replies import UpgradeRequested as UpgradeRequested
from ._schema import REQUIRED as REQUIRED
from ._schema import FieldSpec as FieldSpec
from ._schema import Int64 as Int64  # how msgspec sees every `int` field: Gate's are int64
from ._schema import Size as Size
from ._schema import find_records, resolve_annotations
from ._schema import record_fields as record_fields
from ._ticker import DECIMAL_CACHE_LIMIT, DECIMALS, cached_decimal, decimal_value
from ._ticker import Ticker as Ticker
from ._ticker import TickerText as TickerText

_ZERO = Decimal(0)  # the size of a deleted level, shared


def _size(raw: int | str) -> Size:
    if isinstance(raw, int):
        return raw
    if raw == "0":  # a deleted level: about a fifth of all obu levels
        return _ZERO
    return decimal_value(raw, "size")


class BookLevel(msgspec.Struct, frozen=True, gc=False):
    """One price level as Gate sends it: `p` price text, `s` absolute size (0 deletes the level).

    Levels are the most numerous objects on the hot path, so they keep Gate's text: the text is
    validated when converted, and `.price` and `.size` raise `ProtocolError` on a malformed value
    (prices go through a bounded text->Decimal cache shared by all levels and tickers).
    """

    p: str
    s: int | str

    # Both reads are inlined (no helper call on a hit, one on a price miss): they are the hot
    # reads of a consumer that reads every level (benchmarks/README.md, "Decimal reads").

    @property
    def price(self) -> Decimal:
        text = self.p
        try:
            value = DECIMALS.get(text)
        except TypeError:  # unhashable: not text (a hand-built level); the miss path says so
            value = None
        if value is not None:
            return value
        if type(text) is str:  # a miss, inline: `cached_decimal` without its call
            try:
                value = Decimal(text)
            except ArithmeticError:
                value = None  # the call below raises ProtocolError
            if value is not None and value.is_finite():
                if len(DECIMALS) >= DECIMAL_CACHE_LIMIT:
                    DECIMALS.clear()
                DECIMALS[text] = value
                return value
        return cached_decimal(text, "price")

    @property
    def size(self) -> Size:
        raw = self.s
        if type(raw) is str:
            if raw == "0":
                return _ZERO
            try:
                value = Decimal(raw)
            except ArithmeticError:
                return decimal_value(raw, "size")  # raises ProtocolError
            if value.is_finite():
                return value
            return decimal_value(raw, "size")  # raises ProtocolError
        if isinstance(raw, int):
            return raw
        return decimal_value(raw, "size")  # raises ProtocolError


class ObuLevel(BookLevel, frozen=True, gc=False, array_like=True):
    """A `futures.obu` level, sent as a `[price, size]` array of strings."""


# --------------------------------------------------------------------------- public channels


class Trade(msgspec.Struct, frozen=True, gc=False):
    """A public trade; `size` is signed: positive = taker bought, negative = taker sold."""

    id: int
    contract: str
    price: Decimal
    size: Size
    create_time: int = 0
    create_time_ms: int = 0
    is_internal: bool = False


class BookTicker(msgspec.Struct, frozen=True, gc=False):
    """Best bid/ask. `b`/`a` are None when that side is empty (Gate sends `""` and size 0)."""

    t: int
    u: int
    s: str
    b: Decimal | None
    B: Size
    a: Decimal | None
    A: Size


class BookDelta(msgspec.Struct, frozen=True, gc=False):
    """`futures.order_book_update` result: levels with absolute sizes for update ids `U..u`."""

    t: int
    s: str
    U: int
    u: int
    b: tuple[BookLevel, ...] = ()
    a: tuple[BookLevel, ...] = ()
    l: str = ""
    full: bool = False  # True: replaces the whole book for level `l`


class ObuDelta(msgspec.Struct, frozen=True, gc=False):
    """`futures.obu` result: `s` is the stream name `ob.<contract>.<level>`; full pushes lack U."""

    t: int
    s: str
    u: int
    U: int = 0
    b: tuple[ObuLevel, ...] = ()
    a: tuple[ObuLevel, ...] = ()
    full: bool = False

    @property
    def contract(self) -> str:
        # Split on the first and last dot: contract names never hold a dot, but be exact anyway.
        # A stream name without two dots (never seen) yields "".
        first, last = self.s.find("."), self.s.rfind(".")
        return self.s[first + 1 : last] if first < last else ""

    @property
    def level(self) -> str:
        return self.s[self.s.rfind(".") + 1 :] if "." in self.s else ""


class BookSnapshot(msgspec.Struct, frozen=True, gc=False):
    """`futures.order_book` event `all`: a full snapshot with book id `id`.

    Servers before 2022 and delivery omit `t` and/or `id` (spec 15): `t` is then 0, `id` None.
    """

    contract: str
    t: int = 0
    id: int | None = None
    asks: tuple[BookLevel, ...] = ()
    bids: tuple[BookLevel, ...] = ()
    l: str = ""


class LegacyBookEntry(msgspec.Struct, frozen=True, gc=False):
    """Legacy `futures.order_book` event `update` entry: `s` > 0 bid, `s` < 0 ask."""

    p: str
    s: int | str
    c: str
    id: int


class Candlestick(msgspec.Struct, frozen=True, gc=False):
    """A candle; `t` is the bucket open in seconds, `n` is `<interval>_<contract>`."""

    t: int
    o: Decimal
    h: Decimal
    l: Decimal
    c: Decimal
    n: str
    v: Size | None = None  # absent on mark_/index_ candles
    a: Decimal | None = None
    w: bool = False  # window closed

    @property
    def interval(self) -> str:
        return self.n.partition("_")[0]

    @property
    def contract(self) -> str:
        return self.n.partition("_")[2]


class PublicLiquidation(msgspec.Struct, frozen=True, gc=False):
    """A public liquidation; `time` is ms today and was seconds in older docs (see `time_ms`)."""

    contract: str
    price: Decimal
    size: Size
    time: int

    @property
    def time_ms(self) -> int:
        # 1e11 ms is 1973; 1e11 s is year 5138: any value below it is seconds.
        return self.time if self.time >= 100_000_000_000 else self.time * 1000


class ContractStats(msgspec.Struct, frozen=True, gc=False):
    """`futures.contract_stats` entry; every numeric field is number-or-string on the wire."""

    time: int
    contract: str = ""
    mark_price: Decimal | None = None
    lsr_taker: Decimal | None = None
    lsr_account: Decimal | None = None
    long_liq_size: Decimal | None = None
    short_liq_size: Decimal | None = None
    open_interest: Decimal | None = None
    short_liq_usd: Decimal | None = None
    long_liq_usd: Decimal | None = None
    short_liq_amount: Decimal | None = None
    long_liq_amount: Decimal | None = None
    open_interest_usd: Decimal | None = None
    top_lsr_account: Decimal | None = None
    top_lsr_size: Decimal | None = None


class RiskLimitTier(msgspec.Struct, frozen=True, gc=False):
    tier: int
    risk_limit: Decimal | None = None
    initial_rate: Decimal | None = None
    maintenance_rate: Decimal | None = None
    leverage_max: Decimal | None = None
    deduction: Decimal | None = None
    contract: str = ""


class ContractInfo(msgspec.Struct, frozen=True, gc=False):
    """`futures.contract_info`; an update that changes only precision omits the tiers."""

    contract: str
    quanto_multiplier: Decimal | None = None
    order_price_round: Decimal | None = None
    mark_price_round: Decimal | None = None
    risk_limit_tiers: tuple[RiskLimitTier, ...] | None = None


class AdlWarning(msgspec.Struct, frozen=True, gc=False):
    """`futures.adl_warning`: `state` is normal, warning or adl_risk; `update_time` in ms."""

    contract: str
    settle: str
    state: str
    update_time: int = 0


# ------------------------------------------------------------------------- frame-level events


PushEvent: TypeAlias = Annotated[str, msgspec.Meta(max_length=8)]
"""A push's `event` ("update", "all"; "" or absent on some obu pushes). A plain `str` to users;
to msgspec, at most 8 characters: "subscribe" and "unsubscribe" then fail the typed decode, so
acks on a data channel reach the reference decoder without a check in Python."""


class Frame(msgspec.Struct, frozen=True, gc=False, tag_field="channel", forbid_unknown_fields=True):
    """A channel push: `result` plus Gate's envelope (`time` s, `time_ms` ms, `event`).

    `channel` is the class's tag, so msgspec picks the class from the frame's own `channel` in
    one pass; it is read-only and not a constructor argument. `forbid_unknown_fields` only
    steers the decoder: an envelope with any other key (`error`, old `id`) is left to the
    reference decoder, which ignores unknown keys and turns a non-empty `error` into an
    ErrorReply.
    """

    result: object  # each channel narrows it; it stays the first field
    time: int = 0
    time_ms: int = 0
    event: PushEvent = "update"

    @property
    def channel(self) -> str:
        return str(self.__struct_config__.tag)


class TickersUpdate(Frame, tag="futures.tickers", frozen=True):
    result: tuple[Ticker, ...]


class TradesUpdate(Frame, tag="futures.trades", frozen=True):
    result: tuple[Trade, ...]


class BookTickerUpdate(Frame, tag="futures.book_ticker", frozen=True):
    result: BookTicker


class OrderBookUpdate(Frame, tag="futures.order_book_update", frozen=True):
    """`futures.order_book_update` push."""

    result: BookDelta


class ObuUpdate(Frame, tag="futures.obu", frozen=True):
    """`futures.obu` push; Gate may omit `time` and `event` (spec 6.6), so neither is required."""

    result: ObuDelta


class OrderBookSnapshot(Frame, tag="futures.order_book", frozen=True):
    """Legacy `futures.order_book` full snapshot (event `all`)."""

    result: BookSnapshot
    event: PushEvent = "all"


class LegacyOrderBookUpdate(Frame, tag="futures.order_book", frozen=True):
    """Legacy `futures.order_book` incremental push (event `update`, array of entries)."""

    result: tuple[LegacyBookEntry, ...]


class CandlesticksUpdate(Frame, tag="futures.candlesticks", frozen=True):
    result: tuple[Candlestick, ...]


class PublicLiquidationsUpdate(Frame, tag="futures.public_liquidates", frozen=True):
    """Always a tuple here, whether Gate sent an object (live 2026-08) or an array (docs)."""

    result: tuple[PublicLiquidation, ...]


class ContractStatsUpdate(Frame, tag="futures.contract_stats", frozen=True):
    result: tuple[ContractStats, ...]


class ContractInfoUpdate(Frame, tag="futures.contract_info", frozen=True):
    """`event` is `all` for the cached snapshot after subscribe, else `update`."""

    result: ContractInfo


class AdlWarningUpdate(Frame, tag="futures.adl_warning", frozen=True):
    result: AdlWarning


class OrdersUpdate(Frame, tag="futures.orders", frozen=True):
    result: tuple[Order, ...]


class UserTradesUpdate(Frame, tag="futures.usertrades", frozen=True):
    result: tuple[UserTrade, ...]


class LiquidationsUpdate(Frame, tag="futures.liquidates", frozen=True):
    result: tuple[Liquidation, ...]


class AutoDeleveragesUpdate(Frame, tag="futures.auto_deleverages", frozen=True):
    result: tuple[AutoDeleverage, ...]


class PositionClosesUpdate(Frame, tag="futures.position_closes", frozen=True):
    result: tuple[PositionClose, ...]


class BalancesUpdate(Frame, tag="futures.balances", frozen=True):
    result: tuple[Balance, ...]


class ReduceRiskLimitsUpdate(Frame, tag="futures.reduce_risk_limits", frozen=True):
    result: tuple[ReduceRiskLimit, ...]


class PositionsUpdate(Frame, tag="futures.positions", frozen=True):
    result: tuple[Position, ...]


class PositionAdlRanksUpdate(Frame, tag="futures.position_adl_rank", frozen=True):
    result: tuple[PositionAdlRank, ...]


class AutoOrdersUpdate(Frame, tag="futures.autoorders", frozen=True, gc=True):
    result: tuple[AutoOrder, ...]


DataEvent: TypeAlias = (
    TickersUpdate
    | TradesUpdate
    | BookTickerUpdate
    | OrderBookUpdate
    | ObuUpdate
    | OrderBookSnapshot
    | LegacyOrderBookUpdate
    | CandlesticksUpdate
    | PublicLiquidationsUpdate
    | ContractStatsUpdate
    | ContractInfoUpdate
    | AdlWarningUpdate
    | OrdersUpdate
    | UserTradesUpdate
    | LiquidationsUpdate
    | AutoDeleveragesUpdate
    | PositionClosesUpdate
    | BalancesUpdate
    | ReduceRiskLimitsUpdate
    | PositionsUpdate
    | PositionAdlRanksUpdate
    | AutoOrdersUpdate
)
"""Channel pushes: what subscriptions carry."""

ReplyEvent: TypeAlias = (
    SubscribeAck
    | ErrorReply
    | Pong
    | UpgradeRequested
    | SystemNotice
    | ApiAck
    | ApiResult
    | ApiError
)

Event: TypeAlias = DataEvent | ReplyEvent | UnknownEvent
"""Everything `decode_message` can return."""


Item: TypeAlias = (
    Ticker
    | Trade
    | BookTicker
    | BookDelta
    | ObuDelta
    | BookSnapshot
    | LegacyBookEntry
    | Candlestick
    | PublicLiquidation
    | ContractStats
    | ContractInfo
    | AdlWarning
    | Order
    | UserTrade
    | Liquidation
    | AutoDeleverage
    | PositionClose
    | Balance
    | ReduceRiskLimit
    | Position
    | PositionAdlRank
    | AutoOrder
)
"""One routed unit of pushed data: an element of a list result, or a single result."""


def record_classes() -> dict[str, type[msgspec.Struct]]:
    """Every event record class by name (frames, items, replies); not the levels, the
    ticker's text record or the frames' base class."""
    return find_records(globals(), exclude=(BookLevel, ObuLevel, TickerText, Frame))


resolve_annotations([*record_classes().values(), BookLevel, ObuLevel, TickerText, Frame], globals())

# channel name -> frame classes, for the decoders, the encoder and the fake exchange
DATA_EVENT_TYPES: dict[str, tuple[type[DataEvent], ...]] = {}
for _cls in get_args(DataEvent):
    _channel = str(_cls.__struct_config__.tag)
    DATA_EVENT_TYPES[_channel] = (*DATA_EVENT_TYPES.get(_channel, ()), _cls)
del _cls, _channel
