"""The `Ticker` facade: a ticker keeps Gate's wire text and converts a decimal when it is read.

A ticker carries ~14 decimal fields, and converting them all while decoding costs more than the
rest of the frame (benchmarks/README.md, "Decode"); so the decoders build the wire-text record
`TickerText` and wrap it (`wrap_ticker`) without copying. `decimal_text` is the one validating
conversion of kept text, shared with the order-book levels.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final, Generic, Self, TypeVar, final, overload

import msgspec

from gatetrio._core._errors import ProtocolError

# Parsed text -> Decimal, shared by every level price and ticker read: prices are read again
# and again with the same few texts, and a hit (one dict lookup) costs a fifth of
# `Decimal(text)` plus the finiteness check; a cached Decimal also keeps its computed hash,
# which a user's dict keyed by price reuses (benchmarks/README.md, "Decimal caching"). Level
# sizes are not cached: they vary too much, and their misses would evict the prices. Decimals
# are immutable, so sharing one is safe. Bounded: cleared when full.
DECIMALS: dict[str, Decimal] = {}
DECIMAL_CACHE_LIMIT: Final = 4096


def decimal_text(text: str, what: str) -> Decimal:
    """`Decimal(text)` through the shared cache; ProtocolError if not a finite decimal.

    The hot readers (`BookLevel.price`, the ticker decimals) inline the cache hit and call
    `cached_decimal` on a miss; this is the same read as one call.
    """
    try:
        value = DECIMALS.get(text)
    except TypeError:  # unhashable: not text at all
        value = None
    return cached_decimal(text, what) if value is None else value


def cached_decimal(text: str, what: str) -> Decimal:
    """A cache miss: convert `text`, check it is finite, remember it (text only).

    ProtocolError if it is not a finite decimal. One call on a miss, with the conversion inline:
    a miss then costs about a bare `Decimal()` plus a dict store, so the cache pays off from
    a hit rate of about a third (benchmarks/README.md, "Decimal reads").
    """
    if type(text) is not str:
        return decimal_value(text, what)
    try:
        value = Decimal(text)
    except (ArithmeticError, ValueError):
        raise ProtocolError(f"{what} is not a decimal: {text!r}", raw=text) from None
    if not value.is_finite():
        raise ProtocolError(f"{what} is not a finite decimal: {text!r}", raw=text)
    if len(DECIMALS) >= DECIMAL_CACHE_LIMIT:
        DECIMALS.clear()
    DECIMALS[text] = value
    return value


def decimal_value(text: str, what: str) -> Decimal:
    """`Decimal(text)`, uncached (sizes: too varied to be worth caching); ProtocolError if not
    a finite decimal."""
    # Text fields kept for speed (levels, tickers) are validated when converted, so a malformed
    # server value still surfaces as ProtocolError, never as decimal.InvalidOperation.
    try:
        value = Decimal(text)
    except (ArithmeticError, ValueError, TypeError):
        raise ProtocolError(f"{what} is not a decimal: {text!r}", raw=str(text)) from None
    if not value.is_finite():
        raise ProtocolError(f"{what} is not a finite decimal: {text!r}", raw=text)
    return value


class TickerText(msgspec.Struct, frozen=True, gc=False):
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
    settle_price: str | None = None  # delivery tickers (spec 15), which carry no funding fields
    basis_value: str | None = None
    basis_rate: str | None = None


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
        value: _T = getattr(obj._text, self.name)  # noqa: SLF001 - the facade's own field
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
        text: str | None = getattr(obj._text, self.name)  # noqa: SLF001 - as above
        value = DECIMALS.get(text)  # type: ignore[arg-type]  # None and "" are never cached
        if value is not None:
            return value
        return cached_decimal(text, self.name) if text else None


class _TickerRequiredDecimal(_TickerField[Decimal]):
    __slots__ = ()

    @overload
    def __get__(self, obj: None, owner: type) -> Self: ...
    @overload
    def __get__(self, obj: Ticker, owner: type | None = None) -> Decimal: ...
    def __get__(self, obj: Ticker | None, owner: type | None = None) -> Decimal | Self:
        if obj is None:
            return self
        text: str = getattr(obj._text, self.name)  # noqa: SLF001 - as above
        value = DECIMALS.get(text)
        if value is not None:
            return value
        return cached_decimal(text, self.name)


def _text_or_none(value: Decimal | str | None) -> str | None:
    return value if value is None or isinstance(value, str) else str(value)


@final
class Ticker:
    """One contract's `futures.tickers` entry; numeric fields read as `Decimal` (None if absent).

    A ticker carries ~14 decimal fields, and converting them all while decoding costs more than
    the rest of the frame (benchmarks/README.md, "Decode"). So a Ticker keeps Gate's text and
    converts a field when it is read (through a bounded text->Decimal cache shared by all
    tickers and levels, so reading the same text again is a dict lookup), and a malformed value
    raises `ProtocolError` there rather than in `decode_message`. Equality and hashing compare
    the wire text.

    Build one with Decimals or decimal strings: `Ticker("BTC_USDT", Decimal("63964.7"))`.
    """

    __slots__ = ("_text",)
    _text: TickerText

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
    settle_price = _TickerDecimal()  # delivery only
    basis_value = _TickerDecimal()
    basis_rate = _TickerDecimal()

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
        settle_price: Decimal | str | None = None,
        basis_value: Decimal | str | None = None,
        basis_rate: Decimal | str | None = None,
    ) -> None:
        d = _text_or_none
        self._text = TickerText(
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
            d(settle_price),
            d(basis_value),
            d(basis_rate),
        )

    @classmethod
    def _from_text(cls, text: TickerText) -> Ticker:
        # The decoders' constructor: wraps an already-decoded wire record without copying it.
        ticker = _new_object(cls)
        ticker._text = text  # noqa: SLF001 - a fresh instance of this class
        return ticker

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not Ticker:
            return NotImplemented
        return self._text == other._text  # another Ticker

    def __hash__(self) -> int:
        return hash(self._text)

    def __repr__(self) -> str:
        return "Ticker" + repr(self._text).removeprefix("TickerText")

    def __reduce__(self) -> tuple[object, ...]:
        return (Ticker._from_text, (self._text,))


_new_object = object.__new__


def ticker_text(ticker: Ticker) -> TickerText:
    """The wire-text record behind a Ticker (for encoders that write it back out)."""
    return ticker._text  # noqa: SLF001 - this module owns the facade


# A Ticker over an already-decoded wire record, without copying it: the decoders' constructor,
# bound once (not wrapped in a function) because the decode hot path calls it per ticker.
wrap_ticker: Final = Ticker._from_text  # noqa: SLF001 - this module owns the facade
