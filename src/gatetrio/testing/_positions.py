"""The fake account's positions: one per contract in single mode, a long and a short one per
contract in dual mode (`mode` ``single``, ``dual_long``, ``dual_short``, as Gate names them).

The fake's margin model, its own and simple: every position is margined as if isolated at
`LEVERAGE` (the cross leverage limit its pushes report), with maintenance rate
`MAINTENANCE_RATE`. Its liquidation price is entry x (1 - 1/L + mmr) for a long and
entry x (1 + 1/L - mmr) for a short, on the contract's tick (rounded toward the entry); the
mark price reaching it liquidates the position (`_risk.py`). Profit and loss are
(price - entry) x contracts x multiplier, for inverse contracts too (a simplification).
"""

from __future__ import annotations

import typing
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Final

import attrs

from gatetrio._core._events import Position

from ._market._numbers import dec_text, plain

if TYPE_CHECKING:
    from ._market import Market

LEVERAGE: Final = Decimal(10)
MAINTENANCE_RATE: Final = Decimal("0.005")
RISK_LIMIT: Final = Decimal(1_000_000)
ADL_RANK: Final = 5  # Gate's ranks: 1 first in line for ADL ... 5 last; 6 in liquidation
_ENTRY_QUANTUM: Final = Decimal("1e-10")

SINGLE: Final = "single"
DUAL_LONG: Final = "dual_long"
DUAL_SHORT: Final = "dual_short"


@typing.final
@attrs.define(eq=False)
class FakePosition:
    """One position of the fake account; `units` are signed size steps."""

    contract: str
    mode: str
    leverage_max: Decimal
    units: int = 0
    entry: Decimal = Decimal(0)
    realised_pnl: Decimal = Decimal(0)
    history_pnl: Decimal = Decimal(0)
    last_close_pnl: Decimal = Decimal(0)
    update_id: int = 0
    risk_limit: Decimal = RISK_LIMIT
    maintenance_rate: Decimal = MAINTENANCE_RATE
    adl_rank: int = ADL_RANK

    @property
    def key(self) -> tuple[str, str]:
        return self.contract, self.mode

    @property
    def side(self) -> str:
        """``long`` or ``short`` (the side a close reports; a flat one says ``long``)."""
        if self.mode != SINGLE:
            return "long" if self.mode == DUAL_LONG else "short"
        return "short" if self.units < 0 else "long"

    def liq_price(self, tick: Decimal) -> Decimal:
        """Where the mark price liquidates this position (0 while flat)."""
        if self.units == 0 or self.entry <= 0:
            return Decimal(0)
        margin = 1 / LEVERAGE - self.maintenance_rate
        if self.units > 0:
            price = (self.entry * (1 - margin) / tick).to_integral_value(ROUND_CEILING) * tick
        else:
            price = (self.entry * (1 + margin) / tick).to_integral_value(ROUND_FLOOR) * tick
        return plain(price)

    def trade(self, units: int, price: Decimal, step: Decimal) -> Decimal:
        """Take a fill of `units` (signed) at `price`; returns the profit or loss it realised
        (0 when it only adds). `step` is one size unit in base currency (size step x
        multiplier)."""
        old = self.units
        pnl = Decimal(0)
        if old == 0 or (old > 0) == (units > 0):
            # an average price kept to 10 places, not 28 digits of division (spec 15)
            self.entry = (
                (self.entry * abs(old) + price * abs(units)) / (abs(old) + abs(units))
            ).quantize(_ENTRY_QUANTUM)
        else:
            closed = min(abs(old), abs(units))
            pnl = (price - self.entry) * closed * step * (1 if old > 0 else -1)
            if abs(units) > abs(old):
                self.entry = price
        self.units = old + units
        if self.units == 0:
            self.entry = Decimal(0)
        if pnl:
            self.history_pnl += pnl
            self.last_close_pnl = pnl
        return pnl

    def push(
        self,
        market: Market,
        *,
        size_decimal: bool,
        margin: Decimal,
        time_ms: int,
        user: str,
    ) -> Position:
        """The `futures.positions` item for this position as it stands."""
        spec = market.spec(self.contract)
        return Position(
            contract=self.contract,
            size=market.units_size(self.contract, self.units, size_decimal=size_decimal),
            entry_price=plain(self.entry),
            liq_price=self.liq_price(spec.tick),
            margin=margin,
            realised_pnl=plain(self.realised_pnl),
            realised_point=Decimal(0),
            history_pnl=plain(self.history_pnl),
            history_point=Decimal(0),
            last_close_pnl=plain(self.last_close_pnl),
            leverage=Decimal(0),
            leverage_max=self.leverage_max,
            maintenance_rate=self.maintenance_rate,
            risk_limit=self.risk_limit,
            cross_leverage_limit=LEVERAGE,
            mode=self.mode,
            time=time_ms // 1000,
            time_ms=time_ms,
            update_id=self.update_id,
            user=user,
            pos_margin_mode="cross",
            lever=LEVERAGE,
        )

    def rest(
        self,
        market: Market,
        *,
        margin: Decimal,
        now_s: int,
        user: str,
        pending_orders: int,
        size_decimal: bool,
    ) -> dict[str, object]:
        """The ``GET /futures/{settle}/positions`` entry for this position."""
        spec = market.spec(self.contract)
        mark = market.mark_price(self.contract)
        multiplier = spec.quanto_multiplier or 1
        contracts = Decimal(market.units_size(self.contract, self.units, size_decimal=True))
        pnl = (mark - self.entry) * contracts * multiplier if self.units else Decimal(0)
        size = market.units_size(self.contract, self.units, size_decimal=size_decimal)
        return {
            "user": int(user) if user.isdigit() else user,
            "contract": self.contract,
            "size": size if isinstance(size, int) else dec_text(size),
            "leverage": "0",
            "risk_limit": dec_text(self.risk_limit),
            "leverage_max": dec_text(self.leverage_max),
            "maintenance_rate": dec_text(self.maintenance_rate),
            "value": dec_text(abs(contracts) * multiplier * mark),
            "margin": dec_text(margin),
            "entry_price": dec_text(self.entry),
            "liq_price": dec_text(self.liq_price(spec.tick)),
            "mark_price": dec_text(mark),
            "initial_margin": "0",
            "maintenance_margin": "0",
            "unrealised_pnl": dec_text(pnl),
            "realised_pnl": dec_text(self.realised_pnl),
            "pnl_pnl": dec_text(self.history_pnl),
            "pnl_fund": "0",
            "pnl_fee": "0",
            "history_pnl": dec_text(self.history_pnl),
            "last_close_pnl": dec_text(self.last_close_pnl),
            "realised_point": "0",
            "history_point": "0",
            "adl_ranking": self.adl_rank,
            "pending_orders": pending_orders,
            "close_order": None,
            "mode": self.mode,
            "cross_leverage_limit": dec_text(LEVERAGE),
            "update_time": now_s,
            "update_id": self.update_id,
            "open_time": now_s,
            "pos_margin_mode": "cross",
        }
