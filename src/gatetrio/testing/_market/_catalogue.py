"""A realistic, deterministic catalogue of USDT perpetuals for `serve --contracts N`.

Gate lists over 600 USDT perpetuals: a few hot ones carry most of the traffic, then a long
quiet tail of small coins whose books change a few times a second and trade now and then.
Prices span nine orders of magnitude with ticks of about five significant digits, and
multipliers vary (1, 10, 0.01, ...). The first four are the default market's contracts.
"""

from __future__ import annotations

import math
import random
from decimal import Decimal
from typing import Final

from ._contracts import DEFAULT_CONTRACTS, ContractSpec

_CONSONANTS: Final = "BCDFGHJKLMNPRSTVWXZ"
_VOWELS: Final = "AEIOUY"
_MULTIPLIERS: Final = ("1", "10", "100", "1000", "0.1", "0.01", "0.001", "0.0001")
MEDIUM_EVERY: Final = 12  # one tail contract in this many is busier
DELISTING_EVERY: Final = 37  # one in this many is being delisted


def _symbol(rng: random.Random) -> str:
    syllables = rng.choice((1, 2, 2, 3))
    text = "".join(rng.choice(_CONSONANTS) + rng.choice(_VOWELS) for _ in range(syllables))
    return text + (rng.choice(_CONSONANTS) if rng.random() < 0.5 else "")


def catalogue(n: int, *, seed: int = 0) -> tuple[ContractSpec, ...]:
    """`n` USDT perpetuals, the same for the same `seed`: BTC, ETH, SOL, HEI, then the tail."""
    if n < 1:
        raise ValueError(f"a catalogue needs at least one contract, got {n}")
    base = DEFAULT_CONTRACTS[(False, "usdt")]
    out = list(base[:n])
    names = {spec.name for spec in out}
    rng = random.Random(f"{seed}:catalogue")
    while len(out) < n:
        name = f"{_symbol(rng)}_USDT"
        if name in names:
            continue
        names.add(name)
        exponent = math.floor(rng.uniform(-6, 3))
        tick = Decimal(10) ** (exponent - 4)
        price = (Decimal(rng.uniform(1, 9.99)) * Decimal(10) ** exponent).quantize(tick)
        medium = len(out) % MEDIUM_EVERY == 0
        out.append(
            ContractSpec(
                name=name,
                price=price,
                tick=tick,
                quanto_multiplier=Decimal(rng.choice(_MULTIPLIERS)),
                depth=60,
                mean_size=rng.choice((20, 50, 200, 1000)),
                ops_per_step=rng.uniform(0.1, 0.3) if medium else rng.uniform(0.005, 0.04),
                trades_per_second=rng.uniform(0.5, 2.0) if medium else rng.uniform(0.01, 0.3),
                volatility=0.3,
                liquidations_per_second=0.001,
                leverage_max=rng.choice((20, 25, 50, 75)),
                in_delisting=len(out) % DELISTING_EVERY == 0,
            )
        )
    return tuple(out)
