"""Order-book throughput: `OrderBook` against a naive dict book, measured in the same run.

    python -m benchmarks.bench_book [--rounds 7] [--deltas 4000] [--markdown]

Workload (synthesized, deterministic): a 400-level-a-side book around 64000.0 with tick 0.1 and
integer sizes, then a stream of deltas of about 20 levels each near the top of the book. The mid
price follows a random walk, so levels appear, resize and vanish as on a live obu 400 stream
(mostly resizes, some inserts and deletes, the book's edge moving with the price).

Timed, per round, interleaving the two books so drift on a shared machine hits both alike:
- apply: every delta of the stream applied to a book freshly loaded with the snapshot;
- query: best bid, best ask, top-10 bids and top-10 asks, on the book after each delta;
- mixed: apply a delta, then that query set, as a trading app does on each update;
- snapshot: loading a 400-level and a 100-level (per side) snapshot, into a new book (first
  subscribe) and into the same book again (obu full re-push, resync).
Reported: the median rate over rounds and the median of the per-round ratios.

The naive book keeps a `dict[Decimal, size]` per side: apply is a dict update, best bid/ask is
`max`/`min` over the keys (cheaper than sorting, to be fair to it), and top-N sorts the keys.
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import sys
import time
from decimal import Decimal
from typing import TYPE_CHECKING, TypeAlias

from gatetrio._core._book import OrderBook
from gatetrio._core._events import BookDelta, BookLevel

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from gatetrio._core._events import Size

TICKS_PER_UNIT = 10  # tick 0.1
DEPTH = 400
TOP_N = 10


def price_text(tick: int) -> str:
    # Gate writes prices without trailing zeros: "64000", "64000.1".
    units, frac = divmod(tick, TICKS_PER_UNIT)
    return f"{units}.{frac}" if frac else str(units)


def _levels(side: dict[int, int], *, reverse: bool, limit: int) -> list[BookLevel]:
    ticks = sorted(side, reverse=reverse)[:limit]
    return [BookLevel(p=price_text(tick), s=side[tick]) for tick in ticks]


class Workload:
    """A snapshot and a delta stream that follows on from it, generated from a seed."""

    def __init__(self, *, deltas: int, seed: int = 20230524) -> None:
        rng = random.Random(seed)
        best_bid = 640_000  # in ticks: 64000.0
        bids = {best_bid - i: rng.randint(1, 50_000) for i in range(DEPTH)}
        asks = {best_bid + 1 + i: rng.randint(1, 50_000) for i in range(DEPTH)}
        self.snapshot_id = 1_000_000
        self.snapshot_bids = _levels(bids, reverse=True, limit=DEPTH)
        self.snapshot_asks = _levels(asks, reverse=False, limit=DEPTH)
        self.small_bids = _levels(bids, reverse=True, limit=100)
        self.small_asks = _levels(asks, reverse=False, limit=100)
        self.deltas: list[BookDelta] = []
        update_id = self.snapshot_id
        for i in range(deltas):
            changes_b: dict[int, int] = {}
            changes_a: dict[int, int] = {}
            # The mid walks: a move up eats asks below the new best bid and adds bids (and
            # the reverse for a move down).
            move = rng.choice((-2, -1, 0, 0, 0, 0, 1, 2))
            top_b, top_a = max(bids), min(asks)
            if move > 0:
                for tick in range(top_a, top_a + move):
                    if tick in asks:
                        changes_a[tick] = 0
                for tick in range(top_b + 1, top_a + move):
                    changes_b[tick] = rng.randint(1, 5_000)
            elif move < 0:
                for tick in range(top_b + move + 1, top_b + 1):
                    if tick in bids:
                        changes_b[tick] = 0
                for tick in range(top_b + move + 1, top_a):
                    changes_a[tick] = rng.randint(1, 5_000)
            self._apply(bids, changes_b)
            self._apply(asks, changes_a)
            top_b, top_a = max(bids), min(asks)
            # ~20 level changes in the top 40 ticks of each side: 70% resize, 15% delete,
            # 15% insert into a hole; the side's far edge keeps the depth near DEPTH.
            for _ in range(rng.randint(8, 12)):
                self._touch(rng, bids, changes_b, top_b - rng.randint(0, 40), top_b)
                self._touch(rng, asks, changes_a, top_a + rng.randint(0, 40), top_a)
            self._trim(bids, changes_b, reverse=True)
            self._trim(asks, changes_a, reverse=False)
            first = update_id + 1
            update_id += rng.randint(1, 30)
            self.deltas.append(
                BookDelta(
                    t=1_684_930_166_000 + 100 * i,
                    s="BTC_USDT",
                    U=first,
                    u=update_id,
                    b=tuple(BookLevel(p=price_text(k), s=v) for k, v in changes_b.items()),
                    a=tuple(BookLevel(p=price_text(k), s=v) for k, v in changes_a.items()),
                )
            )
        self.final_bids = bids
        self.final_asks = asks
        self.levels_per_delta = statistics.fmean(len(d.b) + len(d.a) for d in self.deltas)

    @staticmethod
    def _apply(side: dict[int, int], changes: dict[int, int]) -> None:
        for tick, size in changes.items():
            if size:
                side[tick] = size
            else:
                side.pop(tick, None)

    @staticmethod
    def _touch(
        rng: random.Random, side: dict[int, int], changes: dict[int, int], tick: int, top: int
    ) -> None:
        roll = rng.random()
        if tick in side:
            # never delete the best level here, so the book never empties near the top
            size = 0 if roll < 0.15 and tick != top else rng.randint(1, 50_000)
        elif roll < 0.5:
            size = rng.randint(1, 50_000)
        else:
            return
        changes[tick] = size
        Workload._apply(side, {tick: size})

    @staticmethod
    def _trim(side: dict[int, int], changes: dict[int, int], *, reverse: bool) -> None:
        # Keep DEPTH levels, as Gate does for a level-400 stream: drop or add at the far edge.
        while len(side) > DEPTH:
            far = min(side) if reverse else max(side)
            del side[far]
            changes[far] = 0
        while len(side) < DEPTH:
            far = (min(side) - 1) if reverse else (max(side) + 1)
            side[far] = 1_000
            changes[far] = 1_000


class NaiveBook:
    """What a first attempt looks like: dicts, and sorting (or max/min) at query time."""

    def __init__(self) -> None:
        self.update_id = 0
        self.bids: dict[Decimal, Size] = {}
        self.asks: dict[Decimal, Size] = {}

    def load_snapshot(
        self, update_id: int, bids: Iterable[BookLevel], asks: Iterable[BookLevel]
    ) -> None:
        self.bids = {Decimal(lv.p): lv.size for lv in bids if lv.s}
        self.asks = {Decimal(lv.p): lv.size for lv in asks if lv.s}
        self.update_id = update_id

    def apply(self, delta: BookDelta) -> None:
        if self.update_id + 1 != delta.U:
            raise RuntimeError("gap")
        for levels, side in ((delta.b, self.bids), (delta.a, self.asks)):
            for lv in levels:
                price = Decimal(lv.p)
                size = lv.size
                if size:
                    side[price] = size
                else:
                    side.pop(price, None)
        self.update_id = delta.u

    def best_bid(self) -> tuple[Decimal, Size] | None:
        if not self.bids:
            return None
        price = max(self.bids)
        return price, self.bids[price]

    def best_ask(self) -> tuple[Decimal, Size] | None:
        if not self.asks:
            return None
        price = min(self.asks)
        return price, self.asks[price]

    def top_bids(self, n: int) -> list[tuple[Decimal, Size]]:
        return [(p, self.bids[p]) for p in sorted(self.bids, reverse=True)[:n]]

    def top_asks(self, n: int) -> list[tuple[Decimal, Size]]:
        return [(p, self.asks[p]) for p in sorted(self.asks)[:n]]


# ----------------------------------------------------------------------------- timed bodies
# Each returns (seconds, operations). Book construction and snapshot load stay outside the
# timed region except in the snapshot benchmarks.


def ours_apply(w: Workload) -> tuple[float, int]:
    book = OrderBook("BTC_USDT")
    book.load_snapshot(w.snapshot_id, w.snapshot_bids, w.snapshot_asks)
    apply = book.apply
    start = time.perf_counter()
    for delta in w.deltas:
        apply(delta)
    return time.perf_counter() - start, len(w.deltas)


def naive_apply(w: Workload) -> tuple[float, int]:
    book = NaiveBook()
    book.load_snapshot(w.snapshot_id, w.snapshot_bids, w.snapshot_asks)
    apply = book.apply
    start = time.perf_counter()
    for delta in w.deltas:
        apply(delta)
    return time.perf_counter() - start, len(w.deltas)


def ours_mixed(w: Workload) -> tuple[float, int]:
    book = OrderBook("BTC_USDT")
    book.load_snapshot(w.snapshot_id, w.snapshot_bids, w.snapshot_asks)
    start = time.perf_counter()
    for delta in w.deltas:
        book.apply(delta)
        book.best_bid()
        book.best_ask()
        book.bids(TOP_N)
        book.asks(TOP_N)
    return time.perf_counter() - start, len(w.deltas)


def naive_mixed(w: Workload) -> tuple[float, int]:
    book = NaiveBook()
    book.load_snapshot(w.snapshot_id, w.snapshot_bids, w.snapshot_asks)
    start = time.perf_counter()
    for delta in w.deltas:
        book.apply(delta)
        book.best_bid()
        book.best_ask()
        book.top_bids(TOP_N)
        book.top_asks(TOP_N)
    return time.perf_counter() - start, len(w.deltas)


QUERY_REPEAT = 2000


def ours_query(w: Workload) -> tuple[float, int]:
    book = OrderBook("BTC_USDT")
    book.load_snapshot(w.snapshot_id, w.snapshot_bids, w.snapshot_asks)
    for delta in w.deltas:
        book.apply(delta)
    start = time.perf_counter()
    for _ in range(QUERY_REPEAT):
        book.best_bid()
        book.best_ask()
        book.bids(TOP_N)
        book.asks(TOP_N)
    return time.perf_counter() - start, QUERY_REPEAT


def naive_query(w: Workload) -> tuple[float, int]:
    book = NaiveBook()
    book.load_snapshot(w.snapshot_id, w.snapshot_bids, w.snapshot_asks)
    for delta in w.deltas:
        book.apply(delta)
    start = time.perf_counter()
    for _ in range(QUERY_REPEAT):
        book.best_bid()
        book.best_ask()
        book.top_bids(TOP_N)
        book.top_asks(TOP_N)
    return time.perf_counter() - start, QUERY_REPEAT


SNAPSHOT_REPEAT = 200


def _snapshot_bench(
    make: Callable[[], OrderBook | NaiveBook],
    bids: Sequence[BookLevel],
    asks: Sequence[BookLevel],
    *,
    fresh: bool,
) -> tuple[float, int]:
    # fresh: a new book per load (a first subscribe: OrderBook's price cache is cold).
    # Otherwise the same book reloads (an obu full re-push or a resync: the cache is warm).
    books = [make() for _ in range(SNAPSHOT_REPEAT if fresh else 1)]
    books[0].load_snapshot(1, bids, asks)
    if fresh:
        books[0] = make()
    else:
        books *= SNAPSHOT_REPEAT
    start = time.perf_counter()
    for book in books:
        book.load_snapshot(1, bids, asks)
    return time.perf_counter() - start, SNAPSHOT_REPEAT


def _ours() -> OrderBook:
    return OrderBook("BTC_USDT")


Timed: TypeAlias = "Callable[[Workload], tuple[float, int]]"


def _snapshot_cases(*, small: bool, fresh: bool) -> tuple[Timed, Timed]:
    """(ours, naive) loading the 100-level (`small`) or the 400-level snapshot."""

    def timed(make: Callable[[], OrderBook | NaiveBook]) -> Timed:
        def run(w: Workload) -> tuple[float, int]:
            if small:
                return _snapshot_bench(make, w.small_bids, w.small_asks, fresh=fresh)
            return _snapshot_bench(make, w.snapshot_bids, w.snapshot_asks, fresh=fresh)

        return run

    return timed(_ours), timed(NaiveBook)


CASES: list[tuple[str, str, Timed, Timed]] = [
    ("mixed: apply + best bid/ask + top-10 both sides", "deltas/s", ours_mixed, naive_mixed),
    ("apply only", "deltas/s", ours_apply, naive_apply),
    ("query only: best bid/ask + top-10 both sides", "query sets/s", ours_query, naive_query),
    ("snapshot, 400/side, new book", "loads/s", *_snapshot_cases(small=False, fresh=True)),
    ("snapshot, 100/side, new book", "loads/s", *_snapshot_cases(small=True, fresh=True)),
    ("snapshot, 400/side, reload", "loads/s", *_snapshot_cases(small=False, fresh=False)),
    ("snapshot, 100/side, reload", "loads/s", *_snapshot_cases(small=True, fresh=False)),
]


def check_same_result(w: Workload) -> None:
    """The two books must agree, or the comparison means nothing."""
    ours = OrderBook("BTC_USDT")
    naive = NaiveBook()
    ours.load_snapshot(w.snapshot_id, w.snapshot_bids, w.snapshot_asks)
    naive.load_snapshot(w.snapshot_id, w.snapshot_bids, w.snapshot_asks)
    for delta in w.deltas:
        ours.apply(delta)
        naive.apply(delta)
        assert ours.best_bid() == naive.best_bid()
        assert ours.asks(TOP_N) == naive.top_asks(TOP_N)
    assert ours.bids() == naive.top_bids(len(naive.bids))
    assert ours.asks() == naive.top_asks(len(naive.asks))
    assert not ours.is_crossed()


def _fmt(rate: float) -> str:
    if rate >= 1e6:
        return f"{rate / 1e6:.2f} M"
    if rate >= 1e3:
        return f"{rate / 1e3:.1f} k"
    return f"{rate:.0f}"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--deltas", type=int, default=4000)
    args = parser.parse_args(argv)
    w = Workload(deltas=args.deltas)
    check_same_result(w)
    print(
        f"Python {platform.python_version()} ({sys.implementation.name}), {platform.machine()}; "
        f"{len(w.deltas)} deltas, {w.levels_per_delta:.1f} levels/delta, book {DEPTH}/side; "
        f"median of {args.rounds} interleaved rounds\n"
    )
    print("| workload | unit | OrderBook | naive dict book | ratio |")
    print("|---|---|---:|---:|---:|")
    for name, unit, ours, naive in CASES:
        ours_rates: list[float] = []
        naive_rates: list[float] = []
        ratios: list[float] = []
        ours(w)  # warm-up
        naive(w)
        for _ in range(args.rounds):
            seconds, ops = ours(w)
            ours_rate = ops / seconds
            seconds, ops = naive(w)
            naive_rate = ops / seconds
            ours_rates.append(ours_rate)
            naive_rates.append(naive_rate)
            ratios.append(ours_rate / naive_rate)
        print(
            f"| {name} | {unit} | {_fmt(statistics.median(ours_rates))} "
            f"| {_fmt(statistics.median(naive_rates))} | {statistics.median(ratios):.1f}x |"
        )


if __name__ == "__main__":
    main()
