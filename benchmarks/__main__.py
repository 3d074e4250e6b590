"""Run every benchmark: `python -m benchmarks [NAME ...]`, all of them by default.

NAMES: goals, decode, book, e2e, pool, nats, read, book-peers, peers, memory, live-book, subs,
import, soak; `goals` runs the benchmarks behind issue 22's goal table and prints the table;
book-peers and peers need the `bench` extra (the peers measured in the same run), nats the
`test` extra (nats-server). `soak` runs 10 minutes; `python -m benchmarks.soak --minutes N`
for another length.

Each prints ratios against a baseline measured in the same run; see benchmarks/README.md.
"""

from __future__ import annotations

import sys

from . import (
    bench_book,
    bench_book_peers,
    bench_decode,
    bench_e2e,
    bench_import,
    bench_live_book,
    bench_memory,
    bench_nats,
    bench_orders,
    bench_peers,
    bench_pool,
    bench_read,
    bench_subs,
    goals,
    soak,
)

RUNNERS = {
    "goals": goals.main,
    "decode": bench_decode.main,
    "book": bench_book.main,
    "e2e": bench_e2e.main,
    "pool": bench_pool.main,
    "read": bench_read.main,
    "book-peers": bench_book_peers.main,
    "peers": bench_peers.main,
    "orders": bench_orders.main,
    "memory": bench_memory.main,
    "nats": bench_nats.main,
    "live-book": bench_live_book.main,
    "subs": bench_subs.main,
    "import": bench_import.main,
    "soak": soak.main,
}


def main(argv: list[str]) -> int:
    chosen = argv or list(RUNNERS)
    unknown = [name for name in chosen if name not in RUNNERS]
    if unknown:  # before running anything: the others take minutes
        print(
            f"unknown benchmark {unknown[0]!r}; choose from {', '.join(RUNNERS)}", file=sys.stderr
        )
        return 2
    for name in chosen:
        print(f"\n=== {name} ===", flush=True)
        RUNNERS[name]([])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
