"""Private-channel records: orders, fills, positions, balances and what changes them.

Declared like the public ones in the package's `__init__` (frozen msgspec Structs, Gate's field
names, the units of spec section 10); `Order` is also what trading requests and REST return, so
it keeps the fields Gate adds later (`with_raw`).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    from collections.abc import Mapping
    from decimal import Decimal

    from ._schema import Size


class Order(msgspec.Struct, frozen=True, dict=True):
    """An order: a `futures.orders` push item, and what trading requests and REST return.

    `size` and `left` are signed (+ buy, - sell), contracts (`Decimal` with the size-decimal
    header). Times follow the other records: `create_time`/`finish_time` unix seconds with
    `create_time_ms`/`finish_time_ms` milliseconds, `update_time` milliseconds (Gate's trading
    results and REST send float seconds; they are converted). `finish_as` and the finish times
    are ""/0 while the order is open (live pushes repeat the create time there, spec 7.1).

    `raw` is the JSON object Gate sent for a trading result or a REST body, so fields Gate adds
    later are reachable before gatetrio models them; it is empty on pushes (their decode path
    keeps no copy, for speed) and is not part of equality, hashing or copies.
    """

    id: int
    contract: str
    size: Size
    price: Decimal
    status: str
    left: Size = 0
    fill_price: Decimal | None = None
    finish_as: str = ""
    create_time: int = 0
    create_time_ms: int = 0
    finish_time: int = 0
    finish_time_ms: int = 0
    update_time: int = 0
    update_id: int = 0
    text: str = ""
    tif: str = ""
    iceberg: Size = 0
    is_close: bool = False
    is_liq: bool = False
    is_reduce_only: bool = False
    mkfr: Decimal | None = None
    tkfr: Decimal | None = None
    fee: Decimal | None = None
    point_fee: Decimal | None = None
    user: str | int = ""
    id_string: str = ""
    role: str = ""
    amend_text: str = ""
    biz_info: str = ""
    stp_act: str = ""
    stp_id: str | int = ""
    pos_margin_mode: str = ""
    leverage: Decimal | None = None
    stop_loss_price: str = ""
    stop_profit_price: str = ""
    market_order_slip_ratio: str = ""
    refr: Decimal | None = None  # referral rebate rate (spec 15)
    refu: int = 0  # referrer's user id
    is_voucher: bool = False
    bbo: str = ""

    @property
    def raw(self) -> Mapping[str, object]:
        return self.__dict__.get("_raw", _NO_RAW)  # type: ignore[no-any-return]


_NO_RAW: Mapping[str, object] = MappingProxyType({})


def with_raw(order: Order, raw: dict[str, object]) -> Order:
    """`order` carrying `raw` (the JSON object it was read from) as `Order.raw`, read-only."""
    # Order is frozen; `dict=True` gives it a __dict__ for exactly this: an attribute outside
    # the fields, so equality, hashing and the push decode path stay as they are.
    order.__dict__["_raw"] = MappingProxyType(raw)
    return order


class UserTrade(msgspec.Struct, frozen=True, gc=False):
    """`futures.usertrades` entry; `id` and `order_id` are strings on the wire."""

    id: str
    order_id: str
    contract: str
    size: Size
    price: Decimal
    role: str = ""
    text: str = ""
    fee: Decimal | None = None
    point_fee: Decimal | None = None
    create_time: int = 0
    create_time_ms: int = 0
    amend_text: str = ""
    biz_info: str = ""
    close_size: Decimal | None = None


class Liquidation(msgspec.Struct, frozen=True, gc=False):
    contract: str
    size: Size
    order_id: int = 0
    time: int = 0
    time_ms: int = 0
    user: str | int = ""
    entry_price: Decimal | None = None
    fill_price: Decimal | None = None
    liq_price: Decimal | None = None
    mark_price: Decimal | None = None
    order_price: Decimal | None = None
    margin: Decimal | None = None
    leverage: Decimal | None = None
    left: Size = 0
    order_size: Size = 0


class AutoDeleverage(msgspec.Struct, frozen=True, gc=False):
    contract: str
    position_size: Size
    trade_size: Size
    time: int = 0
    time_ms: int = 0
    user: str | int = ""
    entry_price: Decimal | None = None
    fill_price: Decimal | None = None
    pos_margin_mode: str = ""
    leverage: Decimal | None = None


class PositionClose(msgspec.Struct, frozen=True, gc=False):
    contract: str
    side: str
    pnl: Decimal | None = None
    text: str = ""
    time: int = 0
    time_ms: int = 0
    user: str | int = ""


class Balance(msgspec.Struct, frozen=True, gc=False):
    """`futures.balances` entry: the balance after one change of `type` (fee, pnl, dnw, ...)."""

    balance: Decimal
    change: Decimal
    type: str
    text: str = ""
    time: int = 0
    time_ms: int = 0
    user: str | int = ""
    currency: str = ""


class ReduceRiskLimit(msgspec.Struct, frozen=True, gc=False):
    contract: str
    cancel_orders: int = 0
    leverage_max: Decimal | None = None
    liq_price: Decimal | None = None
    maintenance_rate: Decimal | None = None
    risk_limit: Decimal | None = None
    time: int = 0
    time_ms: int = 0
    user: str | int = ""


class Position(msgspec.Struct, frozen=True, gc=False):
    """`futures.positions` entry; `size` is signed, `update_id` increments by one per push."""

    contract: str
    size: Size
    entry_price: Decimal | None = None
    liq_price: Decimal | None = None
    margin: Decimal | None = None
    realised_pnl: Decimal | None = None
    realised_point: Decimal | None = None
    history_pnl: Decimal | None = None
    history_point: Decimal | None = None
    last_close_pnl: Decimal | None = None
    leverage: Decimal | None = None
    leverage_max: Decimal | None = None
    maintenance_rate: Decimal | None = None
    risk_limit: Decimal | None = None
    cross_leverage_limit: Decimal | None = None
    mode: str = ""
    time: int = 0
    time_ms: int = 0
    update_id: int = 0
    user: str | int = ""
    pos_margin_mode: str = ""
    lever: Decimal | None = None


class PositionAdlRank(msgspec.Struct, frozen=True, gc=False):
    """`rank_division` 1-6: 1 is first in line for ADL, 6 is in liquidation."""

    contract: str
    rank_division: int
    mode: str = ""
    time_ms: int = 0
    user_id: int = 0


class AutoOrder(msgspec.Struct, frozen=True):
    """`futures.autoorders` entry; nested trigger/initial objects are kept as plain JSON."""

    id: int
    status: str
    user: str | int = ""
    trigger: object = None
    initial: object = None
    stop_trigger: object = None
    trade_id: int = 0
    reason: str = ""
    create_time: int = 0
    finish_time: int = 0
    finish_as: str = ""
    name: str = ""
    order_type: str = ""
    id_string: str = ""
    me_order_id: str = ""
    is_stop_order: bool = False
    # spec 15: fields live autoorders carry
    parent_id: int | str = 0
    stop_profit_price: str = ""
    stop_loss_price: str = ""
    batch_id: str = ""
    pos_margin_mode: str = ""
    position_mode: str = ""
    leverage: Decimal | None = None
    mmr_trigger: object = None
