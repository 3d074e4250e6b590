"""Soak: RSS of 10 live books over a long flood with faults (issue 14, G7).

    python -m benchmarks.soak [--minutes 10] [--interval 10] [--books 10] [--in-process]

A `FakeGateServer` with `--books` USDT contracts made busy (5 book changes per 10 ms step, 40
trades/s each), served on loopback by a child process (`--serve`), and one client (default
transport) holding a 400-level obu live book and a trade subscription per contract, both
consumed. With `--in-process` the fake runs in the client's process over its in-memory
connector instead, and its memory counts in the RSS too: the fake caches up to 50 000 price
texts per contract (`testing/_market/_book.py`), which grows for many minutes on a busy
random walk, so that RSS is not the client's. Faults through the fake, on a schedule
(`gatetrio.testing.FaultSpec`): a gap on one contract every 20 s (round robin), a dropped
connection every 60 s and an upgrade notice (2 s grace) every 60 s, offset by 30 s. RSS is read
from /proc/self/statm every `--interval` s; the report gives start/median/end, the least-squares
slope over the whole run and over its second half, and the client's and books' counters, so a
leak shows as a slope and a stuck book as counters that stop moving.

The child's RSS is sampled too, for reference. Not a timing.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import trio

from gatetrio import channels, open_client
from gatetrio.testing import ContractSpec, FakeGateServer, FaultSpec
from gatetrio.testing._loopback import serve_tcp

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from gatetrio import Client, ClientStatistics, LiveOrderBook

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes(pid: int | str = "self") -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except OSError:
        return 0


def _server(n_books: int) -> FakeGateServer:
    return FakeGateServer(
        seed=7,
        markets={"usdt": contracts(n_books)},
        max_received=1000,
        epoch_ms=time.time_ns() // 1_000_000,
    )


async def serve(n_books: int) -> None:
    """The child: the fake on a loopback port (printed), faults on schedule, until killed."""
    server = _server(n_books)
    names = [s.name for s in contracts(n_books)]
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run)
        port = await nursery.start(serve_tcp, server)
        print(f"LISTENING {port}", flush=True)
        await trio.sleep(5)  # as the client's books load
        await server.run_faults(faults(names))


@contextlib.contextmanager
def child_server(n_books: int) -> Iterator[tuple[str, int]]:
    cmd = [sys.executable, "-m", "benchmarks.soak", "--serve", "--books", str(n_books)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().split()
        if not line or line[0] != "LISTENING":
            raise SystemExit(f"the fake did not start: {line}")
        yield f"ws://127.0.0.1:{line[1]}/v4/ws/usdt", proc.pid
    finally:
        proc.kill()
        proc.wait()


def contracts(n: int) -> list[ContractSpec]:
    return [
        ContractSpec(
            name=f"S{i}_USDT",
            price=Decimal(100 + 10 * i),
            tick=Decimal("0.01"),
            ops_per_step=5.0,
            trades_per_second=40.0,
        )
        for i in range(n)
    ]


def faults(names: Sequence[str]) -> list[FaultSpec]:
    gap_every = 20.0 * len(names)  # each contract in turn, one gap every 20 s overall
    out = [
        FaultSpec("gap", (name, "5"), at=20.0 * (i + 1), every=gap_every)
        for i, name in enumerate(names)
    ]
    out.append(FaultSpec("drop", at=60.0, every=60.0))
    out.append(FaultSpec("upgrade", ("2",), at=30.0, every=60.0))
    return out


def slope_mb_per_min(samples: Sequence[tuple[float, int]]) -> float:
    if len(samples) < 2:
        return 0.0
    fit = statistics.linear_regression([t for t, _ in samples], [r for _, r in samples])
    return fit.slope * 60 / 2**20


async def _drain_book(
    client: Client, contract: str, counts: dict[str, int], books: list[LiveOrderBook]
) -> None:
    async with client.order_book(contract, depth=400, method="obu") as live:
        books.append(live)
        async for _ in live:
            book = live.book
            book.best_bid()
            book.best_ask()
            counts["book wake-ups"] += 1


async def _drain_trades(client: Client, contract: str, counts: dict[str, int]) -> None:
    async with client.subscribe(channels.trades(contract)) as trades:
        async for batch in trades.batches():
            counts["trades"] += len(batch)


async def soak(
    minutes: float, interval: float, n_books: int, url: str | None, child: int | None
) -> int:
    names = [s.name for s in contracts(n_books)]
    counts = {"book wake-ups": 0, "trades": 0}
    samples: list[tuple[float, int]] = []
    child_rss: list[int] = []
    books: list[LiveOrderBook] = []
    async with trio.open_nursery() as nursery:
        if url is None:
            server = _server(n_books)
            await nursery.start(server.run)
            opened = open_client(connector=server.connector, wall_clock=server.wall_time)
        else:
            opened = open_client(url=url)
        async with opened as client:
            for name in names:
                nursery.start_soon(_drain_book, client, name, counts, books)
                nursery.start_soon(_drain_trades, client, name, counts)
            await trio.sleep(5)  # books loaded before the first sample
            if url is None:
                nursery.start_soon(server.run_faults, faults(names))
            start = time.monotonic()
            end = start + minutes * 60
            while True:
                now = time.monotonic()
                samples.append((now - start, rss_bytes()))
                if child is not None:
                    child_rss.append(rss_bytes(child))
                stats = client.statistics()
                print(
                    f"{now - start:7.1f} s  RSS {samples[-1][1] / 2**20:7.1f} MB  "
                    + (f"(fake {child_rss[-1] / 2**20:.1f} MB)  " if child_rss else "")
                    + f"frames {stats.messages_received}  reconnects {stats.reconnects}  "
                    f"upgrades {stats.upgrades}  wake-ups {counts['book wake-ups']}  "
                    f"trades {counts['trades']}  {_books_line(books)}",
                    flush=True,
                )
                if now >= end:
                    break
                await trio.sleep(min(interval, end - now))
            stats = client.statistics()
            books_line = _books_line(books)
            nursery.cancel_scope.cancel()
    _report(samples, stats, counts, minutes)
    if child_rss:
        print(
            f"the fake's process: RSS start {child_rss[0] / 2**20:.1f} MB, end "
            f"{child_rss[-1] / 2**20:.1f} MB"
        )
    print(f"books: {books_line}")
    return 0


def _books_line(books: Sequence[LiveOrderBook]) -> str:
    s = [b.statistics() for b in books]
    return (
        f"ready {sum(x.ready for x in s)}/{len(s)}  applied {sum(x.updates_applied for x in s)}  "
        f"resyncs {sum(x.resyncs for x in s)} (gaps {sum(x.gaps for x in s)})  "
        f"dropped {sum(x.deltas_dropped for x in s)}"
    )


def _report(
    samples: Sequence[tuple[float, int]],
    stats: ClientStatistics,
    counts: dict[str, int],
    minutes: float,
) -> None:
    mb = 2**20
    rss = [r for _, r in samples]
    half = samples[len(samples) // 2 :]
    print(f"\n{len(samples)} samples over {samples[-1][0] / 60:.1f} min (asked {minutes})")
    print(
        f"RSS start {rss[0] / mb:.1f} MB, median {statistics.median(rss) / mb:.1f} MB, "
        f"end {rss[-1] / mb:.1f} MB, min..max {min(rss) / mb:.1f}..{max(rss) / mb:.1f} MB"
    )
    print(
        f"slope {slope_mb_per_min(samples):+.3f} MB/min over the run, "
        f"{slope_mb_per_min(half):+.3f} MB/min over its second half"
    )
    print(
        f"frames {stats.messages_received}, reconnects {stats.reconnects}, "
        f"upgrades {stats.upgrades}, "
        f"book wake-ups {counts['book wake-ups']}, trades {counts['trades']}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--books", type=int, default=10)
    parser.add_argument(
        "--in-process", action="store_true", help="the fake in this process, in memory"
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # the child
    args = parser.parse_args(argv)
    if args.serve:
        trio.run(serve, args.books)
        return 0
    if args.in_process:
        return trio.run(soak, args.minutes, args.interval, args.books, None, None)
    with child_server(args.books) as (url, pid):
        return trio.run(soak, args.minutes, args.interval, args.books, url, pid)


if __name__ == "__main__":
    sys.exit(main())
