"""The channel catalogue: one row per Gate data channel. Pure: no trio, no clock reads.

Everything the client knows per channel is a field of its row here, and every per-channel table
derives from `CATALOG`: the protocol's routing keys and data dispatch, the decoders' routes,
`gatetrio.channels` (private or not, payload shape, allowed options), the CLI's channel lists,
the live book's streams (`depths`, and the endpoints serving obu), and the NATS bus's subjects
and one-item frames (`Route.stream`).
The unions `DataEvent` and `Item` stay declared statically in `_events` (typing cannot compute a
union at run time); tests/test_catalog.py holds them equal to the catalogue.

The fake exchange (`gatetrio.testing`) keeps its own tables on purpose, so a misreading of the
spec here is caught by the fake rather than copied into it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from operator import attrgetter
from types import MappingProxyType
from typing import Final, Literal, TypeAlias, cast

import msgspec

from ._events import (
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
    DataEvent,
    Item,
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

__all__ = [
    "CANDLESTICK_INTERVALS",
    "CANDLE_PRICE_PREFIXES",
    "CATALOG",
    "CHANNELS",
    "CONTRACT_STATS_INTERVALS",
    "ROUTING_KEYS",
    "Channel",
    "Depth",
    "Item",
    "KeyFn",
    "Payload",
    "Route",
    "StreamFn",
]

# ------------------------------------------------------------------------------ routing keys

KeyFn: TypeAlias = Callable[[Item], "str | None"]
"""The routing key of a pushed item; None means channel-wide: the item goes to every
subscription of the channel (balances and autoorders carry no contract to select on)."""

_contract: Final[KeyFn] = attrgetter("contract")
_stream: Final[KeyFn] = attrgetter("s")  # book_ticker / order_book_update contract, obu stream


def _channel_wide(_item: Item) -> None:
    return None


def _stats_key(item: Item) -> str | None:
    # contract_stats entries carry `contract` only since 2025-03 (spec 6.9); older ones are
    # channel-wide rather than unroutable.
    return cast("ContractStats", item).contract or None


# ------------------------------------------------------------------------------ bus streams

StreamFn: TypeAlias = Callable[[Item], "tuple[str, str]"]
"""The stream an item belongs to, as the NATS bus names it: ``(qualifier, contract)``. The
bus subject's channel token is the channel's short name, ``_qualifier`` added when there is
one: ``obu_50``, ``order_book_update_20``, ``candlesticks_1m_mark``. Two streams whose
update ids differ never share a token."""


def _plain_stream(item: Item) -> tuple[str, str]:
    return "", str(_contract(item))


def _s_stream(item: Item) -> tuple[str, str]:
    return "", cast("BookTicker", item).s


def _delta_stream(item: Item) -> tuple[str, str]:
    delta = cast("BookDelta", item)
    return delta.l or "", delta.s


def _snapshot_stream(item: Item) -> tuple[str, str]:
    snapshot = cast("BookSnapshot", item)
    return snapshot.l or "", snapshot.contract


def _obu_stream(item: Item) -> tuple[str, str]:
    delta = cast("ObuDelta", item)
    return delta.level, delta.contract


def _candle_stream(item: Item) -> tuple[str, str]:
    # `n` is "1m_BTC_USDT" or "1m_mark_BTC_USDT" (spec 6.7): interval, price prefix, contract
    interval, _, rest = cast("Candlestick", item).n.partition("_")
    for prefix in CANDLE_PRICE_PREFIXES.values():
        if prefix and rest.startswith(prefix):
            return f"{interval}_{prefix[:-1]}", rest.removeprefix(prefix)
    return interval, rest


def _stats_stream(item: Item) -> tuple[str, str]:
    return "", cast("ContractStats", item).contract or "all"


# ----------------------------------------------------------------------------------- options

CANDLESTICK_INTERVALS: Final = ("10s", "1m", "5m", "15m", "30m", "1h", "4h", "8h", "1d", "7d")
"""Intervals `futures.candlesticks` accepts (spec 6.7)."""

CONTRACT_STATS_INTERVALS: Final = ("1m", "5m", "15m", "30m", "1h", "4h", "8h", "1d", "3d", "7d")
"""Intervals `futures.contract_stats` accepts (spec 6.9)."""

CANDLE_PRICE_PREFIXES: Final[Mapping[str, str]] = MappingProxyType(
    {"last": "", "mark": "mark_", "index": "index_"}
)
"""Candle price kind -> the prefix of the payload's contract (`mark_BTC_USDT`, spec 6.7)."""


def _options(**choices: tuple[str, ...]) -> Mapping[str, tuple[str, ...]]:
    return MappingProxyType(choices)


# ------------------------------------------------------------------------------------- rows

Payload: TypeAlias = Literal[
    "contracts", "streams", "positional", "user_contract", "user", "target"
]
"""The subscribe payload's shape (spec 2.1, 6, 7):

- "contracts": any number of contracts in one payload, each its own target (`trades`);
- "streams": the same, as stream names `ob.<contract>.<level>` (`obu`);
- "positional": one contract and its options, one target per payload (`order_book_update`);
- "user_contract": private ``[user_id, contract]``, ``"!all"`` for every contract;
- "user": private ``[user_id]`` (`balances`);
- "target": private ``[contract]`` without a user id (`position_adl_rank`, spec 7.9).
"""

_BATCHED: Final = frozenset({"contracts", "streams"})


class Route(msgspec.Struct, frozen=True):
    """How one frame class of a channel routes: its item class, the item's routing key, and
    the item's stream on the NATS bus (None: not published; private channels, the legacy
    order_book update)."""

    frame: type[DataEvent]
    item: type[Item]
    key: KeyFn
    stream: StreamFn | None = None


def _one(
    frame: type[DataEvent], item: type[Item], key: KeyFn, stream: StreamFn | None = None
) -> tuple[Route, ...]:
    return (Route(frame, item, key, stream),)


class Depth(msgspec.Struct, frozen=True):
    """One depth stream of a book channel: `level` price levels a side, pushed every
    `interval` (spec 6.5, 6.6)."""

    level: str
    interval: str

    @property
    def levels(self) -> int:
        return int(self.level)

    @property
    def interval_ms(self) -> int:
        return int(self.interval.removesuffix("ms"))


class Channel(msgspec.Struct, frozen=True, kw_only=True):
    """One Gate data channel and everything the client derives from it.

    The rows are msgspec Structs, not attrs classes: msgspec builds a class in C, attrs
    compiles generated source for it (the first use's import; benchmarks/README.md, issue 22).
    """

    routes: tuple[Route, ...]  # several when Gate switches the result's shape (order_book)
    payload: Payload
    private: bool = False
    allow_all: bool = False  # "contracts": no contracts (or "!all") subscribes every contract
    options: Mapping[str, tuple[str, ...]] = _options()  # builder option -> allowed values
    # False: decode_message leaves the channel to the reference decoder (free-form JSON, or a
    # result whose shape picks the frame class).
    typed_decode: bool = True
    lone_object: bool = False  # a lone result object counts as a one-item list (spec 6.1, 6.8)
    # Gate pushes a full snapshot as soon as it subscribes (obu): no data soon after the ack
    # means a stream Gate acked but will never feed (an unknown contract or level, spec 15).
    snapshot_first: bool = False
    # book channels: the (level, interval) streams Gate serves; the live book picks from these
    depths: tuple[Depth, ...] = ()
    # the endpoints (`Endpoint.key`: "usdt", "delivery/btc", "legacy") serving the channel;
    # None: every one
    endpoints: frozenset[str] | None = None

    def served_on(self, endpoint_key: str) -> bool:
        """Whether the channel exists on an endpoint (`Endpoint.key`)."""
        return self.endpoints is None or endpoint_key in self.endpoints

    @property
    def name(self) -> str:
        """``futures.trades``: the frame classes' msgspec tag, so it is written once."""
        return str(self.routes[0].frame.__struct_config__.tag)

    @property
    def short(self) -> str:
        """The name without ``futures.``: the builder in `gatetrio.channels` and the CLI's."""
        return self.name.removeprefix("futures.")

    @property
    def batched(self) -> bool:
        """Each payload element is an independent target, shared by overlapping subscriptions."""
        return self.payload in _BATCHED


CATALOG: Final[tuple[Channel, ...]] = (
    # ------------------------------------------------------------------ public (spec 6)
    Channel(
        routes=_one(TickersUpdate, Ticker, _contract, _plain_stream),
        payload="contracts",
        lone_object=True,
    ),
    Channel(routes=_one(TradesUpdate, Trade, _contract, _plain_stream), payload="contracts"),
    Channel(routes=_one(BookTickerUpdate, BookTicker, _stream, _s_stream), payload="contracts"),
    Channel(
        routes=(
            Route(OrderBookSnapshot, BookSnapshot, _contract, _snapshot_stream),
            Route(LegacyOrderBookUpdate, LegacyBookEntry, attrgetter("c")),
        ),
        payload="positional",
        options=_options(limit=("100", "50", "20", "10", "5", "1"), interval=("0",)),
        typed_decode=False,  # an object result is a snapshot, an array the legacy update
    ),
    Channel(
        routes=_one(OrderBookUpdate, BookDelta, _stream, _delta_stream),
        payload="positional",
        options=_options(frequency=("100ms", "20ms"), level=("100", "50", "20")),
        # 20 ms only at level 20; 1000 ms and level 10 were removed 2024-11-18 (spec 6.5)
        depths=(
            Depth("20", "20ms"),
            Depth("20", "100ms"),
            Depth("50", "100ms"),
            Depth("100", "100ms"),
        ),
    ),
    Channel(
        # key: the stream name ob.<contract>.<level>
        routes=_one(ObuUpdate, ObuDelta, _stream, _obu_stream),
        payload="streams",
        options=_options(level=("50", "400")),  # the first is the default (OBU_LEVEL)
        snapshot_first=True,
        depths=(Depth("50", "20ms"), Depth("400", "100ms")),
        # the perpetual endpoints (usdt documented; btc and usd1 live, spec 15); not delivery,
        # not the legacy path
        endpoints=frozenset({"usdt", "btc", "usd1"}),
    ),
    Channel(
        # key: <interval>_<contract>
        routes=_one(CandlesticksUpdate, Candlestick, attrgetter("n"), _candle_stream),
        payload="positional",
        options=_options(interval=CANDLESTICK_INTERVALS, price=tuple(CANDLE_PRICE_PREFIXES)),
    ),
    Channel(
        routes=_one(PublicLiquidationsUpdate, PublicLiquidation, _contract, _plain_stream),
        payload="contracts",
        allow_all=True,
        lone_object=True,  # an object live 2026-08, an array in the docs
    ),
    Channel(
        routes=_one(ContractStatsUpdate, ContractStats, _stats_key, _stats_stream),
        payload="positional",
        lone_object=True,  # an object as well as an array (spec 15)
        options=_options(interval=CONTRACT_STATS_INTERVALS),
    ),
    Channel(
        routes=_one(ContractInfoUpdate, ContractInfo, _contract, _plain_stream),
        payload="contracts",
        allow_all=True,
    ),
    Channel(
        routes=_one(AdlWarningUpdate, AdlWarning, _contract, _plain_stream),
        payload="contracts",
        allow_all=True,
    ),
    # ----------------------------------------------------------------- private (spec 7)
    Channel(routes=_one(OrdersUpdate, Order, _contract), payload="user_contract", private=True),
    Channel(
        routes=_one(UserTradesUpdate, UserTrade, _contract), payload="user_contract", private=True
    ),
    Channel(
        routes=_one(LiquidationsUpdate, Liquidation, _contract),
        payload="user_contract",
        private=True,
    ),
    Channel(
        routes=_one(AutoDeleveragesUpdate, AutoDeleverage, _contract),
        payload="user_contract",
        private=True,
    ),
    Channel(
        routes=_one(PositionClosesUpdate, PositionClose, _contract),
        payload="user_contract",
        private=True,
    ),
    Channel(routes=_one(BalancesUpdate, Balance, _channel_wide), payload="user", private=True),
    Channel(
        routes=_one(ReduceRiskLimitsUpdate, ReduceRiskLimit, _contract),
        payload="user_contract",
        private=True,
    ),
    Channel(
        routes=_one(PositionsUpdate, Position, _contract), payload="user_contract", private=True
    ),
    Channel(
        routes=_one(PositionAdlRanksUpdate, PositionAdlRank, _contract),
        payload="target",
        private=True,
    ),
    Channel(
        routes=_one(AutoOrdersUpdate, AutoOrder, _channel_wide),
        payload="user_contract",
        private=True,
        typed_decode=False,  # free-form trigger JSON: the reference's depth limit and Decimals
    ),
)

CHANNELS: Final[Mapping[str, Channel]] = MappingProxyType({row.name: row for row in CATALOG})
"""Rows by channel name ("futures.trades")."""

# A plain dict, not a proxy: GateProtocol looks every pushed frame up here.
ROUTING_KEYS: Final[dict[type[object], KeyFn]] = {
    route.frame: route.key for row in CATALOG for route in row.routes
}
"""Frame class -> the routing key of its items (GateProtocol's `_KEYS`)."""

OBU_LEVEL: Final = CHANNELS["futures.obu"].options["level"][0]
"""The obu level everything defaults to (`channels.obu`, `stream obu`, books over the bus,
`consume --book`): 50 levels a side every 20 ms, the one `Client.order_book` picks for the
depth most callers ask."""
