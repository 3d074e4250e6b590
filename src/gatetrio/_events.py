"""Inbound events: one frozen record per kind of frame Gate sends.

Frame-level events keep Gate's envelope names (`time`, `time_ms`, `channel`, `event`, `result`) so
the decoder can build them in one pass; `result` holds typed item records. Item records keep Gate's
field names verbatim (`U`, `u`, `b`, `B`, ...) for the same reason and so that the spec's field
tables apply unchanged.

Types (spec section 10):
- prices and decimal strings are `decimal.Decimal` (exponent forms such as "2.895e-05" included);
  a field Gate may send as `""` or omit is `Decimal | None`;
- sizes are `int` without the `X-Gate-Size-Decimal` header and `Decimal` with it (`Size`);
- ids are Python ints (exact beyond 2**53); usertrade ids are strings, as Gate sends them;
- times are the documented unit of each field: `*_ms`/`t` milliseconds, `time`/`create_time`
  seconds, candlestick `t` seconds.

Order-book levels are the one exception to "prices are Decimal": `BookLevel` keeps the exact wire
text and converts on access (`.price`, `.size`). Building ~40 Decimals per book frame halves decode
throughput (benchmarks/README.md), and the order book converts each level once when it applies it.

No validators here: the decoder is the only producer from untrusted input and validates once.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TypeAlias

import attrs
import msgspec

Size: TypeAlias = int | Decimal


def _size(raw: int | str) -> Size:
    return raw if isinstance(raw, int) else Decimal(raw)


class BookLevel(msgspec.Struct, frozen=True, gc=False):
    """One price level as Gate sends it: `p` price text, `s` absolute size (0 deletes the level).

    A msgspec Struct rather than an attrs class: levels are the most numerous objects on the hot
    path, and a Struct costs about half as much to build (benchmarks/README.md).
    """

    p: str
    s: int | str

    @property
    def price(self) -> Decimal:
        return Decimal(self.p)

    @property
    def size(self) -> Size:
        return _size(self.s)


class ObuLevel(BookLevel, frozen=True, gc=False, array_like=True):
    """A `futures.obu` level, sent as a `[price, size]` array of strings."""


# --------------------------------------------------------------------------- public channels


@attrs.frozen
class Ticker:
    """One contract's `futures.tickers` entry."""

    contract: str
    last: Decimal
    change_percentage: Decimal | None = None
    total_size: Decimal | None = None
    volume_24h: Decimal | None = None
    volume_24h_base: Decimal | None = None
    volume_24h_quote: Decimal | None = None
    volume_24h_settle: Decimal | None = None
    mark_price: Decimal | None = None
    index_price: Decimal | None = None
    funding_rate: Decimal | None = None
    funding_rate_indicative: Decimal | None = None
    low_24h: Decimal | None = None
    high_24h: Decimal | None = None
    change_price: Decimal | None = None
    quanto_base_rate: str = ""  # often "", else a decimal string such as "2.895e-05"
    price_type: str = ""
    change_from: str = ""
    funding_interval: int = 0
    funding_offset: int = 0
    funding_next_apply: int = 0
    t: int = 0  # ms; 0 when Gate omitted it (seen in 2024)
    event_type: str = ""


@attrs.frozen
class Trade:
    """A public trade; `size` is signed: positive = taker bought, negative = taker sold."""

    id: int
    contract: str
    price: Decimal
    size: Size
    create_time: int = 0
    create_time_ms: int = 0
    is_internal: bool = False


@attrs.frozen
class BookTicker:
    """Best bid/ask. `b`/`a` are None when that side is empty (Gate sends `""` and size 0)."""

    t: int
    u: int
    s: str
    b: Decimal | None
    B: Size
    a: Decimal | None
    A: Size


@attrs.frozen
class BookDelta:
    """`futures.order_book_update` result: levels with absolute sizes for update ids `U..u`."""

    t: int
    s: str
    U: int
    u: int
    b: tuple[BookLevel, ...] = ()
    a: tuple[BookLevel, ...] = ()
    l: str = ""
    full: bool = False  # True: replaces the whole book for level `l`


@attrs.frozen
class ObuDelta:
    """`futures.obu` result. `s` is the stream name `ob.<contract>.<level>`; full pushes have no U."""

    t: int
    s: str
    u: int
    U: int = 0
    b: tuple[ObuLevel, ...] = ()
    a: tuple[ObuLevel, ...] = ()
    full: bool = False

    @property
    def contract(self) -> str:
        return self.s[3 : self.s.rfind(".")]

    @property
    def level(self) -> str:
        return self.s[self.s.rfind(".") + 1 :]


@attrs.frozen
class BookSnapshot:
    """`futures.order_book` event `all`: a full snapshot with book id `id`."""

    t: int
    contract: str
    id: int
    asks: tuple[BookLevel, ...] = ()
    bids: tuple[BookLevel, ...] = ()
    l: str = ""


@attrs.frozen
class LegacyBookEntry:
    """Legacy `futures.order_book` event `update` entry: `s` > 0 bid, `s` < 0 ask."""

    p: str
    s: int | str
    c: str
    id: int


@attrs.frozen
class Candlestick:
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


@attrs.frozen
class PublicLiquidation:
    """A public liquidation; `time` is ms today and was seconds in older docs (see `time_ms`)."""

    contract: str
    price: Decimal
    size: Size
    time: int

    @property
    def time_ms(self) -> int:
        # 1e11 ms is 1973; 1e11 s is year 5138: any value below it is seconds.
        return self.time if self.time >= 100_000_000_000 else self.time * 1000


@attrs.frozen
class ContractStats:
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


@attrs.frozen
class RiskLimitTier:
    tier: int
    risk_limit: Decimal | None = None
    initial_rate: Decimal | None = None
    maintenance_rate: Decimal | None = None
    leverage_max: Decimal | None = None
    deduction: Decimal | None = None
    contract: str = ""


@attrs.frozen
class ContractInfo:
    """`futures.contract_info`; an update that changes only precision omits the tiers."""

    contract: str
    quanto_multiplier: Decimal | None = None
    order_price_round: Decimal | None = None
    mark_price_round: Decimal | None = None
    risk_limit_tiers: tuple[RiskLimitTier, ...] | None = None


@attrs.frozen
class AdlWarning:
    """`futures.adl_warning`: `state` is normal, warning or adl_risk; `update_time` in ms."""

    contract: str
    settle: str
    state: str
    update_time: int = 0


# -------------------------------------------------------------------------- private channels


@attrs.frozen
class Order:
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


@attrs.frozen
class UserTrade:
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


@attrs.frozen
class Liquidation:
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


@attrs.frozen
class AutoDeleverage:
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


@attrs.frozen
class PositionClose:
    contract: str
    side: str
    pnl: Decimal | None = None
    text: str = ""
    time: int = 0
    time_ms: int = 0
    user: str | int = ""


@attrs.frozen
class Balance:
    """`futures.balances` entry: the balance after one change of `type` (fee, pnl, dnw, ...)."""

    balance: Decimal
    change: Decimal
    type: str
    text: str = ""
    time: int = 0
    time_ms: int = 0
    user: str | int = ""
    currency: str = ""


@attrs.frozen
class ReduceRiskLimit:
    contract: str
    cancel_orders: int = 0
    leverage_max: Decimal | None = None
    liq_price: Decimal | None = None
    maintenance_rate: Decimal | None = None
    risk_limit: Decimal | None = None
    time: int = 0
    time_ms: int = 0
    user: str | int = ""


@attrs.frozen
class Position:
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


@attrs.frozen
class PositionAdlRank:
    """`rank_division` 1-6: 1 is first in line for ADL, 6 is in liquidation."""

    contract: str
    rank_division: int
    mode: str = ""
    time_ms: int = 0
    user_id: int = 0


@attrs.frozen
class AutoOrder:
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


@attrs.frozen
class TickersUpdate:
    result: tuple[Ticker, ...]
    time: int = 0
    time_ms: int = 0
    channel: str = "futures.tickers"
    event: str = "update"


@attrs.frozen
class TradesUpdate:
    result: tuple[Trade, ...]
    time: int = 0
    time_ms: int = 0
    channel: str = "futures.trades"
    event: str = "update"


@attrs.frozen
class BookTickerUpdate:
    result: BookTicker
    time: int = 0
    time_ms: int = 0
    channel: str = "futures.book_ticker"
    event: str = "update"


@attrs.frozen
class OrderBookUpdate:
    """`futures.order_book_update` push."""

    result: BookDelta
    time: int = 0
    time_ms: int = 0
    channel: str = "futures.order_book_update"
    event: str = "update"


@attrs.frozen
class ObuUpdate:
    """`futures.obu` push; Gate may omit `time` and `event` (spec 6.6), so neither is required."""

    result: ObuDelta
    time: int = 0
    time_ms: int = 0
    channel: str = "futures.obu"
    event: str = "update"


@attrs.frozen
class OrderBookSnapshot:
    """Legacy `futures.order_book` full snapshot (event `all`)."""

    result: BookSnapshot
    time: int = 0
    time_ms: int = 0
    channel: str = "futures.order_book"
    event: str = "all"


@attrs.frozen
class LegacyOrderBookUpdate:
    """Legacy `futures.order_book` incremental push (event `update`, array of entries)."""

    result: tuple[LegacyBookEntry, ...]
    time: int = 0
    time_ms: int = 0
    channel: str = "futures.order_book"
    event: str = "update"


@attrs.frozen
class CandlesticksUpdate:
    result: tuple[Candlestick, ...]
    time: int = 0
    time_ms: int = 0
    channel: str = "futures.candlesticks"
    event: str = "update"


@attrs.frozen
class PublicLiquidationsUpdate:
    """Always a tuple here, whether Gate sent an object (live 2026-08) or an array (docs)."""

    result: tuple[PublicLiquidation, ...]
    time: int = 0
    time_ms: int = 0
    channel: str = "futures.public_liquidates"
    event: str = "update"


@attrs.frozen
class ContractStatsUpdate:
    result: tuple[ContractStats, ...]
    time: int = 0
    time_ms: int = 0
    channel: str = "futures.contract_stats"
    event: str = "update"


@attrs.frozen
class ContractInfoUpdate:
    """`event` is `all` for the cached snapshot after subscribe, else `update`."""

    result: ContractInfo
    time: int = 0
    time_ms: int = 0
    channel: str = "futures.contract_info"
    event: str = "update"


@attrs.frozen
class AdlWarningUpdate:
    result: AdlWarning
    time: int = 0
    time_ms: int = 0
    channel: str = "futures.adl_warning"
    event: str = "update"


@attrs.frozen
class OrdersUpdate:
    result: tuple[Order, ...]
    time: int = 0
    time_ms: int = 0
    channel: str = "futures.orders"
    event: str = "update"


@attrs.frozen
class UserTradesUpdate:
    result: tuple[UserTrade, ...]
    time: int = 0
    time_ms: int = 0
    channel: str = "futures.usertrades"
    event: str = "update"


@attrs.frozen
class LiquidationsUpdate:
    result: tuple[Liquidation, ...]
    time: int = 0
    time_ms: int = 0
    channel: str = "futures.liquidates"
    event: str = "update"


@attrs.frozen
class AutoDeleveragesUpdate:
    result: tuple[AutoDeleverage, ...]
    time: int = 0
    time_ms: int = 0
    channel: str = "futures.auto_deleverages"
    event: str = "update"


@attrs.frozen
class PositionClosesUpdate:
    result: tuple[PositionClose, ...]
    time: int = 0
    time_ms: int = 0
    channel: str = "futures.position_closes"
    event: str = "update"


@attrs.frozen
class BalancesUpdate:
    result: tuple[Balance, ...]
    time: int = 0
    time_ms: int = 0
    channel: str = "futures.balances"
    event: str = "update"


@attrs.frozen
class ReduceRiskLimitsUpdate:
    result: tuple[ReduceRiskLimit, ...]
    time: int = 0
    time_ms: int = 0
    channel: str = "futures.reduce_risk_limits"
    event: str = "update"


@attrs.frozen
class PositionsUpdate:
    result: tuple[Position, ...]
    time: int = 0
    time_ms: int = 0
    channel: str = "futures.positions"
    event: str = "update"


@attrs.frozen
class PositionAdlRanksUpdate:
    result: tuple[PositionAdlRank, ...]
    time: int = 0
    time_ms: int = 0
    channel: str = "futures.position_adl_rank"
    event: str = "update"


@attrs.frozen
class AutoOrdersUpdate:
    result: tuple[AutoOrder, ...]
    time: int = 0
    time_ms: int = 0
    channel: str = "futures.autoorders"
    event: str = "update"


# ---------------------------------------------------------------------- replies and notices


@attrs.frozen
class SubscribeAck:
    """A successful subscribe or unsubscribe (`event` tells which)."""

    channel: str
    event: str
    id: int | None = None
    payload: tuple[str, ...] | None = None
    conn_id: str = ""
    trace_id: str = ""
    time: int = 0
    time_ms: int = 0  # 0 on 2023 acks


@attrs.frozen
class ErrorReply:
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


@attrs.frozen
class Pong:
    """Reply to futures.ping."""

    time: int = 0
    time_ms: int = 0
    conn_id: str = ""


@attrs.frozen
class UpgradeRequested:
    """`futures.system` upgrade notice: the server will close this connection soon."""

    msg: str = ""
    time: int = 0
    time_ms: int = 0


@attrs.frozen
class SystemNotice:
    """Any other `futures.system` notice (e.g. SBE schema messages)."""

    type: str
    msg: str = ""
    data: object = None
    time: int = 0
    time_ms: int = 0


@attrs.frozen
class ApiHeader:
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


@attrs.frozen
class ApiAck:
    """First reply to order_place/order_batch_place: the request echo (`ack: true`)."""

    request_id: str
    header: ApiHeader
    result: object = None


@attrs.frozen
class ApiResult:
    """The final trading-API reply with `data.result` (plain JSON: an object or an array)."""

    request_id: str
    header: ApiHeader
    result: object = None


@attrs.frozen
class ApiError:
    """A trading-API reply with `data.errs` (label + message)."""

    request_id: str
    header: ApiHeader
    label: str
    message: str


@attrs.frozen
class UnknownEvent:
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

# channel name -> frame class, for the decoder, the encoder and the fake exchange
DATA_EVENT_TYPES: dict[str, tuple[type[DataEvent], ...]] = {}
for _cls in DataEvent.__args__:  # type: ignore[attr-defined]
    _default = attrs.fields_dict(_cls)["channel"].default
    DATA_EVENT_TYPES.setdefault(_default, ())
    DATA_EVENT_TYPES[_default] += (_cls,)
del _cls, _default
