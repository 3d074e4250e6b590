"""`parse_rest_snapshot`: Gate's REST order book (`GET .../order_book?with_id=true`), checked.

Pure. The body is untrusted JSON of any shape: it either parses into a `RestSnapshot` or raises
`ProtocolError`, nothing else (a huge int, 1e400 read as inf, NaN, nulls, nested arrays).
The shape (spec 6.5, live 2026):
`{"id": 121506955191, "current": 1786540564.748, "update": 1786540564.741,
"asks": [{"s": 44970, "p": "64013.1"}, ...], "bids": [...]}`, times in float seconds.
"""

from __future__ import annotations

import typing
from typing import TYPE_CHECKING, Final

import msgspec

from gatetrio._core._errors import ProtocolError
from gatetrio._core._events import BookLevel

if TYPE_CHECKING:
    from collections.abc import Mapping

# Gate's ids and sizes are int64; a time is seconds within int64 milliseconds. Bounds rather than
# isfinite(): a 401-digit int overflows float conversion, and comparisons of int with float
# are exact in Python, so these checks cannot raise.
_MAX_ID: Final = 2**63 - 1
_MAX_SECONDS: Final = (2**63 - 1) // 1000


@typing.final
class RestSnapshot(msgspec.Struct, frozen=True):
    """A parsed REST order book: its update `id`, levels, and Gate's time `t` in ms (0 if none).

    Levels keep Gate's text; `OrderBook.load_snapshot` validates prices and sizes. A msgspec
    Struct, not attrs: its class builds in C (the first use's import).
    """

    id: int
    bids: list[BookLevel]
    asks: list[BookLevel]
    t: int = 0

    def __repr__(self) -> str:  # the levels' counts, not the levels
        return (
            f"RestSnapshot(id={self.id!r}, bids=<{len(self.bids)} levels>, "
            f"asks=<{len(self.asks)} levels>, t={self.t!r})"
        )


def parse_rest_snapshot(body: object) -> RestSnapshot:
    """Parse Gate's REST order-book JSON (as `json.loads` returns it).

    Raises:
        ProtocolError: not an object, no int64 `id` (was `with_id=true` sent?), a time that is
            not a finite non-negative number, or sides that are not lists of `{p: str,
            s: int | str}` objects.
    """
    if not isinstance(body, dict):
        raise ProtocolError("REST order book is not a JSON object", raw=_short(body))
    fields = typing.cast("Mapping[str, object]", body)
    snapshot_id = fields.get("id")
    if type(snapshot_id) is not int or not 0 <= snapshot_id <= _MAX_ID:
        raise ProtocolError(
            "REST order book has no int64 id (was with_id=true sent?)", raw=_short(snapshot_id)
        )
    return RestSnapshot(
        id=snapshot_id,
        bids=_levels(fields.get("bids", []), "bids"),
        asks=_levels(fields.get("asks", []), "asks"),
        t=_time_ms(fields),
    )


def _time_ms(fields: Mapping[str, object]) -> int:
    # `update` is the book's time; `current` (the answer's) is the next best. Absent or null: 0.
    seconds = fields.get("update")
    if seconds is None:
        seconds = fields.get("current")
    if seconds is None:
        return 0
    # bool is an int: exclude it; NaN fails both comparisons, inf the second
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not 0 <= seconds <= _MAX_SECONDS
    ):
        raise ProtocolError("REST order book time is not a number of seconds", raw=_short(seconds))
    return int(seconds * 1000)


def _levels(raw: object, what: str) -> list[BookLevel]:
    if not isinstance(raw, list):
        raise ProtocolError(f"REST order book {what} is not a list", raw=_short(raw))
    levels = []
    for entry in typing.cast("list[object]", raw):
        if not isinstance(entry, dict):
            raise ProtocolError(f"REST order book {what} level is not an object", raw=_short(entry))
        level = typing.cast("Mapping[str, object]", entry)
        price, size = level.get("p"), level.get("s")
        if type(price) is not str or not (
            type(size) is str or (type(size) is int and -_MAX_ID <= size <= _MAX_ID)
        ):
            raise ProtocolError(f"REST order book {what} level is malformed", raw=_short(entry))
        levels.append(BookLevel(p=price, s=size))
    return levels


def _short(value: object) -> str:
    try:
        return repr(value)[:200]
    except ValueError:  # an int past sys.int_max_str_digits (4300) has no repr
        return f"<{type(value).__name__} too large to show>"
