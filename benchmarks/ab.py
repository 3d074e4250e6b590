"""The client's hot path in two source trees, measured in the same run: before and after.

    python -m benchmarks.ab --base OLD/src [--this NEW/src] [--rounds 7] [--frames 20000]

For "behaviour and speed unchanged" after a refactor: every round runs each workload once in a
fresh interpreter per tree (`PYTHONPATH=<tree>/src`, so `import gatetrio` is that tree's; the
benchmark code is this one's in both), the trees alternating who goes first. A run times its
workload three times after one warm-up and reports the least CPU microseconds per frame (the
process's CPU time: one thread, so a busy machine slows it less than the wall clock; the least
of three, as what other load adds is never negative); the
table gives each tree's median over the rounds and the median of the per-round ratios (this
tree / base): 1.00 is unchanged, below 1 faster.

Workloads, on `benchmarks.memory_feed` (no sockets: the client alone): one-trade frames through
`open_client` into subscriptions consumed with `batches()` (as `benchmarks.bench_subs`),

- `1 sub`: one subscription, every frame to it (decode, route, push, one consumer);
- `100 subs, round robin`: frame i to subscription i % 100 (routing, a consumer per frame);
- `1 sub + raw tap`: as `1 sub` with `Client.raw_frames()` open and drained (the recorder's
  path: every frame into the tap before the protocol).
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Final

import trio

from benchmarks.bench_subs import FIRST_ID, WALL_MS
from benchmarks.memory_feed import MemoryFeed, trade_frame

if TYPE_CHECKING:
    from collections.abc import Sequence

    from gatetrio import Client

WORKLOADS: Final = ("1 sub", "100 subs, round robin", "1 sub + raw tap")
HERE: Final = Path(__file__).resolve().parent.parent / "src"


async def _flood(n_subs: int, frames: Sequence[str], *, tap: bool) -> float:
    """CPU seconds from queueing `frames` to the consumers having taken them all."""
    from gatetrio import channels, open_client

    feed = MemoryFeed()
    taken = acked = 0
    all_taken, all_acked = trio.Event(), trio.Event()

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

    async def drain_tap(client: Client, *, task_status: trio.TaskStatus[None]) -> None:
        async with client.raw_frames() as raw:
            task_status.started()
            async for _ in raw.batches():
                pass

    async with open_client(connector=feed.connector) as client, trio.open_nursery() as nursery:
        if tap:
            await nursery.start(drain_tap, client)
        for i in range(n_subs):
            nursery.start_soon(consume, client, f"C{i}_USDT")
        await all_acked.wait()
        start = time.process_time()
        feed.push(frames)
        await all_taken.wait()
        elapsed = time.process_time() - start
        if client.statistics().messages_dropped:
            raise SystemExit(f"{n_subs} subscriptions: items were dropped")
        nursery.cancel_scope.cancel()
    return elapsed


def _child(workload: str, n_frames: int) -> None:
    import gatetrio

    n = 100 if workload == "100 subs, round robin" else 1
    frames = [trade_frame(f"C{i % n}_USDT", FIRST_ID + i, WALL_MS) for i in range(n_frames)]
    tap = workload == "1 sub + raw tap"
    times = [trio.run(functools.partial(_flood, n, frames, tap=tap)) for _ in range(4)]
    print(f"{min(times[1:]) / n_frames * 1e6:.4f} {gatetrio.__file__}")


def _run(src: Path, workload: str, n_frames: int) -> float:
    env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{Path.cwd()}"}
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.ab", "--child", workload, "--frames", str(n_frames)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if not out[1].startswith(str(src)):
        raise SystemExit(f"imported {out[1]}, not the tree under test {src}")
    return float(out[0])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--base", type=Path, help="the other tree's src/ (e.g. a worktree)")
    parser.add_argument("--this", type=Path, default=HERE, help="default: this checkout's src/")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.frames)
        return 0
    if args.base is None:
        parser.error("--base is required: the src/ of the tree to compare with")
    trees = {"base": args.base.resolve(), "this": args.this.resolve()}
    us: dict[tuple[str, str], list[float]] = {(t, w): [] for t in trees for w in WORKLOADS}
    for r in range(args.rounds):
        order = list(trees) if r % 2 == 0 else list(reversed(trees))
        for workload in WORKLOADS:
            for tree in order:
                us[tree, workload].append(_run(trees[tree], workload, args.frames))
    machine = f"{platform.python_implementation()} {platform.python_version()}"
    print(f"{args.frames} frames a run, {args.rounds} rounds, {machine}")
    print(f"base = {trees['base']}, this = {trees['this']}")
    print(
        "\n| workload | base us/frame | this us/frame | this / base (median of rounds) | min..max |"
    )
    print("|---|---:|---:|---:|---:|")
    for workload in WORKLOADS:
        base, this = us["base", workload], us["this", workload]
        ratios = [t / b for t, b in zip(this, base, strict=True)]
        print(
            f"| {workload} | {statistics.median(base):.2f} | {statistics.median(this):.2f} "
            f"| {statistics.median(ratios):.2f} | {min(ratios):.2f}..{max(ratios):.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
