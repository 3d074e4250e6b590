"""Order books with string sizes, against other libraries' books, in one run (issue 14, G4).

    python -m benchmarks.bench_book_peers [--rounds 9] [--deltas 4000]

The workload is `bench_book.Workload` (a 400-level book, ~20-level deltas near the top, a random
walk) as `futures.obu` deltas with string sizes, which is what obu sends under
`X-Gate-Size-Decimal: 1` and so what gatetrio's client receives. Each book is fed the same
decoded `ObuLevel`s (price text, size text) and converts them as its users would:

- gatetrio `OrderBook`: exact `Decimal` prices and sizes (its text->Decimal caches);
- ccxt's `OrderBookSide` (`ccxt.async_support.base.ws.order_book_side.Bids`/`Asks`, what
  ccxt pro keeps per exchange book): `float(price)`, `float(size)`, `storeArray`; best is
  `side[0]`, top-10 `side[:10]`;
- bmoscon's `order-book` (C, `order_book.OrderBook`): `float` keys, `del` for size 0; best
  `side.index(0)`, top-10 `side.index(i)` for i < 10.

Timed per round, the books interleaved: "mixed" = apply a delta, then best bid, best ask,
top-10 bids and top-10 asks (what a trading app reads after each update). The table gives
the median rate and the median of per-round ratios to ccxt. Every book is checked to agree with
gatetrio's (as floats) at the end of the stream before anything is timed.
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import statistics
import sys
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from benchmarks.bench_book import TOP_N, Workload
from gatetrio._core._book import OrderBook
from gatetrio._core._events import ObuDelta, ObuLevel

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from gatetrio._core._events import BookLevel


def _obu_levels(levels: Sequence[BookLevel]) -> tuple[ObuLevel, ...]:
    return tuple(ObuLevel(p=lv.p, s=str(lv.s)) for lv in levels)


class ObuWorkload:
    """`Workload` as obu deltas with string sizes (what the client really receives)."""

    def __init__(self, *, deltas: int) -> None:
        w = Workload(deltas=deltas)
        self.snapshot_id = w.snapshot_id
        self.bids = _obu_levels(w.snapshot_bids)
        self.asks = _obu_levels(w.snapshot_asks)
        self.deltas = [
            ObuDelta(
                t=d.t, s="ob.BTC_USDT.400", U=d.U, u=d.u, b=_obu_levels(d.b), a=_obu_levels(d.a)
            )
            for d in w.deltas
        ]
        self.levels_per_delta = w.levels_per_delta


def gatetrio_mixed(w: ObuWorkload) -> tuple[float, Any]:
    book = OrderBook("BTC_USDT")
    book.load_snapshot(w.snapshot_id, w.bids, w.asks)
    apply, best_bid, best_ask, bids, asks = (
        book.apply,
        book.best_bid,
        book.best_ask,
        book.bids,
        book.asks,
    )
    start = time.perf_counter()
    for delta in w.deltas:
        apply(delta)
        best_bid()
        best_ask()
        bids(TOP_N)
        asks(TOP_N)
    return time.perf_counter() - start, book


def ccxt_mixed(w: ObuWorkload) -> tuple[float, Any]:
    from ccxt.async_support.base.ws.order_book_side import Asks, Bids

    bids, asks = Bids(), Asks()
    for lv in w.bids:
        bids.storeArray([float(lv.p), float(lv.s)])
    for lv in w.asks:
        asks.storeArray([float(lv.p), float(lv.s)])
    start = time.perf_counter()
    for delta in w.deltas:
        store = bids.storeArray
        for lv in delta.b:
            store([float(lv.p), float(lv.s)])
        store = asks.storeArray
        for lv in delta.a:
            store([float(lv.p), float(lv.s)])
        _ = bids[0] if bids else None
        _ = asks[0] if asks else None
        bids[:TOP_N]
        asks[:TOP_N]
    return time.perf_counter() - start, (bids, asks)


def bmoscon_mixed(w: ObuWorkload) -> tuple[float, Any]:
    import order_book

    book = order_book.OrderBook()
    for lv in w.bids:
        book.bids[float(lv.p)] = float(lv.s)
    for lv in w.asks:
        book.asks[float(lv.p)] = float(lv.s)
    bids, asks = book.bids, book.asks
    start = time.perf_counter()
    for delta in w.deltas:
        for side, levels in ((bids, delta.b), (asks, delta.a)):
            for lv in levels:
                size = float(lv.s)
                if size:
                    side[float(lv.p)] = size
                else:
                    with contextlib.suppress(KeyError):
                        del side[float(lv.p)]
        bids.index(0)
        asks.index(0)
        top = min(TOP_N, len(bids), len(asks))
        for i in range(top):
            bids.index(i)
            asks.index(i)
    return time.perf_counter() - start, book


def check_same_result(w: ObuWorkload) -> None:
    _, ours = gatetrio_mixed(w)
    _, (bids, asks) = ccxt_mixed(w)
    _, other = bmoscon_mixed(w)
    want_bids = [[float(p), float(s)] for p, s in ours.bids()]
    want_asks = [[float(p), float(s)] for p, s in ours.asks()]
    assert [list(x) for x in bids] == want_bids
    assert [list(x) for x in asks] == want_asks
    assert [list(other.bids.index(i)) for i in range(len(other.bids))] == want_bids
    assert [list(other.asks.index(i)) for i in range(len(other.asks))] == want_asks
    assert all(isinstance(p, Decimal) and isinstance(s, Decimal) for p, s in ours.bids())


BOOKS: list[tuple[str, Callable[[ObuWorkload], tuple[float, Any]]]] = [
    ("gatetrio `OrderBook` (Decimal prices and sizes)", gatetrio_mixed),
    ("ccxt `OrderBookSide` (float)", ccxt_mixed),
    ("bmoscon `order-book` (C, float)", bmoscon_mixed),
]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--deltas", type=int, default=4000)
    args = parser.parse_args(argv)
    w = ObuWorkload(deltas=args.deltas)
    check_same_result(w)
    print(
        f"Python {platform.python_version()}, {platform.machine()}; {len(w.deltas)} obu deltas, "
        f"{w.levels_per_delta:.1f} levels/delta, string sizes; median of {args.rounds} "
        "interleaved rounds\n"
    )
    rates: dict[str, list[float]] = {name: [] for name, _ in BOOKS}
    ratios: dict[str, list[float]] = {name: [] for name, _ in BOOKS}
    for _name, run in BOOKS:
        run(w)  # warm-up
    for _ in range(args.rounds):
        got = {name: len(w.deltas) / run(w)[0] for name, run in BOOKS}
        for name, rate in got.items():
            rates[name].append(rate)
            ratios[name].append(rate / got[BOOKS[1][0]])
    print("| book | mixed deltas/s (median) | min..max | ratio vs ccxt (median) |")
    print("|---|---:|---:|---:|")
    for name, _ in BOOKS:
        r = rates[name]
        print(
            f"| {name} | {statistics.median(r) / 1e3:.1f} k | {min(r) / 1e3:.1f} k.."
            f"{max(r) / 1e3:.1f} k | {statistics.median(ratios[name]):.2f}x |"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
