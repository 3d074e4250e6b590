"""Issue 22's goal table, measured: every row from a benchmark run here, in one go.

    python -m benchmarks.goals [--quick]      (also `python -m benchmarks goals`)

Runs, in turn: `bench_peers` (throughput, mixed and trades, every client; paced latency),
`bench_read`, `bench_live_book`, `bench_subs` (1 and 500 subscriptions), `bench_import` and
`bench_pool`, each printing its own table with its load averages, then the goal table: each
goal, the figure measured now, and met or missed. Every figure is a ratio or difference taken
inside a run (interleaved rounds, medians of per-round ratios), never an absolute time compared
with one from another run. `--quick` cuts rounds and sizes (minutes instead of a quarter of an
hour; noisier). benchmarks/README.md ("Issue 22: the goal table") records a full run and says
what each miss's floor is.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Final

from . import bench_import, bench_live_book, bench_peers, bench_pool, bench_read, bench_subs

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

FULL: Final = {
    "peers": ["--rounds", "5", "--messages", "60000", "--latency"],
    "read": ["--rounds", "9"],
    "live-book": ["--rounds", "7"],
    "subs": ["--rounds", "5", "--counts", "1,500"],
    "import": ["--runs", "15"],
    "pool": ["--rounds", "3"],
}
QUICK: Final = {
    "peers": ["--rounds", "3", "--messages", "30000", "--latency", "--latency-rounds", "1"],
    "read": ["--rounds", "3"],
    "live-book": ["--rounds", "3", "--deltas", "2000"],
    "subs": ["--rounds", "2", "--counts", "1,500"],
    "import": ["--runs", "5"],
    "pool": ["--rounds", "1", "--seconds", "8"],
}
RUNS: Final[dict[str, Callable[[Sequence[str], dict[str, float]], int]]] = {
    "peers": bench_peers.main,
    "read": bench_read.main,
    "live-book": bench_live_book.main,
    "subs": bench_subs.main,
    "import": bench_import.main,
    "pool": bench_pool.main,
}


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def goal_rows(r: dict[str, dict[str, float]]) -> list[tuple[str, str, str, bool]]:
    """(goal, measured, target, met) per row of issue 22's table."""
    peers, read = r["peers"], r["read"]
    rows: list[tuple[str, str, str, bool]] = []
    for client, label, target in (
        ("gatetrio-item", "per-item `async for`", 0.6),
        ("gatetrio-batch", "`batches()`", 0.75),
    ):
        got = [peers[f"{kind} {client} vs picows-msgspec"] for kind in ("mixed", "trades")]
        rows.append(
            (
                f"{label} / picows+msgspec typed, mixed / trades",
                " / ".join(f"{g:.2f}" for g in got),
                f">= {target}",
                min(got) >= target,
            )
        )
    for client in ("gatetrio-item", "gatetrio-batch"):
        p50 = peers[f"paced 50000 {client} p50"]
        p99 = peers[f"paced 50000 {client} p99"]
        theirs = peers["paced 50000 websockets-json p50"]
        ratio = peers[f"paced 50000 {client} p50 vs websockets-json"]
        rows.append(
            (
                f"paced 50k/s, p50 vs websockets+json; p99 ({client})",
                f"{p50:.0f} vs {theirs:.0f} us ({ratio:.2f}x); p99 {p99:.0f} us",
                "<= 1.0x; p99 <= 1000 us",
                ratio <= 1.0 and p99 <= 1000,
            )
        )
    for client in ("gatetrio-item", "gatetrio-batch"):
        p50 = peers[f"paced 10000 {client} p50"]
        theirs = peers["paced 10000 picows-msgspec p50"]
        ratio = peers[f"paced 10000 {client} p50 vs picows-msgspec"]
        rows.append(
            (
                f"paced 10k/s, p50 vs picows typed ({client})",
                f"{p50:.0f} vs {theirs:.0f} us ({ratio:.2f}x)",
                "<= 1.5x",
                ratio <= 1.5,
            )
        )
    for kinds, target in (
        (("tickers", "obu", "order_book_update"), 1.0),
        (("trades", "orders", "book_ticker"), 1.5),
    ):
        got = [read[k] for k in kinds]
        rows.append(
            (
                f"decode + read every field / orjson + Decimal: {', '.join(kinds)}",
                ", ".join(f"{g:.2f}" for g in got),
                f">= {target} each",
                min(got) >= target,
            )
        )
    over = r["live-book"]["over decoded"]
    rows.append(
        ("live book overhead over decode + bare book", f"{over:+.2f} us", "<= 2 us", over <= 2)
    )
    rr = r["subs"]["rr/runs 500"]
    rows.append(
        (
            "frames round-robined over 500 subscriptions / in runs",
            f"{rr:.2f}x",
            "<= 1.25x",
            rr <= 1.25,
        )
    )
    imp = r["import"]["ratio"]
    rows.append(
        (
            "`import gatetrio; gatetrio.open_client` / `import trio`",
            f"{imp:.2f}x",
            "<= 1.2x",
            imp <= 1.2,
        )
    )
    pool = r["pool"]["ratio"]
    rows.append(
        (
            "600-contract pool, us per frame / one client, same mix",
            f"{pool:.2f}x",
            "<= 1.3x",
            pool <= 1.3,
        )
    )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    results: dict[str, dict[str, float]] = {}
    loads = [_load()]
    for name, run in RUNS.items():
        print(
            f"\n=== {name}: python -m benchmarks.{run.__module__.split('.')[-1]} "
            f"{' '.join(plan[name])} (load average {_load()})\n",
            flush=True,
        )
        results[name] = {}
        run(plan[name], results[name])
        loads.append(_load())
    print(f"\n=== issue 22's goals (load averages over the run: {' -> '.join(loads)})\n")
    print("| goal | measured | target | |")
    print("|---|---|---|---|")
    for goal, measured, target, met in goal_rows(results):
        print(f"| {goal} | {measured} | {target} | {'met' if met else '**miss**'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
