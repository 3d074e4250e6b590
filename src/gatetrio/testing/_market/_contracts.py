"""The fake's contracts: `ContractSpec` (one simulated contract's grid and activity) and the
default listing of each settle market."""

from __future__ import annotations

import typing
from decimal import Decimal
from typing import Final

import attrs

from ._numbers import exponent


@typing.final
@attrs.frozen(kw_only=True)
class ContractSpec:
    """One simulated contract. Prices move on a grid of `tick`; sizes on a grid of `size_step`
    (a step below 1 makes an `enable_decimal` contract, whose sizes are fractional)."""

    name: str
    price: Decimal
    tick: Decimal
    size_step: Decimal = Decimal(1)
    quanto_multiplier: Decimal = Decimal("0.0001")
    depth: int = 500  # levels kept per side; obu level 400 needs at least 400
    mean_size: int = 2000  # mean level size, in size units
    ops_per_step: float = 0.8  # book changes per 10 ms step
    trades_per_second: float = 4.0
    volatility: float = 0.3  # fair-price random walk, ticks per step (standard deviation)
    liquidations_per_second: float = 0.02
    leverage_max: int = 100
    in_delisting: bool = False  # listed, but being delisted (REST `in_delisting`)

    def __attrs_post_init__(self) -> None:
        exponent(self.tick, "tick")
        exponent(self.size_step, "size_step")
        if self.depth < 2 or self.price <= 0:
            raise ValueError(f"{self.name}: depth must be >= 2 and price > 0")


DELIVERY_DATE: Final = "20261225"

DEFAULT_CONTRACTS: Final[dict[tuple[bool, str], tuple[ContractSpec, ...]]] = {
    (False, "usdt"): (
        ContractSpec(name="BTC_USDT", price=Decimal("63990.0"), tick=Decimal("0.1")),
        ContractSpec(
            name="ETH_USDT",
            price=Decimal("3150.00"),
            tick=Decimal("0.01"),
            size_step=Decimal("0.1"),
            quanto_multiplier=Decimal("0.01"),
            mean_size=800,
            ops_per_step=0.6,
            trades_per_second=3.0,
            volatility=0.5,
        ),
        ContractSpec(
            name="SOL_USDT",
            price=Decimal("147.600"),
            tick=Decimal("0.001"),
            size_step=Decimal("0.1"),
            quanto_multiplier=Decimal(1),
            mean_size=300,
            ops_per_step=0.4,
            trades_per_second=2.0,
            volatility=0.5,
            leverage_max=50,
        ),
        # the thin one: few levels, rare changes and trades
        ContractSpec(
            name="HEI_USDT",
            price=Decimal("0.13827"),
            tick=Decimal("0.00001"),
            quanto_multiplier=Decimal(10),
            depth=30,
            mean_size=40,
            ops_per_step=0.03,
            trades_per_second=0.1,
            volatility=0.3,
            liquidations_per_second=0.005,
            leverage_max=20,
        ),
    ),
    (False, "btc"): (
        ContractSpec(
            name="BTC_USD",
            price=Decimal("63990.0"),
            tick=Decimal("0.1"),
            quanto_multiplier=Decimal(0),
        ),
    ),
    (False, "usd1"): (
        ContractSpec(
            name="BTC_USD1",
            price=Decimal("63992.0"),
            tick=Decimal("0.1"),
            ops_per_step=0.3,
            trades_per_second=1.0,
        ),
        ContractSpec(
            name="ETH_USD1",
            price=Decimal("3150.50"),
            tick=Decimal("0.01"),
            size_step=Decimal("0.1"),
            quanto_multiplier=Decimal("0.01"),
            mean_size=500,
            ops_per_step=0.2,
            trades_per_second=0.5,
            volatility=2.0,
        ),
    ),
    (True, "usdt"): (
        ContractSpec(
            name=f"BTC_USDT_{DELIVERY_DATE}",
            price=Decimal("64410.0"),
            tick=Decimal("0.1"),
            ops_per_step=0.2,
            depth=120,
        ),
        ContractSpec(
            name=f"ETH_USDT_{DELIVERY_DATE}",
            price=Decimal("3171.00"),
            tick=Decimal("0.01"),
            quanto_multiplier=Decimal("0.01"),
            ops_per_step=0.1,
            depth=120,
            volatility=2.0,
        ),
    ),
    (True, "btc"): (
        ContractSpec(
            name=f"BTC_USD_{DELIVERY_DATE}",
            price=Decimal("64420.0"),
            tick=Decimal("0.1"),
            ops_per_step=0.1,
            depth=120,
        ),
    ),
}
"""The contracts of each market, keyed by `(delivery, settle)`."""
