"""Run every benchmark: `python -m benchmarks [NAME ...]`, all of them by default.

NAMES: goals, decode, book, e2e, pool, nats, nats-latency, read, book-peers, peers, memory,
live-book, subs, import, soak; `goals` runs the benchmarks behind issue 22's goal table and
prints the table; book-peers and peers need the `bench` extra (the peers measured in the same
run), nats and nats-latency the `test` extra (nats-server). `soak` runs 10 minutes;
`python -m benchmarks.soak --minutes N` for another length.

Options after one NAME are that benchmark's (`python -m benchmarks goals --quick`). Each prints
ratios against a baseline measured in the same run; see benchmarks/README.md.
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
    bench_nats_latency,
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
    "nats-latency": bench_nats_latency.main,
    "live-book": bench_live_book.main,
    "subs": bench_subs.main,
    "import": bench_import.main,
    "soak": soak.main,
}


def main(argv: list[str]) -> int:
    # options after a single name go to that benchmark: `python -m benchmarks goals --quick`
    options = [arg for arg in argv if arg.startswith("-")]
    chosen = [arg for arg in argv if not arg.startswith("-")] or list(RUNNERS)
    if options and len(chosen) != 1:
        print("options go to one benchmark: python -m benchmarks NAME --option", file=sys.stderr)
        return 2
    unknown = [name for name in chosen if name not in RUNNERS]
    if unknown:  # before running anything: the others take minutes
        print(
            f"unknown benchmark {unknown[0]!r}; choose from {', '.join(RUNNERS)}", file=sys.stderr
        )
        return 2
    for name in chosen:
        print(f"\n=== {name} ===", flush=True)
        RUNNERS[name](options)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
