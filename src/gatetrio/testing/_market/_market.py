"""The fake exchange's market: a pure, seeded simulation of one Gate futures settle market.

Rule 1: no I/O, no trio, no clock reads. `now` (seconds of the caller's clock, 0 at start) is an
argument, and every wall-clock field is `epoch_ms + now`, so one seed gives the same frames.
Rule 2: the simulation runs in fixed 10 ms steps, whatever cadence the caller ticks at:
`tick(now)` runs every step up to `now` and returns the pushes that fell due, so a caller that
sleeps for a minute gets the same market as one that ticked every step.

`Market` is the facade over the package: `_contracts` (what is listed), `_simulation` (one
contract's activity), `_book` (its book and update ids; the essays on exact deltas), `_topics`
(what a subscribe payload names) and `_pushes` (the frames each topic gets).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import random
import typing
from typing import TYPE_CHECKING, Final

import attrs

from gatetrio._core._events import TickersUpdate

from . import _pushes
from ._book import ASK, BID, NO_LIMIT
from ._contracts import DEFAULT_CONTRACTS
from ._numbers import units_text
from ._pushes import BookStream, Push
from ._simulation import STEP_MS, Contract
from ._topics import CADENCES, FREQ_STEPS, parse_subscription

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from decimal import Decimal

    from gatetrio._core._events import Ticker

    from ._book import BookState, Op
    from ._contracts import ContractSpec
    from ._topics import Topic

DEFAULT_EPOCH_MS: Final = 1_786_540_560_000
"""Wall time (unix ms) at `now == 0` unless told otherwise: 2026-08-12, the CCXT-FIX capture."""


@typing.final
@attrs.frozen(kw_only=True)
class MarketOptions:
    """How the fake's markets shape their pushes (`FakeGateServer(market=...)`, `Market`).

    Attributes:
        obu_full_every: about one obu push in this many is a re-sent full snapshot (0: never).
        book_update_full_every: the same for order_book_update `full: true` (0: never).
        liquidations_as_object: public_liquidates `result` as one object (live 2026-08-10)
            instead of the documented array.
    """

    obu_full_every: int = 600
    book_update_full_every: int = 0
    liquidations_as_object: bool = False


DEFAULT_MARKET_OPTIONS: Final = MarketOptions()


@attrs.define(eq=False)
class _TopicState:
    refs: int = 0
    every: int = 100  # push cadence in steps
    book: BookStream | None = None
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
        options: how often full snapshots are re-sent, and the liquidations shape; kept as
            `options` (assign a new `MarketOptions` to change them for open topics too).
        candle_turnover: candlestick `a` is the quote turnover, as live; False: the
            base volume the older docs describe (a `FakeProfile` fact, hence not an option).

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
        options: MarketOptions = DEFAULT_MARKET_OPTIONS,
        candle_turnover: bool = True,
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
        self.options = options
        self.candle_turnover = candle_turnover
        tag = f"{seed}:{'delivery' if delivery else 'perpetual'}:{settle}"
        self._rng = random.Random(f"{tag}:market")
        self._step = math.floor(round(start * 1000, 6) / STEP_MS)  # the market's time, in steps
        open_ms = epoch_ms + self._step * STEP_MS
        self._contracts: dict[str, Contract] = {}
        for spec in contracts:
            c = Contract(spec, random.Random(f"{tag}:{spec.name}"), history)
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

    def _contract(self, name: str) -> Contract:
        try:
            return self._contracts[name]
        except KeyError:
            raise KeyError(f"{name!r} is not a contract of this market: {self.contracts}") from None

    def update_id(self, contract: str) -> int:
        return self._contract(contract).update_id

    def best_bid_ask(self, contract: str) -> tuple[Decimal | None, Decimal | None]:
        c = self._contract(contract)
        bid, ask = c.best(BID), c.best(ASK)
        return (
            None if bid is None else c.price(bid),
            None if ask is None else c.price(ask),
        )

    def mark_price(self, contract: str) -> Decimal:
        c = self._contract(contract)
        return c.price(c.mark_tick())

    def last_price(self, contract: str) -> Decimal:
        """The price of the latest trade."""
        c = self._contract(contract)
        return c.price(c.last_price)

    def book(self, contract: str, depth: int | None = None) -> BookState:
        """The current book (all levels, or the best `depth` per side)."""
        return self._contract(contract).snapshot(None, depth)

    def book_at(self, contract: str, update_id: int, depth: int | None = None) -> BookState:
        """The book right after update `update_id`.

        Raises:
            KeyError: `update_id` is in the future or older than the kept history.
        """
        return self._contract(contract).snapshot(update_id, depth)

    def history_range(self, contract: str) -> tuple[int, int]:
        """The oldest and newest update ids `book_at` can rebuild."""
        c = self._contract(contract)
        return c.first_id, c.update_id

    def rest_order_book(
        self, contract: str, limit: int = 10, *, now: float, size_decimal: bool, with_id: bool
    ) -> dict[str, object]:
        """`GET /futures/{settle}/order_book` JSON as Gate answers it: best `limit` per side."""
        self.advance(now)
        c = self._contract(contract)
        out: dict[str, object] = {}
        if with_id:
            out["id"] = c.update_id
        out["current"] = self.wall_ms(now) / 1000
        out["update"] = c.update_t_ms / 1000
        for name, side in (("asks", ASK), ("bids", BID)):
            out[name] = [
                {"p": c.price_text(t), "s": c.size_wire(u, size_decimal=size_decimal)}
                for t, u in c.top(side, limit)
            ]
        return out

    def contract_details(self, contract: str, now: float | None = None) -> dict[str, object]:
        """`GET /futures/{settle}/contracts/{contract}`: Gate's full `Contract` object, as live
        serves it (cryptofeed reads `in_delisting`, ccxt the limits and fees), consistent with
        the book.

        `now` (the server's time) dates `funding_next_apply`; None: the market's own time.
        """
        c = self._contract(contract)
        spec = c.spec
        wall_s = self.wall_ms(self.now if now is None else now) // 1000
        if self.delivery:
            return {**self._perpetual_details(c, wall_s), **_delivery_details(c, str(spec.tick))}
        return self._perpetual_details(c, wall_s)

    def _perpetual_details(self, c: Contract, wall_s: int) -> dict[str, object]:
        spec = c.spec
        interval = 28800
        size_min = units_text(1, c.size_exp)
        tick = str(spec.tick)
        return {
            "name": spec.name,
            "type": "inverse" if not spec.quanto_multiplier else "direct",
            "quanto_multiplier": str(spec.quanto_multiplier),
            "ref_discount_rate": "0",
            "order_price_deviate": "0.5",
            "maintenance_rate": "0.005",
            "mark_type": "index",
            "last_price": c.price_text(c.last_price),
            "mark_price": c.price_text(c.mark_tick()),
            "index_price": c.price_text(c.mark_tick()),
            "funding_rate_indicative": str(c.funding_rate),
            "mark_price_round": tick,
            "funding_offset": 0,
            "in_delisting": spec.in_delisting,
            "risk_limit_base": "1000000",
            "interest_rate": "0.0003",
            "order_price_round": tick,
            "order_size_min": int(size_min) if c.size_exp == 0 else size_min,
            "ref_rebate_rate": "0.2",
            "funding_interval": interval,
            "risk_limit_step": "1000000",
            "leverage_min": "1",
            "leverage_max": str(spec.leverage_max),
            "risk_limit_max": "8000000",
            "maker_fee_rate": "0.0002",
            "taker_fee_rate": "0.0005",
            "funding_rate": str(c.funding_rate),
            "order_size_max": 1_000_000,
            "funding_next_apply": wall_s - wall_s % interval + interval,
            "short_users": 1000,
            "config_change_time": self.epoch_ms // 1000 - 86400,
            "trade_size": c.volume_24h,
            "position_size": c.open_interest,
            "long_users": 1000,
            "funding_impact_value": "60000",
            "orders_limit": 100,
            "trade_id": self._trade_id,
            "orderbook_id": c.update_id,
            "enable_bonus": True,
            "enable_credit": True,
            "create_time": self.epoch_ms // 1000 - 365 * 86400,
            "funding_cap_ratio": "0.75",
            "status": "trading",
            "launch_time": self.epoch_ms // 1000 - 365 * 86400,
            "delisting_time": 0,
            "delisted_time": 0,
            "enable_decimal": c.size_exp > 0,
            "voucher_leverage": "0",
            "is_pre_market": False,
        }

    def rest_ticker(self, contract: str, now: float) -> Ticker:
        """`GET /futures/{settle}/tickers` entry: the ticker the WebSocket would push now.

        Its own seeded rng, so a REST call never shifts the pushes' random sequence.
        """
        self.advance(now)
        t_ms = self.wall_ms(now)
        topic = ("futures.tickers", contract)
        push = _pushes.ticker_push(
            self._contract(contract), topic, t_ms, rng=random.Random(f"{contract}:{t_ms}")
        )
        event = push.event(size_decimal=False)
        if not isinstance(event, TickersUpdate):  # pragma: no cover - ticker_push builds one
            raise TypeError(f"ticker_push built {event!r}")
        return event.result[0]

    # ---------------------------------------------------------------------------- orders

    def size_units(self, contract: str, size: Decimal) -> int | None:
        """`size` in whole size steps of `contract`, or None if it is off the grid."""
        units = size / self._contract(contract).spec.size_step
        return int(units) if units == units.to_integral_value() else None

    def units_size(self, contract: str, units: int, *, size_decimal: bool) -> int | Decimal:
        return self._contract(contract).size_value(units, size_decimal)

    def _limit_tick(self, c: Contract, units: int, limit: Decimal | None) -> int | None:
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
        side = ASK if units > 0 else BID
        limit_tick = self._limit_tick(c, units, limit)
        total = 0
        for tick, size in c.top(side, NO_LIMIT):
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
        side = ASK if units > 0 else BID
        sign = 1 if units > 0 else -1
        limit_tick = self._limit_tick(c, units, limit)
        t_ms = self.epoch_ms + self._step * STEP_MS
        remaining = abs(units)
        fills: list[tuple[Decimal, int]] = []
        op: Op | None = None
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

    def jump(self, contract: str, price: Decimal, now: float) -> Decimal:
        """Move `contract`'s market to `price` at once (a flash move): its book shifts in one
        update, its mark price follows, a trade prints there. Returns the new mark price."""
        self.advance(now)
        c = self._contract(contract)
        target = round(price / c.spec.tick)
        if target <= 0:
            raise ValueError(f"{contract}: cannot move to {price}")
        c.jump(self.epoch_ms + self._step * STEP_MS, target - c.mark_tick())
        return c.price(c.mark_tick())

    def set_adl_state(self, contract: str, state: str, now: float) -> None:
        """Put `contract` in ADL state `state` (``normal``, ``warning``, ``adl_risk``) for
        `futures.adl_warning` (spec 6.11)."""
        if state not in ("normal", "warning", "adl_risk"):
            raise ValueError(f"state must be normal, warning or adl_risk, got {state!r}")
        self.advance(now)
        c = self._contract(contract)
        if state == c.adl_state:
            return
        c.adl_back_to_normal = state == "normal"
        c.adl_state = state
        c.adl_update_ms = self.epoch_ms + self._step * STEP_MS

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
        state.every = CADENCES.get(channel, 100)
        push: Callable[[Topic, int], Push | None] | None = None
        match channel:
            case "futures.order_book_update" | "futures.obu":
                obu = channel == "futures.obu"
                level = int(topic[2] if obu else topic[3])
                state.every = (10 if level == 400 else 2) if obu else FREQ_STEPS[topic[2]]
                state.book = BookStream(level, self._contracts[topic[1]].update_id)
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
            case "futures.adl_warning":
                push = self._adl_warning_push
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

    def parse_subscription(
        self, channel: str, payload: object, *, live: bool = False, obu_silent: bool = False
    ) -> list[Topic]:
        """The topics a public subscribe payload names, or SubscribeError as Gate would answer.

        One unknown contract fails the whole payload. `live`:
        Gate's live error texts; `obu_silent`: its silent obu acks.
        """
        return parse_subscription(
            channel,
            payload,
            contracts=self._contracts.keys(),
            delivery=self.delivery,
            live=live,
            obu_silent=obu_silent,
        )

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
        if channel == "futures.adl_warning":
            c = self._contracts[topic[1]]
            first = _pushes.adl_warning_push(c, topic, t_ms, self.settle, snapshot=True)
            return [] if first is None else [first]
        return []

    # Adapters from a topic to its `_pushes` builder. They read this market's `options` when the
    # push is built, so options changed later reach open topics too.

    def _book_push(self, topic: Topic, stream: BookStream, t_ms: int) -> Push | None:
        options = self.options
        every = (
            options.obu_full_every if topic[0] == "futures.obu" else options.book_update_full_every
        )
        c = self._contracts[topic[1]]
        return _pushes.book_push(c, topic, stream, t_ms, full_every=every, rng=self._rng)

    def _obu_full(self, topic: Topic, stream: BookStream, t_ms: int) -> Push:
        return _pushes.obu_full(self._contracts[topic[1]], topic, stream, t_ms)

    def _book_ticker_push(self, topic: Topic, t_ms: int) -> Push | None:
        return _pushes.book_ticker_push(self._contracts[topic[1]], topic, t_ms)

    def _trades_push(self, topic: Topic, t_ms: int) -> Push | None:
        c = self._contracts[topic[1]]
        return _pushes.trades_push(c, topic, t_ms, reserve_ids=self._reserve_trade_ids)

    def _reserve_trade_ids(self, n: int) -> int:
        """The first of `n` new trade ids: they are numbered market-wide."""
        first = self._trade_id + 1
        self._trade_id += n
        return first

    def ticker_push(self, topic: Topic, t_ms: int, *, snapshot: bool = False) -> Push:
        c = self._contracts[topic[1]]
        return _pushes.ticker_push(c, topic, t_ms, rng=self._rng, snapshot=snapshot)

    def _candle_push(self, topic: Topic, t_ms: int) -> Push:
        name = topic[2]
        mark = name.startswith(("mark_", "index_"))
        c = self._contracts[name.split("_", 1)[1] if mark else name]
        return _pushes.candle_push(c, topic, t_ms, turnover=self.candle_turnover)

    def _stats_push(self, topic: Topic, t_ms: int) -> Push:
        return _pushes.stats_push(self._contracts[topic[1]], topic, t_ms, rng=self._rng)

    def _liquidations_push(self, topic: Topic, t_ms: int) -> Push | None:
        c = self._contracts[topic[1]]
        as_object = self.options.liquidations_as_object
        return _pushes.liquidations_push(c, topic, t_ms, as_object=as_object)

    def order_book_push(self, topic: Topic, t_ms: int) -> Push:
        return _pushes.order_book_push(self._contracts[topic[1]], topic, t_ms)

    def _contract_info_push(self, topic: Topic, t_ms: int) -> Push:
        return _pushes.contract_info_push(self._contracts[topic[1]], topic, t_ms)

    def _adl_warning_push(self, topic: Topic, t_ms: int) -> Push | None:
        return _pushes.adl_warning_push(self._contracts[topic[1]], topic, t_ms, self.settle)


def _delivery_details(c: Contract, tick: str) -> dict[str, object]:
    """The fields a delivery contract adds (ccxt parses `expire_time` from them)."""
    date = c.spec.name.rsplit("_", 1)[-1]
    expiry = dt.datetime.strptime(date + "08", "%Y%m%d%H").replace(tzinfo=dt.UTC)
    return {
        "underlying": c.spec.name.rsplit("_", 1)[0],
        "cycle": "QUARTERLY",
        "expire_time": int(expiry.timestamp()),
        "settle_price": "0",
        "settle_price_interval": 60,
        "settle_price_duration": 1800,
        "settle_fee_rate": "0.0015",
        "basis_rate": "0",
        "basis_type": "ratio",
        "basis_value": "0",
        "basis_impact_value": "100000",
        "mark_price_round": tick,
    }
