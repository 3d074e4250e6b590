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
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import (
    Annotated,
    Final,
    Generic,
    NamedTuple,
    Self,
    TypeAlias,
    TypeVar,
    final,
    get_args,
    get_type_hints,
    overload,
)

import msgspec

from ._errors import ProtocolError

Size: TypeAlias = int | Decimal


def _decimal_text(text: str, what: str) -> Decimal:
    # Text fields kept for speed (levels, tickers) are validated when converted, so a malformed
    # server value still surfaces as ProtocolError, never as decimal.InvalidOperation.
    try:
        value = Decimal(text)
    except (ArithmeticError, ValueError, TypeError):
        raise ProtocolError(f"{what} is not a decimal: {text!r}", raw=str(text)) from None
    if not value.is_finite():
        raise ProtocolError(f"{what} is not a finite decimal: {text!r}", raw=text)
    return value


def _size(raw: int | str) -> Size:
    return raw if isinstance(raw, int) else _decimal_text(raw, "size")


class BookLevel(msgspec.Struct, frozen=True, gc=False):
    """One price level as Gate sends it: `p` price text, `s` absolute size (0 deletes the level).

    Levels are the most numerous objects on the hot path, so they keep Gate's text: the text is
    validated when converted, and `.price` and `.size` raise `ProtocolError` on a malformed value
    (a new Decimal per access; the order book caches its conversions).
    """

    p: str
    s: int | str

    @property
    def price(self) -> Decimal:
        return _decimal_text(self.p, "price")

    @property
    def size(self) -> Size:
        return _size(self.s)


class ObuLevel(BookLevel, frozen=True, gc=False, array_like=True):
    """A `futures.obu` level, sent as a `[price, size]` array of strings."""


# --------------------------------------------------------------------------- public channels


class _TickerText(msgspec.Struct, frozen=True, gc=False):
    """A ticker as Gate sends it: the decimal fields keep their wire text (None when absent)."""

    contract: str
    last: str
    change_percentage: str | None = None
    total_size: str | None = None
    volume_24h: str | None = None
    volume_24h_base: str | None = None
    volume_24h_quote: str | None = None
    volume_24h_settle: str | None = None
    mark_price: str | None = None
    index_price: str | None = None
    funding_rate: str | None = None
    funding_rate_indicative: str | None = None
    low_24h: str | None = None
    high_24h: str | None = None
    change_price: str | None = None
    quanto_base_rate: str = ""
    price_type: str = ""
    change_from: str = ""
    funding_interval: int = 0
    funding_offset: int = 0
    funding_next_apply: int = 0
    t: int = 0
    event_type: str = ""


_T = TypeVar("_T")


class _TickerField(Generic[_T]):
    """A plain ticker attribute, read through from the wire record."""

    __slots__ = ("name",)

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type) -> Self: ...
    @overload
    def __get__(self, obj: Ticker, owner: type | None = None) -> _T: ...
    def __get__(self, obj: Ticker | None, owner: type | None = None) -> _T | Self:
        if obj is None:
            return self
        value: _T = getattr(obj._text, self.name)
        return value


class _TickerDecimal(_TickerField["Decimal | None"]):
    """An optional ticker decimal: None when Gate omitted it or sent `""`."""

    __slots__ = ()

    @overload
    def __get__(self, obj: None, owner: type) -> Self: ...
    @overload
    def __get__(self, obj: Ticker, owner: type | None = None) -> Decimal | None: ...
    def __get__(self, obj: Ticker | None, owner: type | None = None) -> Decimal | Self | None:
        if obj is None:
            return self
        text: str | None = getattr(obj._text, self.name)
        return _decimal_text(text, self.name) if text else None


class _TickerRequiredDecimal(_TickerField[Decimal]):
    __slots__ = ()

    @overload
    def __get__(self, obj: None, owner: type) -> Self: ...
    @overload
    def __get__(self, obj: Ticker, owner: type | None = None) -> Decimal: ...
    def __get__(self, obj: Ticker | None, owner: type | None = None) -> Decimal | Self:
        if obj is None:
            return self
        return _decimal_text(getattr(obj._text, self.name), self.name)


def _text_or_none(value: Decimal | str | None) -> str | None:
    return value if value is None or isinstance(value, str) else str(value)


@final
class Ticker:
    """One contract's `futures.tickers` entry; numeric fields read as `Decimal` (None if absent).

    A ticker carries ~14 decimal fields, and converting them all while decoding costs more than
    the rest of the frame (benchmarks/README.md, "Decode"). So a Ticker keeps Gate's text and
    converts a field when it is read: `ticker.last` is a fresh `Decimal` on each access (bind it
    to a name if you read it in a loop), and a malformed value raises `ProtocolError` there
    rather than in `decode_message`. Equality and hashing compare the wire text.

    Build one with Decimals or decimal strings: `Ticker("BTC_USDT", Decimal("63964.7"))`.
    """

    __slots__ = ("_text",)
    _text: _TickerText

    contract = _TickerField[str]()
    last = _TickerRequiredDecimal()
    change_percentage = _TickerDecimal()
    total_size = _TickerDecimal()  # open interest in contracts; a string even without the header
    volume_24h = _TickerDecimal()
    volume_24h_base = _TickerDecimal()
    volume_24h_quote = _TickerDecimal()
    volume_24h_settle = _TickerDecimal()
    mark_price = _TickerDecimal()
    index_price = _TickerDecimal()
    funding_rate = _TickerDecimal()
    funding_rate_indicative = _TickerDecimal()
    low_24h = _TickerDecimal()
    high_24h = _TickerDecimal()
    change_price = _TickerDecimal()
    quanto_base_rate = _TickerField[str]()  # often "", else a decimal string such as "2.895e-05"
    price_type = _TickerField[str]()
    change_from = _TickerField[str]()
    funding_interval = _TickerField[int]()
    funding_offset = _TickerField[int]()
    funding_next_apply = _TickerField[int]()
    t = _TickerField[int]()  # ms; 0 when Gate omitted it (seen in 2024)
    event_type = _TickerField[str]()

    def __init__(  # noqa: PLR0917  # positional too, in wire order, like every other record
        self,
        contract: str,
        last: Decimal | str,
        change_percentage: Decimal | str | None = None,
        total_size: Decimal | str | None = None,
        volume_24h: Decimal | str | None = None,
        volume_24h_base: Decimal | str | None = None,
        volume_24h_quote: Decimal | str | None = None,
        volume_24h_settle: Decimal | str | None = None,
        mark_price: Decimal | str | None = None,
        index_price: Decimal | str | None = None,
        funding_rate: Decimal | str | None = None,
        funding_rate_indicative: Decimal | str | None = None,
        low_24h: Decimal | str | None = None,
        high_24h: Decimal | str | None = None,
        change_price: Decimal | str | None = None,
        quanto_base_rate: str = "",
        price_type: str = "",
        change_from: str = "",
        funding_interval: int = 0,
        funding_offset: int = 0,
        funding_next_apply: int = 0,
        t: int = 0,
        event_type: str = "",
    ) -> None:
        d = _text_or_none
        self._text = _TickerText(
            contract,
            str(last),
            d(change_percentage),
            d(total_size),
            d(volume_24h),
            d(volume_24h_base),
            d(volume_24h_quote),
            d(volume_24h_settle),
            d(mark_price),
            d(index_price),
            d(funding_rate),
            d(funding_rate_indicative),
            d(low_24h),
            d(high_24h),
            d(change_price),
            quanto_base_rate,
            price_type,
            change_from,
            funding_interval,
            funding_offset,
            funding_next_apply,
            t,
            event_type,
        )

    @classmethod
    def _from_text(cls, text: _TickerText) -> Ticker:
        # The decoders' constructor: wraps an already-decoded wire record without copying it.
        ticker = _new_object(cls)
        ticker._text = text
        return ticker

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not Ticker:
            return NotImplemented
        return self._text == other._text

    def __hash__(self) -> int:
        return hash(self._text)

    def __repr__(self) -> str:
        return "Ticker" + repr(self._text).removeprefix("_TickerText")

    def __reduce__(self) -> tuple[object, ...]:
        return (Ticker._from_text, (self._text,))


_new_object = object.__new__


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
    """`futures.order_book` event `all`: a full snapshot with book id `id`."""

    t: int
    contract: str
    id: int
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


# -------------------------------------------------------------------------- private channels


class Order(msgspec.Struct, frozen=True, gc=False):
    """`futures.orders` entry. `size` and `left` are signed (+ buy, - sell)."""

    id: int
    contract: str
    size: Size
    price: Decimal
    status: str
    left: Size = 0
    fill_price: Decimal | None = None
    finish_as: str = ""
    create_time: int = 0
    create_time_ms: int = 0
    finish_time: int = 0
    finish_time_ms: int = 0
    update_time: int = 0
    update_id: int = 0
    text: str = ""
    tif: str = ""
    iceberg: Size = 0
    is_close: bool = False
    is_liq: bool = False
    is_reduce_only: bool = False
    mkfr: Decimal | None = None
    tkfr: Decimal | None = None
    fee: Decimal | None = None
    point_fee: Decimal | None = None
    user: str | int = ""
    id_string: str = ""
    role: str = ""
    amend_text: str = ""
    biz_info: str = ""
    stp_act: str = ""
    stp_id: str | int = ""
    pos_margin_mode: str = ""
    leverage: Decimal | None = None
    stop_loss_price: str = ""
    stop_profit_price: str = ""
    market_order_slip_ratio: str = ""


class UserTrade(msgspec.Struct, frozen=True, gc=False):
    """`futures.usertrades` entry; `id` and `order_id` are strings on the wire."""

    id: str
    order_id: str
    contract: str
    size: Size
    price: Decimal
    role: str = ""
    text: str = ""
    fee: Decimal | None = None
    point_fee: Decimal | None = None
    create_time: int = 0
    create_time_ms: int = 0
    amend_text: str = ""
    biz_info: str = ""
    close_size: Decimal | None = None


class Liquidation(msgspec.Struct, frozen=True, gc=False):
    contract: str
    size: Size
    order_id: int = 0
    time: int = 0
    time_ms: int = 0
    user: str | int = ""
    entry_price: Decimal | None = None
    fill_price: Decimal | None = None
    liq_price: Decimal | None = None
    mark_price: Decimal | None = None
    order_price: Decimal | None = None
    margin: Decimal | None = None
    leverage: Decimal | None = None
    left: Size = 0
    order_size: Size = 0


class AutoDeleverage(msgspec.Struct, frozen=True, gc=False):
    contract: str
    position_size: Size
    trade_size: Size
    time: int = 0
    time_ms: int = 0
    user: str | int = ""
    entry_price: Decimal | None = None
    fill_price: Decimal | None = None
    pos_margin_mode: str = ""
    leverage: Decimal | None = None


class PositionClose(msgspec.Struct, frozen=True, gc=False):
    contract: str
    side: str
    pnl: Decimal | None = None
    text: str = ""
    time: int = 0
    time_ms: int = 0
    user: str | int = ""


class Balance(msgspec.Struct, frozen=True, gc=False):
    """`futures.balances` entry: the balance after one change of `type` (fee, pnl, dnw, ...)."""

    balance: Decimal
    change: Decimal
    type: str
    text: str = ""
    time: int = 0
    time_ms: int = 0
    user: str | int = ""
    currency: str = ""


class ReduceRiskLimit(msgspec.Struct, frozen=True, gc=False):
    contract: str
    cancel_orders: int = 0
    leverage_max: Decimal | None = None
    liq_price: Decimal | None = None
    maintenance_rate: Decimal | None = None
    risk_limit: Decimal | None = None
    time: int = 0
    time_ms: int = 0
    user: str | int = ""


class Position(msgspec.Struct, frozen=True, gc=False):
    """`futures.positions` entry; `size` is signed, `update_id` increments by one per push."""

    contract: str
    size: Size
    entry_price: Decimal | None = None
    liq_price: Decimal | None = None
    margin: Decimal | None = None
    realised_pnl: Decimal | None = None
    realised_point: Decimal | None = None
    history_pnl: Decimal | None = None
    history_point: Decimal | None = None
    last_close_pnl: Decimal | None = None
    leverage: Decimal | None = None
    leverage_max: Decimal | None = None
    maintenance_rate: Decimal | None = None
    risk_limit: Decimal | None = None
    cross_leverage_limit: Decimal | None = None
    mode: str = ""
    time: int = 0
    time_ms: int = 0
    update_id: int = 0
    user: str | int = ""
    pos_margin_mode: str = ""
    lever: Decimal | None = None


class PositionAdlRank(msgspec.Struct, frozen=True, gc=False):
    """`rank_division` 1-6: 1 is first in line for ADL, 6 is in liquidation."""

    contract: str
    rank_division: int
    mode: str = ""
    time_ms: int = 0
    user_id: int = 0


class AutoOrder(msgspec.Struct, frozen=True):
    """`futures.autoorders` entry; nested trigger/initial objects are kept as plain JSON."""

    id: int
    status: str
    user: str | int = ""
    trigger: object = None
    initial: object = None
    stop_trigger: object = None
    trade_id: int = 0
    reason: str = ""
    create_time: int = 0
    finish_time: int = 0
    finish_as: str = ""
    name: str = ""
    order_type: str = ""
    id_string: str = ""
    me_order_id: str = ""
    is_stop_order: bool = False


# ------------------------------------------------------------------------- frame-level events


PushEvent: TypeAlias = Annotated[str, msgspec.Meta(max_length=8)]
"""A push's `event` ("update", "all"; "" or absent on some obu pushes). A plain `str` to users;
to msgspec, at most 8 characters: "subscribe" and "unsubscribe" then fail the typed decode, so
acks on a data channel reach the reference decoder without a check in Python."""


class _Frame(
    msgspec.Struct, frozen=True, gc=False, tag_field="channel", forbid_unknown_fields=True
):
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


class TickersUpdate(_Frame, tag="futures.tickers", frozen=True):
    result: tuple[Ticker, ...]


class TradesUpdate(_Frame, tag="futures.trades", frozen=True):
    result: tuple[Trade, ...]


class BookTickerUpdate(_Frame, tag="futures.book_ticker", frozen=True):
    result: BookTicker


class OrderBookUpdate(_Frame, tag="futures.order_book_update", frozen=True):
    """`futures.order_book_update` push."""

    result: BookDelta


class ObuUpdate(_Frame, tag="futures.obu", frozen=True):
    """`futures.obu` push; Gate may omit `time` and `event` (spec 6.6), so neither is required."""

    result: ObuDelta


class OrderBookSnapshot(_Frame, tag="futures.order_book", frozen=True):
    """Legacy `futures.order_book` full snapshot (event `all`)."""

    result: BookSnapshot
    event: PushEvent = "all"


class LegacyOrderBookUpdate(_Frame, tag="futures.order_book", frozen=True):
    """Legacy `futures.order_book` incremental push (event `update`, array of entries)."""

    result: tuple[LegacyBookEntry, ...]


class CandlesticksUpdate(_Frame, tag="futures.candlesticks", frozen=True):
    result: tuple[Candlestick, ...]


class PublicLiquidationsUpdate(_Frame, tag="futures.public_liquidates", frozen=True):
    """Always a tuple here, whether Gate sent an object (live 2026-08) or an array (docs)."""

    result: tuple[PublicLiquidation, ...]


class ContractStatsUpdate(_Frame, tag="futures.contract_stats", frozen=True):
    result: tuple[ContractStats, ...]


class ContractInfoUpdate(_Frame, tag="futures.contract_info", frozen=True):
    """`event` is `all` for the cached snapshot after subscribe, else `update`."""

    result: ContractInfo


class AdlWarningUpdate(_Frame, tag="futures.adl_warning", frozen=True):
    result: AdlWarning


class OrdersUpdate(_Frame, tag="futures.orders", frozen=True):
    result: tuple[Order, ...]


class UserTradesUpdate(_Frame, tag="futures.usertrades", frozen=True):
    result: tuple[UserTrade, ...]


class LiquidationsUpdate(_Frame, tag="futures.liquidates", frozen=True):
    result: tuple[Liquidation, ...]


class AutoDeleveragesUpdate(_Frame, tag="futures.auto_deleverages", frozen=True):
    result: tuple[AutoDeleverage, ...]


class PositionClosesUpdate(_Frame, tag="futures.position_closes", frozen=True):
    result: tuple[PositionClose, ...]


class BalancesUpdate(_Frame, tag="futures.balances", frozen=True):
    result: tuple[Balance, ...]


class ReduceRiskLimitsUpdate(_Frame, tag="futures.reduce_risk_limits", frozen=True):
    result: tuple[ReduceRiskLimit, ...]


class PositionsUpdate(_Frame, tag="futures.positions", frozen=True):
    result: tuple[Position, ...]


class PositionAdlRanksUpdate(_Frame, tag="futures.position_adl_rank", frozen=True):
    result: tuple[PositionAdlRank, ...]


class AutoOrdersUpdate(_Frame, tag="futures.autoorders", frozen=True, gc=True):
    result: tuple[AutoOrder, ...]


# ---------------------------------------------------------------------- replies and notices


class SubscribeAck(msgspec.Struct, frozen=True, gc=False):
    """A successful subscribe or unsubscribe (`event` tells which)."""

    channel: str
    event: str
    id: int | None = None
    payload: tuple[str, ...] | None = None
    conn_id: str = ""
    trace_id: str = ""
    time: int = 0
    time_ms: int = 0  # 0 on 2023 acks


# code 4 reads `{"label":"INVALID_KEY","message":...}\n`; older auth errors embed the same object
# after other text (spec 2.4), so search rather than parse.
_LABEL_IN_MESSAGE: Final = re.compile(r'"label"\s*:\s*"([^"\\]*)"')


class ErrorReply(msgspec.Struct, frozen=True, gc=False):
    """`{"error": {"code", "message"}}`: a failed subscribe/unsubscribe or a malformed request.

    Malformed JSON from the client gets code 1 with empty `channel` and `event`.
    """

    channel: str
    event: str
    code: int
    message: str
    id: int | None = None
    payload: tuple[str, ...] | None = None
    conn_id: str = ""
    trace_id: str = ""
    time: int = 0
    time_ms: int = 0

    @property
    def label(self) -> str:
        """The `label` Gate sometimes nests as JSON inside `message` (e.g. "INVALID_KEY"), or ""."""
        found = _LABEL_IN_MESSAGE.search(self.message)
        return found.group(1) if found else ""


class Pong(msgspec.Struct, frozen=True, gc=False):
    """Reply to futures.ping."""

    time: int = 0
    time_ms: int = 0
    conn_id: str = ""


class UpgradeRequested(msgspec.Struct, frozen=True, gc=False):
    """`futures.system` upgrade notice: the server will close this connection soon."""

    msg: str = ""
    time: int = 0
    time_ms: int = 0


class SystemNotice(msgspec.Struct, frozen=True):
    """Any other `futures.system` notice (e.g. SBE schema messages)."""

    type: str
    msg: str = ""
    data: object = None
    time: int = 0
    time_ms: int = 0


class ApiHeader(msgspec.Struct, frozen=True, gc=False):
    """Trading-API response header. `status` and `response_time` are strings on the wire."""

    status: str
    channel: str
    response_time: str = ""
    event: str = "api"
    client_id: str = ""
    conn_id: str = ""
    conn_trace_id: str = ""
    trace_id: str = ""
    x_in_time: int = 0  # microseconds
    x_out_time: int = 0
    x_gate_ratelimit_requests_remain: int | None = None
    x_gate_ratelimit_limit: int | None = None
    x_gat_ratelimit_reset_timestamp: int | None = None  # Gate's own spelling (spec 8.3)
    x_gate_ratelimit_reset_timestamp: int | None = None

    @property
    def ratelimit_reset_ms(self) -> int | None:
        """The rate-limit window reset in ms, whichever spelling Gate used."""
        if self.x_gat_ratelimit_reset_timestamp is not None:
            return self.x_gat_ratelimit_reset_timestamp
        return self.x_gate_ratelimit_reset_timestamp


class ApiAck(msgspec.Struct, frozen=True):
    """First reply to order_place/order_batch_place: the request echo (`ack: true`)."""

    request_id: str
    header: ApiHeader
    result: object = None


class ApiResult(msgspec.Struct, frozen=True):
    """The final trading-API reply with `data.result` (plain JSON: an object or an array)."""

    request_id: str
    header: ApiHeader
    result: object = None


class ApiError(msgspec.Struct, frozen=True, gc=False):
    """A trading-API reply with `data.errs` (label + message)."""

    request_id: str
    header: ApiHeader
    label: str
    message: str


class UnknownEvent(msgspec.Struct, frozen=True):
    """A well-formed frame of a channel gatetrio does not model; `result` is plain JSON."""

    channel: str
    event: str = ""
    time: int = 0
    time_ms: int = 0
    result: object = None


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


class FieldSpec(NamedTuple):
    """One field of an event record, for code that walks records generically."""

    name: str
    annotation: str  # as written in this module: "Decimal | None", "tuple[Trade, ...]", ...
    default: object  # REQUIRED when the field has no default


REQUIRED: Final = msgspec.NODEFAULT
_ANNOTATION_TEXT: Final[dict[type, dict[str, str]]] = {}


def record_fields(cls: type[msgspec.Struct]) -> tuple[FieldSpec, ...]:
    """The fields of an event record class, in order, with their annotation text."""
    annotations: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        annotations.update(_ANNOTATION_TEXT.get(klass, {}))
    names = cls.__struct_fields__
    defaults = (REQUIRED,) * (len(names) - len(cls.__struct_defaults__)) + cls.__struct_defaults__
    return tuple(
        FieldSpec(name, annotations[name], default)
        for name, default in zip(names, defaults, strict=True)
    )


def record_classes() -> dict[str, type[msgspec.Struct]]:
    """Every event record class by name (frames, items, replies), levels excluded."""
    return {
        name: value
        for name, value in globals().items()
        if isinstance(value, type)
        and issubclass(value, msgspec.Struct)
        and value not in {BookLevel, ObuLevel, _TickerText}
        and not name.startswith("_")
    }


def _resolve_annotations() -> None:
    # msgspec, hypothesis and inspect.signature evaluate a Struct's string annotations in the
    # module named by its `__module__`. gatetrio/__init__ renames that to "gatetrio", where
    # `Decimal`, `Size`, ... are not defined; so resolve them here, once, keeping the text.
    others: list[type[msgspec.Struct]] = [BookLevel, ObuLevel, _TickerText, _Frame]
    for cls in [*record_classes().values(), *others]:
        own = dict(vars(cls).get("__annotations__", {}))
        _ANNOTATION_TEXT[cls] = own
        hints = get_type_hints(cls, globals(), include_extras=True)
        cls.__annotations__ = {name: hints[name] for name in own}


_resolve_annotations()

# channel name -> frame classes, for the decoders, the encoder and the fake exchange
DATA_EVENT_TYPES: dict[str, tuple[type[DataEvent], ...]] = {}
for _cls in get_args(DataEvent):
    _channel = str(_cls.__struct_config__.tag)
    DATA_EVENT_TYPES[_channel] = (*DATA_EVENT_TYPES.get(_channel, ()), _cls)
del _cls, _channel
