"""Run every benchmark: `python -m benchmarks [decode] [book] [e2e] [nats]` (all by default).

Each prints ratios against a baseline measured in the same run; see benchmarks/README.md.
"""

from __future__ import annotations

import sys

from . import bench_book, bench_decode, bench_e2e, bench_nats

RUNNERS = {
    "decode": bench_decode.main,
    "book": bench_book.main,
    "e2e": bench_e2e.main,
    "nats": bench_nats.main,
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
