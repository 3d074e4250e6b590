"""The simulation of one contract: a fair-price random walk that moves its book, takers that
trade against it, liquidations, candles and 24h figures. Pure: time comes in as `t_ms`."""

from __future__ import annotations

import math
import typing
from decimal import Decimal
from typing import Final

from ._book import ASK, BID, Book
from ._numbers import exponent, units_text
from ._topics import CANDLE_INTERVALS

if typing.TYPE_CHECKING:
    import random

    from ._contracts import ContractSpec

STEP_MS: Final = 10
"""The simulation step: book changes, trades and book_ticker pushes happen on this grid."""


_BASE_QUANTUM: Final = Decimal("1e-8")


class Candle:
    __slots__ = ("a", "c", "h", "l", "o", "q", "start", "v")

    def __init__(self, start: int, price: int) -> None:
        self.start = start
        self.o = self.h = self.l = self.c = price
        self.v = 0  # size units
        self.a = Decimal(0)  # base-currency volume (the docs' reading of `a`)
        self.q = Decimal(0)  # quote turnover, v x multiplier x price (live `a`, spec 15)

    def add(self, price: int, units: int, base: Decimal) -> None:
        self.h = max(self.h, price)
        self.l = min(self.l, price)
        self.c = price
        self.v += units
        self.a += base


class Contract(Book):
    """The simulation of one contract: book, fair price, trades, candles and 24h figures."""

    def __init__(self, spec: ContractSpec, rng: random.Random, history: int) -> None:
        self.spec = spec
        self.rng = rng
        super().__init__(
            spec.name,
            price_exp=exponent(spec.tick, "tick"),
            size_exp=exponent(spec.size_step, "size_step"),
            first_id=rng.randrange(10**10, 10**11),
            history=history,
        )
        self.mid = int(spec.price / spec.tick)
        self.fair = float(self.mid)
        self.last_price = self.mid
        self.open_24h = int(self.mid * (1 + rng.uniform(-0.02, 0.02)))
        self.high_24h = max(self.mid, self.open_24h) + int(self.mid * rng.uniform(0, 0.01))
        self.low_24h = min(self.mid, self.open_24h) - int(self.mid * rng.uniform(0, 0.01))
        self.volume_24h = rng.randrange(10**6, 10**8)  # size units
        self.open_interest = rng.randrange(10**6, 10**8)
        self.funding_rate = Decimal(rng.randrange(-50, 150)) / 1_000_000
        # (time ms, tick, signed units) of trades not yet pushed; only while subscribed
        self.pending_trades: list[tuple[int, int, int]] | None = None
        self.pending_liquidations: list[tuple[int, int, int]] | None = None
        self.candles: dict[str, Candle] = {}
        self.closed_candles: dict[str, Candle] = {}
        self.mark_candles: dict[str, Candle] = {}
        self.closed_mark_candles: dict[str, Candle] = {}
        self.last_bbo: tuple[int, int, int, int] | None = None
        self.second_bar: Candle | None = None
        self.buy_high: int | None = None  # highest taker-buy / lowest taker-sell trade since
        self.sell_low: int | None = None  # the last take_trade_extremes()
        self.long_liq = 0
        self.short_liq = 0
        # futures.adl_warning (spec 6.11): normal until told; one push on return to normal
        self.adl_state = "normal"
        self.adl_update_ms = 0
        self.adl_back_to_normal = False

    def base_amount(self, units: int, tick: int) -> Decimal:
        contracts = Decimal(units_text(units, self.size_exp))
        if self.spec.quanto_multiplier:
            return contracts * self.spec.quanto_multiplier
        # inverse contract: 1 contract = 1 USD; kept to 8 places, as Gate's base amounts are
        return (contracts / self.price(tick)).quantize(_BASE_QUANTUM)

    def quote_amount(self, units: int, tick: int) -> Decimal:
        """Quote turnover of `units` at `tick`: contracts x multiplier x price (USD for an
        inverse contract, whose contract is 1 USD)."""
        contracts = Decimal(units_text(units, self.size_exp))
        if self.spec.quanto_multiplier:
            return contracts * self.spec.quanto_multiplier * self.price(tick)
        return contracts

    def seed_book(self, t_ms: int) -> None:
        """Build the opening book (outside the op history: `first_id` is this state)."""
        rng = self.rng
        spec = self.spec
        for side in (BID, ASK):
            tick = self.mid - 1 if side == BID else self.mid + 1
            book = self.books[side]
            while len(book) < spec.depth and tick > 0:
                book[tick] = self.level_size()
                tick += (-1 if side == BID else 1) * (1 + (rng.random() < 0.2) * rng.randint(1, 3))
            sign = -1 if side == BID else 1
            self.keys[side][:] = sorted(sign * t for t in book)
        self.update_t_ms = self.first_t_ms = t_ms

    def level_size(self) -> int:
        return 1 + int(self.rng.expovariate(1 / self.spec.mean_size))

    def _random_rank(self, side: int) -> int:
        n = len(self.keys[side])
        if self.rng.random() < 0.2:  # deep levels churn too, unseen by shallow streams
            return self.rng.randrange(n)
        return min(n - 1, int(self.rng.expovariate(1 / 6)))

    def step(self, t_ms: int) -> None:
        rng = self.rng
        spec = self.spec
        self.fair += rng.gauss(0, spec.volatility)
        best_bid = self.best(BID)
        best_ask = self.best(ASK)
        # the fair price drags the book with it: crossing a side means someone takes it, soon
        crossing = rng.random() < 0.3
        if crossing and best_ask is not None and self.fair >= best_ask + 0.5:
            self.take(t_ms, 1)
        elif crossing and best_bid is not None and self.fair <= best_bid - 0.5:
            self.take(t_ms, -1)
        elif rng.random() < spec.trades_per_second * STEP_MS / 1000:
            self.take(t_ms, 1 if rng.random() < 0.5 else -1)
        ops = spec.ops_per_step
        n = int(ops) + (rng.random() < ops - int(ops))
        for _ in range(n):
            self.random_op(t_ms)
        self.close_spread(t_ms)
        if rng.random() < spec.liquidations_per_second * STEP_MS / 1000:
            self.liquidate(t_ms)
        for side in (BID, ASK):
            size = len(self.keys[side])
            if not spec.depth - 5 <= size <= spec.depth + 5:
                self.refill(t_ms, side)

    def close_spread(self, t_ms: int) -> None:
        """Makers step in when the spread opens: quote near the fair price on the far side."""
        bid, ask = self.best(BID), self.best(ASK)
        if bid is None or ask is None or ask - bid <= 2:
            return
        if self.rng.random() >= min(1.0, 2 * self.spec.ops_per_step):
            return
        d = int(self.rng.expovariate(1 / 2))
        if ask - self.fair > self.fair - bid:
            side, tick = ASK, max(bid + 1, math.ceil(self.fair) + d)
        else:
            side, tick = BID, min(ask - 1, math.floor(self.fair) - d)
        if tick > 0 and tick not in self.books[side]:
            op = self.new_op(t_ms)
            self.set_level(op, side, tick, self.level_size())

    def take(self, t_ms: int, direction: int) -> None:
        """A taker order: sweep the best levels of the other side, one trade per level."""
        side = ASK if direction > 0 else BID
        if len(self.keys[side]) < 2:
            return
        rng = self.rng
        op = self.new_op(t_ms)
        remaining = 1 + int(rng.expovariate(1 / (self.spec.mean_size * 0.7)))
        for _ in range(3):
            tick = self.best(side)
            if tick is None or len(self.keys[side]) < 2 or remaining <= 0:
                break
            have = self.books[side][tick]
            fill = min(have, remaining)
            remaining -= fill
            self.set_level(op, side, tick, have - fill)
            self.record_trade(t_ms, tick, fill * direction)
        # fresh liquidity arrives behind the move so the spread closes again
        if rng.random() < 0.7:
            other = BID if side == ASK else ASK
            best_other = self.best(other)
            best_side = self.best(side)
            if best_other is not None and best_side is not None and best_side - best_other > 1:
                tick = best_side - 1 if side == ASK else best_side + 1
                if tick not in self.books[other]:
                    self.set_level(op, other, tick, self.level_size())
        if not op.changes:  # pragma: no cover - take() always fills at least one unit
            self.ops.pop()
            self.update_id -= 1

    def record_trade(self, t_ms: int, tick: int, units: int) -> None:
        self.last_price = tick
        self.high_24h = max(self.high_24h, tick)
        self.low_24h = min(self.low_24h, tick)
        self.volume_24h += abs(units)
        # candles take the trades once a second (update_candles): 10 intervals per trade is
        # the single biggest cost of a busy market otherwise
        bar = self.second_bar
        if bar is None:
            self.second_bar = bar = Candle(0, tick)
        bar.add(tick, abs(units), Decimal(0))
        if units > 0:
            self.buy_high = tick if self.buy_high is None else max(self.buy_high, tick)
        else:
            self.sell_low = tick if self.sell_low is None else min(self.sell_low, tick)
        if self.pending_trades is not None:
            self.pending_trades.append((t_ms, tick, units))

    def random_op(self, t_ms: int) -> None:
        rng = self.rng
        side = BID if rng.random() < 0.5 else ASK
        if not self.keys[side]:
            return
        r = rng.random()
        op = self.new_op(t_ms)
        if r < 0.45:  # resize a level near the top
            keys = self.keys[side]
            tick = abs(keys[self._random_rank(side)])
            old = self.books[side][tick]
            new = self.level_size()
            self.set_level(op, side, tick, new if new != old else new + 1)
        elif r < 0.75:  # a new level near the fair price (inside the spread sometimes)
            other = self.best(ASK if side == BID else BID)
            d = int(rng.expovariate(1 / 4))
            if side == BID:
                tick = math.floor(self.fair) - d
                if other is not None:
                    tick = min(tick, other - 1)
            else:
                tick = math.ceil(self.fair) + d
                if other is not None:
                    tick = max(tick, other + 1)
            if tick > 0:
                self.set_level(op, side, tick, self.level_size())
        elif len(self.keys[side]) > 1:  # cancel a level near the top
            tick = abs(self.keys[side][self._random_rank(side)])
            self.set_level(op, side, tick, 0)
        if not op.changes:
            self.ops.pop()
            self.update_id -= 1

    def refill(self, t_ms: int, side: int) -> None:
        """Keep `depth` levels per side: trim the far end or extend it, in one op."""
        keys = self.keys[side]
        depth = self.spec.depth
        op = self.new_op(t_ms)
        while len(keys) > depth:
            self.set_level(op, side, abs(keys[-1]), 0)
        step = -1 if side == BID else 1
        while len(keys) < depth:
            far = abs(keys[-1]) if keys else self.mid
            tick = far + step * self.rng.randint(1, 2)
            if tick <= 0:
                break
            self.set_level(op, side, tick, self.level_size())
        if not op.changes:
            self.ops.pop()
            self.update_id -= 1

    def liquidate(self, t_ms: int) -> None:
        units = 1 + int(self.rng.expovariate(1 / self.spec.mean_size))
        units = -units if self.rng.random() < 0.5 else units
        if units < 0:
            self.long_liq += -units
        else:
            self.short_liq += units
        if self.pending_liquidations is not None:
            self.pending_liquidations.append((t_ms, round(self.fair), units))

    def jump(self, t_ms: int, ticks: int) -> None:
        """A flash move of `ticks`: the whole book shifts in one op, the fair (and so the mark)
        price with it, and a trade prints at the new best price on the side it moved to."""
        if ticks == 0:
            return
        op = self.new_op(t_ms)
        for side in (BID, ASK):
            old = dict(self.books[side])
            moved = {tick + ticks: units for tick, units in old.items() if tick + ticks > 0}
            for tick in old:
                if tick not in moved:
                    self.set_level(op, side, tick, 0)
            for tick, units in moved.items():
                self.set_level(op, side, tick, units)
        self.fair += ticks
        best = self.best(ASK if ticks > 0 else BID)
        if best is not None:
            self.record_trade(t_ms, best, 1 if ticks > 0 else -1)

    def churn(self, t_ms: int, n: int, *, hidden: bool) -> None:
        """`n` ops of ordinary book activity right now (used to make a gap real)."""
        for _ in range(n):
            before = self.update_id
            while self.update_id == before:
                self.random_op(t_ms)
            self.ops[-1].hidden = hidden

    def mark_tick(self) -> int:
        return round(self.fair)

    def update_candles(self, wall_s: int) -> None:
        """Fold the last second's trades into every candle, then open new buckets."""
        bar = self.second_bar
        self.second_bar = None
        if bar is not None:
            base = self.base_amount(bar.v, bar.c)
            quote = self.quote_amount(bar.v, bar.c)
            for candle in self.candles.values():
                candle.h = max(candle.h, bar.h)
                candle.l = min(candle.l, bar.l)
                candle.c = bar.c
                candle.v += bar.v
                candle.a += base
                candle.q += quote
        for name, seconds in CANDLE_INTERVALS.items():
            start = wall_s - wall_s % seconds
            for table, closed, price in (
                (self.candles, self.closed_candles, self.last_price),
                (self.mark_candles, self.closed_mark_candles, self.mark_tick()),
            ):
                current = table.get(name)
                if current is None or current.start != start:
                    if current is not None:
                        closed[name] = current
                    current = table[name] = Candle(start, price)
                if table is self.mark_candles:
                    current.add(price, 0, Decimal(0))
