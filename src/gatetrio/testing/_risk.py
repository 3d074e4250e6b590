"""The fake's risk engine: liquidations, auto-deleverages, risk-limit reductions, ADL ranks.

What Gate pushes for each, from the trading engine's own state (`_account.Account`), so a
client's account and the fake's REST always agree afterwards:

- **Liquidation** (`check`, every tick, or `liquidate` on demand): when the mark price reaches
  a position's liquidation price (`_positions.py`), the contract's open orders are cancelled
  (``finish_as: liquidated``), the position's ADL rank becomes 6 ("in liquidation"), and an
  order of the exchange's own (``text: liquidation``, ``is_liq``) closes it at the liquidation
  price, off the book: `futures.orders` (the cancels, then the liquidation order, finished),
  `futures.usertrades`, `futures.positions`, `futures.balances` (the fee, then the loss as
  ``pnl``), `futures.position_closes`, and `futures.liquidates` last.
- **Auto-deleverage** (`auto_deleverage`, on demand): the exchange closes part or all of a
  position against a liquidated counterparty at the mark price (``text:
  auto_deleveraging``): the same order, trade, position and balance pushes, then
  `futures.auto_deleverages`, and `futures.position_closes` when nothing is left.
- **Risk-limit reduction** (`reduce_risk_limit`, on demand): a position's risk limit is cut;
  its maximum leverage falls in proportion, the contract's open orders are cancelled, and
  `futures.reduce_risk_limits` says how many, followed by the position's push.
- **ADL rank** (`set_adl_rank`, on demand; also 5 when a position opens and 6 in
  liquidation): `futures.position_adl_rank`.

Every verb appends push thunks to `after` (the caller sends them in order, as the trading API
does) and never touches the book.
"""

from __future__ import annotations

import functools
import typing
from decimal import ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Final

from gatetrio._core._events import (
    AutoDeleverage,
    AutoDeleveragesUpdate,
    Event,
    Liquidation,
    LiquidationsUpdate,
    ReduceRiskLimit,
    ReduceRiskLimitsUpdate,
)

from ._positions import LEVERAGE, SINGLE

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._account import Account, AccountHost
    from ._positions import FakePosition

IN_LIQUIDATION: Final = 6  # the ADL rank of a position being liquidated (spec 7.9)


@typing.final
class Risk:
    """Liquidations, auto-deleverages, risk-limit reductions and ADL ranks of one account."""

    def __init__(self, account: Account, host: AccountHost) -> None:
        self._account = account
        self._host = host
        self.liquidations = 0
        self.auto_deleverages = 0

    def check(self, now_ms: int, after: list[Callable[[], None]]) -> None:
        """Liquidate every position the mark price has reached the liquidation price of."""
        for pos in self._account.open_positions():
            market = self._host.market_for(pos.contract)
            mark = market.mark_price(pos.contract)
            liq = pos.liq_price(market.spec(pos.contract).tick)
            if (pos.units > 0 and mark <= liq) or (pos.units < 0 and mark >= liq):
                self.liquidate(pos, now_ms, after)

    def liquidate(self, pos: FakePosition, now_ms: int, after: list[Callable[[], None]]) -> int:
        """Close `pos` by liquidation at its liquidation price (see the module docstring);
        returns the liquidation order's id."""
        account = self._account
        if not pos.units:
            raise ValueError(f"{pos.contract} {pos.mode}: no position to liquidate")
        market = self._host.market_for(pos.contract)
        tick = market.spec(pos.contract).tick
        mark = market.mark_price(pos.contract)
        liq = pos.liq_price(tick)
        for order in list(account.orders.values()):
            if order.status == "open" and order.contract == pos.contract:
                account.cancel(order, now_ms, after, finish_as="liquidated")
        self.set_adl_rank(pos, IN_LIQUIDATION, now_ms, after)
        units, entry, balance = pos.units, pos.entry, account.balance
        order = account.fill_outside_book(
            pos.contract, -units, liq, now_ms, after, text="liquidation", is_liq=True
        )
        self.liquidations += 1
        user = account.user_id

        def build(size_decimal: bool) -> Event:
            def size(n: int) -> int | Decimal:
                return market.units_size(pos.contract, n, size_decimal=size_decimal)

            item = Liquidation(
                contract=pos.contract,
                size=size(units),
                order_id=order.id,
                time=now_ms // 1000,
                time_ms=now_ms,
                user=user,
                entry_price=entry,
                fill_price=liq,
                liq_price=liq,
                mark_price=mark,
                order_price=liq,
                margin=balance,
                leverage=LEVERAGE,
                left=size(0),
                order_size=size(-units),
            )
            return LiquidationsUpdate(result=(item,), time=now_ms // 1000, time_ms=now_ms + 40)

        after.append(lambda: self._host.push_private("futures.liquidates", pos.contract, build))
        return order.id

    def auto_deleverage(
        self,
        pos: FakePosition,
        units: int | None,
        price: Decimal | None,
        now_ms: int,
        after: list[Callable[[], None]],
    ) -> int:
        """Close `units` size steps of `pos` (all when None) at `price` (the mark price when
        None) against a liquidated counterparty; returns the order's id."""
        account = self._account
        if not pos.units:
            raise ValueError(f"{pos.contract} {pos.mode}: no position to deleverage")
        market = self._host.market_for(pos.contract)
        if price is None:
            price = market.mark_price(pos.contract)
        amount = abs(pos.units) if units is None else min(abs(units), abs(pos.units))
        if amount <= 0:
            raise ValueError(f"units must be > 0, got {units}")
        trade = -amount if pos.units > 0 else amount
        entry = pos.entry
        order = account.fill_outside_book(
            pos.contract, trade, price, now_ms, after, text="auto_deleveraging"
        )
        self.auto_deleverages += 1
        left, user = pos.units, account.user_id

        def build(size_decimal: bool) -> Event:
            def size(n: int) -> int | Decimal:
                return market.units_size(pos.contract, n, size_decimal=size_decimal)

            item = AutoDeleverage(
                contract=pos.contract,
                position_size=size(left),
                trade_size=size(trade),
                time=now_ms // 1000,
                time_ms=now_ms,
                user=user,
                entry_price=entry,
                fill_price=price,
                pos_margin_mode="cross",
                leverage=LEVERAGE,
            )
            return AutoDeleveragesUpdate(result=(item,), time=now_ms // 1000, time_ms=now_ms + 40)

        channel = "futures.auto_deleverages"
        after.append(lambda: self._host.push_private(channel, pos.contract, build))
        return order.id

    def reduce_risk_limit(
        self, contract: str, risk_limit: Decimal, now_ms: int, after: list[Callable[[], None]]
    ) -> int:
        """Cut the risk limit of `contract`'s positions to `risk_limit`; returns how many open
        orders that cancelled."""
        account = self._account
        if not risk_limit > 0:
            raise ValueError(f"risk_limit must be > 0, got {risk_limit}")
        cancelled = 0
        for order in list(account.orders.values()):
            if order.status == "open" and order.contract == contract:
                account.cancel(order, now_ms, after)
                cancelled += 1
        market = self._host.market_for(contract)
        tick = market.spec(contract).tick
        for pos in [p for p in account.positions.values() if p.contract == contract]:
            ratio = risk_limit / pos.risk_limit
            pos.leverage_max = max(
                Decimal(1), (pos.leverage_max * ratio).to_integral_value(ROUND_FLOOR)
            )
            pos.risk_limit = risk_limit
            pos.update_id += 1
            item = ReduceRiskLimit(
                contract=contract,
                cancel_orders=cancelled,
                leverage_max=pos.leverage_max,
                liq_price=pos.liq_price(tick),
                maintenance_rate=pos.maintenance_rate,
                risk_limit=risk_limit,
                time=now_ms // 1000,
                time_ms=now_ms,
                user=account.user_id,
            )
            event = ReduceRiskLimitsUpdate(result=(item,), time=now_ms // 1000, time_ms=now_ms)
            after.append(
                functools.partial(self._push, "futures.reduce_risk_limits", contract, event)
            )
            account.push_position(pos, now_ms, after)
        return cancelled

    def _push(self, channel: str, contract: str, event: Event) -> None:
        self._host.push_private(channel, contract, event)

    def set_adl_rank(
        self, pos: FakePosition, rank: int, now_ms: int, after: list[Callable[[], None]]
    ) -> None:
        """Give `pos` ADL rank `rank` (1 first in line ... 5 last, 6 in liquidation)."""
        if not 1 <= rank <= IN_LIQUIDATION:
            raise ValueError(f"rank must be 1..6, got {rank}")
        pos.adl_rank = rank
        self._account.push_adl_rank(pos, now_ms, after)


def mode_of(account: Account, side: str | None) -> str:
    """The position mode for `side` (``long``/``short``; None in single mode)."""
    if not account.dual_mode:
        return SINGLE
    if side not in ("long", "short"):
        raise ValueError("the account is in dual mode: name the side, 'long' or 'short'")
    return f"dual_{side}"
