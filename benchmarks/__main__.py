"""Run every benchmark: `python -m benchmarks [decode] [book] [e2e]` (all by default).

Each prints ratios against a baseline measured in the same run; see benchmarks/README.md.
"""

from __future__ import annotations

import sys

from . import bench_book, bench_decode, bench_e2e


def main(argv: list[str]) -> int:
    chosen = argv or ["decode", "book", "e2e"]
    for name in chosen:
        print(f"\n=== {name} ===", flush=True)
        if name == "decode":
            bench_decode.main([])
        elif name == "book":
            bench_book.main([])
        elif name == "e2e":
            bench_e2e.main([])
        else:
            print(f"unknown benchmark {name!r}; choose from decode, book, e2e", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
