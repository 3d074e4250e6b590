"""Decode plus reading every field, per message kind, against orjson plus Decimal (issue 14, G5).

    python -m benchmarks.bench_read [--rounds 9] [--kinds trades,obu]

Frames: `benchmarks/data/<kind>.jsonl` with every integer size turned into a string, as Gate
sends them under `X-Gate-Size-Decimal: 1` (what gatetrio's client asks for, so what its users
receive). Per frame:

- gatetrio: `decode_message`, then every public field of every record read through the public
  API: struct fields, each level's `.price` and `.size`, each ticker decimal property;
- orjson + Decimal: `orjson.loads`, then every field of the same dicts read, with `Decimal(...)`
  for exactly the fields gatetrio hands out as `Decimal` (found by walking gatetrio's result
  for the first frame of each kind: the same conversions, not a guess);
- json + Decimal: the same with `json.loads`.

Readers are generated per kind as straight-line code on both sides (as a hand-written consumer
reads). Rounds rotate the order; the table gives the median per-frame time and the median of
per-round ratios. gatetrio's shared text->Decimal cache is emptied before every timed pass over
a kind's 200 frames: a cached read is then only a text that repeats within those frames, as it
would in a stream, not one left warm by the previous pass over the same frames.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import orjson

from gatetrio._core._decode import decode_message
from gatetrio._core._events import BookLevel, Ticker
from gatetrio._core._events._ticker import DECIMALS

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

DATA = Path(__file__).resolve().parent / "data"
KINDS = ("trades", "order_book_update", "obu", "tickers", "book_ticker", "orders")
SIZE_KEYS = frozenset({"size", "s", "B", "A", "left", "iceberg", "order_size"})
TICKER_FIELDS = tuple(
    name for name in dir(Ticker) if not name.startswith("_") and name != "contract"
)


def _stringify_sizes(value: Any, key: str = "") -> Any:
    """Integer sizes as strings (`X-Gate-Size-Decimal: 1`); obu levels are strings already."""
    if isinstance(value, dict):
        return {k: _stringify_sizes(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_stringify_sizes(v, key) for v in value]
    if key in SIZE_KEYS and type(value) is int:
        return str(value)
    return value


def load(kind: str) -> list[str]:
    lines = (DATA / f"{kind}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.dumps(_stringify_sizes(json.loads(line)), separators=(",", ":")) for line in lines]


# ---------------------------------------------------------------------------- the readers
# Generated from the first frame of a kind, as straight-line code on both sides (what a
# hand-written consumer does): attribute reads for gatetrio, key reads for the dicts, and
# `Decimal(...)` on the dict side exactly where gatetrio hands out a Decimal.


class _Gen:
    def __init__(self) -> None:
        self.ours: list[str] = []
        self.dicts: list[str] = []
        self.n = 0

    def var(self) -> str:
        self.n += 1
        return f"x{self.n}"

    def record(self, typed: Any, raw: Any, ours: str, dct: str, indent: str) -> None:
        if isinstance(typed, BookLevel):
            self.ours.append(f"{indent}_ = ({ours}.price, {ours}.size)")
            if isinstance(raw, list):
                self.dicts.append(f"{indent}_ = (Decimal({dct}[0]), Decimal({dct}[1]))")
            else:
                self.dicts.append(f'{indent}_ = (Decimal({dct}["p"]), Decimal({dct}["s"]))')
            return
        if isinstance(typed, Ticker):
            for name in TICKER_FIELDS:
                self.ours.append(f"{indent}_ = {ours}.{name}")
                if name in raw:
                    wrap = isinstance(getattr(typed, name), Decimal)
                    value = f'{dct}.get("{name}")'
                    self.dicts.append(
                        f"{indent}v = {value}\n{indent}_ = Decimal(v) if v else None"
                        if wrap
                        else f"{indent}_ = {value}"
                    )
            self.ours.append(f"{indent}_ = {ours}.contract")
            self.dicts.append(f'{indent}_ = {dct}["contract"]')
            return
        for name in typed.__struct_fields__:
            value = getattr(typed, name)
            present = isinstance(raw, dict) and name in raw
            if isinstance(value, tuple) and value and present:
                item_o, item_d = self.var(), self.var()
                self.ours.append(f"{indent}for {item_o} in {ours}.{name}:")
                self.dicts.append(f'{indent}for {item_d} in {dct}["{name}"]:')
                self.record(value[0], raw[name][0], item_o, item_d, indent + "    ")
            elif isinstance(value, (msgspec.Struct, Ticker)) and present:
                self.record(value, raw[name], f"{ours}.{name}", f'{dct}["{name}"]', indent)
            else:
                self.ours.append(f"{indent}_ = {ours}.{name}")
                if not present:
                    continue
                if isinstance(value, Decimal):
                    self.dicts.append(f'{indent}_ = Decimal({dct}["{name}"])')
                else:
                    self.dicts.append(f'{indent}_ = {dct}["{name}"]')


def make_readers(frame: str) -> tuple[Callable[[str], None], Callable[[str], None]]:
    """(gatetrio decode + read, orjson + read) for frames shaped like `frame`."""
    typed = decode_message(frame)
    raw = json.loads(frame)
    gen = _Gen()
    gen.record(typed, raw, "e", "d", "    ")
    source = "\n".join(
        [
            "def ours(frame):",
            "    e = decode_message(frame)",
            *gen.ours,
            "def dicts(d):",
            *gen.dicts,
        ]
    )
    namespace: dict[str, Any] = {"Decimal": Decimal, "decode_message": decode_message}
    exec(compile(source, f"<readers {raw.get('channel')}>", "exec"), namespace)  # noqa: S102
    return namespace["ours"], namespace["dicts"]


def best(fn: Callable[[str], None], frames: list[str], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        DECIMALS.clear()  # cold, as a stream meets these frames once
        start = time.perf_counter()
        for frame in frames:
            fn(frame)
        times.append(time.perf_counter() - start)
    return min(times) / len(frames)


def main(argv: Sequence[str] | None = None, results: dict[str, float] | None = None) -> int:
    """Run it; with `results`, also put the figures `benchmarks.goals` reads there."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--kinds", default=",".join(KINDS))
    args = parser.parse_args(argv)
    print(f"Python {platform.python_version()}; string sizes; median of {args.rounds} rounds\n")
    print("| kind | gatetrio us/frame | orjson+Decimal us | json+Decimal us | vs orjson+Decimal |")
    print("|---|---:|---:|---:|---:|")
    for kind in args.kinds.split(","):
        frames = load(kind)
        ours, read_dict = make_readers(frames[0])
        for frame in frames:  # every frame must fit the generated readers
            ours(frame)
            read_dict(orjson.loads(frame))

        def with_orjson(frame: str, read_dict: Callable[[Any], None] = read_dict) -> None:
            read_dict(orjson.loads(frame))

        def with_json(frame: str, read_dict: Callable[[Any], None] = read_dict) -> None:
            read_dict(json.loads(frame))

        runs: dict[str, list[float]] = {"ours": [], "orjson": [], "json": []}
        ratios: list[float] = []
        fns = [("ours", ours), ("orjson", with_orjson), ("json", with_json)]
        for r in range(args.rounds):
            got = {}
            for name, fn in fns[r % 3 :] + fns[: r % 3]:
                got[name] = best(fn, frames)
                runs[name].append(got[name])
            ratios.append(got["orjson"] / got["ours"])
        m = {k: statistics.median(v) * 1e6 for k, v in runs.items()}
        if results is not None:
            results[kind] = statistics.median(ratios)
        print(
            f"| {kind} | {m['ours']:.2f} | {m['orjson']:.2f} | {m['json']:.2f} "
            f"| **{statistics.median(ratios):.2f}x** |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
