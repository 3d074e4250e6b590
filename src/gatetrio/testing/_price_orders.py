"""Price-triggered orders (Gate's auto orders): the fake engine runs them, and pushes
`futures.autoorders` (spec 7.10) for each change.

Created through REST ``POST /futures/{settle}/price_orders`` with Gate's body::

    {"initial": {"contract": "BTC_USDT", "size": 1, "price": "0", "tif": "ioc", ...},
     "trigger": {"strategy_type": 0, "price_type": 0, "price": "61000", "rule": 2,
                 "expiration": 86400},
     "order_type": "close-long-order"}

and listed, read and cancelled by ``GET``/``DELETE`` there. While one is open, every tick of the
engine compares the trigger's price source (`price_type` 0: the last trade, 1: the mark price,
2: the index, which the fake takes as the mark price) with its `price` by its `rule` (1: `>=`,
2: `<=`); when it holds, the `initial` order is placed as if sent on the trading API, and the
auto order finishes ``succeeded`` with the order's id (``trade_id``), or ``failed`` with the
refusal's label as its ``reason``. Past `expiration` seconds it finishes ``expired``; a cancel
finishes it ``cancelled``. Each of those, and the creation, is one `futures.autoorders` push.
"""

from __future__ import annotations

import json
import typing
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Final

import attrs

from gatetrio._core._events import AutoOrder, AutoOrdersUpdate

from ._account import ApiFailure

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._account import Account, AccountHost
    from ._market import Market

KEPT: Final = 10_000  # auto orders kept for REST; older finished ones go
_RULES: Final = (1, 2)  # 1: price >= trigger; 2: price <= trigger
_PRICE_TYPES: Final = (0, 1, 2)  # last, mark, index


@typing.final
@attrs.define(eq=False)
class PriceOrder:
    id: int
    contract: str
    initial: dict[str, Any]
    trigger: dict[str, Any]
    order_type: str
    create_ms: int
    status: str = "open"
    finish_as: str = ""
    finish_ms: int = 0
    trade_id: int = 0
    reason: str = ""


@typing.final
class PriceOrders:
    """The account's price-triggered orders."""

    def __init__(self, account: Account, host: AccountHost, first_id: int) -> None:
        self._account = account
        self._host = host
        self._next_id = first_id
        self.orders: dict[int, PriceOrder] = {}

    def watching(self) -> bool:
        return any(o.status == "open" for o in self.orders.values())

    def create(
        self, market: Market, body: object, now_ms: int, after: list[Callable[[], None]]
    ) -> PriceOrder:
        """A new auto order from a REST body; `ApiFailure` as Gate refuses a bad one."""
        if not isinstance(body, dict):
            raise ApiFailure("400", "INVALID_REQUEST_BODY", "a JSON object is expected")
        initial, trigger = body.get("initial"), body.get("trigger")
        if not isinstance(initial, dict) or not isinstance(trigger, dict):
            raise ApiFailure("400", "MISSING_REQUIRED_PARAM", "initial and trigger are required")
        contract = initial.get("contract")
        if not isinstance(contract, str) or not market.has_contract(contract):
            raise ApiFailure("400", "CONTRACT_NOT_FOUND", f"contract {contract} not found")
        if trigger.get("rule") not in _RULES or trigger.get("price_type", 0) not in _PRICE_TYPES:
            raise ApiFailure("400", "INVALID_PARAM_VALUE", "trigger rule is 1 or 2")
        price = _price(trigger.get("price"))
        expiration = trigger.get("expiration", 0)
        if isinstance(expiration, bool) or not isinstance(expiration, int) or expiration < 0:
            raise ApiFailure("400", "INVALID_PARAM_VALUE", "expiration is whole seconds")
        self._next_id += 1
        order = PriceOrder(
            id=self._next_id,
            contract=contract,
            initial=dict(initial),
            trigger={**trigger, "price": str(price), "expiration": expiration},
            order_type=str(body.get("order_type", "")),
            create_ms=now_ms,
        )
        self.orders[order.id] = order
        if len(self.orders) > KEPT * 5 // 4:
            finished = [k for k, o in self.orders.items() if o.status != "open"]
            for key in finished[: len(self.orders) - KEPT]:
                del self.orders[key]
        self._push(order, now_ms, after)
        return order

    def cancel(self, order: PriceOrder, now_ms: int, after: list[Callable[[], None]]) -> None:
        if order.status != "open":
            raise ApiFailure("404", "AUTO_ORDER_NOT_FOUND", "the order is not open")
        self._finish(order, "cancelled", now_ms, after)

    def check(self, now_ms: int, after: list[Callable[[], None]]) -> None:
        """Trigger or expire what is due (every engine tick)."""
        for order in [o for o in self.orders.values() if o.status == "open"]:
            expiration = order.trigger["expiration"]
            if expiration and now_ms >= order.create_ms + expiration * 1000:
                self._finish(order, "expired", now_ms, after)
                continue
            market = self._host.market_for(order.contract)
            source = order.trigger.get("price_type", 0)
            now_price = (
                market.last_price(order.contract)
                if source == 0
                else market.mark_price(order.contract)
            )
            trigger = Decimal(order.trigger["price"])
            rule = order.trigger["rule"]
            if (rule == 1 and now_price >= trigger) or (rule == 2 and now_price <= trigger):
                self._fire(order, market, now_ms, after)

    def _fire(
        self, order: PriceOrder, market: Market, now_ms: int, after: list[Callable[[], None]]
    ) -> None:
        try:
            placed = self._account.place_on(market, dict(order.initial), now_ms, after)
        except ApiFailure as exc:
            order.reason = exc.label
            self._finish(order, "failed", now_ms, after)
            return
        order.trade_id = placed.id
        self._finish(order, "succeeded", now_ms, after)

    def _finish(
        self, order: PriceOrder, how: str, now_ms: int, after: list[Callable[[], None]]
    ) -> None:
        order.status, order.finish_as, order.finish_ms = "finished", how, now_ms
        self._push(order, now_ms, after)

    def item(self, order: PriceOrder) -> AutoOrder:
        """The order as `futures.autoorders` pushes it (and REST lists it)."""
        uid = self._account.user_id
        return AutoOrder(
            id=order.id,
            status=order.status,
            user=int(uid) if uid.isdigit() else uid,
            trigger=dict(order.trigger),
            initial=dict(order.initial),
            stop_trigger={"rule": 0, "trigger_price": "", "order_price": ""},
            trade_id=order.trade_id,
            reason=order.reason,
            create_time=order.create_ms // 1000,
            finish_time=order.finish_ms // 1000,
            finish_as=order.finish_as,
            name="price_autoorders",
            order_type=order.order_type,
            id_string=str(order.id),
            me_order_id=str(order.trade_id) if order.trade_id else "",
            is_stop_order=False,
            parent_id=0,
            stop_profit_price="",
            stop_loss_price="",
            batch_id="",
            pos_margin_mode="cross",
            position_mode="dual" if self._account.dual_mode else "single",
            leverage=Decimal(10),
            mmr_trigger={"rate": ""},
        )

    def json(self, order: PriceOrder) -> dict[str, object]:
        """The REST object of the order (`GET /price_orders`)."""
        item = self.item(order)
        out: dict[str, object] = {
            name: getattr(item, name)
            for name in (
                "id",
                "user",
                "trigger",
                "initial",
                "status",
                "finish_as",
                "reason",
                "order_type",
                "me_order_id",
                "trade_id",
            )
        }
        out["create_time"] = order.create_ms / 1000
        out["finish_time"] = order.finish_ms / 1000
        out["leverage"] = "10"
        return out

    def _push(self, order: PriceOrder, now_ms: int, after: list[Callable[[], None]]) -> None:
        event = AutoOrdersUpdate(result=(self.item(order),), time=now_ms // 1000, time_ms=now_ms)
        contract = order.contract
        after.append(lambda: self._host.push_private("futures.autoorders", contract, event))


def _price(value: object) -> Decimal:
    try:
        price = Decimal(str(value))
    except InvalidOperation:
        raise ApiFailure("400", "INVALID_PARAM_VALUE", "trigger price") from None
    if not price.is_finite() or price <= 0:
        raise ApiFailure("400", "INVALID_PARAM_VALUE", "trigger price must be > 0")
    return price


def serve_rest(
    triggers: PriceOrders,
    market: Market,
    *,
    method: str,
    rest: list[str],
    query: dict[str, str],
    body: bytes,
    now_ms: int,
) -> object:
    """``/futures/{settle}/price_orders[/{id}]``: the JSON answer, or `ApiFailure` as Gate
    refuses (sent pushes go out before this returns)."""
    after: list[Callable[[], None]] = []
    try:
        match method, rest:
            case "POST", ["price_orders"]:
                try:
                    parsed = json.loads(body or b"null")
                except ValueError:
                    raise ApiFailure("400", "INVALID_REQUEST_BODY", "not JSON") from None
                answer: object = {"id": triggers.create(market, parsed, now_ms, after).id}
            case "GET", ["price_orders"]:
                status = query.get("status", "open")
                contract = query.get("contract")
                answer = [
                    triggers.json(o)
                    for o in reversed(triggers.orders.values())
                    if (o.status == status or (status == "finished" and o.status != "open"))
                    and (contract is None or o.contract == contract)
                    and market.has_contract(o.contract)
                ]
            case "DELETE", ["price_orders"]:
                contract = query.get("contract")
                cancelled = [
                    o
                    for o in triggers.orders.values()
                    if o.status == "open" and (contract is None or o.contract == contract)
                ]
                for each in cancelled:
                    triggers.cancel(each, now_ms, after)
                answer = [triggers.json(o) for o in cancelled]
            case ("GET" | "DELETE") as verb, ["price_orders", ref]:
                order = triggers.orders.get(int(ref)) if ref.isdigit() else None
                if order is None:
                    raise ApiFailure("404", "AUTO_ORDER_NOT_FOUND", f"no auto order {ref}")
                if verb == "DELETE":
                    triggers.cancel(order, now_ms, after)
                answer = triggers.json(order)
            case _:
                raise ApiFailure("405", "METHOD_NOT_ALLOWED", f"{method} is not served here")
    finally:
        for push in after:
            push()
    return answer
