"""The trading engine's order and fill records, and how they look on the wire: the
`futures.orders` and `futures.usertrades` items, and the order object the trading API's results
and REST bodies carry (spec 7.1, 7.2, 8.5). The renderings change nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Final

import attrs

from gatetrio._core._events import Order, UserTrade

from ._market._numbers import dec_text

if TYPE_CHECKING:
    from ._market import Market

TAKER_FEE_RATE: Final = Decimal("0.0005")
MAKER_FEE_RATE: Final = Decimal("0.0002")


@attrs.frozen
class Fill:
    """One of the account's trades, as REST `my_trades` lists them (pushes carry the same)."""

    id: int
    order_id: int
    contract: str
    units: int  # signed, in size steps
    close_units: int  # signed, the part that closed a position
    price: Decimal
    role: str
    text: str
    fee: Decimal
    create_ms: int


@attrs.define(eq=False)
class EngineOrder:
    id: int
    contract: str
    units: int  # signed size in size steps
    price: Decimal  # 0: market order
    tif: str
    text: str
    create_ms: int
    left: int = 0  # signed, like `units`
    filled_value: Decimal = Decimal(0)  # sum of price * units filled, for fill_price
    status: str = "open"
    finish_as: str = ""
    finish_ms: int = 0
    update_ms: int = 0
    update_id: int = 0
    reduce_only: bool = False
    is_close: bool = False
    iceberg: int = 0
    amend_text: str = "-"
    stp_act: str = "-"
    role: str = ""
    is_liq: bool = False

    def fill_price(self) -> Decimal:
        done = abs(self.units - self.left)
        return (self.filled_value / done) if done else Decimal(0)


def order_item(market: Market, o: EngineOrder, user: str, *, size_decimal: bool) -> Order:
    """The `futures.orders` item for the order as it stood when its push was made."""
    end_ms = o.finish_ms or o.create_ms  # live: finish_time = create time while open
    return Order(
        id=o.id,
        contract=o.contract,
        size=market.units_size(o.contract, o.units, size_decimal=size_decimal),
        price=o.price,
        status=o.status,
        left=market.units_size(o.contract, o.left, size_decimal=size_decimal),
        fill_price=o.fill_price(),
        finish_as=o.finish_as,
        create_time=o.create_ms // 1000,
        create_time_ms=o.create_ms,
        finish_time=end_ms // 1000,
        finish_time_ms=end_ms,
        update_time=o.update_ms,
        update_id=o.update_id,
        text=o.text,
        tif=o.tif,
        iceberg=0,
        is_close=o.is_close,
        is_liq=o.is_liq,
        is_reduce_only=o.reduce_only,
        mkfr=MAKER_FEE_RATE,
        tkfr=TAKER_FEE_RATE,
        user=user,
        id_string=str(o.id),
        amend_text=o.amend_text,
        biz_info="-",
        stp_act="-",
        stp_id="0",
        refr=Decimal(0),
    )


def order_rest(
    market: Market, order: EngineOrder, user: str, *, size_decimal: bool
) -> dict[str, object]:
    """The order object of a trading result or a REST body (float-second times, string
    prices, `finish_as` and `finish_time` only once finished)."""

    def size(units: int) -> object:
        value = market.units_size(order.contract, units, size_decimal=size_decimal)
        return str(value) if isinstance(value, Decimal) else value

    out: dict[str, object] = {
        "id": order.id,
        "user": int(user) if user.isdigit() else user,
        "contract": order.contract,
        "create_time": order.create_ms / 1000,
        "update_time": order.update_ms / 1000,
        "size": size(order.units),
        "left": size(order.left),
        "price": dec_text(order.price),
        "fill_price": dec_text(order.fill_price()),
        "status": order.status,
        "tif": order.tif,
        "text": order.text,
        "iceberg": 0,
        "is_reduce_only": order.reduce_only,
        "is_close": order.is_close,
        "is_liq": order.is_liq,
        "tkfr": str(TAKER_FEE_RATE),
        "mkfr": str(MAKER_FEE_RATE),
        "biz_info": "-",
        "amend_text": order.amend_text,
        "stp_act": "-",
    }
    if order.status == "finished":
        out["finish_as"] = order.finish_as
        out["finish_time"] = order.finish_ms / 1000
    return out


def trade_item(market: Market, fill: Fill, now_ms: int, *, size_decimal: bool) -> UserTrade:
    """The `futures.usertrades` item of one fill."""
    close = market.units_size(fill.contract, fill.close_units, size_decimal=True)
    return UserTrade(
        id=str(fill.id),
        order_id=str(fill.order_id),
        contract=fill.contract,
        size=market.units_size(fill.contract, fill.units, size_decimal=size_decimal),
        price=fill.price,
        role=fill.role,
        text=fill.text,
        fee=fill.fee,
        point_fee=Decimal(0),
        create_time=now_ms // 1000,
        create_time_ms=now_ms,
        amend_text="-",
        biz_info="-",
        close_size=Decimal(close),
    )
