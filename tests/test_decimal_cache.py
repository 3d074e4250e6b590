"""The shared text->Decimal cache behind level and ticker reads (issue 14): exact and bounded."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatetrio._core._errors import ProtocolError
from gatetrio._core._events import BookLevel, ObuLevel
from gatetrio._core._events import _ticker as ticker_module
from gatetrio._core._events._ticker import DECIMAL_CACHE_LIMIT, decimal_text


def test_same_text_reads_as_the_same_decimal() -> None:
    level = BookLevel(p="64000.1", s="12.5")
    again = ObuLevel(p="64000.1", s="3")
    assert level.price is again.price
    assert level.price == Decimal("64000.1")
    assert level.size == Decimal("12.5")


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-inf", "abc", "", "1e"])
def test_bad_text_raises_every_time_and_is_not_cached(text: str) -> None:
    for _ in range(2):
        with pytest.raises(ProtocolError):
            decimal_text(text, "price")
    assert text not in ticker_module.DECIMALS


@given(st.lists(st.decimals(allow_nan=False, allow_infinity=False, places=3), max_size=50))
def test_cached_values_equal_fresh_ones(values: list[Decimal]) -> None:
    for value in values:
        text = str(value)
        assert decimal_text(text, "x") == Decimal(text)
        assert str(decimal_text(text, "x")) == str(Decimal(text))  # exponent kept too


def test_the_cache_is_bounded() -> None:
    for i in range(DECIMAL_CACHE_LIMIT * 2 + 7):
        decimal_text(f"{i}.5", "x")
        assert len(ticker_module.DECIMALS) <= DECIMAL_CACHE_LIMIT


@pytest.mark.parametrize("price", [["64000.1"], {"p": 1}, None, b"64000.1", 1.5])
def test_a_hand_built_level_with_a_non_text_price_raises_protocol_error(price: object) -> None:
    # the read inlines the cache lookup; what is not text must still fail as ProtocolError
    # (or, for a number Decimal takes exactly, read as that number), never TypeError
    level = BookLevel(p=price, s="1")  # type: ignore[arg-type]
    if isinstance(price, float):
        assert level.price == Decimal(price)
        return
    with pytest.raises(ProtocolError):
        _ = level.price


def test_a_miss_on_a_full_cache_empties_it_first() -> None:
    ticker_module.DECIMALS.clear()
    for i in range(DECIMAL_CACHE_LIMIT):
        decimal_text(f"{i}.25", "x")
    assert len(ticker_module.DECIMALS) == DECIMAL_CACHE_LIMIT
    assert ObuLevel(p="0.125", s="1").price == Decimal("0.125")
    assert dict(ticker_module.DECIMALS) == {"0.125": Decimal("0.125")}
