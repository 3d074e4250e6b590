"""Resolving an in-doubt trading request: what to look up, and what the answers mean. Pure.

A request that got no final answer (`RequestInDoubt`) may or may not have been carried out.
Every order gatetrio sends carries a client order id and an `x-gate-exptime` (`_api.py`, Rule
C), so once that expiry has passed on Gate's clock the request can no longer execute, and
looking its orders up then gives the final answer:

- placement (`PlaceOrder`, each order of a `BatchPlaceOrders`): the order found by its `text` was
  placed, as it stands now; none found was not placed. Gate finds an order by text while it
  is open and for 60 s after it finished, so a miss is checked again against the contract's
  latest finished orders (REST docs, ``GET /futures/{settle}/orders/{order_id}``);
- `AmendOrder`: it took effect iff the order now carries the amend's `amend_text` (the client
  gives every amend a unique one);
- `CancelOrder` / `CancelOrders`: the order is now finished as cancelled;
- `CancelAllOrders`: no open order of that contract (and side) is left.

The shell asks (`order_status`/`order_list` on a live socket, signed REST when none is up) and
`decide` turns the answers into a `Resolution`.
"""

from __future__ import annotations

import typing
from typing import TYPE_CHECKING, Final, NamedTuple

import attrs

from ._errors import ProtocolError, UsageError
from ._requests import (
    AmendOrder,
    BatchPlaceOrders,
    CancelAllOrders,
    CancelOrder,
    CancelOrders,
    PlaceOrder,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ._events import Order
    from ._request_base import TradingRequest

FINISHED_SCAN: Final = 1000  # latest finished orders of a contract searched for a missed text


class Lookup(NamedTuple):
    """One order to look up: by its `key` (an order id or a ``t-`` text); `contract` is set for
    texts of placements, whose miss is checked against that contract's finished orders."""

    key: str
    contract: str | None = None


@typing.final
@attrs.frozen
class Resolution:
    """What an in-doubt request did, found out once Gate could no longer carry it out.

    `executed`: it took effect (the order was placed, the amend applied, the order cancelled;
    for a batch or a multi-cancel: at least one of them). `orders`: the orders concerned as
    they stand now (placed ones, the amended or cancelled order, for `CancelAllOrders` the
    orders still open). `missing`: the client order ids or order ids Gate does not have.
    `via`: "websocket" or "rest", how it was asked; "" when nothing had to be asked (the
    request never left the client).
    """

    request: TradingRequest[object]
    executed: bool
    orders: tuple[Order, ...] = ()
    missing: tuple[str, ...] = ()
    via: str = ""

    @property
    def placed(self) -> bool:
        """For a placement: whether the order (any order of a batch) exists at Gate."""
        return self.executed

    @property
    def order(self) -> Order | None:
        """The one order concerned, when there is exactly one."""
        return self.orders[0] if len(self.orders) == 1 else None


def lookups(request: TradingRequest[object]) -> list[Lookup]:
    """The orders to look up for `request`; [] for `CancelAllOrders` (it lists open orders).

    Raises:
        UsageError: `request` changes nothing, so there is nothing to resolve.
    """
    match request:
        case PlaceOrder():
            return [Lookup(_text(request), request.contract)]
        case BatchPlaceOrders():
            return [Lookup(_text(order), order.contract) for order in request.orders]
        case AmendOrder() | CancelOrder():
            return [Lookup(str(request.order_id))]
        case CancelOrders():
            return [Lookup(str(order_id)) for order_id in request.order_ids]
        case CancelAllOrders():
            return []
        case _:
            raise UsageError(
                f"{type(request).__name__} changes nothing, so there is nothing to resolve: "
                "send it again"
            )


def _text(order: PlaceOrder) -> str:
    # every order that went out carries one: the client gives it one before sending
    return order.text or ""


def find_in(orders: Sequence[Order], text: str) -> Order | None:
    """The order of `orders` whose client order id is `text`, if any."""
    return next((order for order in orders if order.text == text), None)


def answers(order: Order, key: str) -> bool:
    """Is `order` the one looked up by `key` (its id, or its ``t-`` text)?"""
    return order.text == key if key.startswith("t-") else str(order.id) == key


def decide(
    request: TradingRequest[object],
    found: Mapping[str, Order | None],
    *,
    open_orders: Sequence[Order] = (),
    via: str,
) -> Resolution:
    """The `Resolution` of `request` from `found` (each lookup's key -> the order, or None if
    Gate has none) and, for `CancelAllOrders`, the contract's `open_orders` now."""
    if isinstance(request, CancelAllOrders):
        left = tuple(
            order
            for order in open_orders
            if order.contract == request.contract
            and order.status == "open"
            and (request.side is None or (order.size > 0) == (request.side == "bid"))
        )
        return Resolution(request, not left, left, via=via)
    for key, order in found.items():
        if order is not None and not answers(order, key):  # never taken for the one asked about
            raise ProtocolError(
                f"the lookup of order {key} was answered with another order "
                f"(id {order.id}, text {order.text!r:.40})"
            )
    keys = [lookup.key for lookup in lookups(request)]
    orders = tuple(order for key in keys if (order := found.get(key)) is not None)
    missing = tuple(key for key in keys if found.get(key) is None)
    match request:
        case AmendOrder():
            executed = any(order.amend_text == request.amend_text for order in orders)
        case CancelOrder() | CancelOrders():
            executed = any(_cancelled(order) for order in orders)
        case _:  # placements
            executed = bool(orders)
    return Resolution(request, executed, orders, missing, via)


def _cancelled(order: Order) -> bool:
    return order.status == "finished" and order.finish_as == "cancelled"
