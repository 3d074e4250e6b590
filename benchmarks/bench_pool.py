"""The whole market on one process: N contracts x (trades + obu level 50) through a pool.

    python -m benchmarks.bench_pool [--contracts 600] [--seconds 20] [--warmup 3] [--cap 200]

The fake exchange runs in another process (`python -m gatetrio serve --contracts N`, over
loopback), so only the client is measured. The client is `open_pool(contracts="all")` with
`pool.subscribe(trades(*all))` and `pool.subscribe(obu(*all, level=50))`, each drained by a
batch consumer. After `--warmup` seconds the benchmark counts, over `--seconds`: frames
received (all shards), the client process's CPU time (user + system), and its RSS at the end.
It runs the same with one contract (BTC_USDT) for the per-frame cost baseline.

Figures are per frame and shares of one core; the absolute rates are the fake's, not Gate's.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

import gatetrio
from gatetrio import channels

if TYPE_CHECKING:
    from collections.abc import Sequence

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _rss_mib() -> float:
    with Path("/proc/self/status").open() as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def _drain(sub: gatetrio.Subscription[Any]) -> None:
    async for _ in sub:
        with contextlib.suppress(trio.WouldBlock):
            while True:
                sub.receive_nowait()


async def _measure(
    port: int, contracts: int, seconds: float, warmup: float, cap: int
) -> dict[str, Any]:
    url = f"ws://127.0.0.1:{port}/v4/ws/usdt"
    keep = None if contracts > 1 else (lambda name: name == "BTC_USDT")
    async with gatetrio.open_pool(
        url=url, contracts=keep or "all", streams_per_connection=cap
    ) as pool:
        names = pool.contracts
        async with (
            pool.subscribe(channels.trades(*names), buffer=65536) as trades,
            pool.subscribe(channels.obu(*names, level=50), buffer=65536) as books,
            trio.open_nursery() as nursery,
        ):
            nursery.start_soon(_drain, trades)
            nursery.start_soon(_drain, books)
            await trio.sleep(warmup)
            frames0 = pool.statistics().merged.messages_received
            cpu0, wall0 = time.process_time(), time.perf_counter()
            await trio.sleep(seconds)
            stats = pool.statistics()
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            nursery.cancel_scope.cancel()
        frames = stats.merged.messages_received - frames0
        return {
            "contracts": len(names),
            "shards": len(stats.shards),
            "frames_per_s": frames / wall,
            "cpu_share": cpu / wall,
            "us_per_frame": cpu / frames * 1e6 if frames else float("nan"),
            "rss_mib": _rss_mib(),
            "dropped": stats.merged.messages_dropped,
            "reconnects": stats.merged.reconnects,
        }


def _serve(contracts: int) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        # a deep send queue: the fake itself, at 100 % of a core, sends in bursts
        [
            *(sys.executable, "-m", "gatetrio", "serve", "--port", "0"),
            *("--contracts", str(contracts), "--send-queue", "100000"),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=SRC),
    )
    assert proc.stdout is not None
    banner = proc.stdout.readline()
    port = int(banner.split(" on ")[1].split(" ")[0].rsplit(":", 1)[1])
    return proc, port


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contracts", type=int, default=600)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--cap", type=int, default=200, help="streams per connection")
    args = parser.parse_args(argv)
    rows = []
    for n in (args.contracts, 1):
        proc, port = _serve(args.contracts)
        try:
            rows.append(trio.run(_measure, port, n, args.seconds, args.warmup, args.cap))
        finally:
            proc.terminate()
            proc.wait(30)
    base = rows[1]["us_per_frame"]
    many, one = rows
    marginal = (many["cpu_share"] - one["cpu_share"]) / (many["frames_per_s"] - one["frames_per_s"])
    print(f"marginal CPU per frame (the difference of the two runs): {marginal * 1e6:.1f} us")
    print(
        "| contracts | shards | frames/s | CPU share | us/frame | vs one contract | RSS MiB "
        "| dropped | reconnects |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['contracts']} | {row['shards']} | {row['frames_per_s']:.0f} "
            f"| {row['cpu_share']:.2f} | {row['us_per_frame']:.1f} "
            f"| {row['us_per_frame'] / base:.2f} | {row['rss_mib']:.0f} "
            f"| {row['dropped']} | {row['reconnects']} |"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
