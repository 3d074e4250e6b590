"""Where pushed data goes: the unit of routing (`Item`) and each data frame's routing key.

Another engineer's channel catalogue (`_core/_catalog.py`) is meant to replace the hand-written
table below; until then, this is the one place in the client that lists the routing keys.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Final, TypeAlias, cast

from gatetrio._core._events import (
    AdlWarning,
    AdlWarningUpdate,
    AutoDeleverage,
    AutoDeleveragesUpdate,
    AutoOrder,
    AutoOrdersUpdate,
    Balance,
    BalancesUpdate,
    BookDelta,
    BookSnapshot,
    BookTicker,
    BookTickerUpdate,
    Candlestick,
    CandlesticksUpdate,
    ContractInfo,
    ContractInfoUpdate,
    ContractStats,
    ContractStatsUpdate,
    LegacyBookEntry,
    LegacyOrderBookUpdate,
    Liquidation,
    LiquidationsUpdate,
    ObuDelta,
    ObuUpdate,
    Order,
    OrderBookSnapshot,
    OrderBookUpdate,
    OrdersUpdate,
    Position,
    PositionAdlRank,
    PositionAdlRanksUpdate,
    PositionClose,
    PositionClosesUpdate,
    PositionsUpdate,
    PublicLiquidation,
    PublicLiquidationsUpdate,
    ReduceRiskLimit,
    ReduceRiskLimitsUpdate,
    Ticker,
    TickersUpdate,
    Trade,
    TradesUpdate,
    UserTrade,
    UserTradesUpdate,
)

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


# The routing key of each pushed item. None means channel-wide: the item goes to every
# subscription of the channel (balances and autoorders carry no contract to select on).
KeyFn: TypeAlias = Callable[[Item], "str | None"]
_contract: Final[KeyFn] = attrgetter("contract")
_stream: Final[KeyFn] = attrgetter("s")  # book_ticker / order_book_update contract, obu stream


def _channel_wide(_item: Item) -> None:
    return None


def _stats_key(item: Item) -> str | None:
    # contract_stats entries carry `contract` only since 2025-03 (spec 6.9); older ones are
    # channel-wide rather than unroutable.
    return cast("ContractStats", item).contract or None


KEYS: Final[dict[type[object], KeyFn]] = {
    TickersUpdate: _contract,
    TradesUpdate: _contract,
    BookTickerUpdate: _stream,
    OrderBookUpdate: _stream,
    ObuUpdate: _stream,  # the stream name ob.<contract>.<level>: obu specs key on streams
    OrderBookSnapshot: _contract,
    LegacyOrderBookUpdate: attrgetter("c"),
    CandlesticksUpdate: attrgetter("n"),  # <interval>_<contract>
    PublicLiquidationsUpdate: _contract,
    ContractStatsUpdate: _stats_key,
    ContractInfoUpdate: _contract,
    AdlWarningUpdate: _contract,
    OrdersUpdate: _contract,
    UserTradesUpdate: _contract,
    LiquidationsUpdate: _contract,
    AutoDeleveragesUpdate: _contract,
    PositionClosesUpdate: _contract,
    BalancesUpdate: _channel_wide,
    ReduceRiskLimitsUpdate: _contract,
    PositionsUpdate: _contract,
    PositionAdlRanksUpdate: _contract,
    AutoOrdersUpdate: _channel_wide,
}


def key_for(event: object) -> KeyFn | None:
    """The routing key function of a data frame (a subclass of one too), or None."""
    key = KEYS.get(type(event))
    if key is None:
        key = next((fn for cls, fn in KEYS.items() if isinstance(event, cls)), None)
    return key
