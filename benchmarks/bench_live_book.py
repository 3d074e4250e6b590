"""Live-book overhead per delta over the bare book (issue 14, G4: goal <= 2 us).

    python -m benchmarks.bench_live_book [--rounds 7] [--deltas 4000]

The workload is `bench_book_peers.ObuWorkload` (a 400-level book, ~20-level obu deltas with
string sizes near the top, a random walk), as JSON text frames (`encode_event`). Per round,
interleaved, the same frames go through:

- "bare book": `ObuSync.feed` over the already decoded deltas (the pure sync and `OrderBook`);
- "decode + bare book": `decode_message(frame)` then `ObuSync.feed`: what any consumer of the
  stream pays, since the live book receives text;
- "live book": `client.order_book(..., method="obu")` over `benchmarks.memory_feed` (an
  in-memory connection: no sockets, no WebSocket framing). The full snapshot is queued with the
  subscribe ack; once the book is ready, every delta frame is queued at once and the clock runs
  until a reader task, waiting with `wait_update()`, sees the last delta's id: the client's
  reader, decode, routing, the subscription's buffer, the driver's batches and its wake-ups of
  the reader, i.e. the whole path a flood takes.

The table gives us per delta (median over rounds) and the medians of the per-round differences:
live minus decode + bare is the live-book machinery (the G4 figure); live minus bare includes
the decode. Every run checks that the live book ends equal to the bare one, level for level.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from typing import TYPE_CHECKING

import trio

from benchmarks.bench_book_peers import ObuWorkload
from benchmarks.memory_feed import MemoryFeed
from gatetrio import open_client
from gatetrio._core._book import ObuSync
from gatetrio._core._decode import decode_message
from gatetrio._core._encode import encode_event
from gatetrio._core._events import ObuDelta, ObuUpdate

if TYPE_CHECKING:
    from collections.abc import Sequence

    from gatetrio._core._book import OrderBook

CONTRACT = "BTC_USDT"
STREAM = f"ob.{CONTRACT}.400"


def _frame(delta: ObuDelta) -> str:
    return encode_event(ObuUpdate(result=delta, time=delta.t // 1000, time_ms=delta.t))


class Frames:
    def __init__(self, deltas: int) -> None:
        w = ObuWorkload(deltas=deltas)
        t0 = w.deltas[0].t if w.deltas else 0
        self.full = ObuDelta(t=t0, s=STREAM, u=w.snapshot_id, b=w.bids, a=w.asks, full=True)
        self.deltas = w.deltas
        self.full_text = _frame(self.full)
        self.texts = [_frame(d) for d in w.deltas]
        self.last_u = w.deltas[-1].u
        self.levels_per_delta = w.levels_per_delta


def bare(f: Frames) -> tuple[float, OrderBook]:
    sync = ObuSync(CONTRACT)
    sync.feed(f.full)
    feed = sync.feed
    start = time.perf_counter()
    for delta in f.deltas:
        feed(delta)
    elapsed = time.perf_counter() - start
    return elapsed, sync.book


def decode_bare(f: Frames) -> tuple[float, OrderBook]:
    sync = ObuSync(CONTRACT)
    sync.feed(f.full)
    feed = sync.feed
    start = time.perf_counter()
    for text in f.texts:
        feed(decode_message(text).result)  # type: ignore[union-attr,arg-type]
    elapsed = time.perf_counter() - start
    return elapsed, sync.book


async def _live(f: Frames) -> tuple[float, OrderBook]:
    feed = MemoryFeed(lambda channel, _: [f.full_text] if channel == "futures.obu" else [])
    async with (
        open_client(connector=feed.connector) as client,
        client.order_book(CONTRACT, depth=400, method="obu") as live,
    ):
        await live.wait_ready()
        start = time.perf_counter()
        feed.push(f.texts)
        while await live.wait_update() != f.last_u:
            pass
        elapsed = time.perf_counter() - start
        stats = live.statistics()
        if stats.resyncs or stats.deltas_dropped:
            raise SystemExit(f"live book resynced or dropped deltas: {stats}")
        return elapsed, live.book


def live(f: Frames) -> tuple[float, OrderBook]:
    return trio.run(_live, f)


def _levels(book: OrderBook) -> tuple[object, object, object]:
    return book.update_id, book.bids(), book.asks()


def main(argv: Sequence[str] | None = None, results: dict[str, float] | None = None) -> int:
    """Run it; with `results`, also put the figures `benchmarks.goals` reads there."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--deltas", type=int, default=4000)
    args = parser.parse_args(argv)
    f = Frames(args.deltas)
    n = len(f.deltas)
    runners = {"bare book": bare, "decode + bare book": decode_bare, "live book": live}
    reference = _levels(bare(f)[1])
    for name, run in runners.items():  # checked before anything is timed
        if _levels(run(f)[1]) != reference:
            raise SystemExit(f"{name}: the book differs from the bare book's")
    us: dict[str, list[float]] = {name: [] for name in runners}
    order = list(runners)
    for r in range(args.rounds):
        for name in order[r % 3 :] + order[: r % 3]:  # rotate who goes first
            us[name].append(runners[name](f)[0] / n * 1e6)
    med = {name: statistics.median(v) for name, v in us.items()}
    machine = f"{platform.python_implementation()} {platform.python_version()}"
    print(f"{n} obu deltas, {f.levels_per_delta:.1f} levels each, {args.rounds} rounds, {machine}")
    print("\n| path | us/delta (median) | min..max |")
    print("|---|---:|---:|")
    for name, v in us.items():
        print(f"| {name} | {med[name]:.2f} | {min(v):.2f}..{max(v):.2f} |")
    live_us, dec_us, bare_us = us["live book"], us["decode + bare book"], us["bare book"]
    over_decoded = statistics.median(a - b for a, b in zip(live_us, dec_us, strict=True))
    over_bare = statistics.median(a - b for a, b in zip(live_us, bare_us, strict=True))
    print(f"\nlive - (decode + bare): {over_decoded:+.2f} us/delta (median of per-round)")
    print(f"live - bare:            {over_bare:+.2f} us/delta (median of per-round)")
    if results is not None:
        results["over decoded"] = over_decoded
    return 0


if __name__ == "__main__":
    sys.exit(main())
