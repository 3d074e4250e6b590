"""The frames a topic's subscribers get: `Push` and one builder per channel.

Each builder reads one contract's simulation at `t_ms` and returns a `Push` whose event is built
lazily, once per size mode. Builders that drain state (trades, liquidations, closed candles,
book stream ids) are only called when the push is due.
"""

from __future__ import annotations

import typing
from decimal import Decimal
from typing import TYPE_CHECKING

from gatetrio._core._events import (
    AdlWarning,
    AdlWarningUpdate,
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

from ._book import ASK, BID, BOOK_DEPTHS
from ._numbers import dec_text, plain, units_text
from ._simulation import Candle

if TYPE_CHECKING:
    import random
    from collections.abc import Callable

    from ._simulation import Contract
    from ._topics import Topic


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


class BookStream:
    """Shared state of one depth-limited book topic: the id its last push ended at."""

    __slots__ = ("depth", "last_u")

    def __init__(self, depth: int, last_u: int) -> None:
        self.depth = depth
        self.last_u = last_u


def book_push(
    c: Contract,
    topic: Topic,
    stream: BookStream,
    t_ms: int,
    *,
    full_every: int,
    rng: random.Random,
) -> Push | None:
    """The next push of a depth-limited book stream: a delta (see `_book`), about one in
    `full_every` a re-sent full book, or None when no id the stream carries has passed."""
    if c.update_id == stream.last_u:
        return None  # no book change at all since the last push: nothing to say
    obu = topic[0] == "futures.obu"
    if full_every and rng.randrange(full_every) == 0:
        if obu:
            return obu_full(c, topic, stream, t_ms, resend=True)
        return book_update_full(c, topic, stream, t_ms)
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
    levels[BID].sort(reverse=True)
    levels[ASK].sort()
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
                b=c.levels(ObuLevel, levels[BID], size_decimal=True),
                a=c.levels(ObuLevel, levels[ASK], size_decimal=True),
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
                b=c.levels(BookLevel, levels[BID], size_decimal=size_decimal),
                a=c.levels(BookLevel, levels[ASK], size_decimal=size_decimal),
                l=str(depth),
            ),
            time=t_ms // 1000,
            time_ms=t_ms,
        )

    return Push(topic, build)


def obu_full(
    c: Contract, topic: Topic, stream: BookStream, t_ms: int, *, resend: bool = False
) -> Push:
    """An obu full snapshot at the id the stream is at (`resend`: at the newest id)."""
    if resend:
        stream.last_u = c.update_id
    state = c.snapshot(stream.last_u, stream.depth)
    ev = ObuUpdate(
        result=ObuDelta(
            t=t_ms,
            s=f"ob.{c.name}.{stream.depth}",
            u=stream.last_u,
            b=tuple(ObuLevel(dec_text(p), dec_text(s)) for p, s in state.bids),
            a=tuple(ObuLevel(dec_text(p), dec_text(s)) for p, s in state.asks),
            full=True,
        ),
        time=t_ms // 1000,
        time_ms=t_ms,
    )
    return Push(topic, lambda _d: ev)


def book_update_full(c: Contract, topic: Topic, stream: BookStream, t_ms: int) -> Push:
    first = stream.last_u + 1
    stream.last_u = last = c.update_id
    bids = c.top(BID, stream.depth)
    asks = c.top(ASK, stream.depth)

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


def book_ticker_push(c: Contract, topic: Topic, t_ms: int) -> Push | None:
    bid, ask = c.best(BID), c.best(ASK)
    bbo = (
        bid or 0,
        c.books[BID].get(bid, 0) if bid else 0,
        ask or 0,
        c.books[ASK].get(ask, 0) if ask else 0,
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


def trades_push(
    c: Contract, topic: Topic, t_ms: int, *, reserve_ids: Callable[[int], int]
) -> Push | None:
    """The trades since the last push; `reserve_ids(n)` numbers them (market-wide ids)."""
    trades = c.pending_trades
    if not trades:
        return None
    c.pending_trades = []
    first_id = reserve_ids(len(trades))

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


def ticker_push(
    c: Contract, topic: Topic, t_ms: int, *, rng: random.Random, snapshot: bool = False
) -> Push:
    last = c.price(c.last_price)
    open_ = c.price(c.open_24h)
    change = last - open_
    pct = (change / open_ * 100).quantize(Decimal("0.0001")) if open_ else Decimal(0)
    vol_contracts = Decimal(units_text(c.volume_24h, c.size_exp))
    base = c.base_amount(c.volume_24h, c.last_price)
    quote = (base * last).quantize(Decimal(1))
    interval = 28800
    wall_s = t_ms // 1000
    ticker = Ticker(
        contract=c.name,
        last=last,
        change_percentage=pct,
        total_size=Decimal(units_text(c.open_interest, c.size_exp)),
        volume_24h=vol_contracts,
        volume_24h_base=plain(base),
        volume_24h_quote=quote,
        volume_24h_settle=quote,
        mark_price=c.price(c.mark_tick()),
        funding_rate=c.funding_rate,
        funding_rate_indicative=c.funding_rate,
        index_price=c.price(round(c.fair - rng.random())),
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


def candle_push(c: Contract, topic: Topic, t_ms: int, *, turnover: bool = True) -> Push:
    """`c` is the contract the topic names, also behind a ``mark_``/``index_`` prefix.

    `turnover`: `a` is the quote turnover (as live), else the base volume older docs describe."""
    interval, name = topic[1], topic[2]
    mark = name.startswith(("mark_", "index_"))
    table = c.mark_candles if mark else c.candles
    closed_table = c.closed_mark_candles if mark else c.closed_candles
    current = table[interval]
    closed = closed_table.pop(interval, None)
    n = f"{interval}_{name}"

    def candle(k: Candle, *, w: bool, size_decimal: bool) -> Candlestick:
        return Candlestick(
            t=k.start,
            o=c.price(k.o),
            h=c.price(k.h),
            l=c.price(k.l),
            c=c.price(k.c),
            n=n,
            v=None if mark else c.size_value(k.v, size_decimal),
            a=None if mark else plain(k.q if turnover else k.a),
            w=w,
        )

    snap = Candle(current.start, current.o)
    snap.h, snap.l, snap.c, snap.v, snap.a, snap.q = (
        current.h,
        current.l,
        current.c,
        current.v,
        current.a,
        current.q,
    )

    def build(size_decimal: bool) -> Event:
        items = [candle(snap, w=False, size_decimal=size_decimal)]
        if closed is not None:
            items.insert(0, candle(closed, w=True, size_decimal=size_decimal))
        return CandlesticksUpdate(result=tuple(items), time=t_ms // 1000, time_ms=t_ms)

    return Push(topic, build)


def stats_push(c: Contract, topic: Topic, t_ms: int, *, rng: random.Random) -> Push:
    mark = c.price(c.mark_tick())
    oi = c.open_interest
    long_liq, short_liq = c.long_liq, c.short_liq
    c.long_liq = c.short_liq = 0
    lsr = Decimal(rng.randrange(50, 200)) / 100
    oi_base = c.base_amount(oi, c.mark_tick())
    # liquidated sizes and their value agree: amount in base currency, usd at the mark price
    long_base = c.base_amount(long_liq, c.mark_tick())
    short_base = c.base_amount(short_liq, c.mark_tick())

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
                    short_liq_usd=plain((short_base * mark).quantize(Decimal("0.01"))),
                    long_liq_usd=plain((long_base * mark).quantize(Decimal("0.01"))),
                    short_liq_amount=plain(short_base),
                    long_liq_amount=plain(long_base),
                    open_interest_usd=(oi_base * mark).quantize(Decimal(1)),
                    top_lsr_account=lsr,
                    top_lsr_size=lsr,
                ),
            ),
            time=t_ms // 1000,
            time_ms=t_ms,
        )

    return Push(topic, build)


def liquidations_push(c: Contract, topic: Topic, t_ms: int, *, as_object: bool) -> Push | None:
    liqs = c.pending_liquidations
    if not liqs:
        return None
    c.pending_liquidations = []

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


def order_book_push(c: Contract, topic: Topic, t_ms: int) -> Push:
    limit = int(topic[2])
    uid = c.update_id
    bids = c.top(BID, limit)
    asks = c.top(ASK, limit)

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


def contract_info_push(c: Contract, topic: Topic, t_ms: int) -> Push:
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


def adl_warning_push(
    c: Contract, topic: Topic, t_ms: int, settle: str, *, snapshot: bool = False
) -> Push | None:
    """`futures.adl_warning` (spec 6.11): once a second while the contract is in `warning` or
    `adl_risk`, once on its return to `normal`; `snapshot`: the `all` push a subscriber gets
    before its ack when the contract is not normal. None: nothing due."""
    if c.adl_state == "normal" and (snapshot or not c.adl_back_to_normal):
        return None
    if not snapshot:
        c.adl_back_to_normal = False
    ev = AdlWarningUpdate(
        result=AdlWarning(
            contract=c.name, settle=settle, state=c.adl_state, update_time=c.adl_update_ms
        ),
        time=t_ms // 1000,
        time_ms=t_ms,
        event="all" if snapshot else "update",
    )
    return Push(topic, lambda _d: ev)
