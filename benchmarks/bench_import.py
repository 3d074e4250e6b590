"""Import time of a first use, against `import trio`, in one run (issue 22).

    python -m benchmarks.bench_import [--runs 15] [--top 12]

Each run starts a fresh interpreter (`python -c ...`, bytecode cached in a temporary
`PYTHONPYCACHEPREFIX` by a warm-up run, whatever `PYTHONDONTWRITEBYTECODE` says: without a
cache every gatetrio module would be compiled from source on each run) for every
statement in turn, rotating which goes first: `pass` (the interpreter's own start), `import
trio`, `import gatetrio` and `import gatetrio; gatetrio.open_client` (what an application pays
before its first connection: trio, msgspec, wsproto's handshake machinery and gatetrio's own
modules). The table gives the median wall time of each, and the median of the per-run ratios
of the last one to `import trio` (both with the interpreter's start included, as a user sees
it), then where the first use's time goes: the largest self times of `-X importtime`,
summed over each top-level package.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Sequence

STATEMENTS: Final = {
    "pass": "pass",
    "import trio": "import trio",
    "import gatetrio": "import gatetrio",
    "first use": "import gatetrio; gatetrio.open_client",
}


_ENV: Final = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _time(statement: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", statement], check=True, env=_ENV)
    return time.perf_counter() - start


def _self_times(statement: str) -> dict[str, int]:
    """Microseconds of self time per top-level package, from `-X importtime`."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        capture_output=True,
        text=True,
        check=True,
        env=_ENV,
    )
    by_package: dict[str, int] = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _cumulative, name = line.removeprefix("import time:").split("|")
        package = name.strip().split(".")[0]
        if name.strip().startswith("gatetrio."):  # gatetrio's own, one level down
            package = ".".join(name.strip().split(".")[:2])
        by_package[package] = by_package.get(package, 0) + int(self_us)
    return by_package


def measure(runs: int) -> dict[str, float]:
    """Median seconds per statement and the median per-run ratio of the first use to trio."""
    names = list(STATEMENTS)
    for name in names:  # warm the bytecode caches
        _time(STATEMENTS[name])
    times: dict[str, list[float]] = {name: [] for name in names}
    ratios: list[float] = []
    for r in range(runs):
        order = names[r % len(names) :] + names[: r % len(names)]
        got = {name: _time(STATEMENTS[name]) for name in order}
        for name in names:
            times[name].append(got[name])
        ratios.append(got["first use"] / got["import trio"])
    out = {name: statistics.median(values) for name, values in times.items()}
    out["ratio"] = statistics.median(ratios)
    return out


def main(argv: Sequence[str] | None = None, results: dict[str, float] | None = None) -> int:
    """Run it; with `results`, also put the figures `benchmarks.goals` reads there."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as cache:
        _ENV["PYTHONPYCACHEPREFIX"] = cache
        return _run(args.runs, args.top, results)


def _run(runs: int, top: int, results: dict[str, float] | None) -> int:
    one, five, fifteen = os.getloadavg()
    print(f"Python {sys.version.split()[0]}, load average {one:.2f} {five:.2f} {fifteen:.2f}")
    result = measure(runs)
    if results is not None:
        results["ratio"] = result["ratio"]
    print(f"\n{runs} interleaved runs, wall time of `python -c STATEMENT`, medians\n")
    print("| statement | ms |")
    print("|---|---:|")
    for name, statement in STATEMENTS.items():
        print(f"| `{statement}` | {result[name] * 1e3:.1f} |")
    print(
        f"\nfirst use / import trio: **{result['ratio']:.2f}x** (median of per-run ratios; "
        f"goal <= 1.2x)"
    )
    selfs = _self_times(STATEMENTS["first use"])
    print(f"\nfirst use, self time by package (`-X importtime`, one run), top {top}:\n")
    print("| package | ms |")
    print("|---|---:|")
    for package, us in sorted(selfs.items(), key=lambda kv: -kv[1])[:top]:
        print(f"| {package} | {us / 1e3:.1f} |")
    print(f"| (all) | {sum(selfs.values()) / 1e3:.1f} |")
    one, five, fifteen = os.getloadavg()
    print(f"\nafter: load average {one:.2f} {five:.2f} {fifteen:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
