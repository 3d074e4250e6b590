"""The typed tables a recording exports to: one schema per channel, as data. Pure.

Every table has the same first columns, then its channel's, named for what they mean rather
than Gate's short wire names (`bid_price`, not `b`), one shape for one concept everywhere:

    received    timestamp[ns, UTC]   when the frame arrived (local clock)
    shard       int32                the pool shard (0 for one client)
    conn        int64                the connection generation within it
    channel     string               "futures.trades", ...
    event       string               "update" or "all" (a snapshot)
    push_time   timestamp[ms, UTC]   when Gate sent the frame (its `time_ms`; null if absent)
    contract    string               the contract, bare ("BTC_USDT", also for mark candles)

- prices, sizes, rates and amounts are exact decimals: `decimal128(38, 18)`, widened to
  `decimal256(76, 38)` for a column holding a value that would not fit (never rounded); a
  size is a decimal whether Gate sent an integer or a decimal string;
- every time is a `timestamp[ms, UTC]` (Gate's seconds converted; null if absent, or past
  year 9999), a duration in seconds a `duration[s]`;
- a book side is `list<struct<price, size>>` for obu, order_book_update and order_book alike,
  with `first_update_id` / `last_update_id` (null first id for a full book) and `full`;
- absent values are nulls, not empty strings.

Private channels (a logged-in client's orders, fills, ...) get the same typing from their
records' fields, by rule (`generic_columns`).
"""

from __future__ import annotations

import functools
import typing
from decimal import Decimal
from typing import TYPE_CHECKING, Final, Literal, TypeAlias

from gatetrio._core._catalog import CANDLE_PRICE_PREFIXES
from gatetrio._core._events import (
    AdlWarning,
    BookDelta,
    BookSnapshot,
    BookTicker,
    Candlestick,
    ContractInfo,
    ContractStats,
    LegacyBookEntry,
    ObuDelta,
    PublicLiquidation,
    RiskLimitTier,
    Ticker,
    Trade,
    record_fields,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    import msgspec

Kind: TypeAlias = Literal[
    "decimal", "int64", "int32", "bool", "string", "time", "duration", "levels", "tiers", "json"
]
"""How a column is typed (`_parquet` maps each to an Arrow type)."""
SCHEMA_VERSION: Final = "gatetrio-parquet/1"

COMMON: Final[tuple[tuple[str, Kind], ...]] = (
    ("received", "time"),  # ns; typed apart by `_parquet`
    ("shard", "int32"),
    ("conn", "int64"),
    ("channel", "string"),
    ("event", "string"),
    ("push_time", "time"),
    ("contract", "string"),
)


@typing.final
class Column:
    """One channel column: its name, kind and how to read it off an item."""

    __slots__ = ("get", "kind", "name")

    def __init__(self, name: str, kind: Kind, get: Callable[[typing.Any], object]) -> None:
        self.name = name
        self.kind = kind
        self.get = get


_MAX_MS: Final = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z, the last time Python can hold


def ms(value: object) -> int | None:
    """A Gate time as unix ms: None when absent (0) or past year 9999 (no reader can hold it;
    the raw frame keeps it); seconds (below 1e11) multiplied."""
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        return None
    value = value if value >= 100_000_000_000 else value * 1000
    return value if value <= _MAX_MS else None


_MAX_SECONDS: Final = 86_399_999_999_999  # the longest duration Python can hold


def seconds(value: object) -> int | None:
    """A duration in seconds; None when absent (0) or longer than any reader can hold."""
    if not isinstance(value, int) or isinstance(value, bool) or value == 0:
        return None
    return value if abs(value) <= _MAX_SECONDS else None


def level_of(text: str) -> int | None:
    """A book's level from Gate's text ("50"); None when absent or not a plausible level."""
    return int(text) if text.isdecimal() and len(text) <= 6 else None


def number(value: object) -> Decimal | None:
    """A decimal column's value: Decimals and integer sizes as Decimal, absent as None."""
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return Decimal(str(value))  # a wire text such as quanto_base_rate "2.895e-05"


def fits(value: Decimal, precision: int, scale: int) -> bool:
    """Whether `value` is exactly a `decimal(precision, scale)`: at most `scale` digits after
    the point and `precision - scale` before it (trailing zeros do not count).

    Checked before Arrow sees the column: pyarrow rounds a value with too many fractional
    digits for decimal128 silently (5.29E-37 became 0E-18), where decimal256 raises.
    """
    if not value.is_finite():
        return False
    _, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):  # pragma: no cover - finite, so an int
        return False
    count = len(digits)
    while count > 1 and digits[count - 1] == 0:  # 1.500 needs one fractional digit
        count -= 1
        exponent += 1
    if digits == (0,) * len(digits):
        return True
    fraction = max(0, -exponent)
    whole = max(0, count + exponent)
    return fraction <= scale and whole <= precision - scale


def decimals_in(value: object) -> Iterator[Decimal]:
    """Every Decimal in a cell (a decimal, a book side's levels, risk-limit tiers)."""
    if isinstance(value, Decimal):
        yield value
    elif isinstance(value, list | tuple):
        for part in value:
            yield from decimals_in(part)
    elif isinstance(value, dict):
        for part in value.values():
            yield from decimals_in(part)


def levels(side: Iterable[typing.Any]) -> list[dict[str, Decimal]]:
    return [{"price": level.price, "size": number(level.size)} for level in side]  # type: ignore[dict-item]


def _attr(name: str) -> Callable[[typing.Any], object]:
    return lambda item: getattr(item, name)


def _dec(name: str, field: str | None = None) -> Column:
    field = field or name
    return Column(name, "decimal", lambda item: number(getattr(item, field)))


def _time(name: str, field: str) -> Column:
    return Column(name, "time", lambda item: ms(getattr(item, field)))


# ------------------------------------------------------------------------------ the channels


def contract_of(item: object) -> str:
    """The contract an item is about (bare: a mark candle's is its contract's)."""
    match item:
        case BookTicker(s=contract) | BookDelta(s=contract):
            return contract
        case ObuDelta():
            return item.contract
        case Candlestick():
            return candle_parts(item)[2]
        case LegacyBookEntry(c=contract):
            return contract
    contract = getattr(item, "contract", "")
    return contract if isinstance(contract, str) else ""


def candle_parts(candle: Candlestick) -> tuple[str, str, str]:
    """(interval, price kind, contract) of `n` = "1m_mark_BTC_USDT" (spec 6.7)."""
    interval, _, rest = candle.n.partition("_")
    for kind, prefix in CANDLE_PRICE_PREFIXES.items():
        if prefix and rest.startswith(prefix):
            return interval, kind, rest.removeprefix(prefix)
    return interval, "last", rest


_BOOK: Final = (
    Column("level", "int32", lambda item: level_of(item.l)),
    Column("first_update_id", "int64", lambda item: None if item.full else item.U),
    Column("last_update_id", "int64", _attr("u")),
    Column("full", "bool", _attr("full")),
    Column("bids", "levels", lambda item: levels(item.b)),
    Column("asks", "levels", lambda item: levels(item.a)),
)

_TICKER_DECIMALS: Final = (
    "last",
    "change_percentage",
    "total_size",
    "volume_24h",
    "volume_24h_base",
    "volume_24h_quote",
    "volume_24h_settle",
    "mark_price",
    "index_price",
    "funding_rate",
    "funding_rate_indicative",
    "low_24h",
    "high_24h",
    "change_price",
    "quanto_base_rate",
)

TABLES: Final[dict[type, tuple[str, tuple[Column, ...]]]] = {
    Trade: (
        "trades",
        (
            Column("id", "int64", _attr("id")),
            Column("time", "time", lambda t: ms(t.create_time_ms) or ms(t.create_time)),
            _dec("price"),
            _dec("size"),
            Column("is_internal", "bool", _attr("is_internal")),
        ),
    ),
    Ticker: (
        "tickers",
        (
            _time("time", "t"),
            *(_dec(name) for name in _TICKER_DECIMALS),
            Column("price_type", "string", lambda t: t.price_type or None),
            Column("change_from", "string", lambda t: t.change_from or None),
            Column("funding_interval", "duration", lambda t: seconds(t.funding_interval)),
            Column("funding_offset", "int64", _attr("funding_offset")),
            _time("funding_next_apply", "funding_next_apply"),
            Column("event_type", "string", lambda t: t.event_type or None),
            _dec("settle_price"),
            _dec("basis_value"),
            _dec("basis_rate"),
        ),
    ),
    BookTicker: (
        "book_ticker",
        (
            _time("time", "t"),
            Column("update_id", "int64", _attr("u")),
            _dec("bid_price", "b"),
            _dec("bid_size", "B"),
            _dec("ask_price", "a"),
            _dec("ask_size", "A"),
        ),
    ),
    ObuDelta: (
        "obu",
        (
            _time("time", "t"),
            Column("level", "int32", lambda d: level_of(d.level)),
            *_BOOK[1:],
        ),
    ),
    BookDelta: ("order_book_update", (_time("time", "t"), *_BOOK)),
    BookSnapshot: (
        "order_book",
        (
            _time("time", "t"),
            Column("level", "int32", lambda s: level_of(s.l)),
            Column("first_update_id", "int64", lambda _: None),
            Column("last_update_id", "int64", _attr("id")),
            Column("full", "bool", lambda _: True),
            Column("bids", "levels", lambda s: levels(s.bids)),
            Column("asks", "levels", lambda s: levels(s.asks)),
        ),
    ),
    LegacyBookEntry: (
        "order_book_legacy",
        (
            Column("id", "int64", _attr("id")),
            Column("side", "string", lambda e: "bid" if number(e.s) > 0 else "ask"),  # type: ignore[operator]
            Column("price", "decimal", lambda e: number(e.p)),
            Column("size", "decimal", lambda e: abs(number(e.s))),  # type: ignore[arg-type]
        ),
    ),
    Candlestick: (
        "candlesticks",
        (
            Column("open_time", "time", lambda c: ms(c.t)),
            Column("interval", "string", lambda c: candle_parts(c)[0]),
            Column("price_kind", "string", lambda c: candle_parts(c)[1]),
            _dec("open", "o"),
            _dec("high", "h"),
            _dec("low", "l"),
            _dec("close", "c"),
            _dec("volume", "v"),
            _dec("amount", "a"),
            Column("closed", "bool", _attr("w")),
        ),
    ),
    PublicLiquidation: (
        "public_liquidates",
        (_time("time", "time"), _dec("price"), _dec("size")),
    ),
    ContractStats: (
        "contract_stats",
        (
            _time("time", "time"),
            *(
                _dec(field.name)
                for field in record_fields(ContractStats)
                if field.name not in {"time", "contract"}
            ),
        ),
    ),
    ContractInfo: (
        "contract_info",
        (
            _dec("quanto_multiplier"),
            _dec("order_price_round"),
            _dec("mark_price_round"),
            Column(
                "risk_limit_tiers",
                "tiers",
                lambda i: None if i.risk_limit_tiers is None else tiers(i.risk_limit_tiers),
            ),
        ),
    ),
    AdlWarning: (
        "adl_warning",
        (
            Column("settle", "string", _attr("settle")),
            Column("state", "string", _attr("state")),
            _time("time", "update_time"),
        ),
    ),
}
"""Item class -> (table name, its columns after `COMMON`)."""

TIER_FIELDS: Final = (
    "risk_limit",
    "initial_rate",
    "maintenance_rate",
    "leverage_max",
    "deduction",
)


def tiers(values: Iterable[RiskLimitTier]) -> list[dict[str, object]]:
    return [
        {"tier": tier.tier, **{name: number(getattr(tier, name)) for name in TIER_FIELDS}}
        for tier in values
    ]


# ---------------------------------------------------------------------- private, by rule


def _generic_kind(name: str, annotation: str) -> Kind:
    text = annotation.replace(" ", "")
    if "Decimal" in text or text.startswith("Size"):
        return "decimal"
    if text == "bool":
        return "bool"
    if text == "int" and (name.endswith("_ms") or "time" in name):
        return "time"
    if text == "int":
        return "int64"
    if text in {"str", "str|int", "int|str"}:
        return "string"
    return "json"


def generic_columns(cls: type[msgspec.Struct]) -> tuple[Column, ...]:
    """Columns for a record of a private channel: decimals, times (ms or seconds, by value),
    ints, strings, booleans by its fields' annotations; anything nested as JSON text."""
    columns = []
    for field in record_fields(cls):
        if field.name == "contract":
            continue
        kind = _generic_kind(field.name, field.annotation)
        getter: Callable[[typing.Any], object]
        if kind == "decimal":
            getter = _dec(field.name).get
        elif kind == "time":
            getter = _time(field.name, field.name).get
        elif kind == "string":
            getter = functools.partial(_text_of, field.name)
        else:
            getter = _attr(field.name)
        columns.append(Column(field.name, kind, getter))
    return tuple(columns)


def _text_of(name: str, item: object) -> str | None:
    value = getattr(item, name)
    return None if value is None or value == "" else str(value)
