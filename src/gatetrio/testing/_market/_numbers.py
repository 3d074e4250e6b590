"""Exact decimal text for the fake's grid values: prices are `tick index * tick`, sizes
`units * size_step`, both powers of ten, so integers and an exponent carry them exactly and
nothing but these renderers touches Decimal on the hot path."""

from __future__ import annotations

from decimal import Decimal
from typing import Final


def exponent(step: Decimal, what: str) -> int:
    sign, digits, exp = step.normalize().as_tuple()
    if sign or digits != (1,) or not isinstance(exp, int) or exp > 0:
        raise ValueError(f"{what} must be a power of ten <= 1, got {step}")
    return -exp


_POW10: Final[tuple[int, ...]] = tuple(10**i for i in range(19))


def units_text(units: int, exp: int) -> str:
    """Exact decimal text of `units * 10**-exp`, without trailing zeros or exponent."""
    if exp == 0:
        return str(units)
    q, r = divmod(abs(units), _POW10[exp])
    sign = "-" if units < 0 else ""
    if r == 0:
        return f"{sign}{q}"
    return f"{sign}{q}.{str(r).rjust(exp, '0').rstrip('0')}"


def units_int(units: int, exp: int) -> int:
    """`units * 10**-exp` truncated toward zero: Gate's integer sizes without the header."""
    if exp == 0:
        return units
    q = abs(units) // _POW10[exp]
    return -q if units < 0 else q


def plain(value: Decimal) -> Decimal:
    """`value` without trailing zeros and never in exponent form (which `normalize` may give)."""
    return Decimal(dec_text(value))


def dec_text(value: Decimal) -> str:
    """`value` as plain decimal text: no exponent, no trailing zeros."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text
