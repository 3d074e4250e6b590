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
- "under a flood" (`--flood-deltas` a book, 0 to skip): `--books` real live books
  (`client.order_book(..., method="obu")`, 400 levels) over `benchmarks.memory_feed`, fed the
  `bench_book_peers.ObuWorkload` stream as JSON text frames, interleaved over the books, as
  fast as the client takes them (a feeder task keeps at most 1024 frames queued, like a socket
  buffer; the frames are built before tracing starts). Traced from an open client with no book:
  "drained" is what is held once every delta is applied and the buffers are empty; "peak" is
  tracemalloc's peak while the flood ran, with the client's `peak_buffer_used`.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import sys
import tracemalloc
from typing import TYPE_CHECKING, Any

import msgspec
import trio

from benchmarks.bench_book import Workload
from benchmarks.bench_book_peers import ObuWorkload
from benchmarks.flood_server import ObuTape
from benchmarks.memory_feed import MemoryFeed
from gatetrio import open_client
from gatetrio._core._book import OrderBook
from gatetrio._core._decode import decode_message
from gatetrio._core._encode import encode_event
from gatetrio._core._events import ObuDelta, ObuUpdate
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


def _obu_text(delta: ObuDelta) -> str:
    return encode_event(ObuUpdate(result=delta, time=delta.t // 1000, time_ms=delta.t))


async def _flood(
    n_books: int, snapshots: dict[str, str], frames: list[str], last_u: int
) -> tuple[int, int, int]:
    """(drained bytes, peak bytes, peak_buffer_used) of `n_books` live books over a flood."""

    def on_subscribe(channel: str, payload: Sequence[object]) -> list[str]:
        return [snapshots[str(p)] for p in payload] if channel == "futures.obu" else []

    feed = MemoryFeed(on_subscribe)
    tracemalloc.start()
    async with open_client(connector=feed.connector) as client:
        await trio.sleep(0.01)
        base = tracemalloc.get_traced_memory()[0]
        async with contextlib.AsyncExitStack() as stack:
            lives = [
                await stack.enter_async_context(
                    client.order_book(f"C{i}_USDT", depth=400, method="obu")
                )
                for i in range(n_books)
            ]
            for live in lives:
                await live.wait_ready()
            tracemalloc.reset_peak()
            pending = collections.deque(frames)
            while pending:
                if feed.queued() < 1024:
                    feed.push(pending.popleft() for _ in range(min(512, len(pending))))
                await trio.lowlevel.checkpoint()
            for live in lives:
                while live.book.update_id != last_u:
                    await live.wait_update()
            peak = tracemalloc.get_traced_memory()[1]
            await trio.sleep(0.01)
            drained = tracemalloc.get_traced_memory()[0]
            stats = [live.statistics() for live in lives]
            used = client.statistics().peak_buffer_used
    tracemalloc.stop()
    if any(s.resyncs or s.deltas_dropped for s in stats):
        raise SystemExit(f"a live book resynced or dropped deltas: {stats}")
    return drained - base, peak - base, used


def flood(n_books: int, deltas: int) -> tuple[int, int, int]:
    w = ObuWorkload(deltas=deltas)
    snapshots = {}
    per_book = []
    for i in range(n_books):
        stream = f"ob.C{i}_USDT.400"
        full = ObuDelta(t=w.deltas[0].t, s=stream, u=w.snapshot_id, b=w.bids, a=w.asks, full=True)
        snapshots[stream] = _obu_text(full)
        per_book.append([_obu_text(msgspec.structs.replace(d, s=stream)) for d in w.deltas])
    frames = [book[k] for k in range(len(w.deltas)) for book in per_book]
    return trio.run(_flood, n_books, snapshots, frames, w.deltas[-1].u)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--books", type=int, default=10)
    parser.add_argument("--flood-deltas", type=int, default=2000, help="a book; 0: skip")
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
    if args.flood_deltas:
        live_drained, peak, used = flood(n, args.flood_deltas)
        print(
            f"\n{n} live books under a flood, {args.flood_deltas} deltas a book, traced from an "
            f"open client:\n"
        )
        print("| what | traced | vs drained live books |")
        print("|---|---:|---:|")
        print(f"| drained live books | {live_drained / mb:.1f} MB | 1.00 |")
        print(
            f"| peak under the flood (peak_buffer_used {used}) | {peak / mb:.1f} MB "
            f"| {peak / live_drained:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
