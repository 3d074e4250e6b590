"""The fake exchange's market: a pure, seeded simulation of one Gate futures settle market.

Rule 1: no I/O, no trio, no clock reads. `now` (seconds of the caller's clock, 0 at start) is an
argument, and every wall-clock field is `epoch_ms + now`, so one seed gives the same frames.
Rule 2: the simulation runs in fixed 10 ms steps, whatever cadence the caller ticks at:
`tick(now)` runs every step up to `now` and returns the pushes that fell due, so a caller that
sleeps for a minute gets the same market as one that ticked every step.

Order books. Each contract keeps one book as `tick index -> size units` dicts (prices are
`index * tick`, sizes `units * size_step`, so nothing but the renderer touches Decimal) plus a
best-first sorted key list per side. Every book change is an *op* with the next update id; one
counter per contract feeds book_ticker `u`, order_book_update `U/u`, order_book `id`, obu and the
REST snapshot. Ops are kept (bounded) with the old and new size of each level, so `book_at(id)`
rebuilds any recent book by undoing ops from the current one.

Depth-limited deltas. A level-L stream must let a client that holds the top L levels at *any* id
between two pushes reach the exact top L at the second push. Sending only changed levels is not
enough: a level that never changed can leave and re-enter the top L when better levels come and
go. So each change also records its rank r, which makes it matter for every L > r, and, for an
insert or delete above rank L, the level it moved across the top-L boundary, which matters for
that L alone. A level-L delta is then every level so marked since the last push, with its current
top-L size (0 when it is no longer in the top L).
"""

from __future__ import annotations

import functools
import math
import random
import typing
from bisect import bisect_left, bisect_right
from decimal import Decimal
from typing import TYPE_CHECKING, Final, TypeAlias, TypeVar

import attrs

from gatetrio._core._events import (
    BookDelta,
    BookLevel,
    BookSnapshot,
    BookTicker,
    BookTickerUpdate,
    Candlestick,
    CandlesticksUpdate,
    ContractInfo,
    ContractInfoUpdate,
    ContractStats,
    ContractStatsUpdate,
    Event,
    ObuDelta,
    ObuLevel,
    ObuUpdate,
    OrderBookSnapshot,
    OrderBookUpdate,
    PublicLiquidation,
    PublicLiquidationsUpdate,
    RiskLimitTier,
    Ticker,
    TickersUpdate,
    Trade,
    TradesUpdate,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

STEP_MS: Final = 10
"""The simulation step: book changes, trades and book_ticker pushes happen on this grid."""

DEFAULT_EPOCH_MS: Final = 1_786_540_560_000
"""Wall time (unix ms) at `now == 0` unless told otherwise: 2026-08-12, the CCXT-FIX capture."""

BOOK_DEPTHS: Final = (20, 50, 100, 400)
"""The level limits a depth-limited stream can have (order_book_update 20/50/100, obu 50/400)."""

ALL: Final = "!all"

Topic: TypeAlias = tuple[str, ...]
"""A shared push stream: the channel name followed by its parameters, e.g.
``("futures.order_book_update", "BTC_USDT", "100ms", "20")``. Every subscriber of a topic gets
the same frames, as from Gate's broadcast."""

_BID: Final = 0
_ASK: Final = 1
_NO_LIMIT: Final = 1 << 30  # "every level"

CANDLE_INTERVALS: Final[dict[str, int]] = {
    "10s": 10,
    "1m": 60,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "4h": 14400,
    "8h": 28800,
    "1d": 86400,
    "7d": 604800,
}
STATS_INTERVALS: Final = ("1m", "5m", "15m", "30m", "1h", "4h", "8h", "1d", "3d", "7d")
ORDER_BOOK_LIMITS: Final = ("100", "50", "20", "10", "5", "1")

# Push cadences, in steps (book streams: _FREQ_STEPS and the obu level decide).
_FREQ_STEPS: Final = {"100ms": 10, "20ms": 2}
_CADENCES: Final = {
    "futures.book_ticker": 1,  # on every step where the best bid/ask changed
    "futures.trades": 10,  # trades since the last push, every 100 ms
    "futures.tickers": 100,
    "futures.candlesticks": 200,
    "futures.contract_stats": 500,
    "futures.public_liquidates": 100,  # spec 6.8: aggregated per contract per 1 s window
    "futures.order_book": 100,
    "futures.contract_info": 6000,  # snapshot on subscribe only; no periodic push
    "futures.adl_warning": 6000,  # every contract stays `normal`: nothing to push
}


class SubscribeError(Exception):
    """A subscribe payload Gate would refuse: `code` and `message` go into the error reply."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# ------------------------------------------------------------------------------- contracts


def _exponent(step: Decimal, what: str) -> int:
    sign, digits, exp = step.normalize().as_tuple()
    if sign or digits != (1,) or not isinstance(exp, int) or exp > 0:
        raise ValueError(f"{what} must be a power of ten <= 1, got {step}")
    return -exp


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

    def __attrs_post_init__(self) -> None:
        _exponent(self.tick, "tick")
        _exponent(self.size_step, "size_step")
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


# ---------------------------------------------------------------------------- book records


_POW10: Final[tuple[int, ...]] = tuple(10**i for i in range(19))


def _units_text(units: int, exp: int) -> str:
    """Exact decimal text of `units * 10**-exp`, without trailing zeros or exponent."""
    if exp == 0:
        return str(units)
    q, r = divmod(abs(units), _POW10[exp])
    sign = "-" if units < 0 else ""
    if r == 0:
        return f"{sign}{q}"
    return f"{sign}{q}.{str(r).rjust(exp, '0').rstrip('0')}"


def _units_int(units: int, exp: int) -> int:
    """`units * 10**-exp` truncated toward zero: Gate's integer sizes without the header."""
    if exp == 0:
        return units
    q = abs(units) // _POW10[exp]
    return -q if units < 0 else q


Level: TypeAlias = tuple[Decimal, Decimal]
_LevelT = TypeVar("_LevelT", bound=BookLevel)


@typing.final
@attrs.frozen
class BookState:
    """The fake's own book of one contract at `update_id`: levels best first, as Decimals.

    Compare with a client's book like this (sizes compare equal whether int or Decimal)::

        state = server.book_at("BTC_USDT", client_book.update_id, depth=100)
        assert client_book.bids(100) == list(state.bids)
    """

    contract: str
    update_id: int
    t: int  # ms: wall time of the op that made `update_id`
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]

    def top(self, depth: int) -> BookState:
        """The same book cut to its best `depth` levels per side."""
        return attrs.evolve(self, bids=self.bids[:depth], asks=self.asks[:depth])

    def bid_dict(self) -> dict[Decimal, Decimal]:
        return dict(self.bids)

    def ask_dict(self) -> dict[Decimal, Decimal]:
        return dict(self.asks)


_Change: TypeAlias = tuple[int, int, int, int, int, tuple[int, ...]]
"""One level change: side, tick, old units, new units, its rank (0 = best; before a delete,
after an insert) and, for an insert or delete, the tick that crossed the top-L boundary for
each L of BOOK_DEPTHS (0: none). See the module docstring."""

_NO_CROSSING: Final = (0,) * len(BOOK_DEPTHS)


class _Op:
    """One book change with one update id: the level changes it made (`_Change`)."""

    __slots__ = ("changes", "hidden", "id", "t_ms")

    def __init__(self, op_id: int, t_ms: int, *, hidden: bool = False) -> None:
        self.id = op_id
        self.t_ms = t_ms
        self.hidden = hidden  # an injected gap: no stream carries it
        self.changes: list[_Change] = []


class _Candle:
    __slots__ = ("a", "c", "h", "l", "o", "start", "v")

    def __init__(self, start: int, price: int) -> None:
        self.start = start
        self.o = self.h = self.l = self.c = price
        self.v = 0  # size units
        self.a = Decimal(0)  # base-currency volume

    def add(self, price: int, units: int, base: Decimal) -> None:
        self.h = max(self.h, price)
        self.l = min(self.l, price)
        self.c = price
        self.v += units
        self.a += base


# --------------------------------------------------------------------------------- pushes


@typing.final
class Push:
    """One frame due for every subscriber of `topic`.

    `event(size_decimal)` builds the frame's event with sizes as `Decimal` (connections that sent
    `X-Gate-Size-Decimal: 1`, rendered as strings) or as `int` truncated toward zero (the rest).
    Each variant is built at most once.
    """

    __slots__ = ("_build", "_cache", "topic")

    def __init__(self, topic: Topic, build: Callable[[bool], Event]) -> None:
        self.topic = topic
        self._build = build
        self._cache: dict[bool, Event] = {}

    def event(self, size_decimal: bool) -> Event:
        ev = self._cache.get(size_decimal)
        if ev is None:
            ev = self._cache[size_decimal] = self._build(size_decimal)
        return ev

    def __repr__(self) -> str:
        return f"<Push {self.topic}>"


class _BookStream:
    """Shared state of one depth-limited book topic: the id its last push ended at."""

    __slots__ = ("depth", "last_u")

    def __init__(self, depth: int, last_u: int) -> None:
        self.depth = depth
        self.last_u = last_u


# ------------------------------------------------------------------------------- contract


class _Contract:
    """The simulation of one contract: book, fair price, trades, candles and 24h figures."""

    def __init__(self, spec: ContractSpec, rng: random.Random, history: int) -> None:
        self.spec = spec
        self.name = spec.name
        self.rng = rng
        self.history = history
        self.price_exp = _exponent(spec.tick, "tick")
        self.size_exp = _exponent(spec.size_step, "size_step")
        self.mid = int(spec.price / spec.tick)
        self.fair = float(self.mid)
        self.books: tuple[dict[int, int], dict[int, int]] = ({}, {})
        # best first: bids hold negated ticks so both lists ascend
        self.keys: tuple[list[int], list[int]] = ([], [])
        self.update_id = rng.randrange(10**10, 10**11)
        self.first_id = self.update_id  # book_at reaches back no further than this
        self.update_t_ms = 0
        self.first_t_ms = 0
        self.ops: list[_Op] = []
        self._price_texts: dict[int, str] = {}
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
        self.candles: dict[str, _Candle] = {}
        self.closed_candles: dict[str, _Candle] = {}
        self.mark_candles: dict[str, _Candle] = {}
        self.closed_mark_candles: dict[str, _Candle] = {}
        self.last_bbo: tuple[int, int, int, int] | None = None
        self.second_bar: _Candle | None = None
        self.buy_high: int | None = None  # highest taker-buy / lowest taker-sell trade since
        self.sell_low: int | None = None  # the last take_trade_extremes()
        self.long_liq = 0
        self.short_liq = 0

    # ---- rendering

    def price_text(self, tick: int) -> str:
        text = self._price_texts.get(tick)
        if text is None:
            if len(self._price_texts) > 50_000:
                self._price_texts.clear()
            text = self._price_texts[tick] = _units_text(tick, self.price_exp)
        return text

    def price(self, tick: int) -> Decimal:
        return Decimal(self.price_text(tick))

    def size_value(self, units: int, size_decimal: bool) -> int | Decimal:
        if size_decimal:
            return Decimal(_units_text(units, self.size_exp))
        return _units_int(units, self.size_exp)

    def size_wire(self, units: int, *, size_decimal: bool) -> int | str:
        if size_decimal:
            return _units_text(units, self.size_exp)
        return _units_int(units, self.size_exp)

    def levels(
        self, cls: type[_LevelT], levels: Iterable[tuple[int, int]], *, size_decimal: bool
    ) -> tuple[_LevelT, ...]:
        """`(tick, units)` levels as wire records: `cls` is BookLevel, or ObuLevel for obu."""
        price, size = self.price_text, self.size_wire
        return tuple(cls(price(t), size(u, size_decimal=size_decimal)) for t, u in levels)

    def base_amount(self, units: int, tick: int) -> Decimal:
        contracts = Decimal(_units_text(units, self.size_exp))
        if self.spec.quanto_multiplier:
            return contracts * self.spec.quanto_multiplier
        return contracts / self.price(tick)  # inverse contract: 1 contract = 1 USD

    # ---- book

    def best(self, side: int) -> int | None:
        keys = self.keys[side]
        if not keys:
            return None
        return -keys[0] if side == _BID else keys[0]

    def new_op(self, t_ms: int, *, hidden: bool = False) -> _Op:
        self.update_id += 1
        op = _Op(self.update_id, t_ms, hidden=hidden)
        self.ops.append(op)
        self.update_t_ms = t_ms
        if len(self.ops) > self.history + self.history // 4:  # trim in batches
            cut = len(self.ops) - self.history
            self.first_t_ms = self.ops[cut - 1].t_ms
            del self.ops[:cut]
            self.first_id = self.ops[0].id - 1
        return op

    def set_level(self, op: _Op, side: int, tick: int, units: int) -> None:
        book = self.books[side]
        keys = self.keys[side]
        old = book.get(tick, 0)
        if old == units:
            return
        key = -tick if side == _BID else tick
        i = bisect_left(keys, key)
        crossed: tuple[int, ...] = ()
        if old == 0:
            keys.insert(i, key)
            book[tick] = units
            # the level that was at rank L-1 is pushed to rank L: out of every top L above it
            crossed = self._crossed(keys, i)
        elif units == 0:
            # the level at rank L moves up into the top L
            crossed = self._crossed(keys, i)
            del keys[i]
            del book[tick]
        else:
            book[tick] = units
        op.changes.append((side, tick, old, units, i, crossed))

    @staticmethod
    def _crossed(keys: list[int], i: int) -> tuple[int, ...]:
        n = len(keys)
        if i >= BOOK_DEPTHS[-1] or n <= BOOK_DEPTHS[0]:
            return _NO_CROSSING
        return tuple(abs(keys[d]) if i < d < n else 0 for d in BOOK_DEPTHS)

    def rank(self, side: int, tick: int) -> int:
        """Rank of a level that exists (0 = best)."""
        return bisect_left(self.keys[side], -tick if side == _BID else tick)

    def top(self, side: int, depth: int) -> list[tuple[int, int]]:
        book = self.books[side]
        sign = -1 if side == _BID else 1
        return [(sign * k, book[sign * k]) for k in self.keys[side][:depth]]

    def _index_after(self, update_id: int) -> int:
        return bisect_right(self.ops, update_id, key=lambda op: op.id)

    def ops_after(self, update_id: int) -> list[_Op]:
        return self.ops[self._index_after(update_id) :]

    def state_at(self, update_id: int) -> tuple[dict[int, int], dict[int, int], int]:
        """Copies of both sides as they were right after op `update_id`, and that op's time."""
        if not self.first_id <= update_id <= self.update_id:
            raise KeyError(update_id)
        bids = dict(self.books[_BID])
        asks = dict(self.books[_ASK])
        sides = (bids, asks)
        i = self._index_after(update_id)
        for op in reversed(self.ops[i:]):
            for side, tick, old, *_ in reversed(op.changes):
                if old:
                    sides[side][tick] = old
                else:
                    del sides[side][tick]
        if i == len(self.ops):
            t_ms = self.update_t_ms
        else:
            t_ms = self.ops[i - 1].t_ms if i > 0 else self.first_t_ms
        return bids, asks, t_ms

    # ---- simulation

    def seed_book(self, t_ms: int) -> None:
        """Build the opening book (outside the op history: `first_id` is this state)."""
        rng = self.rng
        spec = self.spec
        for side in (_BID, _ASK):
            tick = self.mid - 1 if side == _BID else self.mid + 1
            book = self.books[side]
            while len(book) < spec.depth and tick > 0:
                book[tick] = self.level_size()
                tick += (-1 if side == _BID else 1) * (1 + (rng.random() < 0.2) * rng.randint(1, 3))
            sign = -1 if side == _BID else 1
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
        best_bid = self.best(_BID)
        best_ask = self.best(_ASK)
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
        for side in (_BID, _ASK):
            size = len(self.keys[side])
            if not spec.depth - 5 <= size <= spec.depth + 5:
                self.refill(t_ms, side)

    def close_spread(self, t_ms: int) -> None:
        """Makers step in when the spread opens: quote near the fair price on the far side."""
        bid, ask = self.best(_BID), self.best(_ASK)
        if bid is None or ask is None or ask - bid <= 2:
            return
        if self.rng.random() >= min(1.0, 2 * self.spec.ops_per_step):
            return
        d = int(self.rng.expovariate(1 / 2))
        if ask - self.fair > self.fair - bid:
            side, tick = _ASK, max(bid + 1, math.ceil(self.fair) + d)
        else:
            side, tick = _BID, min(ask - 1, math.floor(self.fair) - d)
        if tick > 0 and tick not in self.books[side]:
            op = self.new_op(t_ms)
            self.set_level(op, side, tick, self.level_size())

    def take(self, t_ms: int, direction: int) -> None:
        """A taker order: sweep the best levels of the other side, one trade per level."""
        side = _ASK if direction > 0 else _BID
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
            other = _BID if side == _ASK else _ASK
            best_other = self.best(other)
            best_side = self.best(side)
            if best_other is not None and best_side is not None and best_side - best_other > 1:
                tick = best_side - 1 if side == _ASK else best_side + 1
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
            self.second_bar = bar = _Candle(0, tick)
        bar.add(tick, abs(units), Decimal(0))
        if units > 0:
            self.buy_high = tick if self.buy_high is None else max(self.buy_high, tick)
        else:
            self.sell_low = tick if self.sell_low is None else min(self.sell_low, tick)
        if self.pending_trades is not None:
            self.pending_trades.append((t_ms, tick, units))

    def random_op(self, t_ms: int) -> None:
        rng = self.rng
        side = _BID if rng.random() < 0.5 else _ASK
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
            other = self.best(_ASK if side == _BID else _BID)
            d = int(rng.expovariate(1 / 4))
            if side == _BID:
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
        step = -1 if side == _BID else 1
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
            for candle in self.candles.values():
                candle.h = max(candle.h, bar.h)
                candle.l = min(candle.l, bar.l)
                candle.c = bar.c
                candle.v += bar.v
                candle.a += base
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
                    current = table[name] = _Candle(start, price)
                if table is self.mark_candles:
                    current.add(price, 0, Decimal(0))


# --------------------------------------------------------------------------------- market


@attrs.define(eq=False)
class _TopicState:
    refs: int = 0
    every: int = 100  # push cadence in steps
    book: _BookStream | None = None
    push: Callable[[int], Push | None] | None = None  # the periodic push at `t_ms`, if any


@typing.final
class Market:
    """One settle market (e.g. USDT perpetuals) of the fake exchange. Pure and seeded.

    Args:
        seed: everything random derives from it (each contract has its own generator, so adding
            a contract does not change the others).
        settle: ``usdt``, ``btc`` or ``usd1``.
        delivery: the delivery market of that settle instead of the perpetual one.
        contracts: replaces `DEFAULT_CONTRACTS[(delivery, settle)]`.
        epoch_ms: wall time in unix ms at ``now == 0``.
        start: the caller's time when the market opens (its first step follows it).
        history: update ids kept per contract for `book_at`.
        obu_full_every: about one obu push in this many is a re-sent full snapshot (0: never).
        book_update_full_every: the same for order_book_update `full: true` (0: never, default).
        liquidations_as_object: send public_liquidates `result` as one object (live 2026-08-10)
            instead of the documented array (spec 6.8).

    The caller registers the topics it needs (`subscribe`/`unsubscribe`, reference counted) and
    calls `tick(now)`; nothing is built for topics nobody subscribed.
    """

    def __init__(
        self,
        seed: int = 0,
        settle: str = "usdt",
        *,
        delivery: bool = False,
        contracts: Sequence[ContractSpec] | None = None,
        epoch_ms: int = DEFAULT_EPOCH_MS,
        history: int = 10_000,
        obu_full_every: int = 600,
        book_update_full_every: int = 0,
        liquidations_as_object: bool = False,
        start: float = 0.0,
    ) -> None:
        if contracts is None:
            try:
                contracts = DEFAULT_CONTRACTS[(delivery, settle)]
            except KeyError:
                raise ValueError(f"no default contracts for settle={settle!r}") from None
        self.seed = seed
        self.settle = settle
        self.delivery = delivery
        self.epoch_ms = epoch_ms
        self.obu_full_every = obu_full_every
        self.book_update_full_every = book_update_full_every
        self.liquidations_as_object = liquidations_as_object
        tag = f"{seed}:{'delivery' if delivery else 'perpetual'}:{settle}"
        self._rng = random.Random(f"{tag}:market")
        self._step = math.floor(round(start * 1000, 6) / STEP_MS)  # the market's time, in steps
        open_ms = epoch_ms + self._step * STEP_MS
        self._contracts: dict[str, _Contract] = {}
        for spec in contracts:
            c = _Contract(spec, random.Random(f"{tag}:{spec.name}"), history)
            c.seed_book(open_ms)
            self._contracts[spec.name] = c
        self._trade_id = self._rng.randrange(10**8, 10**9)
        self._topics: dict[Topic, _TopicState] = {}
        self._pending: list[Push] = []
        self._wall_s = open_ms // 1000
        for c in self._contracts.values():
            c.update_candles(self._wall_s)

    # ---------------------------------------------------------------------------- queries

    @property
    def contracts(self) -> tuple[str, ...]:
        return tuple(self._contracts)

    def has_contract(self, name: str) -> bool:
        return name in self._contracts

    def spec(self, contract: str) -> ContractSpec:
        return self._contract(contract).spec

    def wall_ms(self, now: float) -> int:
        return self.epoch_ms + round(now * 1000)

    @property
    def now(self) -> float:
        """The market's own time: the last step simulated."""
        return self._step * STEP_MS / 1000

    def _contract(self, name: str) -> _Contract:
        try:
            return self._contracts[name]
        except KeyError:
            raise KeyError(f"{name!r} is not a contract of this market: {self.contracts}") from None

    def update_id(self, contract: str) -> int:
        return self._contract(contract).update_id

    def best_bid_ask(self, contract: str) -> tuple[Decimal | None, Decimal | None]:
        c = self._contract(contract)
        bid, ask = c.best(_BID), c.best(_ASK)
        return (
            None if bid is None else c.price(bid),
            None if ask is None else c.price(ask),
        )

    def mark_price(self, contract: str) -> Decimal:
        c = self._contract(contract)
        return c.price(c.mark_tick())

    @staticmethod
    def _state(
        c: _Contract,
        sides: tuple[dict[int, int], dict[int, int]],
        uid: int,
        t_ms: int,
        depth: int | None,
    ) -> BookState:
        levels: list[tuple[Level, ...]] = []
        for side, book in enumerate(sides):
            ticks = sorted(book, reverse=side == _BID)[:depth]
            levels.append(
                tuple((c.price(t), Decimal(_units_text(book[t], c.size_exp))) for t in ticks)
            )
        return BookState(c.name, uid, t_ms, levels[_BID], levels[_ASK])

    def book(self, contract: str, depth: int | None = None) -> BookState:
        """The current book (all levels, or the best `depth` per side)."""
        c = self._contract(contract)
        return self._state(c, c.books, c.update_id, c.update_t_ms, depth)

    def book_at(self, contract: str, update_id: int, depth: int | None = None) -> BookState:
        """The book right after update `update_id`.

        Raises:
            KeyError: `update_id` is in the future or older than the kept history.
        """
        c = self._contract(contract)
        try:
            bids, asks, t_ms = c.state_at(update_id)
        except KeyError:
            raise KeyError(
                f"{contract}: update id {update_id} is outside the kept history "
                f"{c.first_id}..{c.update_id}"
            ) from None
        return self._state(c, (bids, asks), update_id, t_ms, depth)

    def history_range(self, contract: str) -> tuple[int, int]:
        """The oldest and newest update ids `book_at` can rebuild."""
        c = self._contract(contract)
        return c.first_id, c.update_id

    def rest_order_book(
        self, contract: str, limit: int = 10, *, now: float, size_decimal: bool, with_id: bool
    ) -> dict[str, object]:
        """`GET /futures/{settle}/order_book` JSON (spec 6.5): best `limit` levels per side."""
        self.advance(now)
        c = self._contract(contract)
        out: dict[str, object] = {}
        if with_id:
            out["id"] = c.update_id
        out["current"] = self.wall_ms(now) / 1000
        out["update"] = c.update_t_ms / 1000
        for name, side in (("asks", _ASK), ("bids", _BID)):
            out[name] = [
                {"p": c.price_text(t), "s": c.size_wire(u, size_decimal=size_decimal)}
                for t, u in c.top(side, limit)
            ]
        return out

    def contract_details(self, contract: str) -> dict[str, object]:
        """A few `GET /futures/{settle}/contracts/{contract}` fields."""
        c = self._contract(contract)
        spec = c.spec
        return {
            "name": spec.name,
            "type": "inverse" if not spec.quanto_multiplier else "direct",
            "quanto_multiplier": str(spec.quanto_multiplier),
            "order_price_round": str(spec.tick),
            "mark_price_round": str(spec.tick),
            "enable_decimal": c.size_exp > 0,
            "order_size_min": _units_text(1, c.size_exp),
            "leverage_max": str(spec.leverage_max),
            "last_price": c.price_text(c.last_price),
            "mark_price": c.price_text(c.mark_tick()),
        }

    # ---------------------------------------------------------------------------- orders

    def size_units(self, contract: str, size: Decimal) -> int | None:
        """`size` in whole size steps of `contract`, or None if it is off the grid."""
        units = size / self._contract(contract).spec.size_step
        return int(units) if units == units.to_integral_value() else None

    def units_size(self, contract: str, units: int, *, size_decimal: bool) -> int | Decimal:
        return self._contract(contract).size_value(units, size_decimal)

    def _limit_tick(self, c: _Contract, units: int, limit: Decimal | None) -> int | None:
        if limit is None or limit == 0:
            return None
        ticks = limit / c.spec.tick
        # a buy may pay up to its limit, a sell take down to it
        return math.floor(ticks) if units > 0 else math.ceil(ticks)

    def take_trade_extremes(
        self, contract: str, now: float
    ) -> tuple[Decimal | None, Decimal | None]:
        """The highest buy and lowest sell trade price since the last call (None: no trade)."""
        self.advance(now)
        c = self._contract(contract)
        high, low = c.buy_high, c.sell_low
        c.buy_high = c.sell_low = None
        return (
            None if high is None else c.price(high),
            None if low is None else c.price(low),
        )

    def liquidity(self, contract: str, units: int, limit: Decimal | None, now: float) -> int:
        """How much of a taker order of `units` (signed) the book could fill within `limit`."""
        self.advance(now)
        c = self._contract(contract)
        side = _ASK if units > 0 else _BID
        limit_tick = self._limit_tick(c, units, limit)
        total = 0
        for tick, size in c.top(side, _NO_LIMIT):
            if limit_tick is not None and (tick > limit_tick if units > 0 else tick < limit_tick):
                break
            total += size
            if total >= abs(units):
                break
        return total

    def execute(
        self, contract: str, units: int, limit: Decimal | None, now: float
    ) -> list[tuple[Decimal, int]]:
        """Fill a taker order of `units` (signed: + buys) against the book, best price first,
        never beyond `limit` (None or 0: any price). The levels taken change the book under
        one new update id and show as public trades. Returns `(price, units)` fills."""
        self.advance(now)
        c = self._contract(contract)
        side = _ASK if units > 0 else _BID
        sign = 1 if units > 0 else -1
        limit_tick = self._limit_tick(c, units, limit)
        t_ms = self.epoch_ms + self._step * STEP_MS
        remaining = abs(units)
        fills: list[tuple[Decimal, int]] = []
        op: _Op | None = None
        while remaining > 0:
            tick = c.best(side)
            if tick is None or (
                limit_tick is not None and (tick > limit_tick if sign > 0 else tick < limit_tick)
            ):
                break
            if op is None:
                op = c.new_op(t_ms)
            have = c.books[side][tick]
            fill = min(have, remaining)
            c.set_level(op, side, tick, have - fill)
            c.record_trade(t_ms, tick, fill * sign)
            fills.append((c.price(tick), fill))
            remaining -= fill
        return fills

    # ---------------------------------------------------------------------------- faults

    def inject_gap(self, contract: str, size: int, now: float) -> tuple[int, int]:
        """Make `size` real book changes now that no stream will carry.

        Every book stream of `contract` then skips those update ids (its next `U` is past them),
        while the book, REST snapshots and fresh obu snapshots include them: a client that
        ignores the gap ends up with a wrong book. Returns the first and last skipped id.
        """
        if size < 1:
            raise ValueError(f"gap size must be >= 1, got {size}")
        self.advance(now)
        c = self._contract(contract)
        first = c.update_id + 1
        c.churn(self.epoch_ms + self._step * STEP_MS, size, hidden=True)
        return first, c.update_id

    # ---------------------------------------------------------------------------- topics

    def subscribe(self, topic: Topic) -> None:
        state = self._topics.get(topic)
        if state is None:
            state = self._topics[topic] = _TopicState()
            self._open_topic(topic, state)
        state.refs += 1

    def unsubscribe(self, topic: Topic) -> None:
        state = self._topics.get(topic)
        if state is None:
            return
        state.refs -= 1
        if state.refs <= 0:
            del self._topics[topic]
            self._close_topic(topic)

    def _open_topic(self, topic: Topic, state: _TopicState) -> None:
        channel = topic[0]
        state.every = _CADENCES.get(channel, 100)
        push: Callable[[Topic, int], Push | None] | None = None
        match channel:
            case "futures.order_book_update" | "futures.obu":
                obu = channel == "futures.obu"
                level = int(topic[2] if obu else topic[3])
                state.every = (10 if level == 400 else 2) if obu else _FREQ_STEPS[topic[2]]
                state.book = _BookStream(level, self._contracts[topic[1]].update_id)
                state.push = functools.partial(self._book_push, topic, state.book)
            case "futures.trades":
                self._contracts[topic[1]].pending_trades = []
                push = self._trades_push
            case "futures.public_liquidates":
                self._contracts[topic[1]].pending_liquidations = []
                push = self._liquidations_push
            case "futures.book_ticker":
                push = self._book_ticker_push
            case "futures.tickers":
                push = self.ticker_push
            case "futures.candlesticks":
                push = self._candle_push
            case "futures.contract_stats":
                push = self._stats_push
            case "futures.order_book":
                push = self.order_book_push
        if push is not None:
            state.push = functools.partial(push, topic)

    def _close_topic(self, topic: Topic) -> None:
        channel = topic[0]
        if channel == "futures.trades":
            self._contracts[topic[1]].pending_trades = None
        elif channel == "futures.public_liquidates":
            self._contracts[topic[1]].pending_liquidations = None

    @property
    def topics(self) -> tuple[Topic, ...]:
        return tuple(self._topics)

    def parse_subscription(self, channel: str, payload: object) -> list[Topic]:
        """The topics a public subscribe payload names, or SubscribeError as Gate would answer.

        One unknown contract fails the whole payload (spec 9, "atomic subscribe").
        """
        if not isinstance(payload, list) or not all(isinstance(p, str) for p in payload):
            raise SubscribeError(2, "invalid argument")
        items: list[str] = payload
        match channel:
            case (
                "futures.trades"
                | "futures.book_ticker"
                | "futures.tickers"
                | "futures.public_liquidates"
                | "futures.contract_info"
                | "futures.adl_warning"
            ):
                if not items:
                    raise SubscribeError(2, "invalid argument")
                if ALL in items and channel in (
                    "futures.public_liquidates",
                    "futures.contract_info",
                    "futures.adl_warning",
                ):
                    if len(items) > 1:
                        raise SubscribeError(2, "invalid argument")
                    items = list(self._contracts)
                self._check_contracts(items)
                return [(channel, name) for name in dict.fromkeys(items)]
            case "futures.order_book_update":
                if len(items) not in (2, 3):
                    raise SubscribeError(2, "invalid argument")
                self._check_contracts(items[:1])
                freq = items[1]
                default = "100" if freq == "100ms" else "20"
                level = items[2] if len(items) == 3 else default
                if freq not in _FREQ_STEPS or level not in ("100", "50", "20"):
                    raise SubscribeError(2, "invalid argument")
                if freq == "20ms" and level != "20":
                    raise SubscribeError(2, "invalid argument")
                return [(channel, items[0], freq, level)]
            case "futures.order_book":
                if len(items) != 3 or items[1] not in ORDER_BOOK_LIMITS or items[2] != "0":
                    raise SubscribeError(2, "invalid argument")
                self._check_contracts(items[:1])
                return [(channel, items[0], items[1], items[2])]
            case "futures.obu":
                if self.delivery:
                    raise SubscribeError(2, f"unknown channel {channel}")
                if not items:
                    raise SubscribeError(2, "invalid argument")
                topics: list[Topic] = []
                for stream in items:
                    prefix, _, rest = stream.partition(".")
                    contract, _, level = rest.rpartition(".")
                    if prefix != "ob" or level not in ("400", "50") or not contract:
                        raise SubscribeError(2, "invalid argument")
                    self._check_contracts([contract])
                    topics.append((channel, contract, level))
                return topics
            case "futures.candlesticks":
                if len(items) != 2 or items[0] not in CANDLE_INTERVALS:
                    raise SubscribeError(2, "invalid argument")
                name = items[1]
                for prefix in ("mark_", "index_"):
                    name = name.removeprefix(prefix)
                self._check_contracts([name])
                return [(channel, items[0], items[1])]
            case "futures.contract_stats":
                if len(items) != 2 or items[1] not in STATS_INTERVALS:
                    raise SubscribeError(2, "invalid argument")
                self._check_contracts(items[:1])
                return [(channel, items[0], items[1])]
            case _:
                raise SubscribeError(2, f"unknown channel {channel}")

    def _check_contracts(self, names: Iterable[str]) -> None:
        for name in names:
            if name not in self._contracts:
                raise SubscribeError(2, f"unknown contract {name}")

    # ---------------------------------------------------------------------------- time

    def advance(self, now: float) -> None:
        """Simulate every step up to `now`. Pushes that fall due wait for the next `tick`."""
        target = math.floor(round(now * 1000, 6) / STEP_MS)
        while self._step < target:
            self._step += 1
            k = self._step
            t_ms = self.epoch_ms + k * STEP_MS
            for c in self._contracts.values():
                c.step(t_ms)
            if t_ms // 1000 != self._wall_s:
                self._wall_s = t_ms // 1000
                for c in self._contracts.values():
                    c.update_candles(self._wall_s)
            if self._topics:
                self._collect(k, t_ms, self._pending)

    def tick(self, now: float) -> list[Push]:
        """Simulate up to `now`; return the pushes due on the way, oldest first."""
        self.advance(now)
        pushes, self._pending = self._pending, []
        return pushes

    def next_deadline(self) -> float | None:
        """When the next push may fall due, in the caller's seconds; None: no topic is open."""
        if self._pending:
            return self.now
        if not self._topics:
            return None
        every = min(state.every for state in self._topics.values())
        return (self._step // every + 1) * every * STEP_MS / 1000

    # ---------------------------------------------------------------------------- pushes

    def _collect(self, k: int, t_ms: int, out: list[Push]) -> None:
        for state in self._topics.values():
            if state.push is not None and k % state.every == 0:
                push = state.push(t_ms)
                if push is not None:
                    out.append(push)

    def initial_pushes(self, topic: Topic, now: float) -> list[Push]:
        """What a new subscriber of `topic` gets besides the shared stream.

        obu: the full snapshot at the id the stream's next delta follows on from; tickers: a
        `snapshot` ticker; contract_info: the cached `all` snapshot; order_book: a snapshot.
        """
        self.advance(now)
        t_ms = self.epoch_ms + self._step * STEP_MS
        state = self._topics.get(topic)
        channel = topic[0]
        if channel == "futures.obu" and state is not None and state.book is not None:
            return [self._obu_full(topic, state.book, t_ms)]
        if channel == "futures.tickers":
            return [self.ticker_push(topic, t_ms, snapshot=True)]
        if channel == "futures.contract_info":
            return [self._contract_info_push(topic, t_ms)]
        if channel == "futures.order_book":
            return [self.order_book_push(topic, t_ms)]
        return []

    def _book_push(self, topic: Topic, stream: _BookStream, t_ms: int) -> Push | None:
        c = self._contracts[topic[1]]
        if c.update_id == stream.last_u:
            return None  # no book change at all since the last push: nothing to say
        obu = topic[0] == "futures.obu"
        every = self.obu_full_every if obu else self.book_update_full_every
        if every and self._rng.randrange(every) == 0:
            if obu:
                return self._obu_full(topic, stream, t_ms, resend=True)
            return self._book_update_full(topic, stream, t_ms)
        ops = c.ops_after(stream.last_u)
        first = stream.last_u + 1
        for i in range(len(ops) - 1, -1, -1):
            if ops[i].hidden:
                first = ops[i].id + 1
                ops = ops[i + 1 :]
                break
        if first > c.update_id:
            return None  # only skipped ids so far: the gap shows with the next real change
        depth = stream.depth
        j = BOOK_DEPTHS.index(depth)
        keys: dict[tuple[int, int], None] = {}
        for op in ops:
            for side, tick, _old, _new, rank, crossed in op.changes:
                if rank < depth:
                    keys[side, tick] = None
                if crossed and crossed[j]:
                    keys[side, crossed[j]] = None
        levels: tuple[list[tuple[int, int]], list[tuple[int, int]]] = ([], [])
        for side, tick in keys:
            units = c.books[side].get(tick, 0)
            if units and c.rank(side, tick) >= depth:
                units = 0
            levels[side].append((tick, units))
        levels[_BID].sort(reverse=True)
        levels[_ASK].sort()
        last = c.update_id
        stream.last_u = last
        name = c.name
        if obu:
            ev = ObuUpdate(
                result=ObuDelta(
                    t=t_ms,
                    s=f"ob.{name}.{depth}",
                    u=last,
                    U=first,
                    b=c.levels(ObuLevel, levels[_BID], size_decimal=True),
                    a=c.levels(ObuLevel, levels[_ASK], size_decimal=True),
                ),
                time=t_ms // 1000,
                time_ms=t_ms,
            )
            return Push(topic, lambda _d: ev)

        def build(size_decimal: bool) -> Event:
            return OrderBookUpdate(
                result=BookDelta(
                    t=t_ms,
                    s=name,
                    U=first,
                    u=last,
                    b=c.levels(BookLevel, levels[_BID], size_decimal=size_decimal),
                    a=c.levels(BookLevel, levels[_ASK], size_decimal=size_decimal),
                    l=str(depth),
                ),
                time=t_ms // 1000,
                time_ms=t_ms,
            )

        return Push(topic, build)

    def _obu_full(
        self, topic: Topic, stream: _BookStream, t_ms: int, *, resend: bool = False
    ) -> Push:
        c = self._contracts[topic[1]]
        if resend:
            stream.last_u = c.update_id
        state = self.book_at(c.name, stream.last_u, stream.depth)
        ev = ObuUpdate(
            result=ObuDelta(
                t=t_ms,
                s=f"ob.{c.name}.{stream.depth}",
                u=stream.last_u,
                b=tuple(ObuLevel(_dec_text(p), _dec_text(s)) for p, s in state.bids),
                a=tuple(ObuLevel(_dec_text(p), _dec_text(s)) for p, s in state.asks),
                full=True,
            ),
            time=t_ms // 1000,
            time_ms=t_ms,
        )
        return Push(topic, lambda _d: ev)

    def _book_update_full(self, topic: Topic, stream: _BookStream, t_ms: int) -> Push:
        c = self._contracts[topic[1]]
        first = stream.last_u + 1
        stream.last_u = last = c.update_id
        bids = c.top(_BID, stream.depth)
        asks = c.top(_ASK, stream.depth)

        def build(size_decimal: bool) -> Event:
            return OrderBookUpdate(
                result=BookDelta(
                    t=t_ms,
                    s=c.name,
                    U=first,
                    u=last,
                    b=c.levels(BookLevel, bids, size_decimal=size_decimal),
                    a=c.levels(BookLevel, asks, size_decimal=size_decimal),
                    l=str(stream.depth),
                    full=True,
                ),
                time=t_ms // 1000,
                time_ms=t_ms,
            )

        return Push(topic, build)

    def _book_ticker_push(self, topic: Topic, t_ms: int) -> Push | None:
        c = self._contracts[topic[1]]
        bid, ask = c.best(_BID), c.best(_ASK)
        bbo = (
            bid or 0,
            c.books[_BID].get(bid, 0) if bid else 0,
            ask or 0,
            c.books[_ASK].get(ask, 0) if ask else 0,
        )
        if bbo == c.last_bbo:
            return None
        c.last_bbo = bbo
        u = c.update_id

        def build(size_decimal: bool) -> Event:
            return BookTickerUpdate(
                result=BookTicker(
                    t=t_ms,
                    u=u,
                    s=c.name,
                    b=c.price(bbo[0]) if bbo[0] else None,
                    B=c.size_value(bbo[1], size_decimal),
                    a=c.price(bbo[2]) if bbo[2] else None,
                    A=c.size_value(bbo[3], size_decimal),
                ),
                time=t_ms // 1000,
                time_ms=t_ms,
            )

        return Push(topic, build)

    def _trades_push(self, topic: Topic, t_ms: int) -> Push | None:
        c = self._contracts[topic[1]]
        trades = c.pending_trades
        if not trades:
            return None
        c.pending_trades = []
        first_id = self._trade_id + 1
        self._trade_id += len(trades)  # trade ids are numbered market-wide

        def build(size_decimal: bool) -> Event:
            return TradesUpdate(
                result=tuple(
                    Trade(
                        id=first_id + i,
                        contract=c.name,
                        price=c.price(tick),
                        size=c.size_value(units, size_decimal),
                        create_time=trade_ms // 1000,
                        create_time_ms=trade_ms,
                    )
                    for i, (trade_ms, tick, units) in enumerate(trades)
                ),
                time=t_ms // 1000,
                time_ms=t_ms,
            )

        return Push(topic, build)

    def ticker_push(self, topic: Topic, t_ms: int, *, snapshot: bool = False) -> Push:
        c = self._contracts[topic[1]]
        last = c.price(c.last_price)
        open_ = c.price(c.open_24h)
        change = last - open_
        pct = (change / open_ * 100).quantize(Decimal("0.0001")) if open_ else Decimal(0)
        vol_contracts = Decimal(_units_text(c.volume_24h, c.size_exp))
        base = c.base_amount(c.volume_24h, c.last_price)
        quote = (base * last).quantize(Decimal(1))
        interval = 28800
        wall_s = t_ms // 1000
        ticker = Ticker(
            contract=c.name,
            last=last,
            change_percentage=pct,
            total_size=Decimal(_units_text(c.open_interest, c.size_exp)),
            volume_24h=vol_contracts,
            volume_24h_base=_plain(base),
            volume_24h_quote=quote,
            volume_24h_settle=quote,
            mark_price=c.price(c.mark_tick()),
            funding_rate=c.funding_rate,
            funding_rate_indicative=c.funding_rate,
            index_price=c.price(round(c.fair - self._rng.random())),
            low_24h=c.price(c.low_24h),
            high_24h=c.price(c.high_24h),
            change_price=change,
            quanto_base_rate="",
            price_type="last",
            change_from="24h",
            funding_interval=interval,
            funding_offset=0,
            funding_next_apply=wall_s - wall_s % interval + interval,
            t=t_ms,
            event_type="snapshot" if snapshot else "",
        )
        ev = TickersUpdate(result=(ticker,), time=t_ms // 1000, time_ms=t_ms)
        return Push(topic, lambda _d: ev)

    def _candle_push(self, topic: Topic, t_ms: int) -> Push:
        interval, name = topic[1], topic[2]
        mark = name.startswith(("mark_", "index_"))
        c = self._contracts[name.split("_", 1)[1] if mark else name]
        table = c.mark_candles if mark else c.candles
        closed_table = c.closed_mark_candles if mark else c.closed_candles
        current = table[interval]
        closed = closed_table.pop(interval, None)
        n = f"{interval}_{name}"

        def candle(k: _Candle, *, w: bool, size_decimal: bool) -> Candlestick:
            return Candlestick(
                t=k.start,
                o=c.price(k.o),
                h=c.price(k.h),
                l=c.price(k.l),
                c=c.price(k.c),
                n=n,
                v=None if mark else c.size_value(k.v, size_decimal),
                a=None if mark else _plain(k.a),
                w=w,
            )

        snap = _Candle(current.start, current.o)
        snap.h, snap.l, snap.c, snap.v, snap.a = (
            current.h,
            current.l,
            current.c,
            current.v,
            current.a,
        )

        def build(size_decimal: bool) -> Event:
            items = [candle(snap, w=False, size_decimal=size_decimal)]
            if closed is not None:
                items.insert(0, candle(closed, w=True, size_decimal=size_decimal))
            return CandlesticksUpdate(result=tuple(items), time=t_ms // 1000, time_ms=t_ms)

        return Push(topic, build)

    def _stats_push(self, topic: Topic, t_ms: int) -> Push:
        c = self._contracts[topic[1]]
        rng = self._rng
        mark = c.price(c.mark_tick())
        oi = c.open_interest
        long_liq, short_liq = c.long_liq, c.short_liq
        c.long_liq = c.short_liq = 0
        lsr = Decimal(rng.randrange(50, 200)) / 100
        oi_base = c.base_amount(oi, c.mark_tick())

        def build(size_decimal: bool) -> Event:
            def size(units: int) -> Decimal:
                value = c.size_value(units, size_decimal)
                return value if isinstance(value, Decimal) else Decimal(value)

            return ContractStatsUpdate(
                result=(
                    ContractStats(
                        time=t_ms // 1000,
                        contract=c.name,
                        mark_price=mark,
                        lsr_taker=lsr,
                        lsr_account=lsr,
                        long_liq_size=size(long_liq),
                        short_liq_size=size(short_liq),
                        open_interest=size(oi),
                        short_liq_usd=Decimal(0),
                        long_liq_usd=Decimal(0),
                        short_liq_amount=Decimal(0),
                        long_liq_amount=Decimal(0),
                        open_interest_usd=(oi_base * mark).quantize(Decimal(1)),
                        top_lsr_account=lsr,
                        top_lsr_size=lsr,
                    ),
                ),
                time=t_ms // 1000,
                time_ms=t_ms,
            )

        return Push(topic, build)

    def _liquidations_push(self, topic: Topic, t_ms: int) -> Push | None:
        c = self._contracts[topic[1]]
        liqs = c.pending_liquidations
        if not liqs:
            return None
        c.pending_liquidations = []
        as_object = self.liquidations_as_object

        def build(size_decimal: bool) -> Event:
            items = tuple(
                PublicLiquidation(
                    contract=c.name,
                    price=c.price(tick),
                    size=c.size_value(units, size_decimal),
                    time=when,
                )
                for when, tick, units in liqs
            )
            if as_object:
                items = items[-1:]  # the 2026-08-10 live form carried one liquidation
            return PublicLiquidationsUpdate(result=items, time=t_ms // 1000, time_ms=t_ms)

        return Push(topic, build)

    def order_book_push(self, topic: Topic, t_ms: int) -> Push:
        c = self._contracts[topic[1]]
        limit = int(topic[2])
        uid = c.update_id
        bids = c.top(_BID, limit)
        asks = c.top(_ASK, limit)

        def build(size_decimal: bool) -> Event:
            return OrderBookSnapshot(
                result=BookSnapshot(
                    t=t_ms,
                    contract=c.name,
                    id=uid,
                    asks=c.levels(BookLevel, asks, size_decimal=size_decimal),
                    bids=c.levels(BookLevel, bids, size_decimal=size_decimal),
                    l=topic[2],
                ),
                time=t_ms // 1000,
                time_ms=t_ms,
            )

        return Push(topic, build)

    def _contract_info_push(self, topic: Topic, t_ms: int) -> Push:
        c = self._contracts[topic[1]]
        spec = c.spec
        tiers = tuple(
            RiskLimitTier(
                tier=i + 1,
                risk_limit=Decimal(1_000_000 * (i + 1)),
                initial_rate=Decimal(1) / spec.leverage_max * (i + 1),
                maintenance_rate=Decimal(1) / spec.leverage_max / 2 * (i + 1),
                leverage_max=Decimal(spec.leverage_max // (i + 1)),
                deduction=Decimal(0) if i == 0 else Decimal(2500 * i),
                contract=c.name,
            )
            for i in range(3)
        )
        ev = ContractInfoUpdate(
            result=ContractInfo(
                contract=c.name,
                quanto_multiplier=spec.quanto_multiplier,
                order_price_round=spec.tick,
                mark_price_round=spec.tick,
                risk_limit_tiers=tiers,
            ),
            time=t_ms // 1000,
            time_ms=t_ms,
            event="all",
        )
        return Push(topic, lambda _d: ev)


def _plain(value: Decimal) -> Decimal:
    """`value` without trailing zeros and never in exponent form (which `normalize` may give)."""
    return Decimal(_dec_text(value))


def _dec_text(value: Decimal) -> str:
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text
