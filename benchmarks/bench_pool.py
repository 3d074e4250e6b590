"""The whole market on one process: N contracts x (trades + obu level 50) through a pool.

    python -m benchmarks.bench_pool [--contracts 600] [--seconds 20] [--warmup 3] [--cap 200]
                                    [--rounds 3]

The fake exchange runs in another process (`python -m gatetrio serve --contracts N`, over
loopback), so only the client is measured. The pool is `open_pool(contracts="all")` with
`pool.subscribe(trades(*all))` and `pool.subscribe(obu(*all, level=50))`, each drained by a
batch consumer. The baseline (issue 22) is one client with the same channel mix: one
`open_client` on one connection, subscribed to the same two channels over the same contracts
(the pool's listing), drained the same way: so the ratio is what the pool itself adds per frame
(its shards, their connections, the merged subscriptions). After `--warmup` seconds each run
counts, over `--seconds`: frames received, the client process's CPU time (user + system; the
fake's rate is its own, so CPU per frame is the comparable figure), and its RSS at the end.
Rounds alternate pool and client (rotating who goes first) against the same fake; the table
gives medians and the median of the per-round ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
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


async def _drain_for(
    subs: Sequence[gatetrio.Subscription[Any]], seconds: float, warmup: float
) -> tuple[float, float]:
    """Drain `subs` for warmup + seconds; return (CPU seconds, wall seconds) of the last part."""
    async with trio.open_nursery() as nursery:
        for sub in subs:
            nursery.start_soon(_drain, sub)
        await trio.sleep(warmup)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await trio.sleep(seconds)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        nursery.cancel_scope.cancel()
    return cpu, wall


def _row(
    *,
    contracts: int,
    shards: int,
    frames: int,
    cpu: float,
    wall: float,
    dropped: int,
    reconnects: int,
) -> dict[str, Any]:
    return {
        "contracts": contracts,
        "shards": shards,
        "frames_per_s": frames / wall,
        "cpu_share": cpu / wall,
        "us_per_frame": cpu / frames * 1e6 if frames else float("nan"),
        "rss_mib": _rss_mib(),
        "dropped": dropped,
        "reconnects": reconnects,
    }


async def _pool(port: int, seconds: float, warmup: float, cap: int) -> dict[str, Any]:
    url = f"ws://127.0.0.1:{port}/v4/ws/usdt"
    async with gatetrio.open_pool(url=url, contracts="all", streams_per_connection=cap) as pool:
        names = pool.contracts
        async with (
            pool.subscribe(channels.trades(*names), buffer=65536) as trades,
            pool.subscribe(channels.obu(*names, level=50), buffer=65536) as books,
        ):
            frames0 = 0

            async def count_from_warmup() -> None:
                nonlocal frames0
                await trio.sleep(warmup)
                frames0 = pool.statistics().merged.messages_received

            async with trio.open_nursery() as nursery:
                nursery.start_soon(count_from_warmup)
                cpu, wall = await _drain_for((trades, books), seconds, warmup)
            stats = pool.statistics()
        merged = stats.merged
        row = _row(
            contracts=len(names),
            shards=len(stats.shards),
            frames=merged.messages_received - frames0,
            cpu=cpu,
            wall=wall,
            dropped=merged.messages_dropped,
            reconnects=merged.reconnects,
        )
        row["names"] = list(names)
        return row


async def _client(port: int, names: Sequence[str], seconds: float, warmup: float) -> dict[str, Any]:
    url = f"ws://127.0.0.1:{port}/v4/ws/usdt"
    # a fake at 100 % of a core answers handshakes late: wait for it as the pool's shards do
    config = gatetrio.ClientConfig(
        connect_deadline=60.0, first_connect_timeout=None, subscribe_deadline=120.0
    )
    async with (
        gatetrio.open_client(url=url, config=config) as client,
        client.subscribe(channels.trades(*names), buffer=65536) as trades,
        client.subscribe(channels.obu(*names, level=50), buffer=65536) as books,
    ):
        frames0 = 0

        async def count_from_warmup() -> None:
            nonlocal frames0
            await trio.sleep(warmup)
            frames0 = client.statistics().messages_received

        async with trio.open_nursery() as nursery:
            nursery.start_soon(count_from_warmup)
            cpu, wall = await _drain_for((trades, books), seconds, warmup)
        stats = client.statistics()
        return _row(
            contracts=len(names),
            shards=1,
            frames=stats.messages_received - frames0,
            cpu=cpu,
            wall=wall,
            dropped=stats.messages_dropped,
            reconnects=stats.reconnects,
        )


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


def main(argv: Sequence[str] | None = None, results: dict[str, float] | None = None) -> int:
    """Run it; with `results`, also put the figures `benchmarks.goals` reads there."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contracts", type=int, default=600)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--cap", type=int, default=200, help="streams per connection")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    one, five, fifteen = os.getloadavg()
    print(f"Python {sys.version.split()[0]}, load average {one:.2f} {five:.2f} {fifteen:.2f}")
    proc, port = _serve(args.contracts)
    rows: dict[str, list[dict[str, Any]]] = {"pool": [], "client": []}
    ratios: list[float] = []
    try:
        names = trio.run(_pool, port, 1.0, 1.0, args.cap)["names"]  # the listing; a warm-up
        for r in range(args.rounds):
            got: dict[str, dict[str, Any]] = {}
            for mode in ("pool", "client") if r % 2 == 0 else ("client", "pool"):
                if mode == "pool":
                    got[mode] = trio.run(_pool, port, args.seconds, args.warmup, args.cap)
                else:
                    got[mode] = trio.run(_client, port, names, args.seconds, args.warmup)
                rows[mode].append(got[mode])
            ratios.append(got["pool"]["us_per_frame"] / got["client"]["us_per_frame"])
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)
    print(
        f"\n{len(names)} contracts x (trades + obu 50), {args.rounds} interleaved rounds of "
        f"{args.seconds:.0f} s after {args.warmup:.0f} s, medians\n"
    )
    print(
        "| client | shards | frames/s | CPU share | us/frame | vs one client | RSS MiB "
        "| dropped | reconnects |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    ratio = statistics.median(ratios)
    for mode, label in (("pool", "open_pool"), ("client", "one open_client, same mix")):
        rs = rows[mode]

        def med(key: str, rs: list[dict[str, Any]] = rs) -> float:
            return float(statistics.median(r[key] for r in rs))

        print(
            f"| {label} | {rs[0]['shards']} | {med('frames_per_s'):.0f} | {med('cpu_share'):.2f} "
            f"| {med('us_per_frame'):.1f} | {ratio if mode == 'pool' else 1.0:.2f} "
            f"| {med('rss_mib'):.0f} | {max(r['dropped'] for r in rs)} "
            f"| {max(r['reconnects'] for r in rs)} |"
        )
    print(f"\npool / one client, us per frame: **{ratio:.2f}x** (median of per-round ratios)")
    if results is not None:
        results["ratio"] = ratio
    one, five, fifteen = os.getloadavg()
    print(f"after: load average {one:.2f} {five:.2f} {fifteen:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
