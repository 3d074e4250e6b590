"""Memory bounds of live books and subscriptions (issue 14, G7), measured with tracemalloc.

    python -m benchmarks.bench_memory [--books 10]

Not a timing: what the bounds allow, measured on real objects.

- "drained": `--books` 400-level `OrderBook`s loaded with a snapshot (`bench_book.Workload`)
  and their deltas applied: what the books themselves hold.
- "worst-case backlog": each book's subscription buffer full of decoded 20-level obu deltas
  (the frames `benchmarks.flood_server` sends, string sizes), for the current bound
  (`_live_book.book_buffer("400")`) and for the old fixed 4096. A book that keeps up never gets
  near it (the driver takes the whole buffer per wake-up and the reader yields once a buffer is
  half full); this is the ceiling, the peak a flood could reach.
- "subscription": the traced size of one empty subscription (its state, deque and ParkingLot).
"""

from __future__ import annotations

import argparse
import sys
import tracemalloc
from typing import TYPE_CHECKING, Any

from benchmarks.bench_book import Workload
from benchmarks.flood_server import ObuTape
from gatetrio._core._book import OrderBook
from gatetrio._core._decode import decode_message
from gatetrio._core._requests import ChannelSpec
from gatetrio._shell._live_book import book_buffer
from gatetrio._shell._subscription import OverflowPolicy, open_subscription

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence


def traced(build: Callable[[], Any]) -> tuple[int, Any]:
    """Bytes still allocated by `build()` (its result kept alive), and the result."""
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    result = build()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return after - before, result


def _books(n: int) -> list[OrderBook]:
    w = Workload(deltas=500)
    books = []
    for i in range(n):
        book = OrderBook(f"C{i}_USDT")
        book.load_snapshot(w.snapshot_id, w.snapshot_bids, w.snapshot_asks)
        for delta in w.deltas:
            book.apply(delta)
        books.append(book)
    return books


def _backlog(n_books: int, per_book: int) -> list[list[Any]]:
    tape = ObuTape(contract="BTC_USDT")
    frames = [tape.frame(1_786_540_562_871)[4:].decode() for _ in range(per_book)]
    return [[decode_message(f) for f in frames] for _ in range(n_books)]


def _subscription() -> Any:
    spec: ChannelSpec[int] = ChannelSpec(
        channel="futures.trades", payloads=(("BTC_USDT",),), keys=frozenset({"BTC_USDT"})
    )
    return open_subscription(spec, buffer=256, overflow=OverflowPolicy.DROP_OLDEST)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--books", type=int, default=10)
    args = parser.parse_args(argv)
    n = args.books
    drained, _books_kept = traced(lambda: _books(n))
    bound = book_buffer("400")
    now, _now_kept = traced(lambda: _backlog(n, bound))
    del _now_kept
    old, _old_kept = traced(lambda: _backlog(n, 4096))
    del _old_kept
    sub, _sub_kept = traced(_subscription)
    mb = 1024 * 1024
    print(f"{n} live books, 400 levels a side, 20-level obu deltas\n")
    print("| what | traced | vs drained books |")
    print("|---|---:|---:|")
    print(f"| drained books | {drained / mb:.1f} MB | 1.00 |")
    print(
        f"| + worst-case backlog, {bound} deltas a book (now) | {(drained + now) / mb:.1f} MB "
        f"| {(drained + now) / drained:.2f} |"
    )
    print(
        f"| + worst-case backlog, 4096 deltas a book (before) | {(drained + old) / mb:.1f} MB "
        f"| {(drained + old) / drained:.2f} |"
    )
    print(f"| one empty subscription | {sub / 1024:.1f} KB | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
