"""Which stream a live book uses, pure: the method for an endpoint and the depth for a need.

Both read the channel catalogue (`_core/_catalog.py`), where the facts live once: which
endpoints serve `futures.obu` (`Channel.endpoints`) and which (level, interval) streams each
book channel has (`Channel.depths`).
"""

from __future__ import annotations

from typing import Final, Literal

from gatetrio._core._catalog import CHANNELS, Depth
from gatetrio._core._config import parse_endpoint
from gatetrio._core._errors import UsageError

Method = Literal["auto", "obu", "order_book_update"]
BookMethod = Literal["obu", "order_book_update"]
_METHODS: Final[tuple[BookMethod, ...]] = ("obu", "order_book_update")


def choose_method(url: str, method: Method) -> BookMethod:
    """`method`, or for "auto": obu where the endpoint serves it (the perpetual usdt, btc and
    usd1 endpoints), else order_book_update with REST snapshots (delivery, the legacy path).

    Raises:
        UsageError: `method` is none of "auto", "obu", "order_book_update".
    """
    if method == "auto":
        served = CHANNELS["futures.obu"].served_on(parse_endpoint(url).key)
        return "obu" if served else "order_book_update"
    if method not in _METHODS:
        raise UsageError(f"method must be 'auto', 'obu' or 'order_book_update', got {method!r}")
    return method


def choose_depth(method: BookMethod, depth: int) -> Depth:
    """The stream of `method` covering `depth` levels a side: the shallowest deep enough, and
    of those the fastest.

    Raises:
        UsageError: `depth` is not a positive int, or deeper than any stream of `method`.
    """
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
        raise UsageError(f"depth must be a positive int (levels per side), got {depth!r}")
    streams = CHANNELS[f"futures.{method}"].depths
    deep_enough = [d for d in streams if d.levels >= depth]
    if not deep_enough:
        deepest = max(d.levels for d in streams)
        raise UsageError(f"futures.{method} streams at most {deepest} levels, got depth={depth}")
    return min(deep_enough, key=lambda d: (d.levels, d.interval_ms))
