"""Values out of Gate's REST and trading JSON: typed, or one `ProtocolError` naming the field.

The trading results (`_results.py`) and the account's REST snapshots (`_account/_snapshot.py`)
read the same shapes the same way: an object, an array, a number Gate sends as a JSON number
or a decimal string (never a float's binary value: a float is read from its shortest text), and
a time Gate sends in seconds on some endpoints and in milliseconds on others.
"""

from __future__ import annotations

import typing
from decimal import Decimal, InvalidOperation
from typing import Final

from ._errors import ProtocolError

MS_THRESHOLD: Final = 100_000_000_000
"""A unix time at or above this (1e11) is in milliseconds: as ms it is 1973, as seconds 5138."""


def json_object(value: object, what: str) -> dict[str, object]:
    """`value` if it is a JSON object."""
    if type(value) is not dict:
        raise ProtocolError(f"{what}: expected a JSON object, got {type(value).__name__}")
    return typing.cast("dict[str, object]", value)


def json_list(value: object, what: str) -> list[object]:
    """`value` if it is a JSON array."""
    if type(value) is not list:
        raise ProtocolError(f"{what}: expected a JSON array, got {type(value).__name__}")
    return typing.cast("list[object]", value)


def json_number(value: object, what: str) -> Decimal:
    """A finite number below 2**63 in magnitude, exact."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise ProtocolError(f"{what}: unexpected {type(value).__name__} {value!r:.60}")
    try:
        number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        raise ProtocolError(f"{what}: not a number: {value!r:.60}") from None
    if not number.is_finite() or abs(number) >= 2**63:
        raise ProtocolError(f"{what}: out of range: {value!r:.60}")
    return number


def json_ms(value: object, what: str) -> int:
    """A time Gate sent as seconds (float or int) or milliseconds, as integer milliseconds."""
    number = json_number(value, what)
    return int(number if abs(number) >= MS_THRESHOLD else (number * 1000).to_integral_value())
