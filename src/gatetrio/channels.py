"""Builders for every Gate futures channel: each returns a `ChannelSpec` for `Client.subscribe`.

A builder checks its arguments at once and raises `gatetrio.UsageError` with a message that says
what to pass instead, so a typo fails here rather than as a server error after a round trip.

Payload shapes follow the spec (sections 6 and 7): list channels (`tickers`, `trades`, ...) take
any number of contracts in one payload; positional channels (`order_book`, `candlesticks`, ...)
take one contract each; private channels take ``[user_id, contract]`` with ``"!all"`` for every
contract. All payload elements are strings, as Gate requires. A private builder's `user_id` may
be left out (None): `Client.subscribe` then puts in the account's UID, which the client learns
from Gate (`Client.user_id()`), so ``channels.orders()`` is every order of the account.

`ChannelSpec.keys` names the pushed items the subscription receives: the contract for most
channels, the stream name ``ob.BTC_USDT.400`` for `obu`, ``1m_BTC_USDT`` (or ``1m_mark_BTC_USDT``)
for candlesticks, and `WILDCARD` for ``"!all"`` and for balances.

Example::

    from gatetrio import channels

    async with client.subscribe(channels.trades("BTC_USDT", "ETH_USDT")) as sub:
        async for event in sub:
            ...
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import attrs

from ._core._catalog import (
    CANDLE_PRICE_PREFIXES,
    CANDLESTICK_INTERVALS,
    CHANNELS,
    CONTRACT_STATS_INTERVALS,
    OBU_LEVEL,
    Depth,
)
from ._core._errors import UsageError
from ._core._requests import ALL, WILDCARD, ChannelSpec, check_contract

if TYPE_CHECKING:
    from ._core._events import (
        AdlWarning,
        AutoDeleverage,
        AutoOrder,
        Balance,
        BookDelta,
        BookSnapshot,
        BookTicker,
        Candlestick,
        ContractInfo,
        ContractStats,
        LegacyBookEntry,
        Liquidation,
        ObuDelta,
        Order,
        Position,
        PositionAdlRank,
        PositionClose,
        PublicLiquidation,
        ReduceRiskLimit,
        Ticker,
        Trade,
        UserTrade,
    )

__all__ = [
    "ALL",
    "CANDLESTICK_INTERVALS",
    "CONTRACT_STATS_INTERVALS",
    "WILDCARD",
    "ChannelSpec",
    "adl_warning",
    "auto_deleverages",
    "autoorders",
    "balances",
    "book_ticker",
    "candlesticks",
    "contract_info",
    "contract_stats",
    "liquidates",
    "obu",
    "order_book",
    "order_book_update",
    "orders",
    "position_adl_rank",
    "position_closes",
    "positions",
    "public_liquidates",
    "reduce_risk_limits",
    "tickers",
    "trades",
    "usertrades",
]

CandlePrice: TypeAlias = Literal["last", "mark", "index"]

# CANDLESTICK_INTERVALS (spec 6.7) and CONTRACT_STATS_INTERVALS (spec 6.9), the intervals
# `candlesticks` and `contract_stats` accept, come from the channel catalogue with every other
# per-channel fact: each builder below reads its row there (private, payload shape, options).


# --------------------------------------------------------------------------- argument checks


def _option(value: object, choices: tuple[str, ...], what: str) -> str:
    # Gate wants strings ("20", "100ms"); ints are accepted for numeric options as a convenience.
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if isinstance(text, str) and text in choices:
        return text
    raise UsageError(f"{what} must be one of {', '.join(repr(c) for c in choices)}, got {value!r}")


def _choice(channel: str, option: str, value: object) -> str:
    """`value` checked against the catalogue's allowed values of `channel`'s `option`."""
    row = CHANNELS[channel]
    return _option(value, row.options[option], f"{row.short} {option}")


def _contracts(channel: str, contracts: tuple[str, ...]) -> tuple[str, ...]:
    """The payload for a list channel: distinct valid contracts, or ``("!all",)``."""
    allow_all = CHANNELS[channel].allow_all
    if not contracts:
        if allow_all:
            return (ALL,)
        raise UsageError(f"{channel} needs at least one contract, e.g. 'BTC_USDT'")
    if ALL in contracts:
        if not allow_all:
            raise UsageError(f"{channel} has no '!all' form; list the contracts you want")
        if len(contracts) > 1:
            raise UsageError(
                f"{channel}: '!all' cannot be mixed with contract names; pass either '!all' "
                "(or nothing) or the contracts"
            )
        return contracts
    for contract in contracts:
        check_contract(contract)
    _no_duplicates(contracts)
    return contracts


def _no_duplicates(items: tuple[str, ...]) -> None:
    seen: set[str] = set()
    for item in items:
        if item in seen:
            raise UsageError(f"{item!r} is listed twice; pass each contract once")
        seen.add(item)


def _keys(items: tuple[str, ...]) -> frozenset[str]:
    return frozenset(WILDCARD if item == ALL else item for item in items)


def _spec(channel: str, payload: tuple[str, ...], keys: frozenset[str]) -> ChannelSpec[Any]:
    # `private` and `batched` (each payload element its own target) are the catalogue's.
    row = CHANNELS[channel]
    return ChannelSpec(
        channel=channel,
        payloads=(payload,),
        keys=keys,
        private=row.private,
        batched=row.batched,
    )


def _list_channel(channel: str, contracts: tuple[str, ...]) -> ChannelSpec[Any]:
    payload = _contracts(channel, contracts)
    return _spec(channel, payload, _keys(payload))


def _positional(channel: str, payload: tuple[str, ...], key: str) -> ChannelSpec[Any]:
    # A positional payload is one subscription of its own; `key` routes the pushed items.
    return _spec(channel, payload, frozenset({key}))


def _user_id(user_id: object) -> str:
    if user_id is None:
        return ""  # learned: `Client.subscribe` fills it in (`ChannelSpec.with_user_id`)
    if isinstance(user_id, int) and not isinstance(user_id, bool) and user_id >= 0:
        return str(user_id)
    if isinstance(user_id, str) and user_id.isascii() and user_id.isdigit():
        return user_id
    raise UsageError(
        f"user_id must be your numeric Gate UID, e.g. '20011', or None to let the client "
        f"learn it (contracts go second: orders(None, 'BTC_USDT')), got {user_id!r}"
    )


def _contract_or_all(contract: object) -> str:
    return ALL if contract == ALL else check_contract(contract)


def _user_channel(channel: str, user_id: str | int | None, contract: str) -> ChannelSpec[Any]:
    uid, target = _user_id(user_id), _contract_or_all(contract)
    return _learned(_spec(channel, (uid, target), _keys((target,))), uid)


def _learned(spec: ChannelSpec[Any], uid: str) -> ChannelSpec[Any]:
    return spec if uid else attrs.evolve(spec, learns_user_id=True)


# --------------------------------------------------------------------------- public channels


def tickers(*contracts: str) -> ChannelSpec[Ticker]:
    """``futures.tickers``: 24 h statistics and last/mark/index prices, about once a second.

    Example::

        tickers("BTC_USDT", "ETH_USDT")  # payload ["BTC_USDT", "ETH_USDT"]
    """
    return _list_channel("futures.tickers", contracts)


def trades(*contracts: str) -> ChannelSpec[Trade]:
    """``futures.trades``: public trades; `size` > 0 means the taker bought.

    Example::

        trades("BTC_USDT")  # payload ["BTC_USDT"]
    """
    return _list_channel("futures.trades", contracts)


def book_ticker(*contracts: str) -> ChannelSpec[BookTicker]:
    """``futures.book_ticker``: best bid and ask in real time.

    Example::

        book_ticker("BTC_USDT")  # payload ["BTC_USDT"]
    """
    return _list_channel("futures.book_ticker", contracts)


def order_book(
    contract: str, limit: str | int = "20", interval: str = "0"
) -> ChannelSpec[BookSnapshot | LegacyBookEntry]:
    """``futures.order_book``: periodic full snapshots (legacy; prefer `order_book_update`).

    `limit` is the depth: 100, 50, 20, 10, 5 or 1. `interval` is the price merge; only "0"
    is documented.

    Example::

        order_book("BTC_USDT", limit="20")  # payload ["BTC_USDT", "20", "0"]
    """
    check_contract(contract)
    payload = (
        contract,
        _choice("futures.order_book", "limit", limit),
        _choice("futures.order_book", "interval", interval),
    )
    return _positional("futures.order_book", payload, contract)


def order_book_update(
    contract: str, frequency: str = "100ms", level: str | int = "100"
) -> ChannelSpec[BookDelta]:
    """``futures.order_book_update``: incremental depth, to apply to a REST snapshot.

    `frequency` is "100ms" (levels 100, 50 or 20) or "20ms" (level 20 only). Fetch the REST
    snapshot with ``limit`` equal to `level`.

    Example::

        order_book_update("BTC_USDT", "100ms", "100")  # payload ["BTC_USDT", "100ms", "100"]
    """
    check_contract(contract)
    frequency = _choice("futures.order_book_update", "frequency", frequency)
    level_text = _choice("futures.order_book_update", "level", level)
    depths = CHANNELS["futures.order_book_update"].depths
    if Depth(level_text, frequency) not in depths:
        levels = [d.level for d in depths if d.interval == frequency]
        intervals = [d.interval for d in depths if d.level == level_text]
        supported = " or ".join(map(repr, levels))
        raise UsageError(
            f"order_book_update at {frequency} only supports level {supported}, got level "
            f"{level!r}; pass level={levels[0]!r} or frequency={intervals[-1]!r}"
        )
    return _positional("futures.order_book_update", (contract, frequency, level_text), contract)


def obu(*contracts: str, level: str | int = OBU_LEVEL) -> ChannelSpec[ObuDelta]:
    """``futures.obu`` (order book v2): a full snapshot, then deltas; level 50 (the default
    everywhere: books, the bus, the command line) or 400.

    Level 50 updates every 20 ms, level 400 every 100 ms. The routing keys are the stream names.

    Example::

        obu("BTC_USDT", "ETH_USDT")  # payload ["ob.BTC_USDT.50", "ob.ETH_USDT.50"]
    """
    level_text = _choice("futures.obu", "level", level)
    names = _contracts("futures.obu", contracts)
    streams = tuple(f"ob.{contract}.{level_text}" for contract in names)
    return _spec("futures.obu", streams, frozenset(streams))


def candlesticks(
    contract: str, interval: str = "1m", price: CandlePrice = "last"
) -> ChannelSpec[Candlestick]:
    """``futures.candlesticks``: OHLC candles of the last, mark or index price.

    `interval` is one of `CANDLESTICK_INTERVALS`. ``price="mark"`` or ``"index"`` subscribes to
    ``mark_<contract>`` or ``index_<contract>`` candles.

    Example::

        candlesticks("BTC_USDT", "1m", price="mark")  # payload ["1m", "mark_BTC_USDT"]
    """
    for name, prefix in CANDLE_PRICE_PREFIXES.items():
        if prefix and isinstance(contract, str) and contract.startswith(prefix):
            bare = contract.removeprefix(prefix)
            raise UsageError(
                f"pass the bare contract and the price kind: "
                f"candlesticks({bare!r}, price={name!r}), not {contract!r}"
            )
    check_contract(contract)
    interval = _choice("futures.candlesticks", "interval", interval)
    kind = CANDLE_PRICE_PREFIXES.get(price) if isinstance(price, str) else None
    if kind is None:
        raise UsageError(f"candlesticks price must be 'last', 'mark' or 'index', got {price!r}")
    target = kind + contract
    return _positional("futures.candlesticks", (interval, target), f"{interval}_{target}")


def public_liquidates(*contracts: str) -> ChannelSpec[PublicLiquidation]:
    """``futures.public_liquidates``: liquidation orders; no contracts (or "!all") means all.

    Example::

        public_liquidates()  # payload ["!all"]
        public_liquidates("BTC_USDT")  # payload ["BTC_USDT"]
    """
    return _list_channel("futures.public_liquidates", contracts)


def contract_stats(contract: str, interval: str = "1m") -> ChannelSpec[ContractStats]:
    """``futures.contract_stats``: open interest, long/short ratios and liquidation totals.

    `interval` is one of `CONTRACT_STATS_INTERVALS`.

    Example::

        contract_stats("BTC_USDT", "5m")  # payload ["BTC_USDT", "5m"]
    """
    check_contract(contract)
    interval = _choice("futures.contract_stats", "interval", interval)
    return _positional("futures.contract_stats", (contract, interval), contract)


def contract_info(*contracts: str) -> ChannelSpec[ContractInfo]:
    """``futures.contract_info``: precision and risk-tier changes; no contracts means all.

    Example::

        contract_info("BTC_USDT")  # payload ["BTC_USDT"]
    """
    return _list_channel("futures.contract_info", contracts)


def adl_warning(*contracts: str) -> ChannelSpec[AdlWarning]:
    """``futures.adl_warning``: auto-deleverage risk state; no contracts means all.

    Example::

        adl_warning()  # payload ["!all"]
    """
    return _list_channel("futures.adl_warning", contracts)


# --------------------------------------------------------------------------- private channels


def orders(user_id: str | int | None = None, contract: str = ALL) -> ChannelSpec[Order]:
    """``futures.orders`` (private): your order updates, for one contract or all.

    Example::

        orders()  # payload [<the UID the client learns>, "!all"]
        orders("20011")  # payload ["20011", "!all"]
        orders("20011", "BTC_USDT")  # payload ["20011", "BTC_USDT"]
    """
    return _user_channel("futures.orders", user_id, contract)


def usertrades(user_id: str | int | None = None, contract: str = ALL) -> ChannelSpec[UserTrade]:
    """``futures.usertrades`` (private): your fills.

    Example::

        usertrades("20011", "BTC_USDT")  # payload ["20011", "BTC_USDT"]
    """
    return _user_channel("futures.usertrades", user_id, contract)


def liquidates(user_id: str | int | None = None, contract: str = ALL) -> ChannelSpec[Liquidation]:
    """``futures.liquidates`` (private): your liquidations.

    Example::

        liquidates("20011")  # payload ["20011", "!all"]
    """
    return _user_channel("futures.liquidates", user_id, contract)


def auto_deleverages(
    user_id: str | int | None = None, contract: str = ALL
) -> ChannelSpec[AutoDeleverage]:
    """``futures.auto_deleverages`` (private): auto-deleverages of your positions.

    Example::

        auto_deleverages("20011")  # payload ["20011", "!all"]
    """
    return _user_channel("futures.auto_deleverages", user_id, contract)


def position_closes(
    user_id: str | int | None = None, contract: str = ALL
) -> ChannelSpec[PositionClose]:
    """``futures.position_closes`` (private): your closed positions and their pnl.

    Example::

        position_closes("20011")  # payload ["20011", "!all"]
    """
    return _user_channel("futures.position_closes", user_id, contract)


def reduce_risk_limits(
    user_id: str | int | None = None, contract: str = ALL
) -> ChannelSpec[ReduceRiskLimit]:
    """``futures.reduce_risk_limits`` (private): risk-limit reductions.

    Example::

        reduce_risk_limits("20011")  # payload ["20011", "!all"]
    """
    return _user_channel("futures.reduce_risk_limits", user_id, contract)


def positions(user_id: str | int | None = None, contract: str = ALL) -> ChannelSpec[Position]:
    """``futures.positions`` (private): your position updates.

    Gate documents the user id here as a placeholder, but it is still sent.

    Example::

        positions("20011", "BTC_USDT")  # payload ["20011", "BTC_USDT"]
    """
    return _user_channel("futures.positions", user_id, contract)


def balances(user_id: str | int | None = None) -> ChannelSpec[Balance]:
    """``futures.balances`` (private): every change of your futures balance.

    Example::

        balances("20011")  # payload ["20011"]
    """
    uid = _user_id(user_id)
    return _learned(_spec("futures.balances", (uid,), _keys((ALL,))), uid)


def position_adl_rank(contract: str = ALL) -> ChannelSpec[PositionAdlRank]:
    """``futures.position_adl_rank`` (private): your positions' place in the ADL queue.

    The payload has no user id (spec 7.9).

    Example::

        position_adl_rank()  # payload ["!all"]
    """
    target = _contract_or_all(contract)
    return _spec("futures.position_adl_rank", (target,), _keys((target,)))


def autoorders(user_id: str | int | None = None, contract: str = ALL) -> ChannelSpec[AutoOrder]:
    """``futures.autoorders`` (private): your price-triggered (TP/SL) orders.

    Example::

        autoorders("20011")  # payload ["20011", "!all"]
    """
    return _user_channel("futures.autoorders", user_id, contract)
