"""Versions: which of two states of one order, position or balance is the newer. Pure.

The merge rules of `AccountSync` (the essay is in `_sync.py`) rest on these: a state is taken
only if it is newer than the one held, so a late push never reverts a snapshot.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from gatetrio._core._events import Balance, Order, Position, UserTrade

    from ._records import PositionKey

# Balances arrive as JSON floats (spec 15): Gate's total and the sum of a push's balance and
# change agree to about this many places, not exactly
AMOUNT_TOLERANCE: Final = Decimal("1e-8")
SINGLE: Final = "single"


def position_key(position: Position) -> PositionKey:
    """``(contract, mode)``; a position without a mode is a single-mode one."""
    return position.contract, position.mode or SINGLE


def finished(order: Order) -> bool:
    return order.status != "open"


def filled(order: Order) -> Decimal:
    return abs(Decimal(order.size) - Decimal(order.left))


def order_ms(order: Order, fallback: int = 0) -> int:
    """When the order last changed (ms): its `update_time`; else, once finished, its finish
    time; else `fallback` (a snapshot's `as_of`), else its create time (live pushes repeat the
    create time as the finish time while the order is open)."""
    if order.update_time:
        return order.update_time
    created = order.create_time_ms or order.create_time * 1000
    if finished(order):
        return max(created, order.finish_time_ms or order.finish_time * 1000)
    return fallback or created


def order_core(order: Order) -> tuple[object, ...]:
    """What a change to an order is (lifecycle markers such as ``_new`` aside)."""
    finish_as = order.finish_as if finished(order) else ""
    return (order.size, order.left, order.price, order.status, finish_as)


def position_ms(position: Position) -> int:
    return position.time_ms or position.time * 1000


def position_newer(a: Position, b: Position) -> int:
    """1 if `a` is a newer version than `b`, -1 if older, 0 if the same."""
    if a.update_id and b.update_id:
        return (a.update_id > b.update_id) - (a.update_id < b.update_id)
    ta, tb = position_ms(a), position_ms(b)
    return (ta > tb) - (ta < tb)


def same_amount(a: Decimal, b: Decimal) -> bool:
    return abs(a - b) <= AMOUNT_TOLERANCE * max(Decimal(1), abs(b))


def balance_ms(push: Balance) -> int:
    return push.time_ms or push.time * 1000


def trade_ms(trade: UserTrade) -> int:
    return trade.create_time_ms or trade.create_time * 1000


def compare_orders(a: Order, a_ms: int, b: Order, b_ms: int) -> int:
    """1 if `a` is a newer version of the order than `b`, -1 if older, 0 if they tie.

    Time first; within one millisecond, finished beats open (an order never reopens) and more
    filled beats less (a fill is never undone); then the per-order push counter."""
    if a_ms != b_ms:
        return 1 if a_ms > b_ms else -1
    fa, fb = finished(a), finished(b)
    if fa != fb:
        return 1 if fa else -1
    ga, gb = filled(a), filled(b)
    if ga != gb:
        return 1 if ga > gb else -1
    if a.update_id and b.update_id and a.update_id != b.update_id:
        return 1 if a.update_id > b.update_id else -1
    return 0
