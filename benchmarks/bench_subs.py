"""Cost per frame against the number of subscriptions on one client (issue 14, kept goal: flat).

    python -m benchmarks.bench_subs [--rounds 5] [--frames 20000] [--counts 1,10,100,500]

One client over `benchmarks.memory_feed` (in memory: no sockets, no WebSocket framing) holds N
`futures.trades` subscriptions, one contract each, every one consumed by its own task with
`batches()`. Once all are acked, `--frames` one-trade frames (string sizes) are queued at once,
over the N contracts, and the clock runs until the consumers have taken them all: decode,
routing by contract, dispatch into the subscription, the consumers' wake-ups. Two orders:

- "round robin": contract i % N for frame i: with N >= 64 every frame of a reader wake-up (at
  most 64) lands in a different subscription, so each wakes its own consumer task for 1 item;
- "runs of 64": 64 frames of one contract, then the next: one consumer woken per reader batch,
  whatever N is, so what grows with N is the routing alone.

Rounds interleave the counts and orders (rotating who goes first); the table gives us per frame
(median) and the median of the per-round ratios to N=1 of the same order. Any dropped item
fails the run.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from typing import TYPE_CHECKING

import trio

from benchmarks.memory_feed import MemoryFeed, trade_frame
from gatetrio import channels, open_client

if TYPE_CHECKING:
    from collections.abc import Sequence

    from gatetrio import Client

FIRST_ID = 900_000_000
WALL_MS = 1_786_540_562_871


async def _one(n_subs: int, frames: Sequence[str]) -> float:
    feed = MemoryFeed()
    taken = 0
    all_taken = trio.Event()
    acked = 0
    all_acked = trio.Event()

    async def consume(client: Client, contract: str) -> None:
        nonlocal taken, acked
        async with client.subscribe(channels.trades(contract)) as sub:
            acked += 1
            if acked == n_subs:
                all_acked.set()
            async for batch in sub.batches():
                taken += len(batch)
                if taken >= len(frames):
                    all_taken.set()

    async with open_client(connector=feed.connector) as client, trio.open_nursery() as nursery:
        for i in range(n_subs):
            nursery.start_soon(consume, client, f"C{i}_USDT")
        await all_acked.wait()
        start = time.perf_counter()
        feed.push(frames)
        await all_taken.wait()
        elapsed = time.perf_counter() - start
        stats = client.statistics()
        if stats.messages_dropped or taken != len(frames):
            raise SystemExit(f"N={n_subs}: dropped {stats.messages_dropped}, took {taken}")
        nursery.cancel_scope.cancel()
    return elapsed


def main(argv: Sequence[str] | None = None, results: dict[str, float] | None = None) -> int:
    """Run it; with `results`, also put the figures `benchmarks.goals` reads there."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--counts", default="1,10,100,500")
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.counts.split(",")]
    orders = {"round robin": 1, "runs of 64": 64}
    cases = [(order, n) for order in orders for n in counts]
    frames = {
        (order, n): [
            trade_frame(f"C{i // run % n}_USDT", FIRST_ID + i, WALL_MS) for i in range(args.frames)
        ]
        for (order, run) in orders.items()
        for n in counts
    }
    us: dict[tuple[str, int], list[float]] = {case: [] for case in cases}
    for r in range(args.rounds):
        k = r % len(cases)
        for case in cases[k:] + cases[:k]:
            us[case].append(trio.run(_one, case[1], frames[case]) / args.frames * 1e6)
    base = counts[0]
    machine = f"{platform.python_implementation()} {platform.python_version()}"
    print(f"{args.frames} one-trade frames a run, {args.rounds} rounds, {machine}")
    print(f"\n| order | subscriptions | us/frame (median) | min..max | vs {base} |")
    print("|---|---:|---:|---:|---:|")
    for order, n in cases:
        v, b = us[order, n], us[order, base]
        ratio = statistics.median(x / y for x, y in zip(v, b, strict=True))
        print(
            f"| {order} | {n} | {statistics.median(v):.2f} | {min(v):.2f}..{max(v):.2f} "
            f"| {ratio:.2f} |"
        )
    print("\nround robin / runs of 64 (median of per-round ratios):")
    for n in counts:
        rr = us["round robin", n]
        runs = us["runs of 64", n]
        ratio = statistics.median(x / y for x, y in zip(rr, runs, strict=True))
        print(f"- {n} subscriptions: {ratio:.2f}x")
        if results is not None:
            results[f"rr/runs {n}"] = ratio
    return 0


if __name__ == "__main__":
    sys.exit(main())
